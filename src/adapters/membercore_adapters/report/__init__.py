"""The management report: one HTML file that opens offline, and its figures as CSV and JSON.

:func:`write_report` writes ``FILE.html`` — the dashboard, members by tier over time, the
loyalty ladder, cohort retention, lifetime value by channel and by condition, renewal,
the points liability, and any further sections (the experiments, a what-if comparison) —
with plotly.js inline, beside ``FILE.json`` (every figure as plain numbers) and one CSV
file a table in ``FILE-csv/``. :func:`report_of` measures an engine's store for it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import jinja2
import markupsafe
from plotly.offline import get_plotlyjs

from membercore import Engine
from membercore.analytics import Figures, Measurement, ValueModel, counted, measurement_of
from membercore.config import ProgrammeConfig
from membercore.experiments import ExperimentResult
from membercore_adapters.figures import Section, experiment_sections, figure_sections
from membercore_adapters.language import Language, Words
from membercore_adapters.report.charts import FONTS, Chart, bar_chart, measurement_charts
from membercore_adapters.report.experiments import experiment_charts, experiment_records
from membercore_adapters.report.extra import Extra
from membercore_adapters.report.tables import measurement_records, measurement_sections

__all__ = ["Chart", "Extra", "Report", "Written", "bar_chart", "report_of", "write_report"]

_TITLE = Words("会员项目经营报告", "Membership programme report")


@attrs.frozen(kw_only=True)
class Report:
    """What a report shows: the measurement, the dashboard's figures, the experiments."""

    measurement: Measurement
    figures: Figures
    config: ProgrammeConfig
    experiments: tuple[ExperimentResult, ...] = ()


@attrs.frozen(kw_only=True)
class Written:
    """The files a report wrote."""

    html: Path
    json: Path
    csv: Path


def report_of(
    engine: Engine, *, now: datetime | None = None, model: ValueModel | None = None
) -> Report:
    """The report's figures over every member of ``engine``'s store at ``now``.

    One pass over the store: each member's record counts into the dashboard's figures,
    and their journal into the experiments' counts, as their story is read for the
    measurement.
    """
    config = engine.config
    counts = counted(engine.histories(), config, now or engine.now())
    return Report(
        measurement=measurement_of(counts.sums, config, model or ValueModel()),
        figures=counts.figures.figures(),
        config=config,
        experiments=counts.tried.results(),
    )


def write_report(
    out: Path, report: Report, language: Language = "zh-CN", extras: Sequence[Extra] = ()
) -> Written:
    """Write the report to ``out`` (HTML), with its JSON and CSV files beside it."""
    m = report.measurement
    if report.experiments:
        extras = [_experiments(report.experiments, language), *extras]
    sections = [
        *figure_sections(report.figures, report.config, language),
        *measurement_sections(m, report.config, language),
        *(s for extra in extras for s in extra.sections),
    ]
    charts = [
        *measurement_charts(m, report.config, language),
        *(c for extra in extras for c in extra.charts),
    ]
    records: dict[str, Any] = {**figure_records(report.figures), **measurement_records(m)}
    records.setdefault("experiments", [])
    for extra in extras:
        records.update(extra.records)
    out.parent.mkdir(parents=True, exist_ok=True)
    at = m.at.astimezone(report.config.tz).isoformat(sep=" ", timespec="minutes")
    out.write_text(_page(at, sections, charts, language), encoding="utf-8")
    data = out.with_suffix(".json")
    data.write_text(
        json.dumps({"at": m.at.isoformat(), **records}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    folder = out.with_name(f"{out.stem}-csv")
    folder.mkdir(exist_ok=True)
    for name, rows in records.items():
        _csv(folder / f"{name}.csv", rows)
    return Written(html=out, json=data, csv=folder)


def figure_records(held: Figures) -> dict[str, list[dict[str, object]]]:
    """The dashboard's members by tier and paid members by plan, as rows."""
    return {
        "members_by_tier": [{"tier": k, "members": n} for k, n in sorted(held.by_tier.items())],
        "paid_by_plan": [{"plan": k, "members": n} for k, n in sorted(held.paid_by_plan.items())],
    }


def _experiments(results: Sequence[ExperimentResult], language: Language) -> Extra:
    return Extra(
        sections=tuple(experiment_sections(results, language)),
        charts=experiment_charts(results, language),
        records={"experiments": experiment_records(results)},
    )


def _csv(path: Path, rows: list[dict[str, object]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8-sig", newline="") as file:  # Excel reads the BOM
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("membercore_adapters.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _page(
    at: str,
    sections: Sequence[Section],
    charts: Sequence[Chart],
    language: Language,
) -> str:
    template = _ENVIRONMENT.get_template("report.html")
    return template.render(
        title=_TITLE.say(language),
        lang=language,
        at=at,
        fonts=markupsafe.Markup(FONTS),  # CSS, not text: its quotes stay quotes
        sections=sections,
        charts=charts,
        plotly=markupsafe.Markup(get_plotlyjs()),
        generated=Words("数据截至", "as of").say(language),
    )
