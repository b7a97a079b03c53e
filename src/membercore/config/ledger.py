"""The points ledger's configuration: earning rules, expiry and clawback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from membercore.config.common import (
    MAX_DAYS,
    MAX_MONTHS,
    non_negative,
    optional_positive,
    positive,
    values_non_negative,
    within,
)

__all__ = [
    "ActionRule",
    "BonusRule",
    "ClawbackPolicy",
    "EarningRules",
    "EventRule",
    "ExpiryMode",
    "ExpiryPolicy",
    "LedgerConfig",
    "Rate",
    "RuleBase",
    "SpendingRule",
]

ClawbackPolicy = Literal["debt", "cap"]
ExpiryMode = Literal["month_end", "inactivity", "never"]


@attrs.frozen(kw_only=True)
class Rate:
    """Points per yuan, as two integers: ``points`` for every ``per_yuan`` yuan paid.

    ``Rate(points=1, per_yuan=2)`` earns one point for every two yuan; fractions of a point
    are dropped once, on the whole charge.
    """

    points: int = attrs.field(default=1, validator=non_negative)
    per_yuan: int = attrs.field(default=1, validator=positive)


@attrs.frozen(kw_only=True)
class RuleBase:
    """What every earning rule has.

    Attributes:
        version: bumped whenever the rule changes; recorded on every posting it makes.
        enabled: a disabled rule earns nothing.
        qualifying: whether its points count toward tiers.
        vesting_days: days the points stay pending (the refund window).
        daily_cap: most points the rule awards a member in one local day.
        monthly_cap: most points the rule awards a member in one local month.
    """

    version: int = attrs.field(default=1, validator=positive)
    enabled: bool = True
    qualifying: bool = True
    vesting_days: int = attrs.field(default=0, validator=within(0, MAX_DAYS))
    daily_cap: int | None = attrs.field(default=None, validator=optional_positive)
    monthly_cap: int | None = attrs.field(default=None, validator=optional_positive)


@attrs.frozen(kw_only=True)
class ActionRule(RuleBase):
    """A fixed number of points for an action (check-in, share, survey...)."""

    points: int = attrs.field(validator=non_negative)


@attrs.frozen(kw_only=True)
class EventRule(ActionRule):
    """Points for attending an event, by event kind (lecture, member day...).

    Attributes:
        points_by_kind: points per event kind; kinds not listed earn ``points``.
    """

    points_by_kind: Mapping[str, int] = attrs.field(factory=dict, validator=values_non_negative)


@attrs.frozen(kw_only=True)
class SpendingRule(RuleBase):
    """Points for money the member paid themselves.

    The rate is looked up by service category first, then by department, then the
    default. The part paid by medical insurance (医保) never earns. The tier multiplier
    applies last.

    Attributes:
        rate: the default rate.
        category_rates: rates by service category.
        department_rates: rates by department.
        tier_multipliers_pct: multiplier in percent by tier key (``L3 = 150`` is x1.5);
            tiers not listed earn at 100.
    """

    vesting_days: int = attrs.field(default=7, validator=within(0, MAX_DAYS))
    rate: Rate = attrs.field(factory=Rate)
    category_rates: Mapping[str, Rate] = attrs.field(factory=dict)
    department_rates: Mapping[str, Rate] = attrs.field(factory=dict)
    tier_multipliers_pct: Mapping[str, int] = attrs.field(
        factory=dict, validator=values_non_negative
    )

    def rate_for(self, department: str, category: str) -> Rate:
        """The rate that applies to a charge line."""
        return (
            self.category_rates.get(category) or self.department_rates.get(department) or self.rate
        )

    def multiplier_pct(self, tier: str | None) -> int:
        """The tier multiplier in percent (100 when the tier has none)."""
        return 100 if tier is None else self.tier_multipliers_pct.get(tier, 100)


@attrs.frozen(kw_only=True)
class BonusRule(RuleBase):
    """A promotional bonus awarded by a command (a campaign, a journey action).

    Attributes:
        qualifying: bonuses do not count toward tiers unless a rule says so.
        max_points: most points one award may carry.
        once_per_member: the bonus is awarded at most once to a member (welcome gift).
    """

    qualifying: bool = False
    max_points: int | None = attrs.field(default=None, validator=optional_positive)
    once_per_member: bool = False


@attrs.frozen(kw_only=True)
class EarningRules:
    """Every way a member earns points."""

    check_in: ActionRule = attrs.field(factory=lambda: ActionRule(points=1, daily_cap=1))
    spending: SpendingRule = attrs.field(factory=SpendingRule)
    event_attendance: EventRule = attrs.field(factory=lambda: EventRule(points=20))
    sharing: ActionRule = attrs.field(factory=lambda: ActionRule(points=5, daily_cap=15))
    referral: ActionRule = attrs.field(factory=lambda: ActionRule(points=500))
    survey: ActionRule = attrs.field(factory=lambda: ActionRule(points=10))
    rehab_plan: ActionRule = attrs.field(factory=lambda: ActionRule(points=100))
    liking: ActionRule = attrs.field(factory=lambda: ActionRule(points=1, daily_cap=5))
    bonuses: Mapping[str, BonusRule] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ExpiryPolicy:
    """When points expire.

    Attributes:
        mode: ``month_end``: at the end of the ``months``-th month after the month earned;
            ``inactivity``: all points, ``months`` months after the member's last activity
            (an earning, redemption or transfer out); ``never``.
        months: the number of months.
    """

    mode: ExpiryMode = "month_end"
    months: int = attrs.field(default=24, validator=within(1, MAX_MONTHS))


@attrs.frozen(kw_only=True)
class LedgerConfig:
    """How the points ledger behaves.

    Attributes:
        version: the version of these ledger rules, recorded on redemptions, adjustments,
            reversals, transfers and expiries.
        clawback: what a refund does when the points it earned were already spent:
            ``debt`` lets the balance go negative (later earnings repay it first),
            ``cap`` claws back only what the member holds and writes off the rest.
        expiry: when points expire.
        reversible_months: an earning is reversed (by a refund of its charge or by
            :class:`~membercore.ledger.ReversePosting`) for this many months after it
            was earned; after that its points stand, and a correction is an
            adjustment. Its lot, once empty, is then let go from the member's state.
    """

    version: int = attrs.field(default=1, validator=positive)
    clawback: ClawbackPolicy = "debt"
    expiry: ExpiryPolicy = attrs.field(factory=ExpiryPolicy)
    reversible_months: int = attrs.field(default=36, validator=within(1, MAX_MONTHS))
