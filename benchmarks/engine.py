"""Throughput of the engine over storage, with the demo hospital's data.

Run: ``make bench-engine`` (or ``.venv/bin/python benchmarks/engine.py [--patients N]
[--months N] [--timers N]``). Prints, in one run:

- facts ingested per second on ``memory://`` and on ``sqlite:///`` (each message decided
  at its own instant, 1,000 to a commit), and where the time goes;
- the rows the SQLite run wrote (records, events, inbox, outbox, tasks), written again
  by plain ``sqlite3`` ``executemany`` into the same tables, and the ratio of the two;
- ticks per second with ``--timers`` members due at once;
- the peak memory of ingesting the same patients for half and for all of the months, each
  in a fresh process (it should depend on the patients, not on the number of facts).

Nothing here is asserted; docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from membercore import reference_config
from membercore.clinical import PatientRegistered
from membercore.consent import GrantConsent
from membercore.engine import Engine
from membercore.member import next_due
from membercore.plugins import make_plugin_manager
from membercore.ports import Change, Commit
from membercore.recording import member_key
from membercore.serialization import record_to_json
from membercore.testing.clock import ManualClock
from membercore_adapters import memory, sqlite
from membercore_adapters.hospital import HospitalSpec, timed_messages

BATCH = 1000


def _engine(url: str, spec: HospitalSpec) -> Engine:
    plugins = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    clock = ManualClock(spec.start)
    return Engine.open(url, config=reference_config(), clock=clock, plugin_manager=plugins)


def ingest(url: str, spec: HospitalSpec) -> dict[str, float]:
    """Ingest the hospital's messages, each at its own instant; return the figures."""
    messages = list(timed_messages(spec))
    with _engine(url, spec) as engine:
        started = time.perf_counter()
        cpu = time.process_time()
        report = None
        for index in range(0, len(messages), BATCH):
            batch = messages[index : index + BATCH]
            engine.clock.set(batch[-1][0])  # type: ignore[attr-defined]
            part = engine.ingest(batch, now=batch[-1][0])
            report = part if report is None else report + part
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    assert report is not None
    return {
        "messages": len(messages),
        "seconds": seconds,
        "cpu": cpu,
        "per_second": len(messages) / seconds,
        "rejected": report.rejected,
    }


TABLES = ("records", "events", "inbox", "outbox", "tasks")


def plain_rewrite(path: Path) -> tuple[int, float]:
    """Write the rows of the engine's database again with plain sqlite3, 1,000 a commit."""
    source = sqlite3.connect(path)
    target_path = path.with_name("plain.db")
    target = sqlite3.connect(target_path, isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    rows_written = 0
    tables = {}
    for table in TABLES:
        (schema,) = source.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        target.execute(schema)
        tables[table] = source.execute(f"SELECT * FROM {table}").fetchall()
    started = time.perf_counter()
    for table, rows in tables.items():
        if not rows:
            continue
        marks = ",".join("?" * len(rows[0]))
        for index in range(0, len(rows), BATCH):
            target.execute("BEGIN")
            insert = f"INSERT INTO {table} VALUES ({marks})"
            target.executemany(insert, rows[index : index + BATCH])
            target.execute("COMMIT")
            rows_written += len(rows[index : index + BATCH])
    seconds = time.perf_counter() - started
    source.close()
    target.close()
    return rows_written, seconds


def ticks(url: str, timers: int) -> dict[str, float]:
    """Tick ``timers`` newly registered members all due at once (a birthday greeting each).

    One member is registered through the engine (with consent to be greeted); its record
    is then stored again under ``timers`` ids, all due on the birthday.
    """
    spec = HospitalSpec(patients=8, months=1)
    start = spec.start
    with _engine(url, spec) as engine:
        engine.ingest(
            [
                PatientRegistered(
                    fact_id="reg",
                    patient_id="T-TEMPLATE",
                    occurred_at=start,
                    birth_date=date(1980, start.month, 20),
                ),
                GrantConsent(
                    key="consent",
                    member_id="T-TEMPLATE",
                    purpose="marketing",
                    channels=("wecom", "sms"),
                    given_by="T-TEMPLATE",
                    source="app",
                ),
            ],
            now=start,
        )
        template = engine.member("T-TEMPLATE")
        text = record_to_json(template)
        due = next_due(template, engine.config)
        assert due is not None
        for first in range(0, timers, BATCH):
            changes = [
                Change(
                    key=member_key(f"T{n:07d}"),
                    expected_version=0,
                    snapshot=text.replace("T-TEMPLATE", f"T{n:07d}"),
                    due_at=due,
                )
                for n in range(first, min(first + BATCH, timers))
            ]
            engine.store.commit(Commit(changes=changes))
        started = time.perf_counter()
        report = engine.tick(due)
        seconds = time.perf_counter() - started
    return {
        "records": report.records,
        "events": report.events,
        "seconds": seconds,
        "snapshot": len(text),
    }


def peak_memory(patients: int, months: int) -> int:
    """Peak resident memory (KiB) of ingesting the hospital in a fresh process."""
    command = [sys.executable, __file__, "--only-ingest"]
    command += ["--patients", str(patients), "--months", str(months)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--only-ingest", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    spec = HospitalSpec(patients=args.patients, months=args.months)
    if args.only_ingest:
        # Streamed generation, so that the peak reflects the engine and not a list.
        with _engine("memory://", spec) as engine:
            batch: list[object] = []
            for item in timed_messages(spec):
                batch.append(item)
                if len(batch) == BATCH:
                    engine.ingest(batch, now=item[0])
                    batch = []
            engine.ingest(batch, now=spec.start + timedelta(days=31 * spec.months))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return
    print(f"demo hospital: {spec.patients:,} patients over {spec.months} months")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "engine.db"
        for url in ("memory://", f"sqlite:///{path}"):
            figures = ingest(url, spec)
            print(
                f"{url.split(':')[0]:>7}: {figures['messages']:,.0f} messages in "
                f"{figures['seconds']:.1f} s = {figures['per_second']:,.0f}/s "
                f"(cpu {figures['cpu']:.1f} s, rejected {figures['rejected']:,.0f})"
            )
        engine_seconds = figures["seconds"]
        rows, plain_seconds = plain_rewrite(path)
        print(
            f"plain sqlite3 executemany of the same {rows:,} rows: {plain_seconds:.2f} s "
            f"({rows / plain_seconds:,.0f} rows/s); engine/plain time ratio "
            f"{engine_seconds / plain_seconds:.1f}x (plain is {plain_seconds / engine_seconds:.3f}"
            " of the engine's time)"
        )
        tick = ticks(f"sqlite:///{Path(folder) / 'ticks.db'}", args.timers)
        print(
            f"tick: {tick['records']:,} due records ({tick['snapshot']:,} bytes of snapshot "
            f"each), {tick['events']:,} events in {tick['seconds']:.1f} s = "
            f"{tick['records'] / tick['seconds']:,.0f} records/s"
        )
    half = peak_memory(spec.patients, max(1, spec.months // 2))
    whole = peak_memory(spec.patients, spec.months)
    print(
        f"peak memory: {half / 1024:,.0f} MiB for {max(1, spec.months // 2)} months, "
        f"{whole / 1024:,.0f} MiB for {spec.months} months (same {spec.patients:,} patients)"
    )


if __name__ == "__main__":
    main()
