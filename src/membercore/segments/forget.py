"""What a profile may let go: noted facts no reading from now on can use.

Every reading of a profile (:mod:`.derive`, :mod:`.due`) looks at a bounded part of the
noted facts: the window of spend, visits and channels (``window_months``), and for each
tag the facts of its days, of which it names the latest :data:`~.day.MAX_EVIDENCE`. The
record's clock only moves forward, so a fact outside all of those at ``now`` stays
outside on every later day. Kept, whatever their age:

- every registration (birth date, declared channel, relatives);
- for each condition, and for deliveries and rehabilitation plans, the latest
  :data:`~.day.MAX_EVIDENCE` facts (a tag's reason and evidence, and the pregnancy and
  post-partum stages, read no more than those);
- the first visit (a referral must name it), the latest visit and charge (recency), the
  diagnosis noted last and the latest one (a message may name the patient's diagnosis);
- while ``tag_days`` gives ``care:high_value_treatment`` no days, every charge of a
  high-value category.

What lies in the window is kept: the visits, charges and interactions since its start
(and at least of the last :data:`KEPT_DAYS` days, which journeys' guards and the
programme's reports read), the refunds since then or of a charge kept, the charges of a
high-value category within the tag's days. The rest is forgotten in batches of at least
:data:`FORGET_AT_ONCE`, so that the event that says so is rare.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from membercore.config.segments import HIGH_VALUE_TAG, SegmentRules
from membercore.forgetting import FORGET_AT_ONCE, enough, worth_asking
from membercore.segments.day import MAX_EVIDENCE, Day, day_of, order
from membercore.segments.messages import ChargeNoted, FactNoted, NotesForgotten
from membercore.segments.state import ProfileState, noted_facts

__all__ = ["FORGET_AT_ONCE", "KEPT_DAYS", "forgettable", "forgotten"]

#: Visits, charges and interactions of at least this many days are kept, whatever the
#: window: the year the reports count and the months journeys' guards look back on.
KEPT_DAYS = 366


def forgotten(
    state: ProfileState, rules: SegmentRules, tz: ZoneInfo, now: datetime
) -> NotesForgotten | None:
    """The event that lets go what no reading from ``now`` on can use, if it is enough.

    Asked each time the number of facts held reaches a multiple of
    :func:`~membercore.forgetting.rhythm`, so that the search costs a fact little.
    """
    if not worth_asking(len(state.facts)):
        return None
    ids = forgettable(state, rules, tz, now)
    if not enough(len(ids)):
        return None
    return NotesForgotten(member_id=state.member_id, fact_ids=ids, at=now)


def forgettable(
    state: ProfileState, rules: SegmentRules, tz: ZoneInfo, now: datetime
) -> tuple[str, ...]:
    """The ids of the noted facts no reading at ``now`` or later uses, oldest first."""
    day = day_of(rules, now, tz)
    since = min(day.since, now - timedelta(days=KEPT_DAYS))
    keep = {*state.registrations, *_latest_per_tag(state), *_recent(state, since)}
    charges = _charges_kept(state, day, since)
    keep |= {note.fact_id for note in charges}
    kept_charges = {note.charge_id for note in charges}
    keep |= {
        note.fact_id
        for note in state.refunds.values()
        if note.at >= since or note.charge_id in kept_charges
    }
    keep |= _earliest(state.visits.values())
    keep.add(_last(state.visits.values()))
    # the diagnosis noted last and the latest (a message names the patient's diagnosis)
    keep |= {*list(state.diagnoses)[-1:], _last(state.diagnoses.values())}
    gone = [note for fact_id, note in noted_facts(state).items() if fact_id not in keep]
    return tuple(note.fact_id for note in sorted(gone, key=order))


def _latest_per_tag(state: ProfileState) -> set[str]:
    support: dict[str, list[FactNoted]] = defaultdict(list)
    for note in state.diagnoses.values():
        for condition in note.conditions:
            support[condition].append(note)
    support[" deliveries"] += state.deliveries.values()
    support[" rehab plans"] += state.rehab_plans.values()
    latest: set[str] = set()
    for notes in support.values():
        latest.update(note.fact_id for note in sorted(notes, key=order)[-MAX_EVIDENCE:])
    return latest


def _recent(state: ProfileState, since: datetime) -> Iterable[str]:
    for kind in (state.visits, state.interactions):
        yield from (fact_id for fact_id, note in kind.items() if note.at >= since)


def _charges_kept(state: ProfileState, day: Day, since: datetime) -> list[ChargeNoted]:
    high_value = set(day.rules.high_value_treatment.categories)
    days = day.rules.tag_days.get(HIGH_VALUE_TAG)
    kept = [
        note
        for note in state.charges.values()
        if note.at >= since
        or (day.within(note, days) and any(each.category in high_value for each in note.categories))
    ]
    latest = max(state.charges.values(), key=order, default=None)
    return kept if latest is None else [*kept, latest]


def _earliest(notes: Iterable[FactNoted]) -> set[str]:
    """The facts of the earliest instant (a referral names the first visit)."""
    held = list(notes)
    first = min((note.at for note in held), default=None)
    return {note.fact_id for note in held if note.at == first}


def _last(notes: Iterable[FactNoted]) -> str:
    last = max(notes, key=order, default=None)
    return "" if last is None else last.fact_id
