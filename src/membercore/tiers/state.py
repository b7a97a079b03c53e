"""A member's standing on the ladder, rebuilt from their tier events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.errors import MemberMismatchError
from membercore.memo import EVOLVED, Memo
from membercore.tiers import activity
from membercore.tiers.messages import (
    Override,
    SpendBasis,
    TierActivityRecorded,
    TierBasisChanged,
    TierChanged,
    TierEvent,
    TierRecordsMerged,
    TierReviewed,
)

__all__ = ["TierState", "evolve", "history", "replay", "tier_of"]


@attrs.frozen(kw_only=True)
class TierState:
    """A member's standing on the ladder.

    Attributes:
        member_id: the member.
        tier: what the member has now (``None`` until the first decision: the lowest).
        held: the ladder level held.
        review_at: when the held level is next reviewed.
        override: a staff override in force.
        visits: instants of completed visits by visit id.
        spend: out-of-pocket spend by charge id, as (instant, fen).
        spend_basis: by charge id, what a refund of the charge is reckoned on.
        history: every change, oldest first.
        keys: idempotency keys of commands, with their fingerprints.
    """

    member_id: str
    tier: str | None = None
    held: str | None = None
    review_at: datetime | None = None
    override: Override | None = None
    visits: Mapping[str, datetime] = attrs.field(factory=dict)
    spend: Mapping[str, tuple[datetime, int]] = attrs.field(factory=dict)
    spend_basis: Mapping[str, SpendBasis] = attrs.field(factory=dict)
    history: tuple[TierChanged, ...] = ()
    keys: Mapping[str, str] = attrs.field(factory=dict)


def evolve(state: TierState, event: TierEvent) -> TierState:
    """Apply one tier event.

    The states the latest events made are kept (see :mod:`membercore.memo`): the
    record takes the tier state a fact was decided on, with the sums kept for it.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    return _EVOLVED.get((state, event), None, lambda: _evolved(state, event))


#: The states the latest events made of the states they were applied to.
_EVOLVED: Memo[TierState] = Memo(EVOLVED)


def _evolved(state: TierState, event: TierEvent) -> TierState:
    after = _evolve(state, event)
    activity.carry(state, after, event)
    return after


def _evolve(state: TierState, event: TierEvent) -> TierState:
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    if isinstance(event, TierActivityRecorded):
        return _forget(_recorded(state, event), event)
    if isinstance(event, TierReviewed):
        return attrs.evolve(state, review_at=event.review_at)
    if isinstance(event, TierRecordsMerged):
        return attrs.evolve(
            state,
            visits={**event.visits, **state.visits},
            spend={**event.spend, **state.spend},
            spend_basis={**event.spend_basis, **state.spend_basis},
            held=event.held,
            review_at=event.review_at,
            keys={**state.keys, event.key: event.fingerprint},
        )
    override = state.override
    if event.reason == "override":
        override = event.override
    elif event.reason == "override_ended":
        override = None
    keys = state.keys
    if event.trigger is not None and event.fingerprint is not None:
        keys = {**keys, event.trigger: event.fingerprint}
    if isinstance(event, TierBasisChanged):
        tier, changes = event.tier, state.history
    else:
        tier, changes = event.to_tier, (*state.history, event)
    return attrs.evolve(
        state,
        tier=tier,
        held=event.held,
        review_at=event.review_at,
        override=override,
        history=changes,
        keys=keys,
    )


def _recorded(state: TierState, event: TierActivityRecorded) -> TierState:
    if event.kind == "visit":
        return attrs.evolve(state, visits={**state.visits, event.reference: event.at})
    _, before = state.spend.get(event.reference, (event.at, 0))
    spend = {**state.spend, event.reference: (event.at, before + event.amount_fen)}
    return attrs.evolve(state, spend=spend, spend_basis=_basis(state, event))


def _forget(state: TierState, event: TierActivityRecorded) -> TierState:
    if not (event.forgets_visits or event.forgets_spend):
        return state
    visits, charges = set(event.forgets_visits), set(event.forgets_spend)
    return attrs.evolve(
        state,
        visits={key: at for key, at in state.visits.items() if key not in visits},
        spend={key: held for key, held in state.spend.items() if key not in charges},
        spend_basis={key: held for key, held in state.spend_basis.items() if key not in charges},
    )


def _basis(state: TierState, event: TierActivityRecorded) -> Mapping[str, SpendBasis]:
    if event.charge_fen is not None:
        basis = SpendBasis(charge_fen=event.charge_fen, paid_fen=event.amount_fen)
        return {**state.spend_basis, event.reference: basis}
    held = state.spend_basis.get(event.reference)
    if held is None or not event.refunded_fen:
        return state.spend_basis
    refunded = attrs.evolve(held, refunded_fen=held.refunded_fen + event.refunded_fen)
    return {**state.spend_basis, event.reference: refunded}


def replay(member_id: str, events: Iterable[TierEvent]) -> TierState:
    """Rebuild a member's tier state from their tier events."""
    state = TierState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def history(state: TierState) -> tuple[TierChanged, ...]:
    """The member's tier changes, oldest first, each with its reason."""
    return state.history


def tier_of(state: TierState, config: ProgrammeConfig) -> str:
    """The tier the member has (the lowest level before any decision)."""
    return state.tier or config.tiers.levels[0].key
