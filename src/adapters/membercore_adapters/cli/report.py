"""``membercore report``: the management report of a store, as HTML, JSON and CSV.

It reads the store (never writes it) and writes ``--out FILE.html``, with ``FILE.json``
and ``FILE-csv/`` beside it (:mod:`membercore_adapters.report`). It needs the
``report`` extra (``pip install 'membercore[report]'``: Plotly, Jinja2); without it,
the command says so and exits 2.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from membercore.analytics import ValueModel
from membercore_adapters.cli.arguments import INSTANT, Exit, store_options
from membercore_adapters.cli.failures import Stop, not_installed
from membercore_adapters.cli.opening import engine_on
from membercore_adapters.cli.speech import Words, echo, language, say, warn

__all__ = ["commands", "report_missing"]

_NO_EXTRA = Words(
    "membercore report 需要 report 扩展（缺少 {missing}）：pip install 'membercore[report]'",
    "membercore report needs the report extra ({missing} is missing): "
    "pip install 'membercore[report]'",
)
_WROTE = Words(
    "报告已写入 {html}（数据：{json}，CSV：{csv}）",
    "the report is in {html} (figures: {json}, CSV: {csv})",
)


def report_missing() -> list[str]:
    """The libraries of the ``report`` extra that are not installed."""
    return not_installed("plotly", "jinja2")


_NOT_A_COMPARISON = Words(
    "--whatif {path}：不是 membercore whatif --json 写出的对比（{why}）",
    "--whatif {path}: not a comparison `membercore whatif --json` wrote ({why})",
)


def _comparison(path: Path) -> dict[str, Any]:
    """The what-if comparison in ``path``, checked for what the report reads of it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Stop(say(_NOT_A_COMPARISON, path=path, why=error), Exit.USAGE) from error
    if not isinstance(data, dict):
        raise Stop(say(_NOT_A_COMPARISON, path=path, why=type(data).__name__), Exit.USAGE)
    missing = [key for key in _COMPARED if key not in data]
    if missing:
        why = say(_MISSING, keys=", ".join(missing))
        raise Stop(say(_NOT_A_COMPARISON, path=path, why=why), Exit.USAGE)
    return data


_COMPARED = ("baseline", "proposed", "baseline_name", "proposed_name")
_MISSING = Words("缺少 {keys}", "it has no {keys}")
_ANOTHER_STORE = Words(
    "注意：--whatif {path} 的对比重放了 {theirs} 名患者的记录，本存储现有 {ours} 名："
    "它可能来自另一个存储或更早的时刻",
    "note: the comparison in --whatif {path} replayed {theirs} patients' records and the "
    "store holds {ours}: it may come from another store or an earlier moment",
)


def _check_store(comparison: dict[str, Any], patients: int, path: Path | None) -> None:
    """Warn when the comparison replayed another number of records than the store holds."""
    stored = comparison.get("stored")
    theirs = stored.get("patients") if isinstance(stored, dict) else None
    if isinstance(theirs, int) and theirs != patients:
        warn(_ANOTHER_STORE, path=path, theirs=theirs, ours=patients)


def commands() -> list[click.Command]:
    """``report``."""
    return [_command()]


def _command() -> click.Command:
    @click.command(
        "report",
        help=say(
            Words(
                "写出经营报告：一个可离线打开的 HTML 文件，及同样数据的 JSON 和 CSV",
                "write the management report: one HTML file that opens offline, and the "
                "same figures as JSON and CSV",
            )
        ),
    )
    @click.option(
        "--out",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(Words("报告文件（.html）", "the report file (.html)")),
    )
    @click.option(
        "--at",
        type=INSTANT,
        help=say(Words("统计时刻（默认为现在）", "the instant measured at (now by default)")),
    )
    @click.option(
        "--horizon",
        type=click.IntRange(min=1),
        default=ValueModel().horizon_years,
        show_default=True,
        help=say(Words("预测 LTV 的年数", "years the projected lifetime value covers")),
    )
    @click.option(
        "--discount",
        type=click.IntRange(min=0),
        default=ValueModel().discount_per_mille,
        show_default=True,
        help=say(Words("年折现率（千分比）", "yearly discount rate, per mille")),
    )
    @click.option(
        "--whatif",
        "compared",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help=say(
            Words(
                "加入一份试算对比（membercore whatif --json 写出的文件）",
                "add a what-if comparison (the file `membercore whatif --json` wrote)",
            )
        ),
    )
    @store_options
    def report(
        out: Path,
        at: datetime | None,
        horizon: int,
        discount: int,
        compared: Path | None,
        store: str,
        config: Path | None,
    ) -> int:
        missing = report_missing()
        if missing:
            raise Stop(say(_NO_EXTRA, missing=", ".join(missing)), Exit.USAGE)
        from membercore_adapters.report import report_of, write_report  # noqa: PLC0415
        from membercore_adapters.report.whatif import whatif_extra  # noqa: PLC0415

        comparison = None if compared is None else _comparison(compared)
        model = ValueModel(horizon_years=horizon, discount_per_mille=discount)
        with engine_on(store, config, use="read") as engine:
            made = report_of(engine, now=at, model=model)
            extras = []
            if comparison is not None:
                _check_store(comparison, made.measurement.patients, compared)
                extras.append(whatif_extra(comparison, language(), engine.config))
            written = write_report(out, made, language(), extras)
        echo(_WROTE, html=written.html, json=written.json, csv=written.csv)
        return Exit.DONE

    return report
