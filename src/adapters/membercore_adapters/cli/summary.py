"""What ``membercore config check`` says a valid programme will do, in a few lines.

The tier ladder with its thresholds, the earning rules, the paid plans with their
prices, the journeys (with the installed plugins'), the outreach policy and the
channels: what a health manager checks before the programme goes live, in the language
the command speaks.
"""

from __future__ import annotations

from collections.abc import Sequence

from membercore.config import ProgrammeConfig
from membercore.config.experiments import Experiment
from membercore.config.journeys import JourneyDefinition
from membercore.plugins import Contribution
from membercore_adapters.cli.speech import Words, say

__all__ = ["summary"]

_JOURNEYS = Words("旅程（{count}）：{keys}", "journeys ({count}): {keys}")
_FROM_PLUGINS = Words("；插件加入的（{count}）：{keys}", "; added by plugins ({count}): {keys}")
_CHANNELS = Words("渠道：{channels}", "channels: {channels}")
_CONSOLE = Words("控制台（未配置渠道）", "the console (none configured)")
_NONE = Words("无", "none")


def summary(
    config: ProgrammeConfig, added: Sequence[Contribution[JourneyDefinition]] = ()
) -> list[str]:
    """The programme, a line per part.

    Args:
        config: the programme.
        added: the journeys installed plugins add, each with its plugin's name.
    """
    channels = ", ".join(f"{n} ({s.use})" for n, s in config.channels.items())
    return [
        _tiers(config),
        _earning(config),
        _plans(config),
        _journeys(config, added),
        _outreach(config),
        say(_CHANNELS, channels=channels or say(_CONSOLE)),
        _retention(config),
        *(_experiment(experiment) for experiment in config.experiments),
    ]


_RETENTION = Words(
    "保留期限：消息正文 {messages}，送达地址与错误 {deliveries}，被拒输入原文 {letters}",
    "retention: message bodies {messages}, delivery addresses and errors {deliveries}, "
    "raw payloads of inputs refused {letters}",
)
_DAYS = Words("{days} 天", "{days} days")
_FOR_GOOD = Words("永久", "for good")


def _retention(config: ProgrammeConfig) -> str:
    def kept(days: int) -> str:
        return say(_DAYS, days=days) if days else say(_FOR_GOOD)

    held = config.retention
    return say(
        _RETENTION,
        messages=kept(held.message_days),
        deliveries=kept(held.delivery_days),
        letters=kept(held.dead_letter_days),
    )


def _journeys(config: ProgrammeConfig, added: Sequence[Contribution[JourneyDefinition]]) -> str:
    own = ", ".join(journey.key for journey in config.journeys) or say(_NONE)
    line = say(_JOURNEYS, count=len(config.journeys), keys=own)
    if added:
        keys = ", ".join(f"{found.value.key} ({found.plugin})" for found in added)
        line += say(_FROM_PLUGINS, count=len(added), keys=keys)
    return line


_TIERS = Words(
    "等级：{ladder}（按{window}内的定级积分，{review}评审）",
    "tiers: {ladder} (qualifying points in {window}, reviewed {review})",
)
_WINDOWS = {
    "rolling": Words("滚动 {months} 个月", "a rolling {months}-month window"),
    "calendar_year": Words("自然年", "the calendar year"),
}
_REVIEWS = {
    "anniversary": Words("每逢上次等级变动的周年日", "on the anniversary of the last tier change"),
    "calendar_year": Words("每个自然年末", "at each calendar year's end"),
}


def _tiers(config: ProgrammeConfig) -> str:
    rules = config.tiers
    ladder = " → ".join(f"{level.label} {level.threshold:,}" for level in rules.levels)
    window = say(_WINDOWS[rules.window], months=rules.window_months)
    return say(_TIERS, ladder=ladder, window=window, review=say(_REVIEWS[rules.review]))


_EARNING = Words(
    "积分：消费每 {per_yuan} 元得 {points} 分（{vesting} 天后生效），签到 {check_in}，"
    "推荐 {referral}，问卷 {survey}；积分{expiry}",
    "earning: spending {points} per {per_yuan} 元 (vests after {vesting} days), check-in "
    "{check_in}, referral {referral}, survey {survey}; points {expiry}",
)
_EXPIRY = {
    "month_end": Words("于 {months}后的月末过期", "expire at a month's end after {months}"),
    "inactivity": Words("在连续 {months}无活动后过期", "expire after {months} without activity"),
    "never": Words("永不过期", "never expire"),
}


def _months(count: int) -> str:
    """``count`` months, in the language spoken."""
    return say(_MONTHS if count != 1 else _MONTH, count=count)


_MONTHS = Words("{count} 个月", "{count} months")
_MONTH = Words("{count} 个月", "{count} month")


def _earning(config: ProgrammeConfig) -> str:
    earning = config.earning
    rate = earning.spending.rate
    expiry = config.ledger.expiry
    return say(
        _EARNING,
        points=rate.points,
        per_yuan=rate.per_yuan,
        vesting=earning.spending.vesting_days,
        check_in=earning.check_in.points,
        referral=earning.referral.points,
        survey=earning.survey.points,
        expiry=say(_EXPIRY[expiry.mode], months=_months(expiry.months)),
    )


_PLANS = Words("付费会员（{count}）：{listed}", "plans ({count}): {listed}")
_PLAN = Words("{label} {yuan:,.0f} 元/{months}", "{label} {yuan:,.0f} 元/{months}")
_NONE = Words("无", "none")


def _plans(config: ProgrammeConfig) -> str:
    plans = config.plans.plans
    listed = ", ".join(
        say(_PLAN, label=plan.label, yuan=plan.price_fen / 100, months=_months(plan.term_months))
        for plan in plans
    )
    return say(_PLANS, count=len(plans), listed=listed or say(_NONE))


_OUTREACH = Words(
    "触达：{templates} 个模板，渠道顺序 {order}，免打扰 {quiet_start}–{quiet_end}，每周上限 {caps}",
    "outreach: {templates} templates, order {order}, quiet {quiet_start}–{quiet_end}, "
    "weekly caps {caps}",
)


def _outreach(config: ProgrammeConfig) -> str:
    policy = config.outreach
    return say(
        _OUTREACH,
        templates=len(policy.templates),
        order=" → ".join(policy.channel_order),
        quiet_start=policy.quiet_start,
        quiet_end=policy.quiet_end,
        caps=", ".join(f"{purpose} {cap}" for purpose, cap in policy.weekly_caps.items()),
    )


_EXPERIMENT = Words(
    "实验 {key}（{label}）：{variants}；{exposure} 时分组，{conversion} 算转化",
    "experiment {key} ({label}): {variants}; assigned at {exposure}, converts on {conversion}",
)


def _experiment(experiment: Experiment) -> str:
    total = sum(variant.weight for variant in experiment.variants)
    variants = ", ".join(
        f"{variant.key} {variant.label} {variant.weight * 100 / total:.0f}%"
        for variant in experiment.variants
    )
    return say(
        _EXPERIMENT,
        key=experiment.key,
        label=experiment.label,
        variants=variants,
        exposure=experiment.exposure.on,
        conversion=", ".join(experiment.conversion.on),
    )
