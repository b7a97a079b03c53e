"""The tier decider: facts, staff commands and the passing of time in, tier events out.

A fact adds its visit or spend here; then :mod:`.reviews` decides what the passing of
time did (overrides that ended, reviews that fell due) and :mod:`.settle` the change the
message and the member's qualification make now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import InvalidFactError, MemberMismatchError, UnknownTierError
from membercore.facts import ChargePaid, Fact, RefundIssued, VisitCompleted
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState
from membercore.tiers.forget import with_forgetting
from membercore.tiers.messages import (
    SetTierOverride,
    SpendBasis,
    TierActivityRecorded,
    TierCommand,
    TierEvent,
    TierRecordsMerged,
)
from membercore.tiers.reviews import catch_up
from membercore.tiers.settle import settle
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
    events = with_forgetting(list(_activity(message, state)), state, config, now)
    working = state
    for event in events:
        working = evolve(working, event)
    for event in catch_up(working, ledger, config, now, floor=floor):
        events.append(event)
        working = evolve(working, event)
    events.extend(settle(message, working, ledger, config, now, floor=floor))
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
    for event in catch_up(working, ledger, config, now, floor=floor):
        events.append(event)
        working = evolve(working, event)
    return [*events, *settle(command, working, ledger, config, now, floor=floor)]


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
        yield from _refunded(message, state)


def _refunded(message: RefundIssued, state: TierState) -> Iterable[TierActivityRecorded]:
    """The spend a refund of a counted charge takes back, dated with the charge."""
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
