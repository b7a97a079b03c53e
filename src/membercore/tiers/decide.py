"""The tier decider: facts, staff commands and the passing of time in, tier events out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import InvalidFactError, MemberMismatchError, UnknownTierError
from membercore.facts import ChargePaid, Fact, RefundIssued, VisitCompleted
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState
from membercore.tiers.messages import (
    ChangeReason,
    ClearTierOverride,
    Override,
    Qualification,
    SetTierOverride,
    SpendBasis,
    TierActivityRecorded,
    TierBasisChanged,
    TierChanged,
    TierCommand,
    TierEvent,
    TierRecordsMerged,
    TierReviewed,
)
from membercore.tiers.rules import earned_level, next_review, qualification, review_due_at
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

    First, what the passing of time did by ``now`` is decided, each change at its own
    instant: overrides that ended, and reviews that fell due (review date plus
    ``tiers.grace_days``), each on the qualification at that instant and with the floor
    the tier was last decided with. A :class:`ReviewTier` asks for only that.

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
    if isinstance(message, SetTierOverride) and message.expires_at <= now:
        problem = f"an override must end after it is set ({now.isoformat()})"
        raise InvalidFactError(message.TYPE, "expires_at", message.expires_at, problem)
    key = getattr(message, "key", None)
    if key is not None and _seen(state, key, message):
        return []
    events: list[TierEvent] = list(_activity(message, state))
    working = state
    for event in events:
        working = evolve(working, event)
    for event in _catch_up(working, ledger, config, now, floor=floor):
        events.append(event)
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

    The duplicate's visits and spend join the survivor's (its qualifying points join
    through the merged ledger: pass the survivor's ledger after its merge posting), the
    higher held level is kept with its review date — of two equal levels, the later
    review date, the one the person last qualified to — and the tier is re-evaluated on
    everything merged.

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
    keep_theirs = rules.rank(held_there) > rules.rank(held_here) or (
        held_there == held_here and _later(duplicate.review_at, survivor.review_at)
    )
    merged = TierRecordsMerged(
        member_id=survivor.member_id,
        duplicate_id=duplicate.member_id,
        at=now,
        visits=duplicate.visits,
        spend=duplicate.spend,
        spend_basis=duplicate.spend_basis,
        held=held_there if keep_theirs else held_here,
        review_at=duplicate.review_at if keep_theirs else survivor.review_at,
        key=command.key,
        fingerprint=fingerprint(command),
    )
    events: list[TierEvent] = [merged]
    working = evolve(survivor, merged)
    for event in _catch_up(working, ledger, config, now, floor=floor):
        events.append(event)
        working = evolve(working, event)
    return [*events, *_settle(command, working, ledger, config, now, floor=floor)]


def _later(one: datetime | None, other: datetime | None) -> bool:
    return one is not None and (other is None or one > other)


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
            charge_fen=message.amount_fen,
        )
    elif isinstance(message, RefundIssued) and message.charge_id in state.spend:
        at, spent = state.spend[message.charge_id]
        basis = state.spend_basis.get(message.charge_id)
        refunded = None
        if basis is None or basis.charge_fen <= 0:
            taken = min(message.amount_fen, spent)
        else:
            refunded = min(message.amount_fen, basis.charge_fen - basis.refunded_fen)
            taken = min(_refund_share(basis, refunded), spent)
        if taken > 0 or refunded:
            yield TierActivityRecorded(
                member_id=state.member_id,
                kind="spend",
                reference=message.charge_id,
                at=at,
                amount_fen=-taken,
                fact_id=message.fact_id,
                refunded_fen=refunded,
            )


def _refund_share(basis: SpendBasis, refunded_fen: int) -> int:
    """The out-of-pocket spend ``refunded_fen`` more of the charge takes back.

    In proportion to the charge total, as the ledger reverses points, and reckoned on the
    cumulative refund, so that refunds adding up to the whole charge take exactly what
    the patient paid.
    """
    paid, total = basis.paid_fen, basis.charge_fen
    after = min(basis.refunded_fen + refunded_fen, total)
    return paid * after // total - paid * basis.refunded_fen // total


def _catch_up(
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    floor: str | None,
) -> list[TierEvent]:
    """What the passing of time did by ``now``, each change at its own instant.

    Overrides that ended and reviews that fell due (the review date plus the grace) are
    decided in the order of their instants, each on what the member had done by then, so
    that however seldom the reviews run the member's history is the same. A plan's floor
    is taken as it was last decided (a change of floor is decided at ``now``, after).
    """
    floor = _last_floor(state, config, floor)
    events: list[TierEvent] = []
    while True:
        review = review_due_at(state, config)
        ending = state.override.expires_at if state.override is not None else None
        due = [at for at in (ending, review) if at is not None and at <= now]
        if not due:
            return events
        at = min(due)
        if at == ending:
            event = _override_ended(state, ledger, config, at, floor=floor)
        else:
            event = _review(state, ledger, config, at, floor=floor)
        events.append(event)
        state = evolve(state, event)


def _last_floor(state: TierState, config: ProgrammeConfig, floor: str | None) -> str | None:
    """The floor the member's tier was last decided with (under an override: ``floor``)."""
    if state.override is not None:
        return floor
    rules = config.tiers
    held = state.held or rules.levels[0].key
    if state.tier is not None and rules.rank(state.tier) > rules.rank(held):
        return state.tier
    return None


def _override_ended(
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    at: datetime,
    *,
    floor: str | None,
) -> TierEvent:
    held = state.held or config.tiers.levels[0].key
    done = qualification(state, ledger, config, at)
    return _change(
        state,
        config,
        at,
        held=held,
        review_at=state.review_at,
        reason="override_ended",
        done=done,
        floor=floor,
        override=None,
    )


def _reviewed(
    state: TierState, ledger: LedgerState, config: ProgrammeConfig, at: datetime
) -> Qualification:
    """What a review judges: the window ending when the review falls due (after the grace).

    For a calendar-year window, the better of that and the year that ended at the review
    date: a review on 1 January would otherwise judge the new, empty year, while the
    grace still lets a member qualify again before it ends.
    """
    done = qualification(state, ledger, config, at)
    if state.review_at is None or config.tiers.window != "calendar_year":
        return done  # a rolling window ending when the review falls due judges the year
    ended = qualification(state, ledger, config, state.review_at - timedelta(microseconds=1))
    rank = config.tiers.rank
    better = rank(earned_level(config, ended)) > rank(earned_level(config, done))
    return ended if better else done


def _review(
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    at: datetime,
    *,
    floor: str | None,
) -> TierEvent:
    rules = config.tiers
    lowest = rules.levels[0].key
    held = state.held or lowest
    done = _reviewed(state, ledger, config, at)
    if rules.rank(earned_level(config, done)) < rules.rank(held):
        below = rules.levels[rules.rank(held) - 1].key
        return _change(
            state,
            config,
            at,
            held=below,
            review_at=None if below == lowest else next_review(config, at),
            reason="downgrade",
            done=done,
            floor=floor,
            override=state.override,
        )
    assert state.review_at is not None  # only a held level with a review date falls due
    return TierReviewed(
        member_id=state.member_id,
        at=at,
        tier=held,
        review_at=next_review(config, state.review_at),
        rule_version=rules.version,
        qualification=done,
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
    tier = _has(config, held, floor, override)
    before = state.tier or lowest
    if reason is None and tier != before and isinstance(message, MergeMembers):
        reason = "merge"
    if reason is None and tier != before:
        reason = "floor" if rules.rank(tier) > rules.rank(before) else "floor_ended"
    if reason is None:
        return []
    return [
        _change(
            state,
            config,
            now,
            held=held,
            review_at=review_at,
            reason=reason,
            done=done,
            floor=floor,
            override=override,
            trigger=trigger,
            digest=digest,
        )
    ]


def _change(
    state: TierState,
    config: ProgrammeConfig,
    at: datetime,
    *,
    held: str,
    review_at: datetime | None,
    reason: ChangeReason,
    done: Qualification,
    floor: str | None,
    override: Override | None,
    trigger: str | None = None,
    digest: str | None = None,
) -> TierEvent:
    before = state.tier or config.tiers.levels[0].key
    after = _has(config, held, floor, override)
    common: dict[str, Any] = {
        "member_id": state.member_id,
        "at": at,
        "held": held,
        "review_at": review_at,
        "reason": reason,
        "rule_version": config.tiers.version,
        "qualification": done,
        "override": override if reason == "override" else None,
        "trigger": trigger,
        "fingerprint": digest,
    }
    if after == before:
        return TierBasisChanged(tier=after, **common)
    return TierChanged(from_tier=before, to_tier=after, **common)


def _has(config: ProgrammeConfig, held: str, floor: str | None, override: Override | None) -> str:
    if override is not None:
        return override.tier
    rules = config.tiers
    if floor is not None and rules.rank(floor) > rules.rank(held):
        return floor
    return held
