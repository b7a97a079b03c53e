"""When a profile's reading next changes by itself: a window closes, an age is reached.

Tags, stages and the segment are read on a local day (:mod:`.day`); with no new fact
they change only on the days a noted fact leaves its window (a tag's days, the
pregnancy and post-partum spans, the 12-month spend window, the recency bands) or the
member reaches an age the stages count. :func:`next_change` is the earliest of those
days' starts after an instant, so that the record falls due and a tick refreshes it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from membercore.config.segments import SegmentRules
from membercore.dates import anniversary, local_date, local_day_start
from membercore.segments.messages import FactNoted
from membercore.segments.state import ProfileState

__all__ = ["next_change"]


def next_change(
    state: ProfileState, rules: SegmentRules, tz: ZoneInfo, after: datetime | None
) -> datetime | None:
    """The start of the first local day after ``after`` on which the reading may change.

    ``None`` when nothing noted ever leaves a window and no age is ahead. A day named
    here on which nothing changes costs one refresh that decides nothing.
    """
    days = _days(state, rules, tz)
    if not days:
        return None
    at = 0 if after is None else bisect_right(days, local_date(after, tz))
    return local_day_start(days[at], tz) if at < len(days) else None


#: The days of the profiles read last, by identity: a record is asked several times
#: between two changes of its profile (each instant a tick visits, each commit).
_SEEN: dict[int, tuple[ProfileState, SegmentRules, ZoneInfo, list[date]]] = {}
_SEEN_MOST = 4096


def _days(state: ProfileState, rules: SegmentRules, tz: ZoneInfo) -> list[date]:
    held = _SEEN.get(id(state))
    if held is not None and held[0] is state and held[1] is rules and held[2] is tz:
        return held[3]
    days = sorted({*_window_ends(state, rules, tz), *_ages(state, rules)})
    if len(_SEEN) >= _SEEN_MOST:
        _SEEN.clear()
    _SEEN[id(state)] = (state, rules, tz, days)
    return days


def _window_ends(state: ProfileState, rules: SegmentRules, tz: ZoneInfo) -> Iterator[date]:
    for note in state.diagnoses.values():
        day = local_date(note.at, tz)
        for condition in note.conditions:
            yield from _after(day, rules.tag_days.get(f"condition:{condition}"))
        yield day + timedelta(days=rules.pregnancy_days)
        yield day + timedelta(days=rules.postpartum_days)
    for delivery in state.deliveries.values():
        day = local_date(delivery.at, tz)
        yield from _after(day, rules.tag_days.get("condition:delivery"))
        yield day + timedelta(days=rules.postpartum_days)
    for plan in state.rehab_plans.values():
        yield from _after(local_date(plan.at, tz), rules.tag_days.get("care:rehab_plan"))
    recent = _latest(state.visits.values(), state.charges.values(), tz=tz)
    if recent is not None:
        yield from (recent + timedelta(days=days) for days in rules.rfm.recency_days)
    notes: list[Iterable[FactNoted]] = [
        state.visits.values(),
        state.charges.values(),
        state.refunds.values(),
        state.interactions.values(),
    ]
    for noted in notes:
        for each in noted:
            yield from _window_leaves(local_date(each.at, tz), rules.window_months)


def _after(day: date, days: int | None) -> Iterator[date]:
    if days is not None:
        yield day + timedelta(days=days)


def _window_leaves(day: date, months: int) -> Iterator[date]:
    """The days a fact of ``day`` may leave a window of ``months`` (either side of it)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    end = date(year, month, 1)
    try:
        end = end.replace(day=day.day)
    except ValueError:  # 31 March + 1 month: the month's last day, then the next
        end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    yield end
    yield end + timedelta(days=1)


def _latest(*groups: Iterable[FactNoted], tz: ZoneInfo) -> date | None:
    instants = [note.at for group in groups for note in group]
    return local_date(max(instants), tz) if instants else None


def _ages(state: ProfileState, rules: SegmentRules) -> Iterator[date]:
    for note in state.registrations.values():
        if note.birth_date is not None:
            for age in (rules.child_below_age, rules.senior_from_age):
                yield anniversary(note.birth_date, note.birth_date.year + age)
