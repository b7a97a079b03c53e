"""The programme as data: frozen attrs classes, and the reference programme.

A hospital describes its programme in TOML (or a dict); :func:`membercore.load_config`
structures and validates it into a :class:`ProgrammeConfig`. Invalid values raise
:class:`~membercore.errors.ConfigError` naming the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from membercore.errors import ConfigError

__all__ = [
    "ActionRule",
    "BonusRule",
    "EarningRules",
    "EventRule",
    "ExpiryPolicy",
    "LedgerConfig",
    "ProgrammeConfig",
    "Rate",
    "SpendingRule",
    "reference_config",
]

ClawbackPolicy = Literal["debt", "cap"]
ExpiryMode = Literal["month_end", "inactivity", "never"]


def _non_negative(_instance: Any, attribute: Any, value: int) -> None:
    if value < 0:
        raise ConfigError(attribute.name, f"must not be negative, got {value}")


def _positive(_instance: Any, attribute: Any, value: int) -> None:
    if value <= 0:
        raise ConfigError(attribute.name, f"must be positive, got {value}")


def _optional_positive(_instance: Any, attribute: Any, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(attribute.name, f"must be positive when set, got {value}")


def _values_non_negative(_instance: Any, attribute: Any, value: Mapping[str, int]) -> None:
    for key, item in value.items():
        if item < 0:
            raise ConfigError(f"{attribute.name}[{key!r}]", f"must not be negative, got {item}")


def _known_timezone(_instance: Any, attribute: Any, value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(attribute.name, f"unknown timezone {value!r}") from error


@attrs.frozen(kw_only=True)
class Rate:
    """Points per yuan, as two integers: ``points`` for every ``per_yuan`` yuan paid.

    ``Rate(points=1, per_yuan=2)`` earns one point for every two yuan; fractions of a point
    are dropped once, on the whole charge.
    """

    points: int = attrs.field(default=1, validator=_non_negative)
    per_yuan: int = attrs.field(default=1, validator=_positive)


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

    version: int = attrs.field(default=1, validator=_positive)
    enabled: bool = True
    qualifying: bool = True
    vesting_days: int = attrs.field(default=0, validator=_non_negative)
    daily_cap: int | None = attrs.field(default=None, validator=_optional_positive)
    monthly_cap: int | None = attrs.field(default=None, validator=_optional_positive)


@attrs.frozen(kw_only=True)
class ActionRule(RuleBase):
    """A fixed number of points for an action (check-in, share, survey...)."""

    points: int = attrs.field(validator=_non_negative)


@attrs.frozen(kw_only=True)
class EventRule(ActionRule):
    """Points for attending an event, by event kind (lecture, member day...).

    Attributes:
        points_by_kind: points per event kind; kinds not listed earn ``points``.
    """

    points_by_kind: Mapping[str, int] = attrs.field(factory=dict, validator=_values_non_negative)


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

    vesting_days: int = attrs.field(default=7, validator=_non_negative)
    rate: Rate = attrs.field(factory=Rate)
    category_rates: Mapping[str, Rate] = attrs.field(factory=dict)
    department_rates: Mapping[str, Rate] = attrs.field(factory=dict)
    tier_multipliers_pct: Mapping[str, int] = attrs.field(
        factory=dict, validator=_values_non_negative
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
    max_points: int | None = attrs.field(default=None, validator=_optional_positive)
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
    months: int = attrs.field(default=24, validator=_positive)


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
    """

    version: int = attrs.field(default=1, validator=_positive)
    clawback: ClawbackPolicy = "debt"
    expiry: ExpiryPolicy = attrs.field(factory=ExpiryPolicy)


@attrs.frozen(kw_only=True)
class ProgrammeConfig:
    """The whole membership programme.

    Attributes:
        name: the programme's name, shown to people.
        version: the version of this configuration.
        timezone: the business calendar's timezone (daily caps, month ends).
        ledger: the points ledger's rules.
        earning: the earning rules.
    """

    name: str = "会员计划"
    version: int = attrs.field(default=1, validator=_positive)
    timezone: str = attrs.field(default="Asia/Shanghai", validator=_known_timezone)
    ledger: LedgerConfig = attrs.field(factory=LedgerConfig)
    earning: EarningRules = attrs.field(factory=EarningRules)

    @property
    def tz(self) -> ZoneInfo:
        """The programme's timezone."""
        return ZoneInfo(self.timezone)


def reference_config() -> ProgrammeConfig:
    """The reference programme of a private general hospital.

    One point per yuan paid out of pocket (drugs one per two yuan, check-up packages two
    per yuan), pending for the 7-day refund window and good until the end of the 24th
    month; higher tiers earn more on spending; a daily check-in point; 20 points for a
    health lecture and 30 for a member day; 500 for a referral whose patient completes a
    first visit; 10 for a survey; 100 for joining a rehab plan; capped sharing and likes;
    non-qualifying welcome and birthday bonuses.
    """
    return ProgrammeConfig(
        name="仁和医院健康会员",
        ledger=LedgerConfig(clawback="debt", expiry=ExpiryPolicy(mode="month_end", months=24)),
        earning=EarningRules(
            check_in=ActionRule(points=1, daily_cap=1),
            spending=SpendingRule(
                rate=Rate(points=1, per_yuan=1),
                category_rates={
                    "drug": Rate(points=1, per_yuan=2),
                    "checkup": Rate(points=2, per_yuan=1),
                },
                tier_multipliers_pct={"L1": 100, "L2": 120, "L3": 150, "L4": 175, "L5": 200},
            ),
            event_attendance=EventRule(points=20, points_by_kind={"member_day": 30}),
            sharing=ActionRule(points=5, daily_cap=15, monthly_cap=200),
            referral=ActionRule(points=500),
            survey=ActionRule(points=10),
            rehab_plan=ActionRule(points=100),
            liking=ActionRule(points=1, daily_cap=5, qualifying=False),
            bonuses={
                "welcome": BonusRule(max_points=100, once_per_member=True),
                "birthday": BonusRule(max_points=200, monthly_cap=200),
                "campaign": BonusRule(max_points=1000),
            },
        ),
    )
