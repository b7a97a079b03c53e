"""The programme's figures as labelled tables, in Chinese or English.

A :class:`Section` is one table of the dashboard: its title, the headers of its text
columns and of its number columns, and its rows, every cell already written as people
read it (thousands separators, whole yuan, a share to a tenth of a percent).
:func:`figure_sections` makes the sections of :class:`~membercore.analytics.Figures` —
members by tier, paid members by plan, renewal and the loyalty ladder, yearly spend, the
points — which the demo's dashboard draws with rich and the staff console as HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from membercore.analytics import Figures
from membercore.config import ProgrammeConfig
from membercore.experiments import ExperimentResult
from membercore_adapters.language import Language, Words

__all__ = [
    "COUNT",
    "ITEM",
    "Section",
    "experiment_sections",
    "figure_sections",
    "number",
    "percent",
    "section",
    "yuan",
]


@attrs.frozen(kw_only=True)
class Section:
    """One table of figures.

    Attributes:
        title: what it shows.
        texts: the headers of its text columns, which come first.
        numbers: the headers of its number columns, which follow.
        rows: its rows, a cell a column; none when there is nothing to show.
    """

    title: str
    texts: tuple[str, ...]
    numbers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def section(
    title: Words,
    language: Language,
    texts: Sequence[Words],
    numbers: Sequence[Words],
    rows: Iterable[Sequence[str]],
) -> Section:
    """A section whose title and headers are said in ``language``."""
    return Section(
        title=title.say(language),
        texts=tuple(header.say(language) for header in texts),
        numbers=tuple(header.say(language) for header in numbers),
        rows=tuple(tuple(row) for row in rows),
    )


def number(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage to a tenth, rounded half up (0.0% of none).

    In integers, tenths of a percent being per mille: 6 of 32 is 187.5 per mille, shown
    18.8%. (:func:`membercore.analytics.per_mille` rounds down, for those who count on
    it.)
    """
    tenths = (part * 2000 + whole) // (2 * whole) if whole else 0
    return f"{tenths // 10}.{tenths % 10}%"


def yuan(fen: int) -> str:
    """Whole yuan (rounded half up) from fen, with thousands separators."""
    return f"¥{(fen + 50) // 100:,}"


# --- the words --------------------------------------------------------------------------------

#: The headers the dashboard's two-column sections share.
ITEM = Words("项目", "Item")
COUNT = Words("数量", "Count")

_TIERS = Words("会员等级", "Members by tier")
_TIER = Words("等级", "Tier")
_NAME = Words("名称", "Name")
_MEMBERS = Words("人数", "Members")

_PLANS = Words("付费会员（有效权益卡）", "Paid members by plan (in force)")
_PLAN = Words("权益卡", "Plan")

_LADDER = Words("续费与忠诚阶梯", "Renewal and the loyalty ladder")
_SHARE = Words("比例", "Share")
_LADDER_ROWS = (
    Words("首期已满的权益卡", "plans whose first term ended"),
    Words("其中已续费（续费率）", "of them renewed (renewal rate)"),
    Words("首次就诊", "first visit"),
    Words("成为付费会员", "became a paid member"),
    Words("其中持家庭卡", "of them, a family plan"),
)

_SPEND = Words("近一年自付消费（人均）", "Yearly out-of-pocket spend (average)")
_WHO = Words("人群", "Who")
_PATIENTS = Words("就诊人数", "Patients")
_AVERAGE = Words("人均", "Average")
_SPENDERS = (Words("会员", "members"), Words("非会员", "non-members"))

_POINTS = Words("积分", "Points")
_POINTS_COLUMN = Words("积分", "Points")
_POINTS_ROWS = (
    ("earned", Words("已发放", "issued")),
    ("redeemed", Words("已兑换", "redeemed")),
    ("expired", Words("已过期", "expired")),
    ("balance", Words("未兑余额（负债）", "outstanding (the liability)")),
)


# --- the sections -----------------------------------------------------------------------------


def figure_sections(
    figures: Figures, config: ProgrammeConfig, language: Language
) -> tuple[Section, ...]:
    """The sections of the programme's figures, in the dashboard's order.

    Args:
        figures: the figures (:func:`membercore.analytics.figures`).
        config: the programme (its tier and plan labels name the rows).
        language: ``zh-CN`` or ``en``; the programme's labels are its own.
    """
    return (
        _tiers(figures, config, language),
        _plans(figures, config, language),
        _ladder(figures, language),
        _spend(figures, language),
        _points(figures, language),
    )


def _tiers(figures: Figures, config: ProgrammeConfig, language: Language) -> Section:
    by_tier = figures.by_tier
    rows = [
        (level.key, level.label, number(by_tier.get(level.key, 0))) for level in config.tiers.levels
    ]
    known = set(config.tiers.keys)
    rows += [
        (key, key, number(count)) for key, count in sorted(by_tier.items()) if key not in known
    ]
    return section(_TIERS, language, [_TIER, _NAME], [_MEMBERS], rows)


def _plans(figures: Figures, config: ProgrammeConfig, language: Language) -> Section:
    paid = figures.paid_by_plan
    rows = [(plan.label, number(paid[plan.key])) for plan in config.plans.plans if plan.key in paid]
    known = {plan.key for plan in config.plans.plans}
    rows += [(key, number(count)) for key, count in sorted(paid.items()) if key not in known]
    return section(_PLANS, language, [_PLAN], [_MEMBERS], rows)


def _ladder(fig: Figures, language: Language) -> Section:
    values = (
        (fig.terms_ended, ""),
        (fig.renewed, percent(fig.renewed, fig.terms_ended)),
        (fig.first_visits, ""),
        (fig.became_members, percent(fig.became_members, fig.first_visits)),
        (fig.became_family, percent(fig.became_family, fig.became_members)),
    )
    rows = [
        (label.say(language), number(count), share)
        for label, (count, share) in zip(_LADDER_ROWS, values, strict=True)
    ]
    return section(_LADDER, language, [ITEM], [COUNT, _SHARE], rows)


def _spend(fig: Figures, language: Language) -> Section:
    rows = [
        (
            label.say(language),
            number(fig.spenders.get(members, 0)),
            yuan(fig.average_spend_fen(members=members)),
        )
        for label, members in zip(_SPENDERS, (True, False), strict=True)
    ]
    return section(_SPEND, language, [_WHO], [_PATIENTS, _AVERAGE], rows)


def _points(fig: Figures, language: Language) -> Section:
    points = fig.points
    rows = [(label.say(language), number(points.get(key, 0))) for key, label in _POINTS_ROWS]
    return section(_POINTS, language, [ITEM], [_POINTS_COLUMN], rows)


# --- experiments ----------------------------------------------------------------------------

_EXPERIMENT = Words("实验：{label}", "Experiment: {label}")
_VARIANT = Words("方案", "Variant")
_EXPOSED = Words("曝光人数", "Exposed")
_CONVERTED = Words("转化人数", "Converted")
_RATE = Words("转化率（95% 区间）", "Conversion (95% interval)")
_LIFT = Words("与对照之差（95% 区间）", "Difference vs control (95% interval)")
_CONTROL = Words("{label}（对照）", "{label} (control)")
_SPLIT = Words("分流检查（对照分配比例）", "Split check (against the allocation)")
_EXPERIMENT_COLUMN = Words("实验", "Experiment")
_VERDICT = Words("结论", "Verdict")
_CHI = Words("卡方", "Chi-square")
_P = Words("p 值", "p-value")
_SOUND = Words("正常", "sound")
_MISMATCH = Words("分流失衡，结果不可信", "sample ratio mismatch: do not trust the results")


def _points_of(value: float) -> str:
    return f"{value * 100:+.1f}"


def experiment_sections(results: Iterable[ExperimentResult], language: Language) -> list[Section]:
    """A table per experiment, from :func:`membercore.experiments.experiment_results`.

    Each variant's exposed and converted members, its conversion rate with the 95 %
    interval, and the difference against the control (percentage points); then one
    table checking each experiment's split against its allocation.
    """
    made = []
    checks: list[tuple[str, ...]] = []
    for result in results:
        rows: list[tuple[str, ...]] = []
        for variant in result.variants:
            label = variant.label
            if variant.key == result.control:
                label = _CONTROL.say(language, label=label)
            rate = "—"
            if variant.rate is not None and variant.interval is not None:
                low, high = variant.interval.low * 100, variant.interval.high * 100
                rate = f"{variant.rate * 100:.1f}% ({low:.1f}–{high:.1f})"
            lift = "—"
            if variant.difference is not None:
                d = variant.difference
                lift = (
                    f"{_points_of(d.estimate)} ({_points_of(d.interval.low)}"
                    f" – {_points_of(d.interval.high)})"
                )
            rows.append((label, number(variant.exposed), number(variant.converted), rate, lift))
        ratio = result.sample_ratio
        if ratio is not None:
            verdict = (_MISMATCH if ratio.mismatch else _SOUND).say(language)
            checks.append(
                (result.label, verdict, f"{ratio.chi_square:.2f}", f"{ratio.p_value:.4f}")
            )
        title = Words(
            _EXPERIMENT.zh.format(label=result.label), _EXPERIMENT.en.format(label=result.label)
        )
        made.append(
            section(title, language, [_VARIANT], [_EXPOSED, _CONVERTED, _RATE, _LIFT], rows)
        )
    if checks:
        made.append(section(_SPLIT, language, [_EXPERIMENT_COLUMN, _VERDICT], [_CHI, _P], checks))
    return made
