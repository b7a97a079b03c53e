"""The transitions time makes, and the event builders commands share with them.

:func:`advance` decides every transition whose instant has come, earliest first across a
member's subscriptions: a payment window lapsed, a paid period ended (into grace, with a
renewal due for an auto-renew plan), grace ran out. Each event is dated at the instant
of its transition, not at the instant the timer happened to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from membercore.config import Plan, ProgrammeConfig
from membercore.errors import UnknownPlanError
from membercore.plans.events import (
    RenewalDue,
    SubscriptionEnteredGrace,
    SubscriptionEvent,
    SubscriptionExpired,
    SubscriptionLapsed,
    SubscriptionRenewed,
)
from membercore.plans.state import PlansState, SubscriptionState, SubscriptionStatus, evolve
from membercore.plans.terms import grace_end, term_end

__all__ = ["Context", "advance", "applied", "renewal_due", "renewed", "replacement"]

_S = SubscriptionStatus


@attrs.frozen(kw_only=True)
class Context:
    """Who decides, at which instant, and under which command key.

    Attributes:
        member_id: the subscriber.
        config: the programme.
        at: the instant the events take effect.
        key: the command's idempotency key; ``None`` for the clock.
        digest: the command's fingerprint; ``None`` for the clock.
    """

    member_id: str
    config: ProgrammeConfig
    at: datetime
    key: str | None = None
    digest: str | None = None

    def common(self, subscription_id: str, plan_key: str, plan_version: int) -> dict[str, Any]:
        """The fields every event of this decision shares."""
        return {
            "subscription_id": subscription_id,
            "member_id": self.member_id,
            "at": self.at,
            "plan_key": plan_key,
            "plan_version": plan_version,
            "key": self.key,
            "fingerprint": self.digest,
        }

    def plan(self, key: str) -> Plan:
        """The plan called ``key``.

        Raises:
            UnknownPlanError: the programme has no such plan.
        """
        plan = self.config.plans.plan(key)
        if plan is None:
            raise UnknownPlanError(self.member_id, key)
        return plan


def applied(state: PlansState, events: Iterable[SubscriptionEvent]) -> PlansState:
    """``state`` with ``events`` applied in order."""
    for event in events:
        state = evolve(state, event)
    return state


def replacement(state: PlansState, held: SubscriptionState) -> SubscriptionState | None:
    """The plan change of ``held`` that awaits payment, if there is one."""
    return next(
        (
            other
            for other in state.subscriptions.values()
            if other.replaces == held.subscription_id and other.status is _S.PENDING_PAYMENT
        ),
        None,
    )


def renewed(
    held: SubscriptionState, plan: Plan, context: Context, *, paid: int
) -> SubscriptionEvent:
    """One more term of ``plan``, from the end of the paid period.

    The new end is counted from the anchor, not from the old end, so a plan bought on 31
    January renews to 28 February, then 31 March, never drifting to the 28th.
    """
    if held.anchor is None or held.term_end is None:
        raise TypeError(f"subscription {held.subscription_id!r} was never paid")
    tz = context.config.tz
    end = term_end(held.anchor, held.months_paid + plan.term_months, tz)
    return SubscriptionRenewed(
        **context.common(held.subscription_id, plan.key, plan.version),
        term_start=held.term_end,
        term_end=end,
        grace_ends_at=grace_end(end, plan.grace_days, tz),
        term_months=plan.term_months,
        paid_fen=paid,
    )


def renewal_due(held: SubscriptionState, plan: Plan, context: Context) -> list[SubscriptionEvent]:
    """A renewal at the plan's current price, due by the end of grace.

    A free plan has nothing to wait for: its renewal follows at once.
    """
    if held.grace_ends_at is None:
        raise TypeError(f"subscription {held.subscription_id!r} was never paid")
    due = RenewalDue(
        **context.common(held.subscription_id, plan.key, plan.version),
        due_fen=plan.price_fen,
        pay_by=held.grace_ends_at,
    )
    if plan.price_fen > 0:
        return [due]
    return [due, renewed(held, plan, context, paid=0)]


def advance(state: PlansState, config: ProgrammeConfig, now: datetime) -> list[SubscriptionEvent]:
    """Every transition due by ``now``, earliest first across the member's subscriptions.

    Raises:
        UnknownPlanError: an active subscription's plan (needed to know whether it renews
            itself) is no longer in the programme.
    """
    events: list[SubscriptionEvent] = []
    while True:
        steps = [
            step
            for held in state.subscriptions.values()
            if (step := _step(state, held, config, now)) is not None
        ]
        if not steps:
            return events
        _, taken = min(steps, key=lambda step: step[0])
        events += taken
        state = applied(state, taken)


def _step(
    state: PlansState, held: SubscriptionState, config: ProgrammeConfig, now: datetime
) -> tuple[datetime, list[SubscriptionEvent]] | None:
    """The subscription's next transition, if its instant has come."""

    def context(at: datetime) -> Context:
        return Context(member_id=state.member_id, config=config, at=at)

    def common(at: datetime) -> dict[str, Any]:
        return context(at).common(held.subscription_id, held.plan_key, held.plan_version)

    if held.status is _S.PENDING_PAYMENT and held.pay_by is not None and held.pay_by <= now:
        return held.pay_by, [SubscriptionLapsed(**common(held.pay_by))]
    end, grace = held.term_end, held.grace_ends_at
    if held.status is _S.ACTIVE and end is not None and grace is not None and end <= now:
        events: list[SubscriptionEvent] = [
            SubscriptionEnteredGrace(**common(end), grace_ends_at=grace)
        ]
        plan = context(end).plan(held.plan_key)
        # No renewal is asked for while a plan change awaits payment: the member is
        # moving to another plan, and a renewal could not be paid meanwhile anyway.
        if plan.auto_renew and held.due_fen is None and replacement(state, held) is None:
            events += renewal_due(attrs.evolve(held, status=_S.GRACE), plan, context(end))
        return end, events
    if held.status is _S.GRACE and grace is not None and grace <= now:
        return grace, [SubscriptionExpired(**common(grace))]
    return None
