"""What a profile means on a given day: its tags and its segment.

The parts each reading rests on live beside it: :mod:`.day` (the local day and the
window), :mod:`.spending` (spend, bands, RFM), :mod:`.stages` (life stage) and
:mod:`.channels` (channel preference); their names are exported here too. Each part's
reading is kept (:mod:`.memo`) by the maps of notes it reads and the day: a new fact
reads again only the parts that read its kind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar, cast

import attrs

from membercore.config import ProgrammeConfig
from membercore.config.segments import (
    HIGH_VALUE_TAG,
    SegmentCriterion,
    SegmentRules,
    ServiceLevel,
)
from membercore.memo import KEPT_FROM, Memo
from membercore.segments.channels import channel, preferred_channel
from membercore.segments.day import (
    MAX_EVIDENCE,
    Day,
    day_of,
    evidence,
    order,
    window_start,
    yuan,
)
from membercore.segments.messages import DiagnosisNoted, Explanation, FactNoted, Tag
from membercore.segments.spending import (
    Rfm,
    band,
    high_value_treatment,
    out_of_pocket_fen,
    rfm,
    spend,
    spending_band,
)
from membercore.segments.stages import age_stage, life_stage, maternity
from membercore.segments.state import ProfileState, noted_fact

__all__ = [
    "MAX_EVIDENCE",
    "Evaluation",
    "Rfm",
    "derived_tags",
    "evaluate",
    "life_stage",
    "out_of_pocket_fen",
    "preferred_channel",
    "rfm",
    "service_level",
    "spending_band",
    "window_start",
]


def _condition_tags(state: ProfileState, day: Day) -> dict[str, Tag]:
    support: dict[str, list[FactNoted]] = defaultdict(list)
    for note in state.diagnoses.values():
        for condition in note.conditions:
            support[f"condition:{condition}"].append(note)
    support["condition:delivery"] += state.deliveries.values()
    support["care:rehab_plan"] += state.rehab_plans.values()
    held = {}
    for tag, notes in support.items():
        days = day.rules.tag_days.get(tag)
        current = [note for note in notes if day.within(note, days)]
        if current:
            latest = max(current, key=order)
            if isinstance(latest, DiagnosisNoted):
                reason = f"{latest.icd10} on {day.date_of(latest)}"
            elif tag == "care:rehab_plan":
                reason = f"joined a rehabilitation plan on {day.date_of(latest)}"
            else:
                reason = f"delivered on {day.date_of(latest)}"
            held[tag] = Tag(reason=reason, fact_ids=evidence(current))
    return held


T = TypeVar("T")

#: The readings of the profiles read last, by the maps of notes each reads and the day.
_READINGS: Memo[object] = Memo(1 << 13)


def _kept(
    reading: Callable[[ProfileState, Day], T], reads: tuple[str, ...], state: ProfileState, day: Day
) -> T:
    """``reading(state, day)``, kept while the maps of notes it ``reads`` are the same.

    ``reading`` must read nothing of the state but those maps (and the day). Readings of
    a few notes are worked out each time: that costs less than keeping them.
    """
    maps = [getattr(state, name) for name in reads]
    if sum(map(len, maps)) < KEPT_FROM:
        return reading(state, day)
    subjects = (reading, day.rules, day.tz, *maps)
    return cast(T, _READINGS.get(subjects, (day.today, day.since), lambda: reading(state, day)))


#: The evidence of each reading's notes, kept with them.
_EVIDENCE: Memo[tuple[str, ...]] = Memo(1 << 12)


def _latest(notes: tuple[FactNoted, ...]) -> tuple[str, ...]:
    """:func:`evidence` of a reading's notes, kept while the reading is.

    A segment's explanation names the latest of the facts its criterion read; the latest
    of several readings' notes are among the latest of each.
    """
    if len(notes) < KEPT_FROM:
        return evidence(notes)
    return _EVIDENCE.get((notes,), None, lambda: evidence(notes))


def _spent(state: ProfileState, day: Day) -> tuple[int, tuple[FactNoted, ...]]:
    return spend(state, day.since)


_OBSTETRIC = ("diagnoses", "deliveries")
_CONDITIONS = ("diagnoses", "deliveries", "rehab_plans")
_CHARGES = ("charges", "refunds")


def _derive(
    state: ProfileState, day: Day, spent: tuple[int, tuple[FactNoted, ...]] | None = None
) -> dict[str, Tag]:
    held = dict(_kept(_condition_tags, _CONDITIONS, state, day))
    stages = (
        _kept(age_stage, ("registrations",), state, day),
        _kept(maternity, _OBSTETRIC, state, day),
    )
    for found in stages:
        if found is not None:
            held[f"stage:{found[0]}"] = found[1]
    fen, spent_on = spent or _kept(_spent, _CHARGES, state, day)
    spending = band(day.rules, fen)
    months = day.rules.window_months
    start = f"{yuan(spending.min_fen)} ({spending.label})"
    reason = f"out-of-pocket spend in {months} months from {start}"
    held[f"spend:{spending.key}"] = Tag(reason=reason, fact_ids=_latest(spent_on))
    treated = _kept(high_value_treatment, _CHARGES, state, day)
    if treated is not None:
        held[HIGH_VALUE_TAG] = treated
    preferred = _kept(channel, ("registrations", "interactions"), state, day)
    if preferred is not None:
        held[f"channel:{preferred[0]}"] = preferred[1]
    if state.family is not None and state.family.has_dependents:
        held["family:has_dependents"] = Tag(reason="heads a household with dependents")
    if state.family is not None and state.family.is_dependent:
        held["family:dependent"] = Tag(reason="a dependent in a household")
    return held


def derived_tags(state: ProfileState, config: ProgrammeConfig, now: datetime) -> dict[str, Tag]:
    """The tags the facts make at ``now`` (without the tags set by commands)."""
    return _derive(state, day_of(config.segments, now, config.tz))


# --- segment ------------------------------------------------------------------------------


def _departments(state: ProfileState, day: Day) -> dict[str, tuple[FactNoted, ...]]:
    seen: dict[str, list[FactNoted]] = defaultdict(list)
    for visit in state.visits.values():
        if visit.at >= day.since:
            seen[visit.department].append(visit)
    for charge in state.charges.values():
        if charge.at >= day.since:
            for department in charge.departments:
                seen[department].append(charge)
    return {department: tuple(notes) for department, notes in seen.items()}


def _holds(
    criterion: SegmentCriterion,
    held: Mapping[str, Tag],
    departments: Mapping[str, tuple[FactNoted, ...]],
    spent: tuple[int, tuple[FactNoted, ...]],
) -> tuple[list[str], list[str]] | None:
    """What made the criterion hold (details, fact ids), or ``None`` if it does not."""
    details: list[str] = []
    ids: list[str] = []
    if criterion.departments:
        found = [name for name in criterion.departments if name in departments]
        if not found:
            return None
        details.append("department " + ", ".join(found))
        ids += [fact_id for name in found for fact_id in _latest(departments[name])]
    if criterion.tags:
        tagged = [tag for tag in criterion.tags if tag in held]
        if not tagged:
            return None
        details.append("tag " + ", ".join(tagged))
        ids += [fact_id for tag in tagged for fact_id in held[tag].fact_ids]
    if criterion.min_spend_fen is not None:
        if spent[0] < criterion.min_spend_fen:
            return None
        details.append(f"spent {yuan(spent[0])}, at least {yuan(criterion.min_spend_fen)}")
        ids += _latest(spent[1])
    return details, ids


def _assign(
    state: ProfileState,
    held: Mapping[str, Tag],
    day: Day,
    spent: tuple[int, tuple[FactNoted, ...]],
) -> tuple[str, Explanation]:
    rules = day.rules
    departments = _kept(_departments, ("visits", "charges"), state, day)
    for segment in rules.segments[:-1]:
        for criterion in segment.criteria:
            found = _holds(criterion, held, departments, spent)
            if found is not None:
                ids = evidence(noted_fact(state, fact_id) for fact_id in found[1])
                rule = f"{segment.key}.{criterion.key}"
                return segment.key, Explanation(rule=rule, detail="; ".join(found[0]), fact_ids=ids)
    others = ", ".join(segment.key for segment in rules.segments[:-1]) or "any other segment"
    default = rules.default_segment
    return default, Explanation(rule=f"{default}.default", detail=f"no criterion of {others} holds")


@attrs.frozen(kw_only=True)
class Evaluation:
    """What a member's profile comes to at an instant.

    Attributes:
        tags: the tags the facts make then, and those set by commands.
        segment: the segment they put the member in.
        explanation: which rule, on which facts.
    """

    tags: Mapping[str, Tag]
    segment: str
    explanation: Explanation


def evaluate(state: ProfileState, config: ProgrammeConfig, now: datetime) -> Evaluation:
    """The tags and segment of a member at ``now``, without deciding anything.

    The segments are tried in order; the first with a criterion that holds wins, the
    last is the default. Criteria see the tags the facts make at ``now`` and the tags set
    by commands.
    """
    day = day_of(config.segments, now, config.tz)
    manual = {tag: held for tag, held in state.tags.items() if held.key is not None}
    spent = _kept(_spent, _CHARGES, state, day)
    held = {**_derive(state, day, spent), **manual}
    segment, explanation = _assign(state, held, day, spent)
    return Evaluation(tags=held, segment=segment, explanation=explanation)


def service_level(segment: str, rules: SegmentRules) -> ServiceLevel:
    """How much human service a segment gets: ``case_manager``, ``follow_up_plan``...

    Raises:
        ConfigError: no segment is called ``segment``.
    """
    return rules.service_level(segment)
