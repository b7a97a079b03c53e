"""The tier decider: facts, staff commands and the passing of time in, tier events out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from membercore.commands import MergeMembers
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError, UnknownTierError
from membercore.facts import ChargePaid, Fact, RefundIssued, VisitCompleted
from membercore.idempotency import fingerprint, replayed
from membercore.ledger import LedgerState
from membercore.tiers.messages import (
    ChangeReason,
    ClearTierOverride,
    Override,
    ReviewTier,
    SetTierOverride,
    TierActivityRecorded,
    TierChanged,
    TierCommand,
    TierEvent,
    TierRecordsMerged,
    TierReviewed,
)
from membercore.tiers.rules import earned_level, next_review, qualification
from membercore.tiers.state import TierState, evolve

__all__ = ["decide", "decide_merge"]


def decide(
    message: Fact | TierCommand | None,
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    floor: str | None = None,
) -> list[TierEvent]:
    """The tier events a fact, a tier command, or simply the passing of time makes.

    Call it after the member's ledger has taken the same fact, so that the points it
    earned count at once; call it with ``message=None`` to settle the tier after anything
    else changed (a redemption, a plan's floor starting or ending).

    Args:
        message: a fact (visits and charges count as qualifiers), a tier command, or None.
        state: the member's tier state.
        ledger: the member's ledger, already up to date.
        config: the programme.
        now: the instant of the decision.
        floor: the tier floor of the member's active paid plan, if any.

    Raises:
        UnknownTierError: an override or floor names a tier not on the ladder.
        IdempotencyConflictError: a command key was reused for another command.
    """
    now = require_aware("now", now)
    if state.member_id != ledger.member_id:
        raise MemberMismatchError(state.member_id, ledger.member_id)
    member_id = _member_of(message)
    if member_id is not None and member_id != state.member_id:
        raise MemberMismatchError(state.member_id, member_id)
    for tier in (floor, getattr(message, "tier", None)):
        if tier is not None and tier not in config.tiers.keys:
            raise UnknownTierError(state.member_id, tier)
    key = getattr(message, "key", None)
    if key is not None and _seen(state, key, message):
        return []
    events: list[TierEvent] = list(_activity(message, state))
    working = state
    for event in events:
        working = evolve(working, event)
    events.extend(_settle(message, working, ledger, config, now, floor=floor))
    return events


def decide_merge(
    command: MergeMembers,
    survivor: TierState,
    duplicate: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    floor: str | None = None,
) -> list[TierEvent]:
    """The survivor's tier events when a duplicate record is merged into it.

    The duplicate's visits and spend join the survivor's, the higher held level is kept,
    and the tier is re-evaluated against the merged ledger (pass the survivor's ledger
    after its merge posting).

    Raises:
        MemberMismatchError: the states are not those the command names.
    """
    now = require_aware("now", now)
    if (survivor.member_id, duplicate.member_id) != (command.member_id, command.duplicate_id):
        raise MemberMismatchError(survivor.member_id, command.member_id)
    if _seen(survivor, command.key, command):
        return []
    rules = config.tiers
    lowest = rules.levels[0].key
    held_here, held_there = survivor.held or lowest, duplicate.held or lowest
    keep_theirs = rules.rank(held_there) > rules.rank(held_here)
    merged = TierRecordsMerged(
        member_id=survivor.member_id,
        duplicate_id=duplicate.member_id,
        at=now,
        visits=duplicate.visits,
        spend=duplicate.spend,
        held=held_there if keep_theirs else held_here,
        review_at=duplicate.review_at if keep_theirs else survivor.review_at,
        key=command.key,
        fingerprint=fingerprint(command),
    )
    working = evolve(survivor, merged)
    return [merged, *_settle(command, working, ledger, config, now, floor=floor)]


def _member_of(message: object) -> str | None:
    if isinstance(message, Fact):
        return message.patient_id
    return getattr(message, "member_id", None)


def _seen(state: TierState, key: str, message: object) -> bool:
    return replayed(state.keys, key, message, owner=state.member_id)


def _activity(message: object, state: TierState) -> Iterable[TierActivityRecorded]:
    if isinstance(message, VisitCompleted) and message.visit_id not in state.visits:
        yield TierActivityRecorded(
            member_id=state.member_id,
            kind="visit",
            reference=message.visit_id,
            at=message.occurred_at,
            fact_id=message.fact_id,
        )
    elif isinstance(message, ChargePaid) and message.charge_id not in state.spend:
        yield TierActivityRecorded(
            member_id=state.member_id,
            kind="spend",
            reference=message.charge_id,
            at=message.occurred_at,
            amount_fen=sum(line.self_paid_fen for line in message.lines),
            fact_id=message.fact_id,
        )
    elif isinstance(message, RefundIssued) and message.charge_id in state.spend:
        at, spent = state.spend[message.charge_id]
        taken = min(message.amount_fen, spent)
        if taken > 0:
            yield TierActivityRecorded(
                member_id=state.member_id,
                kind="spend",
                reference=message.charge_id,
                at=at,
                amount_fen=-taken,
                fact_id=message.fact_id,
            )


def _settle(
    message: object,
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    floor: str | None,
) -> list[TierEvent]:
    rules = config.tiers
    lowest = rules.levels[0].key
    done = qualification(state, ledger, config, now)
    held, review_at = state.held or lowest, state.review_at
    earned = earned_level(config, done)
    reason: ChangeReason | None = None
    override, trigger, digest = state.override, None, None
    if override is not None and override.expires_at <= now:
        override, reason = None, "override_ended"
    if isinstance(message, SetTierOverride):
        override = Override(
            tier=message.tier,
            expires_at=message.expires_at,
            operator=message.operator,
            reason=message.reason,
        )
        reason, trigger, digest = "override", message.key, fingerprint(message)
    elif isinstance(message, ClearTierOverride) and override is not None:
        override, reason, trigger, digest = (
            None,
            "override_ended",
            message.key,
            fingerprint(message),
        )
    if rules.rank(earned) > rules.rank(held):
        held, review_at, reason = earned, next_review(config, now), reason or "upgrade"
    reviewed: TierReviewed | None = None
    if isinstance(message, ReviewTier) and _review_due(state, config, now):
        if rules.rank(earned) < rules.rank(held):
            held = rules.levels[rules.rank(held) - 1].key
            review_at = None if held == lowest else next_review(config, now)
            reason = reason or "downgrade"
        else:
            assert review_at is not None  # _review_due
            reviewed = TierReviewed(
                member_id=state.member_id,
                at=now,
                tier=held,
                review_at=_next_after(config, review_at, now),
                rule_version=rules.version,
                qualification=done,
            )
    tier = _has(config, held, floor, override)
    before = state.tier or lowest
    if reason is None and tier != before and isinstance(message, MergeMembers):
        reason = "merge"
    if reason is None and tier != before:
        reason = "floor" if rules.rank(tier) > rules.rank(before) else "floor_ended"
    if reason is None:
        return [reviewed] if reviewed else []
    changed = TierChanged(
        member_id=state.member_id,
        at=now,
        from_tier=before,
        to_tier=tier,
        held=held,
        review_at=review_at,
        reason=reason,
        rule_version=rules.version,
        qualification=done,
        override=override if reason == "override" else None,
        trigger=trigger,
        fingerprint=digest,
    )
    return [changed, reviewed] if reviewed else [changed]


def _review_due(state: TierState, config: ProgrammeConfig, now: datetime) -> bool:
    if state.review_at is None:
        return False
    return state.review_at + timedelta(days=config.tiers.grace_days) <= now


def _next_after(config: ProgrammeConfig, review_at: datetime, now: datetime) -> datetime:
    following = next_review(config, review_at)
    while following <= now:
        following = next_review(config, following)
    return following


def _has(config: ProgrammeConfig, held: str, floor: str | None, override: Override | None) -> str:
    if override is not None:
        return override.tier
    rules = config.tiers
    if floor is not None and rules.rank(floor) > rules.rank(held):
        return floor
    return held
