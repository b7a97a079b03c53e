"""A member's subscriptions, and :func:`evolve`, which applies one event to them.

State is immutable and is rebuilt by replaying the member's subscription events in
order. :func:`evolve` refuses an event that does not fit the subscription's status, so a
corrupted journal is found on replay rather than believed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from membercore.errors import (
    MemberMismatchError,
    SubscriptionExistsError,
    SubscriptionTransitionError,
    UnknownSubscriptionError,
)
from membercore.plans.events import (
    DependentCovered,
    DependentUncovered,
    RenewalDue,
    SubscriptionActivated,
    SubscriptionCancelled,
    SubscriptionChanged,
    SubscriptionEnteredGrace,
    SubscriptionEvent,
    SubscriptionExpired,
    SubscriptionLapsed,
    SubscriptionMovedIn,
    SubscriptionMovedOut,
    SubscriptionRenewed,
    SubscriptionRequested,
)
from membercore.plans.records import (
    ENDED,
    IN_FORCE,
    OPEN,
    SubscriptionState,
    SubscriptionStatus,
    Term,
)

__all__ = [
    "ENDED",
    "IN_FORCE",
    "OPEN",
    "PlansState",
    "SubscriptionState",
    "SubscriptionStatus",
    "Term",
    "evolve",
    "replay",
]


@attrs.frozen(kw_only=True)
class PlansState:
    """One member's subscriptions. Immutable: :func:`evolve` returns a new state.

    Attributes:
        member_id: the subscriber.
        subscriptions: every subscription by id, in the order requested.
        keys: idempotency keys of the commands decided, with their fingerprints.
    """

    member_id: str
    subscriptions: Mapping[str, SubscriptionState] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)


_S = SubscriptionStatus

# The statuses each event may start from: evolve refuses anything else.
_FROM: Mapping[type[SubscriptionEvent], frozenset[SubscriptionStatus]] = {
    SubscriptionActivated: frozenset({_S.PENDING_PAYMENT}),
    SubscriptionLapsed: frozenset({_S.PENDING_PAYMENT}),
    RenewalDue: IN_FORCE,
    SubscriptionRenewed: IN_FORCE,
    SubscriptionEnteredGrace: frozenset({_S.ACTIVE}),
    SubscriptionExpired: frozenset({_S.GRACE}),
    SubscriptionCancelled: OPEN,
    SubscriptionChanged: IN_FORCE,
    DependentCovered: OPEN,
    DependentUncovered: OPEN,
}


def evolve(state: PlansState, event: SubscriptionEvent) -> PlansState:
    """Apply one subscription event to a member's plans.

    Args:
        state: the member's plans.
        event: an event :func:`~membercore.plans.decide` produced for this member.

    Returns:
        The new state.

    Raises:
        MemberMismatchError: the event belongs to another member.
        UnknownSubscriptionError: the event names a subscription never requested.
        SubscriptionExistsError: a request reuses a subscription id.
        SubscriptionTransitionError: the event does not fit the subscription's status.
    """
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    held = state.subscriptions.get(event.subscription_id)
    if isinstance(event, SubscriptionMovedOut | SubscriptionMovedIn):
        return _moved(state, held, event)
    if isinstance(event, SubscriptionRequested):
        if held is not None:
            raise SubscriptionExistsError(
                state.member_id, event.subscription_id, event.plan_key, event.subscription_id
            )
        new = _requested(event)
    else:
        if held is None:
            raise UnknownSubscriptionError(state.member_id, event.subscription_id)
        allowed = _FROM.get(type(event))
        if allowed is None:
            raise TypeError(f"not a subscription event: {type(event).__name__}")
        if held.status not in allowed:
            raise SubscriptionTransitionError(
                state.member_id, held.subscription_id, held.status.value, event.TYPE
            )
        new = _apply(held, event)
    subscriptions = {**state.subscriptions, event.subscription_id: new}
    keys = state.keys
    if event.key is not None and event.fingerprint is not None:
        keys = {**keys, event.key: event.fingerprint}
    return PlansState(member_id=state.member_id, subscriptions=subscriptions, keys=keys)


def _moved(
    state: PlansState,
    held: SubscriptionState | None,
    event: SubscriptionMovedIn | SubscriptionMovedOut,
) -> PlansState:
    subscriptions = dict(state.subscriptions)
    if isinstance(event, SubscriptionMovedIn):
        if held is not None:
            raise SubscriptionExistsError(
                state.member_id, event.subscription_id, event.plan_key, event.subscription_id
            )
        subscriptions[event.subscription_id] = event.subscription
    else:
        if held is None:
            raise UnknownSubscriptionError(state.member_id, event.subscription_id)
        del subscriptions[event.subscription_id]
    keys = state.keys
    if event.key is not None and event.fingerprint is not None:
        keys = {**keys, event.key: event.fingerprint}
    return PlansState(member_id=state.member_id, subscriptions=subscriptions, keys=keys)


def replay(member_id: str, events: Iterable[SubscriptionEvent]) -> PlansState:
    """Rebuild a member's plans from their subscription events, in order."""
    state = PlansState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def _requested(event: SubscriptionRequested) -> SubscriptionState:
    return SubscriptionState(
        subscription_id=event.subscription_id,
        plan_key=event.plan_key,
        plan_version=event.plan_version,
        status=_S.PENDING_PAYMENT,
        requested_at=event.at,
        pay_by=event.pay_by,
        due_fen=event.due_fen,
        due_since=event.at,
        credit_fen=event.credit_fen,
        replaces=event.replaces,
        dependents=event.dependents,
        attributed_to=event.attributed_to,
    )


def _apply(held: SubscriptionState, event: SubscriptionEvent) -> SubscriptionState:
    if isinstance(event, SubscriptionActivated):
        term = Term(
            start=event.term_start,
            end=event.term_end,
            value_fen=event.paid_fen + event.credit_fen,
        )
        return attrs.evolve(
            held,
            status=_S.ACTIVE,
            pay_by=None,
            due_fen=None,
            due_since=None,
            anchor=event.term_start,
            months_paid=event.term_months,
            terms=(term,),
            grace_ends_at=event.grace_ends_at,
        )
    if isinstance(event, SubscriptionRenewed):
        term = Term(start=event.term_start, end=event.term_end, value_fen=event.paid_fen)
        return attrs.evolve(
            held,
            status=_S.ACTIVE,
            plan_version=event.plan_version,
            due_fen=None,
            due_since=None,
            months_paid=held.months_paid + event.term_months,
            terms=(*held.terms, term),
            grace_ends_at=event.grace_ends_at,
        )
    if isinstance(event, RenewalDue):
        return attrs.evolve(held, due_fen=event.due_fen, due_since=event.at)
    if isinstance(event, SubscriptionEnteredGrace):
        return attrs.evolve(held, status=_S.GRACE, grace_ends_at=event.grace_ends_at)
    return _dependents_or_end(held, event)


def _dependents_or_end(held: SubscriptionState, event: SubscriptionEvent) -> SubscriptionState:
    if isinstance(event, DependentCovered):
        return attrs.evolve(held, dependents=(*held.dependents, event.dependent_id))
    if isinstance(event, DependentUncovered):
        kept = tuple(person for person in held.dependents if person != event.dependent_id)
        return attrs.evolve(held, dependents=kept)
    return _ended(held, event)


def _ended(held: SubscriptionState, event: SubscriptionEvent) -> SubscriptionState:
    refund = 0
    if isinstance(event, SubscriptionCancelled):
        refund = event.refund_fen
        status = _S.REFUNDED if refund > 0 else _S.CANCELLED
    elif isinstance(event, SubscriptionChanged):
        status = _S.CHANGED
    elif isinstance(event, SubscriptionExpired):
        status = _S.EXPIRED
    elif isinstance(event, SubscriptionLapsed):
        status = _S.LAPSED
    else:
        raise TypeError(f"not a subscription event: {type(event).__name__}")
    return attrs.evolve(
        held,
        status=status,
        pay_by=None,
        due_fen=None,
        due_since=None,
        ended_at=event.at,
        refund_fen=refund,
    )
