"""Paid plans (付费会员): annual, monthly, family steward and disease programmes."""

from __future__ import annotations

from typing import Literal

import attrs

from membercore.config.common import (
    MAX_DAYS,
    MAX_HOURS,
    MAX_MONTHS,
    non_negative,
    positive,
    unique_keys,
    within,
)

__all__ = ["Plan", "PlanKind", "PlanRules", "RefundPolicy"]

PlanKind = Literal["individual", "monthly", "family", "disease"]
RefundPolicy = Literal["pro_rata", "none"]


@attrs.frozen(kw_only=True)
class Plan:
    """A paid plan.

    Attributes:
        key: stable key (e.g. ``annual_599``).
        label: shown to people (e.g. 年度会员).
        kind: individual, monthly, family or disease.
        price_fen: the price of one term, in fen.
        term_months: the length of a term (12 for annual plans, 1 for monthly billing).
        tier_floor: the lowest tier a subscriber holds while the plan is active.
        auto_renew: renew at the end of each term unless cancelled.
        max_dependents: relatives a family plan covers besides the holder.
        grace_days: days after the end of a term during which a renewal continues it.
        refund: ``pro_rata``: a cancellation refunds the unused days; ``none``.
        programme: for a disease plan, the programme it enrols the member in.
        version: recorded on every subscription event.
    """

    key: str
    label: str
    kind: PlanKind
    price_fen: int = attrs.field(validator=non_negative)
    term_months: int = attrs.field(default=12, validator=within(1, MAX_MONTHS))
    tier_floor: str | None = None
    auto_renew: bool = False
    max_dependents: int = attrs.field(default=0, validator=non_negative)
    grace_days: int = attrs.field(default=15, validator=within(0, MAX_DAYS))
    refund: RefundPolicy = "pro_rata"
    programme: str | None = None
    version: int = attrs.field(default=1, validator=positive)

    @property
    def annual_equivalent_fen(self) -> int:
        """What twelve months of the plan cost (for showing monthly billing per year)."""
        return self.price_fen * 12 // self.term_months


@attrs.frozen(kw_only=True)
class PlanRules:
    """The paid plans on offer.

    Attributes:
        plans: the plans, by unique key.
        payment_window_hours: how long a subscription waits for payment before lapsing.
    """

    plans: tuple[Plan, ...] = attrs.field(default=(), validator=unique_keys)
    payment_window_hours: int = attrs.field(default=48, validator=within(1, MAX_HOURS))

    def plan(self, key: str) -> Plan | None:
        """The plan called ``key``, if there is one."""
        return next((plan for plan in self.plans if plan.key == key), None)
