"""Polling a database view, and importing the same rows from CSV, into a SQLite store.

Run: ``.venv/bin/python benchmarks/dbview.py [--rows 100000] [--patients 10000]``.
The view is a SQLite database's outpatient charge lines (门诊收费明细: amounts as
NUMERIC yuan, times without a zone, five lines sharing each modification time), read
through SQLAlchemy by ``membercore-dbview`` in pages of 1,000; the patients are
registered first (not timed). Printed, each on a fresh SQLite store:

- the source alone: the rows read and translated into facts, per row;
- the engine alone: the same facts, already built, ingested;
- the source and the engine: one poll, ``engine.ingest(source.read(), source=...)``;
- the CSV source alone, and a CSV import of the same rows (``ingest``, not history).

The goal: the source adds less than a fifth to the engine's own time per fact. Nothing
here is asserted; docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from membercore import Engine, reference_config
from membercore.facts import PatientRegistered
from membercore.plugins import make_plugin_manager
from membercore.ports import Positioned
from membercore.testing.clock import ManualClock
from membercore_adapters.his.csvfile import CsvSource
from membercore_adapters.his.exports import export_mapping
from membercore_adapters.stores import sqlite
from membercore_dbview import DbViewSource, views_from_dict

SH = ZoneInfo("Asia/Shanghai")
START = datetime.fromisoformat("2025-01-01 08:00:00")  # naive, as the HIS stores it
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
COLUMNS = ["收费单号", "病人ID", "科室代码", "项目代码", "金额", "收费时间", "修改时间"]
ROWS = {
    "fact": "charge_paid",
    "key": "收费单号",
    "patient": "病人ID",
    "columns": {
        "occurred_at": "收费时间",
        "charge_id": "收费单号",
        "department": "科室代码",
        "code": "项目代码",
        "amount": "金额",
    },
}
CODES = {"departments": {"0301": "endocrinology"}, "charge_categories": {"XY": "drug"}}


def charges(count: int, patients: int) -> list[dict[str, object]]:
    """``count`` charge lines of ``patients`` patients, five sharing each time."""
    rows = []
    for n in range(count):
        at = START + timedelta(seconds=30 * (n // 5))
        rows.append(
            {
                "收费单号": f"SF{n:08d}",
                "病人ID": f"P{n % patients:06d}",
                "科室代码": "0301" if n % 3 else "0502",
                "项目代码": "XY" if n % 2 else "JC",
                "金额": Decimal(f"{(n % 400) + 1}.{n % 100:02d}"),
                "收费时间": at,
                "修改时间": at,
            }
        )
    return rows


def view_database(path: Path, rows: list[dict[str, object]]) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    table = sa.Table(
        "v_mz_sfmx",
        sa.MetaData(),
        sa.Column("收费单号", sa.String, primary_key=True),
        sa.Column("病人ID", sa.String),
        sa.Column("科室代码", sa.String),
        sa.Column("项目代码", sa.String),
        sa.Column("金额", sa.Numeric(12, 2)),
        sa.Column("收费时间", sa.DateTime),
        sa.Column("修改时间", sa.DateTime),
        sa.Index("watermark_key", "修改时间", "收费单号"),
    )
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    engine.dispose()
    return url


def csv_file(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_text(row[column]) for column in COLUMNS])
    return path


def _text(value: object) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)


def engine_on(path: Path, patients: int) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[sqlite])
    engine = Engine.open(
        f"sqlite:///{path}",
        config=reference_config(),
        clock=ManualClock(NOW),
        plugin_manager=manager,
    )
    at = START.replace(tzinfo=SH) - timedelta(days=1)
    engine.ingest(
        PatientRegistered(fact_id=f"reg-{n}", patient_id=f"P{n:06d}", occurred_at=at)
        for n in range(patients)
    )
    return engine


def timed(inputs: Iterable[object]) -> tuple[list[object], float]:
    start = time.perf_counter()
    read = list(inputs)
    return read, time.perf_counter() - start


def ingest(engine: Engine, inputs: Iterable[object], source: str) -> tuple[int, float]:
    start = time.perf_counter()
    report = engine.ingest(inputs, source=source)
    engine.close()
    return report.applied, time.perf_counter() - start


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--rows", type=int, default=100_000)
    options.add_argument("--patients", type=int, default=10_000)
    args = options.parse_args()
    rows = charges(args.rows, args.patients)
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        url = view_database(here / "his.db", rows)
        config = views_from_dict(
            {
                "dbview": {
                    "url": url,
                    **CODES,
                    "views": {"charges": {"view": "v_mz_sfmx", "watermark": "修改时间", **ROWS}},
                }
            },
            {},
        )
        built, source_alone = timed(DbViewSource(config).read())
        assert len(built) == args.rows
        engine = engine_on(here / "alone.db", args.patients)
        applied, engine_alone = ingest(engine, built, "dbview:bench")
        engine = engine_on(here / "polled.db", args.patients)
        _, polled = ingest(engine, DbViewSource(config).read(), "dbview:bench")
        mapping = export_mapping({"csv": {**CODES, **ROWS}})
        exported = csv_file(here / "charges.csv", rows)
        read, csv_alone = timed(CsvSource(exported, mapping).read())
        assert len(read) == args.rows
        assert all(isinstance(item, Positioned) for item in read)
        engine = engine_on(here / "csv.db", args.patients)
        _, imported = ingest(engine, CsvSource(exported, mapping).read(), "csv:bench")
    per = 1e6 / args.rows
    print(f"{args.rows:,} charge lines of {args.patients:,} patients; {applied:,} facts taken")
    print(f"  view source alone   {source_alone:7.2f} s  {source_alone * per:6.1f} µs/row")
    print(f"  engine alone        {engine_alone:7.2f} s  {engine_alone * per:6.1f} µs/fact")
    print(
        f"  view poll, engine   {polled:7.2f} s  {args.rows / polled:8,.0f} facts/s "
        f"(source: +{source_alone / engine_alone:.0%} of the engine's time)"
    )
    print(f"  CSV source alone    {csv_alone:7.2f} s  {csv_alone * per:6.1f} µs/row")
    print(
        f"  CSV ingest, engine  {imported:7.2f} s  {args.rows / imported:8,.0f} facts/s "
        f"(source: +{csv_alone / engine_alone:.0%} of the engine's time)"
    )


if __name__ == "__main__":
    main()
