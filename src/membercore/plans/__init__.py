"""Paid plans (付费会员): subscriptions to annual, monthly, family and disease plans.

Commands in, events out, state rebuilt by replaying them::

    events = decide(command, state, config, now)
    for event in events:
        state = evolve(state, event)

A subscription waits for its first payment (``pending_payment``), runs its paid terms
(``active``), keeps its benefits for a few days after the last term (``grace``) and then
ends: ``expired``, ``lapsed`` (never paid), ``cancelled`` or ``refunded`` (cancelled
with money back), or ``changed`` (replaced by a subscription to another plan). Renewals
extend the paid period from its end, never from the renewal instant; see
:mod:`membercore.plans.terms` for how terms and pro-rated refunds are reckoned.
"""

from __future__ import annotations

from membercore.plans.commands import (
    PLAN_COMMAND_TYPES,
    AddCoveredDependent,
    AdvanceSubscriptions,
    Cancel,
    ChangePlan,
    PlanCommand,
    RecordPayment,
    RemoveCoveredDependent,
    Renew,
    Subscribe,
    SubscriptionCommand,
)
from membercore.plans.decide import decide
from membercore.plans.events import (
    PLAN_EVENT_TYPES,
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
from membercore.plans.merge import decide_merge
from membercore.plans.queries import (
    active_plans,
    covered_dependents,
    in_force,
    programmes,
    tier_floor,
)
from membercore.plans.state import (
    ENDED,
    IN_FORCE,
    OPEN,
    PlansState,
    SubscriptionState,
    SubscriptionStatus,
    Term,
    evolve,
    replay,
)
from membercore.plans.terms import Proration, grace_end, prorate, status_at, term_end

__all__ = [
    "ENDED",
    "IN_FORCE",
    "OPEN",
    "PLAN_COMMAND_TYPES",
    "PLAN_EVENT_TYPES",
    "AddCoveredDependent",
    "AdvanceSubscriptions",
    "Cancel",
    "ChangePlan",
    "DependentCovered",
    "DependentUncovered",
    "PlanCommand",
    "PlansState",
    "Proration",
    "RecordPayment",
    "RemoveCoveredDependent",
    "Renew",
    "RenewalDue",
    "Subscribe",
    "SubscriptionActivated",
    "SubscriptionCancelled",
    "SubscriptionChanged",
    "SubscriptionCommand",
    "SubscriptionEnteredGrace",
    "SubscriptionEvent",
    "SubscriptionExpired",
    "SubscriptionLapsed",
    "SubscriptionMovedIn",
    "SubscriptionMovedOut",
    "SubscriptionRenewed",
    "SubscriptionRequested",
    "SubscriptionState",
    "SubscriptionStatus",
    "Term",
    "active_plans",
    "covered_dependents",
    "decide",
    "decide_merge",
    "evolve",
    "grace_end",
    "in_force",
    "programmes",
    "prorate",
    "replay",
    "status_at",
    "term_end",
    "tier_floor",
]
