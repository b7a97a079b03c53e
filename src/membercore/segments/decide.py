"""The profile decider: facts, tag commands and the daily refresh in, profile events out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from membercore.config import ProgrammeConfig
from membercore.config.segments import SegmentRules, is_derived
from membercore.dates import local_date, require_aware
from membercore.errors import MemberMismatchError, ReservedTagError
from membercore.facts import (
    ChargePaid,
    CheckedIn,
    ContentShared,
    DeliveryRecorded,
    DiagnosisRecorded,
    Fact,
    PatientRegistered,
    RefundIssued,
    RehabPlanJoined,
    VisitCompleted,
)
from membercore.facts.icd10 import CODE_TABLE, conditions_for
from membercore.idempotency import fingerprint, replayed
from membercore.segments.derive import evaluate
from membercore.segments.forget import forgotten
from membercore.segments.messages import (
    AddTag,
    CategoryCharged,
    ChargeNoted,
    DeliveryNoted,
    DiagnosisNoted,
    FamilyStatus,
    FamilyStatusNoted,
    InteractionNoted,
    ProfileCommand,
    ProfileEvent,
    RefundNoted,
    RegistrationNoted,
    RehabPlanNoted,
    RemoveTag,
    SegmentAssigned,
    TagAdded,
    TagEvidenceChanged,
    TagRemoved,
    VisitNoted,
)
from membercore.segments.state import ProfileState, evolve

__all__ = ["decide", "is_reserved"]


def is_reserved(tag: str) -> bool:
    """Whether ``tag`` is in a namespace only facts may set (``condition:diabetes``)."""
    return is_derived(tag)


def decide(
    message: Fact | ProfileCommand,
    state: ProfileState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    family: FamilyStatus | None = None,
) -> list[ProfileEvent]:
    """The profile events a fact, a tag command or the daily refresh makes.

    A fact this part reads is noted (once per fact id), then the tags and the segment are
    worked out again from every fact noted, as of the local date of ``now``: the same
    facts in any order on a day give the same profile. Facts it does not read, and facts
    already noted, make no events.

    Args:
        message: a fact (registration, visit, charge, refund, diagnosis, delivery,
            check-in, share, rehab plan), :class:`AddTag`, :class:`RemoveTag` or
            :class:`RefreshProfile`.
        state: the member's profile.
        config: the programme (its ``segments`` rules and timezone).
        now: the instant of the decision.
        family: the member's family status from the households part, when known; the
            last one given is kept (a fact already noted changes nothing, this included).

    Raises:
        MemberMismatchError: the message is about another member.
        ReservedTagError: a command names a tag only facts may set.
        IdempotencyConflictError: a fact id or command key reused for another message.
    """
    now = require_aware("now", now)
    member_id = message.patient_id if isinstance(message, Fact) else message.member_id
    if member_id != state.member_id:
        raise MemberMismatchError(state.member_id, member_id)
    events: list[ProfileEvent] = []
    if isinstance(message, Fact):
        digest = fingerprint(message)
        if replayed(state.facts, message.fact_id, message, owner=state.member_id):
            return []
        note = _note(message, digest, config.segments)
        if note is None:
            return []
        events.append(note)
    elif isinstance(message, AddTag | RemoveTag):
        if is_reserved(message.tag):
            raise ReservedTagError(state.member_id, message.tag)
        digest = fingerprint(message)
        if replayed(state.keys, message.key, message, owner=state.member_id):
            return []
        events += _by_hand(message, digest, state, now)
    if family is not None and family != state.family:
        events.append(FamilyStatusNoted(member_id=state.member_id, status=family, at=now))
    working = state
    for event in events:
        working = evolve(working, event)
    events += _settle(working, config, now)
    noted = isinstance(message, Fact) and bool(events)
    let_go = forgotten(working, config.segments, config.tz, now) if noted else None
    return events if let_go is None else [*events, let_go]


def _note(  # noqa: PLR0911 - one plain branch per fact type read
    fact: Fact, digest: str, rules: SegmentRules
) -> ProfileEvent | None:
    common: dict[str, Any] = {
        "member_id": fact.patient_id,
        "fact_id": fact.fact_id,
        "fingerprint": digest,
        "at": fact.occurred_at,
    }
    if isinstance(fact, PatientRegistered):
        return RegistrationNoted(
            **common,
            birth_date=fact.birth_date,
            sex=fact.sex,
            preferred_channel=fact.preferred_channel,
            language=fact.language,
            name=fact.name,
            relatives=fact.relatives,
            phone=fact.phone,
            email=fact.email,
            wecom=fact.wecom,
            source=fact.source,
        )
    if isinstance(fact, VisitCompleted):
        return VisitNoted(**common, visit_id=fact.visit_id, department=fact.department)
    if isinstance(fact, ChargePaid):
        return ChargeNoted(
            **common,
            charge_id=fact.charge_id,
            self_paid_fen=sum(line.self_paid_fen for line in fact.lines),
            departments=tuple(sorted({line.department for line in fact.lines})),
            total_fen=sum(line.amount_fen for line in fact.lines),
            categories=_categories(fact),
        )
    if isinstance(fact, RefundIssued):
        return RefundNoted(**common, charge_id=fact.charge_id, amount_fen=fact.amount_fen)
    if isinstance(fact, DiagnosisRecorded) and fact.icd10 is not None:
        table = (*CODE_TABLE, *rules.extra_codes)
        conditions = conditions_for(fact.icd10, table)
        return DiagnosisNoted(
            **common, icd10=fact.icd10, visit_id=fact.visit_id, conditions=conditions
        )
    if isinstance(fact, DeliveryRecorded):
        return DeliveryNoted(**common, visit_id=fact.visit_id, mode=fact.mode)
    if isinstance(fact, CheckedIn | ContentShared):
        counted = rules.interaction_channels.get(fact.channel)
        return InteractionNoted(**common, channel=fact.channel, counted_as=counted)
    if isinstance(fact, RehabPlanJoined):
        return RehabPlanNoted(**common, plan_id=fact.plan_id)
    return None


def _categories(charge: ChargePaid) -> tuple[CategoryCharged, ...]:
    totals: dict[str, int] = {}
    for line in charge.lines:
        totals[line.category] = totals.get(line.category, 0) + line.amount_fen
    return tuple(CategoryCharged(category=c, amount_fen=totals[c]) for c in sorted(totals))


def _by_hand(
    command: AddTag | RemoveTag, digest: str, state: ProfileState, now: datetime
) -> list[ProfileEvent]:
    if isinstance(command, AddTag):
        added = TagAdded(
            member_id=state.member_id,
            tag=command.tag,
            reason=command.reason,
            at=now,
            key=command.key,
            fingerprint=digest,
        )
        return [added]
    if command.tag not in state.tags:
        return []  # removing what the member does not hold changes nothing
    removed = TagRemoved(
        member_id=state.member_id,
        tag=command.tag,
        reason=command.reason,
        at=now,
        key=command.key,
        fingerprint=digest,
    )
    return [removed]


def _settle(state: ProfileState, config: ProgrammeConfig, now: datetime) -> list[ProfileEvent]:
    """The tag and segment events that bring the profile up to date with its facts."""
    result = evaluate(state, config, now)
    events: list[ProfileEvent] = []
    today = local_date(now, config.tz)
    for tag in sorted(state.tags):
        if state.tags[tag].key is None and tag not in result.tags:
            reason = f"no longer follows from the facts on {today}"
            events.append(TagRemoved(member_id=state.member_id, tag=tag, reason=reason, at=now))
    for tag, held in sorted(result.tags.items()):
        before = state.tags.get(tag)
        if held.key is not None or before == held:
            continue
        kind = TagAdded if before is None else TagEvidenceChanged
        events.append(
            kind(
                member_id=state.member_id,
                tag=tag,
                reason=held.reason,
                fact_ids=held.fact_ids,
                at=now,
            )
        )
    if (state.segment, state.explanation) != (result.segment, result.explanation):
        assigned = SegmentAssigned(
            member_id=state.member_id,
            segment=result.segment,
            previous=state.segment,
            explanation=result.explanation,
            version=config.segments.version,
            at=now,
        )
        events.append(assigned)
    return events
