"""The paid plans' decider: a command and the member's plans in, events out.

``decide`` never changes the state it is given; apply the events it returns with
:func:`~membercore.plans.evolve`. Before any command, every transition the clock has
made by the command's instant is decided (a payment window lapsed, a term ended, grace
ran out), so a command always meets the subscription as it really is. A payment takes
effect at its ``paid_at``: the clock is advanced to that instant, the payment applied,
then the clock advanced to ``now``.

A command whose key was already used returns no events (its earlier events are its
result); a reused key on something different is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from membercore.config import Plan, ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    DependentNotCoveredError,
    InvalidFactError,
    MemberMismatchError,
    PlanChangeNotAllowedError,
    SubscriptionExistsError,
    SubscriptionTransitionError,
    TooManyDependentsError,
    UnknownSubscriptionError,
    WrongPaymentAmountError,
)
from membercore.idempotency import fingerprint, replayed
from membercore.plans.commands import (
    AddCoveredDependent,
    AdvanceSubscriptions,
    Cancel,
    ChangePlan,
    PlanCommand,
    RecordPayment,
    RemoveCoveredDependent,
    Renew,
    Subscribe,
)
from membercore.plans.events import (
    DependentCovered,
    DependentUncovered,
    SubscriptionActivated,
    SubscriptionCancelled,
    SubscriptionChanged,
    SubscriptionEvent,
    SubscriptionRequested,
)
from membercore.plans.state import (
    IN_FORCE,
    OPEN,
    PlansState,
    SubscriptionState,
    SubscriptionStatus,
    evolve,
)
from membercore.plans.terms import grace_end, prorate, term_end
from membercore.plans.transitions import (
    Context,
    advance,
    applied,
    renewal_due,
    renewed,
    replacement,
)

__all__ = ["decide"]

_S = SubscriptionStatus


def decide(
    command: PlanCommand, state: PlansState, config: ProgrammeConfig, now: datetime
) -> list[SubscriptionEvent]:
    """The events a plan command makes.

    Args:
        command: a subscription command, or :class:`AdvanceSubscriptions` from a timer.
        state: the member's plans.
        config: the programme (its plans and timezone).
        now: the instant of the decision (timezone-aware).

    Returns:
        The new events, in order; empty when nothing happens.

    Raises:
        PlanError: the command is refused (each subclass names the member, the
            subscription and the plan or amount at fault).
        InvalidFactError: a payment's ``paid_at`` is in the future or before the amount
            became due; a member named as their own dependent.
        IdempotencyConflictError: the key was already used by a different command.
        MemberMismatchError: the command is for another member.
        NaiveInstantError: ``now`` is naive.
    """
    now = require_aware("now", now)
    if command.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, command.member_id)
    if isinstance(command, AdvanceSubscriptions):
        return advance(state, config, now)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    at = now
    if isinstance(command, RecordPayment):
        if command.paid_at > now:
            problem = f"a payment cannot be recorded before it is made (now {now.isoformat()})"
            raise InvalidFactError(command.TYPE, "paid_at", command.paid_at, problem)
        at = command.paid_at
    events = advance(state, config, at)
    state = applied(state, events)
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"not a plan command: {type(command).__name__}")
    context = Context(
        member_id=state.member_id, config=config, at=at, key=command.key, digest=digest
    )
    own = handler(command, state, context)
    events += own
    if at < now:
        events += advance(applied(state, own), config, now)
    return events


def _held(state: PlansState, subscription_id: str) -> SubscriptionState:
    held = state.subscriptions.get(subscription_id)
    if held is None:
        raise UnknownSubscriptionError(state.member_id, subscription_id)
    return held


def _refuse(
    state: PlansState, held: SubscriptionState, action: str, detail: str | None = None
) -> SubscriptionTransitionError:
    return SubscriptionTransitionError(
        state.member_id, held.subscription_id, held.status.value, action, detail
    )


def _refuse_if_changing(state: PlansState, held: SubscriptionState, action: str) -> None:
    # While a plan change awaits payment the old subscription is frozen: its unused days
    # were quoted as credit, so neither a refund nor a renewal may change them.
    change = replacement(state, held)
    if change is not None:
        detail = (
            f"a change to {change.plan_key!r} (subscription {change.subscription_id!r}) "
            "awaits payment; cancel that first"
        )
        raise _refuse(state, held, action, detail)


def _check_new(state: PlansState, subscription_id: str, plan_key: str) -> None:
    if subscription_id in state.subscriptions:
        raise SubscriptionExistsError(state.member_id, subscription_id, plan_key, subscription_id)
    for other in state.subscriptions.values():
        if other.plan_key == plan_key and other.status in OPEN:
            raise SubscriptionExistsError(
                state.member_id, subscription_id, plan_key, other.subscription_id
            )


def _check_dependents(state: PlansState, subscription_id: str, plan: Plan, count: int) -> None:
    if count > plan.max_dependents:
        raise TooManyDependentsError(
            state.member_id, subscription_id, plan.key, plan.max_dependents, count
        )


# --- first payment -----------------------------------------------------------------------


def _request(
    state: PlansState, requested: SubscriptionRequested, context: Context
) -> list[SubscriptionEvent]:
    """The request, activated at once when nothing is left to pay."""
    if requested.due_fen > 0:
        return [requested]
    held = _held(evolve(state, requested), requested.subscription_id)
    return [requested, *_first_term(state, held, context, paid=0)]


def _pay_by(context: Context) -> datetime:
    return context.at + timedelta(hours=context.config.plans.payment_window_hours)


def _subscribe(command: Subscribe, state: PlansState, context: Context) -> list[SubscriptionEvent]:
    plan = context.plan(command.plan_key)
    _check_new(state, command.subscription_id, plan.key)
    _check_dependents(state, command.subscription_id, plan, len(command.dependents))
    requested = SubscriptionRequested(
        **context.common(command.subscription_id, plan.key, plan.version),
        due_fen=plan.price_fen,
        pay_by=_pay_by(context),
        dependents=command.dependents,
        attributed_to=command.attributed_to,
    )
    return _request(state, requested, context)


def _first_term(
    state: PlansState, held: SubscriptionState, context: Context, *, paid: int
) -> list[SubscriptionEvent]:
    """Activation, preceded for a plan change by the end of the old subscription."""
    events: list[SubscriptionEvent] = []
    old = state.subscriptions.get(held.replaces) if held.replaces is not None else None
    # The old subscription kept running while the change awaited payment; if it ran out
    # meanwhile there is nothing left to end, and the credit quoted is honoured anyway.
    if old is not None and old.status in IN_FORCE:
        quoted = prorate(old, held.requested_at)
        events.append(
            SubscriptionChanged(
                **context.common(old.subscription_id, old.plan_key, old.plan_version),
                to_plan_key=held.plan_key,
                to_subscription_id=held.subscription_id,
                paid_fen=quoted.paid_fen,
                unused_days=quoted.unused_days,
                credit_fen=held.credit_fen,
            )
        )
    plan = context.plan(held.plan_key)
    tz = context.config.tz
    end = term_end(context.at, plan.term_months, tz)
    events.append(
        SubscriptionActivated(
            **context.common(held.subscription_id, plan.key, plan.version),
            term_start=context.at,
            term_end=end,
            grace_ends_at=grace_end(end, plan.grace_days, tz),
            term_months=plan.term_months,
            paid_fen=paid,
            credit_fen=held.credit_fen,
        )
    )
    return events


def _record_payment(
    command: RecordPayment, state: PlansState, context: Context
) -> list[SubscriptionEvent]:
    held = _held(state, command.subscription_id)
    if held.due_fen is None or held.due_since is None:
        detail = "nothing is due; renew it first" if held.status in IN_FORCE else "nothing is due"
        raise _refuse(state, held, "record_payment", detail)
    if command.paid_at < held.due_since:
        problem = f"before the amount became due at {held.due_since.isoformat()}"
        raise InvalidFactError(command.TYPE, "paid_at", command.paid_at, problem)
    if command.amount_fen != held.due_fen:
        raise WrongPaymentAmountError(
            state.member_id, held.subscription_id, held.due_fen, command.amount_fen
        )
    if held.status is _S.PENDING_PAYMENT:
        return _first_term(state, held, context, paid=command.amount_fen)
    _refuse_if_changing(state, held, "record_payment")
    return [renewed(held, context.plan(held.plan_key), context, paid=command.amount_fen)]


# --- renewal -----------------------------------------------------------------------------


def _renew(command: Renew, state: PlansState, context: Context) -> list[SubscriptionEvent]:
    held = _held(state, command.subscription_id)
    if held.status not in IN_FORCE:
        raise _refuse(state, held, "renew")
    _refuse_if_changing(state, held, "renew")
    if held.due_fen is not None:
        raise _refuse(state, held, "renew", f"a renewal of {held.due_fen} fen is already due")
    return renewal_due(held, context.plan(held.plan_key), context)


# --- cancellation and plan change --------------------------------------------------------


def _cancel(command: Cancel, state: PlansState, context: Context) -> list[SubscriptionEvent]:
    held = _held(state, command.subscription_id)
    if held.status not in OPEN:
        raise _refuse(state, held, "cancel")
    _refuse_if_changing(state, held, "cancel")
    unused = prorate(held, context.at)
    policy = context.plan(held.plan_key).refund
    refund = unused.unused_fen if policy == "pro_rata" else 0
    cancelled = SubscriptionCancelled(
        **context.common(held.subscription_id, held.plan_key, held.plan_version),
        reason=command.reason,
        paid_fen=unused.paid_fen,
        unused_days=unused.unused_days,
        refund_fen=refund,
    )
    return [cancelled]


def _change_plan(
    command: ChangePlan, state: PlansState, context: Context
) -> list[SubscriptionEvent]:
    held = _held(state, command.subscription_id)
    if held.status is not _S.ACTIVE:
        raise _refuse(state, held, f"change_plan to {command.plan_key!r}")
    _refuse_if_changing(state, held, f"change_plan to {command.plan_key!r}")
    target = context.plan(command.plan_key)
    if target.key == held.plan_key:
        raise PlanChangeNotAllowedError(
            state.member_id, held.subscription_id, held.plan_key, target.key, "renew it instead"
        )
    _check_new(state, command.new_subscription_id, target.key)
    unused = prorate(held, context.at)
    if unused.unused_fen > target.price_fen:
        reason = (
            f"the credit of {unused.unused_fen} fen for {unused.unused_days} unused days "
            f"exceeds its price of {target.price_fen} fen; cancel and subscribe instead"
        )
        raise PlanChangeNotAllowedError(
            state.member_id, held.subscription_id, held.plan_key, target.key, reason
        )
    _check_dependents(state, command.new_subscription_id, target, len(held.dependents))
    requested = SubscriptionRequested(
        **context.common(command.new_subscription_id, target.key, target.version),
        due_fen=target.price_fen - unused.unused_fen,
        pay_by=_pay_by(context),
        credit_fen=unused.unused_fen,
        replaces=held.subscription_id,
        dependents=held.dependents,
        attributed_to=command.attributed_to,
    )
    return _request(state, requested, context)


# --- dependents --------------------------------------------------------------------------


def _add_dependent(
    command: AddCoveredDependent, state: PlansState, context: Context
) -> list[SubscriptionEvent]:
    held = _held(state, command.subscription_id)
    if held.status not in OPEN:
        raise _refuse(state, held, "add_covered_dependent")
    if command.dependent_id == state.member_id:
        problem = "the member is not their own dependent"
        raise InvalidFactError(command.TYPE, "dependent_id", command.dependent_id, problem)
    if command.dependent_id in held.dependents:
        return []
    plan = context.plan(held.plan_key)
    _check_dependents(state, held.subscription_id, plan, len(held.dependents) + 1)
    covered = DependentCovered(
        **context.common(held.subscription_id, held.plan_key, held.plan_version),
        dependent_id=command.dependent_id,
    )
    return [covered]


def _remove_dependent(
    command: RemoveCoveredDependent, state: PlansState, context: Context
) -> list[SubscriptionEvent]:
    held = _held(state, command.subscription_id)
    if held.status not in OPEN:
        raise _refuse(state, held, "remove_covered_dependent")
    if command.dependent_id not in held.dependents:
        raise DependentNotCoveredError(state.member_id, held.subscription_id, command.dependent_id)
    uncovered = DependentUncovered(
        **context.common(held.subscription_id, held.plan_key, held.plan_version),
        dependent_id=command.dependent_id,
    )
    return [uncovered]


_HANDLERS: Mapping[type[Any], Callable[[Any, PlansState, Context], list[SubscriptionEvent]]] = {
    Subscribe: _subscribe,
    RecordPayment: _record_payment,
    Renew: _renew,
    Cancel: _cancel,
    ChangePlan: _change_plan,
    AddCoveredDependent: _add_dependent,
    RemoveCoveredDependent: _remove_dependent,
}
