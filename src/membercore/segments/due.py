"""When a profile's reading next changes by itself: a window closes, an age is reached.

Tags, stages and the segment are read on a local day (:mod:`.day`); with no new fact
they change only on the days a noted fact leaves its window (a tag's days, the
pregnancy and post-partum spans, the 12-month window of spend, visits and channels) or
the member reaches an age the stages count. :func:`next_change` is the earliest of those
days' starts after an instant, so that the record falls due and a tick refreshes it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from membercore.config.segments import HIGH_VALUE_TAG, SegmentRules
from membercore.dates import add_months, anniversary, local_date, local_day_start
from membercore.memo import KEPT_FROM, Memo, WhileAlive
from membercore.segments.messages import (
    ChargeNoted,
    DeliveryNoted,
    DiagnosisNoted,
    FactNoted,
    InteractionNoted,
    ProfileEvent,
    RehabPlanNoted,
)
from membercore.segments.stages import BIRTHS, PREGNANCY

if TYPE_CHECKING:
    from membercore.segments.state import ProfileState

__all__ = ["next_change"]


def next_change(
    state: ProfileState, rules: SegmentRules, tz: ZoneInfo, after: datetime | None
) -> datetime | None:
    """The start of the first local day after ``after`` on which the reading may change.

    ``None`` when nothing noted ever leaves a window and no age is ahead. A day named
    here on which nothing changes costs one refresh that decides nothing.
    """
    since = None if after is None else local_date(after, tz)
    first: date | None = None
    for days in _days(state, rules, tz):
        at = 0 if since is None else bisect_right(days, since)
        if at < len(days) and (first is None or days[at] < first):
            first = days[at]
    return None if first is None else local_day_start(first, tz)


#: The days each map of notes leaves a window on, sorted: a new fact reads again only
#: the map of its kind, and a record asked again unchanged reads none.
_MAP_DAYS: Memo[tuple[date, ...]] = Memo(1 << 12)

#: The days of each fact noted: a map that changed works out only its new notes' days.
_NOTE_DAYS: Memo[tuple[date, ...]] = Memo(1 << 14)


#: The days of each profile state still in use: a record kept decoded between units of
#: work is asked again (each instant a tick visits, the next fact's catching up).
_STATE_DAYS: WhileAlive[list[tuple[date, ...]]] = WhileAlive()


def _days(state: ProfileState, rules: SegmentRules, tz: ZoneInfo) -> list[tuple[date, ...]]:
    return _STATE_DAYS.get(state, (rules, tz), lambda: list(_maps_days(state, rules, tz)))


def _maps_days(
    state: ProfileState, rules: SegmentRules, tz: ZoneInfo
) -> Iterator[tuple[date, ...]]:
    """The sorted days of each map of notes (the registrations' are the ages reached).

    Refunds name no day: a refund is read with its charge, in the window while the
    charge is.
    """
    for kind in _KINDS:
        notes: Mapping[str, FactNoted] = getattr(state, kind)
        if len(notes) >= KEPT_FROM:
            grown = partial(_grown_days, (state.member_id, kind), notes, rules, tz)
            yield _MAP_DAYS.get((notes, rules, tz), None, grown)
        else:
            yield _map_days(notes, rules, tz)
    yield _MAP_DAYS.get((state.registrations, rules), "ages", partial(_age_days, state, rules))


def carry(before: ProfileState, after: ProfileState, event: ProfileEvent) -> None:
    """Keep for ``after`` the days of ``before`` brought up to date by ``event``.

    Nothing is done unless ``before``'s days are kept. A new note of one kind adds its
    days to its map's; an event that changes no map of notes keeps them all; anything
    else (notes let go, a note noted again, a registration) is worked out again if the
    state is ever asked about.
    """
    _STATE_DAYS.carry(before, after, lambda key, days: _brought(key, days, before, after, event))


def _brought(
    key: tuple[object, ...],
    days: list[tuple[date, ...]],
    before: ProfileState,
    after: ProfileState,
    event: ProfileEvent,
) -> list[tuple[date, ...]] | None:
    if after.registrations is not before.registrations:
        return None
    changed = [
        at for at, kind in enumerate(_KINDS) if getattr(after, kind) is not getattr(before, kind)
    ]
    if not changed:
        return days
    kind = _KINDS[changed[0]]
    if (
        len(changed) > 1
        or not isinstance(event, FactNoted)
        or event.fact_id in getattr(before, kind)
    ):
        return None
    rules, tz = cast(tuple[SegmentRules, ZoneInfo], key)
    brought = list(days)
    brought[changed[0]] = _with(days[changed[0]], set(_note_days(event, rules, tz)))
    return brought


#: The maps of notes that name days (refunds name none).
_KINDS = ("diagnoses", "deliveries", "rehab_plans", "charges", "visits", "interactions")

#: By member and kind of note, the last map whose days were worked out, with them: a map
#: that only gained notes since (a new fact) works out only the new notes' days.
_GROWN: dict[
    tuple[str, str], tuple[Mapping[str, FactNoted], SegmentRules, ZoneInfo, tuple[date, ...]]
] = {}
_GROWN_MOST = 1 << 12


def _grown_days(
    slot: tuple[str, str], notes: Mapping[str, FactNoted], rules: SegmentRules, tz: ZoneInfo
) -> tuple[date, ...]:
    held = _GROWN.get(slot)
    days = None
    if held is not None and held[1] is rules and held[2] is tz:
        before = held[0]
        # Every note of the map before is in this one (the same note, or one equal to it,
        # whose days are the same).
        if len(before) < len(notes) and before.items() <= notes.items():
            added = (notes[key] for key in notes.keys() - before.keys())
            days = _with(held[3], {d for n in added for d in _note_days(n, rules, tz)})
    if days is None:
        days = _map_days(notes, rules, tz)
    if len(_GROWN) >= _GROWN_MOST:
        _GROWN.clear()
    _GROWN[slot] = (notes, rules, tz, days)
    return days


def _with(days: tuple[date, ...], more: set[date]) -> tuple[date, ...]:
    """The sorted ``days`` with ``more`` (``days`` itself when it holds them all)."""
    new = [day for day in more if not _has_day(days, day)]
    if not new:
        return days
    merged = list(days)
    for day in new:
        insort(merged, day)
    return tuple(merged)


def _has_day(days: tuple[date, ...], day: date) -> bool:
    at = bisect_left(days, day)
    return at < len(days) and days[at] == day


def _map_days(
    notes: Mapping[str, FactNoted], rules: SegmentRules, tz: ZoneInfo
) -> tuple[date, ...]:
    return tuple(sorted({day for note in notes.values() for day in _note_days(note, rules, tz)}))


def _note_days(note: FactNoted, rules: SegmentRules, tz: ZoneInfo) -> tuple[date, ...]:
    return _NOTE_DAYS.get((note, rules, tz), None, lambda: tuple(_days_of(note, rules, tz)))


def _days_of(note: FactNoted, rules: SegmentRules, tz: ZoneInfo) -> Iterator[date]:
    """The days on which ``note`` leaves a window it is read in."""
    day = local_date(note.at, tz)
    if isinstance(note, DiagnosisNoted):
        for condition in note.conditions:
            yield from _after(day, rules.tag_days.get(f"condition:{condition}"))
        if PREGNANCY in note.conditions:
            yield day + timedelta(days=rules.pregnancy_days)
        if BIRTHS & set(note.conditions):
            yield day + timedelta(days=rules.postpartum_days)
        return
    if isinstance(note, DeliveryNoted):
        yield from _after(day, rules.tag_days.get("condition:delivery"))
        yield day + timedelta(days=rules.postpartum_days)
        return
    if isinstance(note, RehabPlanNoted):
        yield from _after(day, rules.tag_days.get("care:rehab_plan"))
        return
    if isinstance(note, InteractionNoted) and note.counted_as is None:
        return  # counts for no channel: no reading holds it
    if isinstance(note, ChargeNoted) and _high_value(note, rules):
        yield from _after(day, rules.tag_days.get(HIGH_VALUE_TAG))
    yield _window_exit(note.at, rules, tz)


def _high_value(note: ChargeNoted, rules: SegmentRules) -> bool:
    """Whether a charge has lines of the categories that may make it a high-value treatment."""
    wanted = rules.high_value_treatment.categories
    return any(line.category in wanted and line.amount_fen > 0 for line in note.categories)


def _after(day: date, days: int | None) -> Iterator[date]:
    if days is not None:
        yield day + timedelta(days=days)


def _window_exit(at: datetime, rules: SegmentRules, tz: ZoneInfo) -> date:
    """The first day a fact of instant ``at`` is outside the window (:func:`window_start`)."""
    return _exit_day(local_date(at, tz), rules.window_months, tz)


@lru_cache(maxsize=4096)
def _exit_day(noted: date, months: int, tz: ZoneInfo) -> date:
    """The first day whose window starts after the day ``noted``.

    A window starts at local midnight ``months`` before the day it is read on, so a fact
    is in it while that start's date is not after the fact's date: found with the
    window's own rule (:func:`window_start`), month ends and 29 February included.
    """
    day = local_date(add_months(local_day_start(noted, tz), months, tz), tz) - timedelta(days=1)
    while local_date(add_months(local_day_start(day, tz), -months, tz), tz) <= noted:
        day += timedelta(days=1)
    return day


def _age_days(state: ProfileState, rules: SegmentRules) -> tuple[date, ...]:
    return tuple(sorted(set(_ages(state, rules))))


def _ages(state: ProfileState, rules: SegmentRules) -> Iterator[date]:
    for note in state.registrations.values():
        if note.birth_date is not None:
            for age in (rules.child_below_age, rules.senior_from_age):
                yield anniversary(note.birth_date, note.birth_date.year + age)
