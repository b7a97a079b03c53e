"""What ``membercore config check`` says a valid programme will do, in a few lines.

The tier ladder with its thresholds, the earning rules, the paid plans with their
prices, the journeys (with the installed plugins'), the outreach policy and the
channels: what a health manager checks before the programme goes live.
"""

from __future__ import annotations

from collections.abc import Sequence

from membercore.config import ProgrammeConfig
from membercore.config.journeys import JourneyDefinition

__all__ = ["summary"]


def summary(config: ProgrammeConfig, journeys: Sequence[JourneyDefinition]) -> list[str]:
    """The programme, a line per part (zh-CN labels first)."""
    return [
        _tiers(config),
        _earning(config),
        _plans(config),
        f"旅程 journeys ({len(journeys)}): " + ", ".join(j.key for j in journeys),
        _outreach(config),
        "渠道 channels: "
        + (", ".join(f"{n} ({s.use})" for n, s in config.channels.items()) or "console"),
    ]


def _tiers(config: ProgrammeConfig) -> str:
    rules = config.tiers
    ladder = " → ".join(f"{level.label} {level.threshold}" for level in rules.levels)
    return (
        f"等级 tiers: {ladder} (qualifying points in a {rules.window} "
        f"{rules.window_months}-month window, reviewed {rules.review})"
    )


def _earning(config: ProgrammeConfig) -> str:
    earning = config.earning
    rate = earning.spending.rate
    return (
        f"积分 earning: spending {rate.points} per {rate.per_yuan} 元 "
        f"(vests after {earning.spending.vesting_days} days), "
        f"check-in {earning.check_in.points}, referral {earning.referral.points}, "
        f"survey {earning.survey.points}; points expire "
        f"{config.ledger.expiry.mode} after {config.ledger.expiry.months} months"
    )


def _plans(config: ProgrammeConfig) -> str:
    plans = config.plans.plans
    listed = ", ".join(
        f"{plan.label} {plan.price_fen / 100:.0f} 元/{plan.term_months} 月" for plan in plans
    )
    return f"付费会员 plans ({len(plans)}): {listed or 'none'}"


def _outreach(config: ProgrammeConfig) -> str:
    policy = config.outreach
    caps = ", ".join(f"{purpose} {cap}" for purpose, cap in policy.weekly_caps.items())
    return (
        f"触达 outreach: {len(policy.templates)} templates, order "
        f"{' → '.join(policy.channel_order)}, quiet {policy.quiet_start}–{policy.quiet_end}, "
        f"weekly caps {caps}"
    )
