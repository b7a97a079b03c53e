"""The demo hospital as a hospital runs it: its time, and the bytes its store takes a fact.

Run: ``.venv/bin/python benchmarks/demo.py [--patients 2000] [--months 12] [--workers 1]``.
Runs the demo hospital (each twelve hours of simulated time ingested, then ticked) into
a new SQLite file, then prints:

- the messages taken and the seconds the run and its measurement took (wall clock: the
  report's figures, which the demo's workers work out at the end of their run; for a
  commit before they did, ``engine.measure`` after the run is timed with it), with the
  CPU seconds of this process (with one worker, all of the run's);
- the bytes the store takes a message, after ``VACUUM``, in all and by table (SQLite's
  ``dbstat``, indexes counted with their table);
- with ``--postgres URL``, the same run in a schema of its own on PostgreSQL (dropped
  afterwards): its time, and its bytes a message after ``VACUUM FULL``
  (``pg_total_relation_size``: each table with its indexes and TOAST).

Nothing here is asserted; docs/performance.md records what it printed. To compare with
an earlier commit on the same machine: ``benchmarks/compare.py --before <commit> --
demo.py``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from engine import postgres_schema

from membercore import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.demo import HospitalSpec, run_demo
from membercore_adapters.demo.programme import demo_programme
from membercore_adapters.stores.postgres.urls import split_schema


def table_bytes(path: Path) -> Counter[str]:
    """The bytes each table of the SQLite file takes, its indexes included."""
    with sqlite3.connect(path) as db:
        db.execute("VACUUM")
        owners = dict(db.execute("SELECT name, tbl_name FROM sqlite_master"))
        sizes: Counter[str] = Counter()
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            sizes[owners.get(name, name)] += size
    return sizes


def measure(url: str, end: datetime) -> None:
    """Measure the store as the demo's report does (for a commit whose demo did not)."""
    with Engine.open(url, config=demo_programme(), clock=ManualClock(end)) as engine:
        engine.measure(now=end)


def postgres_bytes(url: str) -> Counter[str]:
    """The bytes each table of the schema ``url`` names takes, after ``VACUUM FULL``."""
    import psycopg  # noqa: PLC0415 - the driver is optional: only needed here
    from psycopg import sql  # noqa: PLC0415

    base, schema, _ = split_schema(url)
    sizes: Counter[str] = Counter()
    with psycopg.connect(base, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        ]
        for name in tables:
            table = sql.Identifier(schema, name)
            conn.execute(sql.SQL("VACUUM FULL {}").format(table))
            query_size = sql.SQL("SELECT pg_total_relation_size({})").format(
                sql.Literal(f'"{schema}"."{name}"')
            )
            (size,) = conn.execute(query_size).fetchone() or (0,)
            sizes[name] = size
    return sizes


def _print(what: str, taken: int, seconds: float, sizes: Counter[str]) -> None:
    total = sum(sizes.values())
    parts = ", ".join(f"{name} {size / taken:,.0f}" for name, size in sizes.most_common(6))
    print(
        f"{what}: {taken / seconds:,.0f} messages/s; {total / taken:,.0f} bytes a message ({parts})"
    )


def main() -> None:
    """Run the demo once and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", help="also run on PostgreSQL, in a schema of its own")
    args = parser.parse_args()
    spec = HospitalSpec(patients=args.patients, months=args.months)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.db"
        started, cpu = time.perf_counter(), time.process_time()
        result = run_demo(spec, f"sqlite:///{path}", workers=args.workers)
        if getattr(result, "measurement", None) is None:
            measure(f"sqlite:///{path}", result.end)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        sizes = table_bytes(path)
    taken = result.messages
    print(
        f"demo {args.patients:,} patients × {args.months} months, {args.workers} worker(s): "
        f"{taken:,} messages, run and measured in {seconds:.1f} s = {taken / seconds:,.0f}/s "
        f"(cpu {cpu:.1f} s)"
    )
    _print("sqlite, after VACUUM", taken, seconds, sizes)
    if args.postgres:
        with postgres_schema(args.postgres) as url:
            started = time.perf_counter()
            run_demo(spec, url, workers=args.workers)
            seconds = time.perf_counter() - started
            _print("postgresql, after VACUUM FULL", taken, seconds, postgres_bytes(url))


if __name__ == "__main__":
    main()
