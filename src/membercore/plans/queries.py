"""What a member's plans give them at an instant.

A subscription is *in force* while it is active or in grace: grace exists so that a
member whose renewal is a few days late keeps their benefits, tier floor and covered
relatives, and a renewal paid in grace continues the old term without a gap. Every query
takes ``now`` and counts the transitions the clock has made by then, even those
:class:`~membercore.plans.AdvanceSubscriptions` has not recorded yet.
"""

from __future__ import annotations

from datetime import datetime

from membercore.config import Plan, ProgrammeConfig
from membercore.errors import UnknownPlanError
from membercore.plans.state import IN_FORCE, PlansState, SubscriptionState
from membercore.plans.terms import status_at

__all__ = ["active_plans", "covered_dependents", "in_force", "programmes", "tier_floor"]


def in_force(state: PlansState, now: datetime) -> tuple[SubscriptionState, ...]:
    """The member's subscriptions that are active or in grace at ``now``, in order."""
    return tuple(
        subscription
        for subscription in state.subscriptions.values()
        if status_at(subscription, now) in IN_FORCE
    )


def active_plans(state: PlansState, now: datetime) -> tuple[str, ...]:
    """The keys of the plans in force (active or in grace) at ``now``, sorted."""
    return tuple(sorted({subscription.plan_key for subscription in in_force(state, now)}))


def _plans_in_force(state: PlansState, config: ProgrammeConfig, now: datetime) -> list[Plan]:
    plans = []
    for key in active_plans(state, now):
        plan = config.plans.plan(key)
        if plan is None:
            raise UnknownPlanError(state.member_id, key)
        plans.append(plan)
    return plans


def tier_floor(state: PlansState, config: ProgrammeConfig, now: datetime) -> str | None:
    """The highest tier floor among the plans in force at ``now``.

    Args:
        state: the member's plans.
        config: the programme (plans and the tier ladder that ranks the floors).
        now: the instant.

    Returns:
        The tier key, or ``None`` when no plan in force sets a floor.

    Raises:
        UnknownPlanError: a subscription in force names a plan the programme no longer has.
    """
    floors = [plan.tier_floor for plan in _plans_in_force(state, config, now) if plan.tier_floor]
    return max(floors, key=config.tiers.rank, default=None)


def covered_dependents(state: PlansState, now: datetime) -> tuple[str, ...]:
    """The relatives covered by the member's plans in force at ``now``, sorted."""
    return tuple(sorted({person for held in in_force(state, now) for person in held.dependents}))


def programmes(state: PlansState, config: ProgrammeConfig, now: datetime) -> tuple[str, ...]:
    """The disease programmes the member is enrolled in through plans in force, sorted.

    Raises:
        UnknownPlanError: a subscription in force names a plan the programme no longer has.
    """
    plans = _plans_in_force(state, config, now)
    return tuple(sorted({plan.programme for plan in plans if plan.programme}))
