"""The experiments' part of the report: a table and a chart each, and their rows.

Each experiment's variants with their conversion and its 95 % interval (the chart's
error bars), the difference against the control, and the check of the split against the
allocation (:mod:`membercore.experiments.results`).
"""

from __future__ import annotations

from collections.abc import Sequence

from membercore.experiments import ExperimentResult
from membercore_adapters.language import Language, Words
from membercore_adapters.report.charts import Chart, bar_chart

__all__ = ["experiment_charts", "experiment_records"]

_TITLE = Words(
    "{label}：各组转化率（%，95% 区间）", "{label}: conversion by variant (%, 95% interval)"
)
_RATE = Words("转化率", "conversion")


def experiment_charts(results: Sequence[ExperimentResult], language: Language) -> tuple[Chart, ...]:
    """A bar chart of each experiment's conversion by variant, the intervals as error bars."""
    charts = []
    for result in results:
        rates, lows, highs, names = [], [], [], []
        for v in result.variants:
            if v.rate is None or v.interval is None:
                continue
            rates.append(v.rate * 100)
            lows.append((v.rate - v.interval.low) * 100)
            highs.append((v.interval.high - v.rate) * 100)
            names.append(v.label)
        chart = bar_chart(
            f"experiment-{result.key}",
            _TITLE.say(language, label=result.label),
            names,
            [(_RATE.say(language), rates)],
            errors=[highs],
            errors_minus=[lows],
        )
        charts.append(chart)
    return tuple(charts)


def experiment_records(results: Sequence[ExperimentResult]) -> list[dict[str, object]]:
    """A row per variant: exposed, converted, the rate and interval, the difference."""
    rows: list[dict[str, object]] = []
    for result in results:
        ratio = result.sample_ratio
        for v in result.variants:
            d = v.difference
            rows.append(
                {
                    "experiment": result.key,
                    "variant": v.key,
                    "control": v.key == result.control,
                    "weight": v.weight,
                    "exposed": v.exposed,
                    "converted": v.converted,
                    "rate": v.rate,
                    "rate_low": v.interval.low if v.interval else None,
                    "rate_high": v.interval.high if v.interval else None,
                    "difference": d.estimate if d else None,
                    "difference_low": d.interval.low if d else None,
                    "difference_high": d.interval.high if d else None,
                    "split_p_value": ratio.p_value if ratio else None,
                    "split_mismatch": ratio.mismatch if ratio else None,
                }
            )
    return rows
