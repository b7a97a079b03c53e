"""Throughput of the engine over storage, with the demo hospital's data.

Run: ``make bench-engine`` (or ``.venv/bin/python benchmarks/engine.py [--patients N]
[--months N] [--timers N]``). Prints, in one run:

- facts ingested per second on ``memory://`` and on ``sqlite:///`` (each message decided
  at its own instant, 1,000 to a commit), then on one SQLite file shared by
  ``--sqlite-workers`` processes (by default one per core) splitting the households;
- the rows the SQLite run wrote (records, journal, inbox, outbox, tasks), written again
  by plain ``sqlite3`` ``executemany`` into the same tables, and the ratio of the two;
- ticks per second with ``--timers`` members due at once;
- the peak memory of ingesting the same patients for half and for all of the months, each
  in a fresh process (it should depend on the patients, not on the number of facts);
- on PostgreSQL (``--postgres URL``, by default ``$MEMBERCORE_TEST_POSTGRES_URL``; skipped
  with a note when neither is given), in a schema of the benchmark's own dropped
  afterwards: facts ingested per second by one worker, then by ``--workers`` processes
  sharing the work by household (``shard_of(message) % workers``), each its own engine on
  the same schema; and redemptions per second when ``--contenders`` processes each redeem
  one point at a time from the same member, with the version conflicts met and retried.

Nothing here is asserted; docs/performance.md records what it printed. The script is one
report whose measures share their set-up (the hospital, the engines, the schema), so it
reads best whole, longer than a library module would be.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from membercore import reference_config
from membercore.consent import GrantConsent
from membercore.errors import EngineError, VersionConflictError
from membercore.facts import PatientRegistered
from membercore.ledger.commands import AdjustPoints, Redeem
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import Change, Commit, Store
from membercore.serialization import record_to_json
from membercore.service.engine import Engine
from membercore.service.member import next_due
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore_adapters.demo.hospital import HospitalSpec, shard_of, timed_messages
from membercore_adapters.stores import memory, postgres, sqlite

BATCH = 1000
POSTGRES_URL_VARIABLE = "MEMBERCORE_TEST_POSTGRES_URL"


def _manager() -> Any:
    return make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])


def _engine(url: str, spec: HospitalSpec) -> Engine:
    clock = ManualClock(spec.start)
    return Engine.open(url, config=reference_config(), clock=clock, plugin_manager=_manager())


def ingest(
    url: str,
    spec: HospitalSpec,
    shard: int = 0,
    shards: int = 1,
    ready: Callable[[], object] | None = None,
) -> dict[str, float]:
    """Ingest the hospital's messages, each at its own instant; return the figures.

    With ``shards`` above 1, only the messages of the households of ``shard``; ``ready``
    is called once the engine is open, just before the clock starts.
    """
    messages = [
        item for item in timed_messages(spec) if shards == 1 or shard_of(item[1]) % shards == shard
    ]
    with _engine(url, spec) as engine:
        if ready is not None:
            ready()
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
        "retries": report.retries,
    }


# The journal's table: ``journal`` (a packed row per commit of a record) since schema 5,
# ``events`` (a row per event) before; the script runs against either.
TABLES = ("records", "journal", "events", "inbox", "outbox", "tasks")


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
        found = source.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        if found is None:
            continue
        target.execute(found[0])
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


# -- PostgreSQL -------------------------------------------------------------------------


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """``url`` naming a fresh schema of the benchmark's own, dropped afterwards."""
    import psycopg  # noqa: PLC0415 - the driver is optional: only needed here
    from psycopg import sql  # noqa: PLC0415

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _ingest_shard(args: tuple[str, HospitalSpec, int, int, Any]) -> dict[str, float]:
    url, spec, shard, shards, start = args
    # Every worker waits for the others, so the wall time is that of the work together.
    return ingest(url, spec, shard, shards, ready=start.wait)


def _together(
    work: Callable[[Any], dict[str, float]], jobs: list[tuple[Any, ...]]
) -> tuple[list[dict[str, float]], float]:
    """Run ``work`` on each job in a process of its own, all starting together.

    Each job is given a barrier as its last item, to wait at once it is ready; the wall
    time runs from the barrier until the last process is done.
    """
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(len(jobs) + 1)
        with context.Pool(len(jobs)) as pool:
            pending = pool.map_async(work, [(*job, start) for job in jobs])
            start.wait()
            began = time.perf_counter()
            parts = pending.get()
            wall = time.perf_counter() - began
    return parts, wall


def ingest_parallel(url: str, spec: HospitalSpec, workers: int) -> dict[str, float]:
    """Ingest with ``workers`` processes splitting the households; total facts per second.

    Each process builds its share of the messages and opens its engine, then all start
    together; the wall time runs from then until the last one is done.
    """
    with _engine(url, spec):
        pass  # the schema is created once, before the workers race to open it
    jobs = [(url, spec, shard, workers) for shard in range(workers)]
    parts, wall = _together(_ingest_shard, jobs)
    messages = sum(part["messages"] for part in parts)
    return {
        "messages": messages,
        "seconds": wall,
        "per_second": messages / wall,
        "slowest": max(part["seconds"] for part in parts),
        "rejected": sum(part["rejected"] for part in parts),
        "retries": sum(part["retries"] for part in parts),
    }


class _CountingStore:
    """A store that counts the version conflicts its commits meet (the engine retries)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.conflicts = 0

    def commit(self, commit: Commit) -> None:
        try:
            self.inner.commit(commit)
        except VersionConflictError:
            self.conflicts += 1
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


REDEEMER = "R-CONTENDED"


def _redeem(args: tuple[str, HospitalSpec, int, int, Any]) -> dict[str, float]:
    """Redeem one point ``count`` times from the contended member, each its own command."""
    url, spec, contender, count, start = args
    config = reference_config()
    with _engine(url, spec) as opened:
        store = _CountingStore(opened.store)
        engine = Engine(
            store,
            config,
            clock=opened.clock,
            plugins=collect(_manager(), config),
        )
        engine.member(REDEEMER)  # connect and warm up before the clock starts
        start.wait()
        began = time.perf_counter()
        done = gave_up = 0
        for n in range(count):
            command = Redeem(key=f"c{contender}-{n}", member_id=REDEEMER, points=1)
            try:
                engine.execute(command, now=spec.start + timedelta(days=1))
            except EngineError:
                gave_up += 1
            else:
                done += 1
        seconds = time.perf_counter() - began
    return {"done": done, "gave_up": gave_up, "conflicts": store.conflicts, "seconds": seconds}


def redemptions(url: str, spec: HospitalSpec, contenders: int, each: int) -> dict[str, float]:
    """``contenders`` processes redeeming from one member at once: redemptions per second."""
    with _engine(url, spec) as engine:
        engine.ingest(
            [PatientRegistered(fact_id="reg", patient_id=REDEEMER, occurred_at=spec.start)],
            now=spec.start,
        )
        engine.execute(
            AdjustPoints(
                key="stock",
                member_id=REDEEMER,
                points=10 * contenders * each,
                operator="bench",
                reason="points to redeem",
            ),
            now=spec.start,
        )
    parts, wall = _together(_redeem, [(url, spec, n, each) for n in range(contenders)])
    with _engine(url, spec) as engine:
        redeemed = engine.member(REDEEMER).ledger.totals.redeemed
    done = sum(part["done"] for part in parts)
    return {
        "done": done,
        "gave_up": sum(part["gave_up"] for part in parts),
        "conflicts": sum(part["conflicts"] for part in parts),
        "seconds": wall,
        "per_second": done / wall,
        "redeemed": redeemed,
    }


def bench_postgres(url: str, spec: HospitalSpec, workers: int, contenders: int, each: int) -> None:
    """Print the PostgreSQL figures, each in a fresh schema."""
    with postgres_schema(url) as schema_url:
        figures = ingest(schema_url, spec)
    print(
        f"postgresql, 1 worker: {figures['messages']:,.0f} messages in "
        f"{figures['seconds']:.1f} s = {figures['per_second']:,.0f}/s "
        f"(cpu {figures['cpu']:.1f} s, rejected {figures['rejected']:,.0f})"
    )
    with postgres_schema(url) as schema_url:
        figures = ingest_parallel(schema_url, spec, workers)
    print(
        f"postgresql, {workers} workers: {figures['messages']:,.0f} messages in "
        f"{figures['seconds']:.1f} s = {figures['per_second']:,.0f}/s in total "
        f"(slowest worker {figures['slowest']:.1f} s, rejected {figures['rejected']:,.0f}, "
        f"commits retried {figures['retries']:,.0f})"
    )
    for processes in sorted({1, contenders}):
        with postgres_schema(url) as schema_url:
            figures = redemptions(schema_url, spec, processes, each)
        print(
            f"postgresql, redemptions from one member by {processes} process"
            f"{'es' if processes > 1 else ''}: {figures['done']:,.0f} in "
            f"{figures['seconds']:.1f} s = {figures['per_second']:,.0f}/s "
            f"({figures['conflicts']:,.0f} version conflicts retried, "
            f"{figures['gave_up']:,.0f} given up; {figures['redeemed']:,.0f} points redeemed)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(POSTGRES_URL_VARIABLE) or None,
        help=f"a PostgreSQL URL (default: ${POSTGRES_URL_VARIABLE}; none: skipped)",
    )
    parser.add_argument("--workers", type=int, default=4, help="PostgreSQL ingestion processes")
    parser.add_argument(
        "--sqlite-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes sharing one SQLite file (default: one per core)",
    )
    parser.add_argument("--contenders", type=int, default=4)
    parser.add_argument("--redemptions", type=int, default=250, help="per contender")
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
        workers = args.sqlite_workers
        shared = ingest_parallel(f"sqlite:///{Path(folder) / 'shared.db'}", spec, workers)
        print(
            f" sqlite, {workers} workers on one file: {shared['messages']:,.0f} messages in "
            f"{shared['seconds']:.1f} s = {shared['per_second']:,.0f}/s in total "
            f"(slowest worker {shared['slowest']:.1f} s, rejected {shared['rejected']:,.0f}, "
            f"commits retried {shared['retries']:,.0f})"
        )
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
    if args.postgres is None:
        print(f"postgresql: skipped (give --postgres URL or set {POSTGRES_URL_VARIABLE})")
    else:
        bench_postgres(args.postgres, spec, args.workers, args.contenders, args.redemptions)


if __name__ == "__main__":
    main()
