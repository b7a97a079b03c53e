"""What a profile means on a given day: tags, life stage, spending, channel, RFM, segment.

Everything here is worked out from the whole set of noted facts and the local date of
``now`` in the programme's timezone, never from the order the facts came in or the time
of day: the same facts give the same answers all day long.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

import attrs

from membercore.config import ProgrammeConfig
from membercore.config.segments import (
    LifeStage,
    SegmentCriterion,
    SegmentRules,
    ServiceLevel,
    SpendingBand,
)
from membercore.consent import CHANNELS, Channel
from membercore.dates import add_months, age_on, local_date, local_day_start, require_aware
from membercore.segments.messages import (
    ChargeNoted,
    DiagnosisNoted,
    Explanation,
    FactNoted,
    RefundNoted,
    Tag,
)
from membercore.segments.state import ProfileState

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

#: Tags and explanations name at most this many facts: the latest.
MAX_EVIDENCE = 10


@attrs.frozen(kw_only=True)
class Rfm:
    """Recency, frequency and monetary value, with their scores from 1 to 5.

    Attributes:
        recency_days: days since the last visit or charge (``None``: never).
        visits: visits in the window.
        spend_fen: out-of-pocket spend in the window, in fen.
        recency: the recency score.
        frequency: the frequency score.
        monetary: the monetary score.
    """

    recency_days: int | None
    visits: int
    spend_fen: int
    recency: int
    frequency: int
    monetary: int

    @property
    def code(self) -> str:
        """The three scores as one code, ``R F M``: ``"545"``."""
        return f"{self.recency}{self.frequency}{self.monetary}"


@attrs.frozen(kw_only=True)
class _Day:
    rules: SegmentRules
    tz: ZoneInfo
    today: date
    since: datetime

    def date_of(self, note: FactNoted) -> date:
        return local_date(note.at, self.tz)

    def within(self, note: FactNoted, days: int | None) -> bool:
        return days is None or (self.today - self.date_of(note)).days < days


def window_start(rules: SegmentRules, now: datetime, tz: ZoneInfo) -> datetime:
    """The start of the window: local midnight of the same date ``window_months`` ago.

    On 10 May 2026 with a 12-month window it is 10 May 2025 00:00 in ``tz``.
    """
    today = local_day_start(local_date(require_aware("now", now), tz), tz)
    return add_months(today, -rules.window_months, tz)


def _day(rules: SegmentRules, now: datetime, tz: ZoneInfo) -> _Day:
    now = require_aware("now", now)
    return _Day(rules=rules, tz=tz, today=local_date(now, tz), since=window_start(rules, now, tz))


def _order(note: FactNoted) -> tuple[datetime, str]:
    return (note.at, note.fact_id)


def _evidence(notes: Iterable[FactNoted]) -> tuple[str, ...]:
    ordered = sorted({note.fact_id: note for note in notes}.values(), key=_order)
    return tuple(note.fact_id for note in ordered[-MAX_EVIDENCE:])


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} 元"


# --- spending, visits, recency ----------------------------------------------------------


def _spend(state: ProfileState, since: datetime) -> tuple[int, list[FactNoted]]:
    """Net out-of-pocket spend of the charges in the window, and the facts it rests on."""
    current: dict[str, ChargeNoted] = {}
    for note in state.charges.values():  # a charge sent again under a new fact id counts once
        kept = current.get(note.charge_id)
        if kept is None or _order(note) > _order(kept):
            current[note.charge_id] = note
    refunds: dict[str, list[RefundNoted]] = defaultdict(list)
    for refund in state.refunds.values():
        refunds[refund.charge_id].append(refund)
    total = 0
    evidence: list[FactNoted] = []
    for charge in current.values():
        if charge.at >= since:
            taken = sum(refund.amount_fen for refund in refunds[charge.charge_id])
            total += max(0, charge.self_paid_fen - taken)
            evidence += [charge, *refunds[charge.charge_id]]
    return total, evidence


def out_of_pocket_fen(state: ProfileState, config: ProgrammeConfig, now: datetime) -> int:
    """Out-of-pocket spend in the window, net of refunds, in fen."""
    return _spend(state, window_start(config.segments, now, config.tz))[0]


def _band(rules: SegmentRules, fen: int) -> SpendingBand:
    return [band for band in rules.spending_bands if band.min_fen <= fen][-1]


def spending_band(state: ProfileState, config: ProgrammeConfig, now: datetime) -> SpendingBand:
    """The member's spending-power band: the highest whose start their spend reaches."""
    return _band(config.segments, out_of_pocket_fen(state, config, now))


def _score_up(value: int, breakpoints: tuple[int, ...]) -> int:
    return 1 + sum(value >= point for point in breakpoints)


def rfm(state: ProfileState, config: ProgrammeConfig, now: datetime) -> Rfm:
    """The member's RFM scores at ``now``.

    Recency counts local days from the last visit or charge to today; frequency counts
    distinct visits in the window; monetary is the out-of-pocket spend in the window.
    """
    day = _day(config.segments, now, config.tz)
    breakpoints = config.segments.rfm
    activity = [*state.visits.values(), *state.charges.values()]
    last = max((day.date_of(note) for note in activity), default=None)
    days = None if last is None else max(0, (day.today - last).days)
    visits = len({note.visit_id for note in state.visits.values() if note.at >= day.since})
    spend = _spend(state, day.since)[0]
    recency = 1 if days is None else 5 - sum(days > point for point in breakpoints.recency_days)
    return Rfm(
        recency_days=days,
        visits=visits,
        spend_fen=spend,
        recency=recency,
        frequency=_score_up(visits, breakpoints.frequency),
        monetary=_score_up(spend, breakpoints.monetary_fen),
    )


# --- life stage ---------------------------------------------------------------------------


def _age_stage(state: ProfileState, day: _Day) -> tuple[LifeStage, Tag] | None:
    stated = [(_order(n), n.birth_date, n) for n in state.registrations.values() if n.birth_date]
    if not stated:
        return None
    _, born, latest = max(stated, key=lambda item: item[0])
    age = age_on(born, day.today)
    rules = day.rules
    stage: LifeStage = "adult"
    if age < rules.child_below_age:
        stage = "child"
    elif age >= rules.senior_from_age:
        stage = "senior"
    return stage, Tag(reason=f"born {born}", fact_ids=(latest.fact_id,))


def _maternity(state: ProfileState, day: _Day) -> tuple[LifeStage, Tag] | None:
    diagnoses = list(state.diagnoses.values())
    pregnancy = [note for note in diagnoses if "pregnancy" in note.conditions]
    losses = [note for note in diagnoses if "pregnancy_loss" in note.conditions]
    births: list[FactNoted] = [*state.deliveries.values()]
    births += [note for note in diagnoses if {"delivery", "puerperium"} & set(note.conditions)]
    last_end = max((day.date_of(note) for note in [*births, *losses]), default=None)
    if pregnancy:
        latest = max(pregnancy, key=_order)
        started = day.date_of(latest)
        if (last_end is None or last_end < started) and day.within(
            latest, day.rules.pregnancy_days
        ):
            current = [n for n in pregnancy if last_end is None or day.date_of(n) > last_end]
            reason = f"pregnancy recorded on {started} ({latest.icd10}), no delivery since"
            return "pregnant", Tag(reason=reason, fact_ids=_evidence(current))
    if births:
        born = max(day.date_of(note) for note in births)
        later = [note for note in [*pregnancy, *losses] if day.date_of(note) > born]
        these = [note for note in births if day.date_of(note) == born]
        if not later and day.within(these[0], day.rules.postpartum_days):
            return "postpartum", Tag(reason=f"delivered on {born}", fact_ids=_evidence(these))
    return None


def life_stage(
    state: ProfileState, now: datetime, tz: ZoneInfo, *, rules: SegmentRules | None = None
) -> LifeStage | None:
    """The member's life stage at ``now``: pregnant or post-partum first, else by age.

    Args:
        state: the member's profile.
        now: the instant (ages and windows are reckoned on its local date).
        tz: the programme's timezone.
        rules: the segment rules (the reference rules when not given).

    Returns:
        ``pregnant`` or ``postpartum`` from obstetric facts; else ``child``, ``adult``
        or ``senior`` from the birth date; ``None`` when nothing tells.
    """
    day = _day(rules or SegmentRules(), now, tz)
    found = _maternity(state, day) or _age_stage(state, day)
    return None if found is None else found[0]


# --- channel preference -------------------------------------------------------------------


def _channel(state: ProfileState, day: _Day) -> tuple[Channel, Tag] | None:
    declared = [
        (_order(n), n.preferred_channel, n.fact_id)
        for n in state.registrations.values()
        if n.preferred_channel
    ]
    if declared:
        _, channel, fact_id = max(declared, key=lambda item: item[0])
        return channel, Tag(reason="declared by the member", fact_ids=(fact_id,))
    seen = [n for n in state.interactions.values() if n.counted_as and n.at >= day.since]
    if not seen:
        return None
    counts = Counter(note.counted_as for note in seen)
    best = max(CHANNELS, key=lambda channel: counts[channel])  # ties: the order of CHANNELS
    used = [note for note in seen if note.counted_as == best]
    reason = f"{counts[best]} of {len(seen)} interactions in {day.rules.window_months} months"
    return best, Tag(reason=reason, fact_ids=_evidence(used))


def preferred_channel(
    state: ProfileState, config: ProgrammeConfig, now: datetime
) -> Channel | None:
    """The channel to reach the member by: declared, else the one they use most."""
    found = _channel(state, _day(config.segments, now, config.tz))
    return None if found is None else found[0]


# --- tags ---------------------------------------------------------------------------------


def _condition_tags(state: ProfileState, day: _Day) -> dict[str, Tag]:
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
            latest = max(current, key=_order)
            if isinstance(latest, DiagnosisNoted):
                reason = f"{latest.icd10} on {day.date_of(latest)}"
            elif tag == "care:rehab_plan":
                reason = f"joined a rehabilitation plan on {day.date_of(latest)}"
            else:
                reason = f"delivered on {day.date_of(latest)}"
            held[tag] = Tag(reason=reason, fact_ids=_evidence(current))
    return held


def _derive(
    state: ProfileState, day: _Day, spent: tuple[int, list[FactNoted]] | None = None
) -> dict[str, Tag]:
    held = _condition_tags(state, day)
    for found in (_age_stage(state, day), _maternity(state, day)):
        if found is not None:
            held[f"stage:{found[0]}"] = found[1]
    spend, evidence = spent or _spend(state, day.since)
    band = _band(day.rules, spend)
    months = day.rules.window_months
    reason = f"out-of-pocket spend in {months} months from {_yuan(band.min_fen)} ({band.label})"
    held[f"spend:{band.key}"] = Tag(reason=reason, fact_ids=_evidence(evidence))
    channel = _channel(state, day)
    if channel is not None:
        held[f"channel:{channel[0]}"] = channel[1]
    if state.family is not None and state.family.has_dependents:
        held["family:has_dependents"] = Tag(reason="heads a household with dependents")
    if state.family is not None and state.family.is_dependent:
        held["family:dependent"] = Tag(reason="a dependent in a household")
    return held


def derived_tags(state: ProfileState, config: ProgrammeConfig, now: datetime) -> dict[str, Tag]:
    """The tags the facts make at ``now`` (without the tags set by commands)."""
    return _derive(state, _day(config.segments, now, config.tz))


# --- segment ------------------------------------------------------------------------------


def _departments(state: ProfileState, since: datetime) -> dict[str, list[FactNoted]]:
    seen: dict[str, list[FactNoted]] = defaultdict(list)
    for visit in state.visits.values():
        if visit.at >= since:
            seen[visit.department].append(visit)
    for charge in state.charges.values():
        if charge.at >= since:
            for department in charge.departments:
                seen[department].append(charge)
    return seen


def _holds(
    criterion: SegmentCriterion,
    held: Mapping[str, Tag],
    departments: Mapping[str, list[FactNoted]],
    spend: tuple[int, list[FactNoted]],
) -> tuple[list[str], list[str]] | None:
    """What made the criterion hold (details, fact ids), or ``None`` if it does not."""
    details: list[str] = []
    ids: list[str] = []
    if criterion.departments:
        found = [name for name in criterion.departments if name in departments]
        if not found:
            return None
        details.append("department " + ", ".join(found))
        ids += [note.fact_id for name in found for note in departments[name]]
    if criterion.tags:
        tagged = [tag for tag in criterion.tags if tag in held]
        if not tagged:
            return None
        details.append("tag " + ", ".join(tagged))
        ids += [fact_id for tag in tagged for fact_id in held[tag].fact_ids]
    if criterion.min_spend_fen is not None:
        if spend[0] < criterion.min_spend_fen:
            return None
        details.append(f"spent {_yuan(spend[0])}, at least {_yuan(criterion.min_spend_fen)}")
        ids += [note.fact_id for note in spend[1]]
    return details, ids


def _notes(state: ProfileState) -> dict[str, FactNoted]:
    kinds: list[Mapping[str, FactNoted]] = [
        state.registrations,
        state.visits,
        state.charges,
        state.refunds,
        state.diagnoses,
        state.deliveries,
        state.interactions,
        state.rehab_plans,
    ]
    return {fact_id: note for kind in kinds for fact_id, note in kind.items()}


def _assign(
    state: ProfileState,
    held: Mapping[str, Tag],
    day: _Day,
    spend: tuple[int, list[FactNoted]],
) -> tuple[str, Explanation]:
    rules = day.rules
    departments = _departments(state, day.since)
    for segment in rules.segments[:-1]:
        for criterion in segment.criteria:
            found = _holds(criterion, held, departments, spend)
            if found is not None:
                notes = _notes(state)
                evidence = _evidence(notes[fact_id] for fact_id in found[1])
                rule = f"{segment.key}.{criterion.key}"
                return segment.key, Explanation(
                    rule=rule, detail="; ".join(found[0]), fact_ids=evidence
                )
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
    day = _day(config.segments, now, config.tz)
    manual = {tag: held for tag, held in state.tags.items() if held.key is not None}
    spend = _spend(state, day.since)
    held = {**_derive(state, day, spend), **manual}
    segment, explanation = _assign(state, held, day, spend)
    return Evaluation(tags=held, segment=segment, explanation=explanation)


def service_level(segment: str, rules: SegmentRules) -> ServiceLevel:
    """How much human service a segment gets: ``case_manager``, ``follow_up_plan``...

    Raises:
        ConfigError: no segment is called ``segment``.
    """
    return rules.service_level(segment)
