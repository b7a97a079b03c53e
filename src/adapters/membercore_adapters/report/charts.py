"""The report's charts, drawn with Plotly.

Each :class:`Chart` is a Plotly figure as JSON: the page draws it with plotly.js, which
the report carries inline (nothing is fetched: a hospital's network often has no
internet). Labels are Chinese first; the figures' font names Chinese fonts first, so
that the reader's own fonts draw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import plotly.graph_objects as go

from membercore.analytics import Measurement, ValueRow
from membercore.config import ProgrammeConfig
from membercore_adapters.language import Language, Words
from membercore_adapters.report.tables import group_name

__all__ = ["FONTS", "Chart", "bar_chart", "measurement_charts"]

#: The fonts the charts ask for, Chinese ones first (the reader's system has one of them).
FONTS = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", '
    '"PingFang SC", "Hiragino Sans GB", sans-serif'
)


@attrs.frozen(kw_only=True)
class Chart:
    """One chart: an id for the page, its title, and the Plotly figure as JSON text."""

    chart_id: str
    title: str
    figure: str


def _chart(chart_id: str, title: str, figure: go.Figure) -> Chart:
    figure.update_layout(
        font={"family": FONTS, "size": 13},
        margin={"l": 60, "r": 20, "t": 30, "b": 60},
        height=360,
        legend={"orientation": "h", "y": -0.2},
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    figure.update_xaxes(showgrid=False)
    figure.update_yaxes(gridcolor="#e5e5e5")
    return Chart(chart_id=chart_id, title=title, figure=figure.to_json())


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    errors: Sequence[Sequence[float]] | None = None,
    errors_minus: Sequence[Sequence[float]] | None = None,
) -> Chart:
    """Grouped bars: one series of values per name, over ``categories``.

    ``errors`` (and ``errors_minus``, when the bars below differ) are each series' error
    bars, as distances from the values.
    """
    figure = go.Figure()
    for index, (name, values) in enumerate(series):
        error: dict[str, Any] | None = None
        if errors is not None:
            error = {"type": "data", "array": list(errors[index]), "visible": True}
            if errors_minus is not None:
                error |= {"symmetric": False, "arrayminus": list(errors_minus[index])}
        figure.add_trace(go.Bar(name=name, x=list(categories), y=list(values), error_y=error))
    figure.update_layout(barmode="group")
    return _chart(chart_id, title, figure)


def measurement_charts(
    measurement: Measurement, config: ProgrammeConfig, language: Language
) -> tuple[Chart, ...]:
    """The charts of a measurement, in the report's order."""
    return (
        _tiers(measurement, config, language),
        _ladder(measurement, language),
        _cohorts(measurement, language),
        _value(measurement, config, "channel", _BY_CHANNEL, language),
        _value(measurement, config, "condition", _BY_CONDITION, language),
        _rates(measurement, language),
        _liability(measurement, language),
    )


_BY_CHANNEL = Words("各来源渠道的患者终身价值（元）", "Lifetime value by channel (yuan)")
_BY_CONDITION = Words("各首诊病种的患者终身价值（元）", "Lifetime value by condition (yuan)")
_REALISED = Words("已实现", "realised")
_PROJECTED = Words("预测", "projected")


def _tiers(measurement: Measurement, config: ProgrammeConfig, language: Language) -> Chart:
    months = [month for month, _ in measurement.tiers]
    figure = go.Figure()
    for level in config.tiers.levels:
        counts = [counts.get(level.key, 0) for _, counts in measurement.tiers]
        figure.add_trace(
            go.Scatter(x=months, y=counts, name=level.label, stackgroup="tiers", mode="lines")
        )
    figure.update_xaxes(type="category", tickangle=-45, automargin=True)
    title = Words("各等级会员数（月末）", "Members by tier (month end)").say(language)
    return _chart("tiers", title, figure)


def _ladder(measurement: Measurement, language: Language) -> Chart:
    ladder = measurement.ladder
    steps = [
        Words("首诊", "first visit").say(language),
        Words("付费会员", "paid member").say(language),
        Words("家庭卡", "family plan").say(language),
    ]
    figure = go.Figure(
        go.Funnel(
            y=steps,
            x=[ladder.visited, ladder.members, ladder.family],
            textinfo="value+percent initial",
        )
    )
    return _chart("ladder", Words("会员阶梯", "The loyalty ladder").say(language), figure)


def _cohorts(measurement: Measurement, language: Language) -> Chart:
    cohorts = measurement.cohorts
    longest = max((len(c.retention) for c in cohorts), default=0)
    z = [
        [c.retention[k] / 10 if k < len(c.retention) else None for k in range(longest)]
        for c in cohorts
    ]
    after = Words("+{k} 月", "+{k} mo")
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[after.say(language, k=k + 1) for k in range(longest)],
            y=[c.month for c in cohorts],
            colorscale="Blues",
            zmin=0,
            hovertemplate="%{y} %{x}: %{z:.1f}%<extra></extra>",
            colorbar={"ticksuffix": "%"},
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    title = Words("月度队列留存（%）", "Monthly cohort retention (%)").say(language)
    return _chart("cohorts", title, figure)


def _value(
    measurement: Measurement,
    config: ProgrammeConfig,
    dimension: str,
    title: Words,
    language: Language,
) -> Chart:
    rows: list[ValueRow] = [row for row in measurement.value if row.dimension == dimension]
    rows = rows[:12]
    series = [(_REALISED.say(language), [row.realised_fen / 100 for row in rows])]
    if all(row.projected_fen is not None for row in rows):
        projected = [(row.projected_fen or 0) / 100 for row in rows]
        series.append((_PROJECTED.say(language), projected))
    return bar_chart(
        f"value-{dimension}",
        title.say(language),
        [group_name(config, dimension, row.value, language) for row in rows],
        series,
    )


def _rates(measurement: Measurement, language: Language) -> Chart:
    m = measurement
    named = [
        (Words("续费率", "renewal"), m.renewal.per_mille),
        (Words("复购率", "repurchase"), m.repurchase.per_mille),
        (Words("交叉购买率", "cross-purchase"), m.cross_purchase.per_mille),
        (Words("推荐来源占比", "referred"), m.referral.per_mille),
    ]
    return bar_chart(
        "rates",
        Words(
            "续费、复购、交叉购买与推荐（%）", "Renewal, repurchase, cross-purchase, referral (%)"
        ).say(language),
        [words.say(language) for words, _ in named],
        [(Words("比例", "share").say(language), [value / 10 for _, value in named])],
    )


def _liability(measurement: Measurement, language: Language) -> Chart:
    held = measurement.liability
    named = [
        (Words("累计发放", "earned"), held.earned),
        (Words("累计兑换", "redeemed"), held.redeemed),
        (Words("累计过期", "expired"), held.expired),
        (Words("未使用", "outstanding"), held.outstanding),
    ]
    return bar_chart(
        "liability",
        Words("积分", "Points").say(language),
        [words.say(language) for words, _ in named],
        [(Words("积分", "points").say(language), [value for _, value in named])],
    )
