"""membercore against the eventsourcing library: what one fact costs on SQLite.

Run: ``.venv/bin/python benchmarks/eventsourcing_compare.py [--members 500] [--facts 20]``
(the ``eventsourcing`` package is in the ``dev`` extra; the script says so when it is
missing).

The same stream of check-ins, ``--facts`` for each of ``--members`` members, in time
order, goes:

- to an eventsourcing ``Application`` on SQLite whose aggregate, a points account,
  earns a point for each check-in and keeps the check-in ids it has taken (the least an
  account must do to take a fact once): each fact is *loaded, earned and saved*
  (``repository.get``, one event, ``save``), one transaction a fact; then ten facts of
  one member a save;
- to membercore's engine on SQLite, which for each check-in decides what the whole
  programme does (the fact screened and read strictly, points earned under caps, the
  profile, tier, journeys and outreach looked at, the journal and inbox written): one
  fact a commit, as a live feed sends them, and 1,000 a commit, as a batch does.

Matched settings: both files in WAL mode with ``synchronous=NORMAL`` and membercore's
page cache and checkpoint (eventsourcing's connections are given membercore's pragmas),
and both keep every member decoded between facts (eventsourcing's aggregate cache, with
fast-forward, holds all of them; membercore's record cache is larger than the members).
Printed: microseconds of wall time a fact for each, and the ratio. Nothing is asserted;
docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from membercore import Engine, reference_config
from membercore.facts import CheckedIn, PatientRegistered
from membercore.plugins import make_plugin_manager
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite
from membercore_adapters.stores.sqlite.schema import PRAGMAS

START = datetime(2025, 6, 2, 1, tzinfo=UTC)


def stream(members: int, facts: int) -> Iterator[tuple[str, int, datetime]]:
    """(member, number, instant) for each check-in, in time order: members take turns."""
    for n in range(facts):
        for m in range(members):
            yield f"M{m:06d}", n, START + timedelta(hours=n, seconds=m)


# -- eventsourcing --------------------------------------------------------------------------


@cache
def _points_application() -> Any:
    """The application class (defined once: eventsourcing registers each class by name)."""
    from eventsourcing.application import Application  # noqa: PLC0415 - dev only
    from eventsourcing.domain import Aggregate, event  # noqa: PLC0415
    from eventsourcing.sqlite import SQLiteConnectionPool  # noqa: PLC0415

    create = SQLiteConnectionPool._create_connection

    def with_pragmas(pool: Any) -> Any:
        connection = create(pool)
        for pragma in PRAGMAS:
            connection._sqlite_conn.execute(pragma)
        return connection

    SQLiteConnectionPool._create_connection = with_pragmas  # type: ignore[method-assign]

    class Account(Aggregate):
        @event("Opened")
        def __init__(self, member: str) -> None:
            self.member = member
            self.points = 0
            self.taken: set[str] = set()

        @event("Earned")
        def earn(self, fact_id: str, points: int) -> None:
            self.points += points
            self.taken.add(fact_id)

    class Points(Application[Any]):
        def open(self, member: str) -> Any:
            account = Account(member)
            self.save(account)
            return account.id

        def check_in(self, account_id: Any, fact_ids: list[str]) -> None:
            account = self.repository.get(account_id)
            for fact_id in fact_ids:
                if fact_id not in account.taken:
                    account.earn(fact_id, 1)
            self.save(account)

    return Points


def _eventsourcing(path: Path, members: int) -> Any:
    """An eventsourcing application on a SQLite file with membercore's pragmas."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "AGGREGATE_CACHE_MAXSIZE": str(members * 2),
    }
    return _points_application()(env=env)


def eventsourcing_run(folder: Path, members: int, facts: int, per_save: int) -> float:
    """Seconds a fact: load, earn, save; ``per_save`` facts of one member a save."""
    app = _eventsourcing(folder / f"es-{per_save}.db", members)
    ids = {f"M{m:06d}": app.open(f"M{m:06d}") for m in range(members)}
    # Each member's facts in runs of ``per_save``, the runs in time order.
    runs: dict[tuple[int, str], list[str]] = {}
    for member, n, _ in stream(members, facts):
        runs.setdefault((n // per_save, member), []).append(f"{member}-{n}")
    started = time.perf_counter()
    for (_, member), fact_ids in runs.items():
        app.check_in(ids[member], fact_ids)
    elapsed = time.perf_counter() - started
    assert sum(app.repository.get(ids[m]).points for m in ids) == members * facts
    return elapsed / (members * facts)


# -- membercore -----------------------------------------------------------------------------


def membercore_run(folder: Path, members: int, facts: int, batch: int) -> float:
    """Seconds a fact through the engine, ``batch`` facts a commit."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    url = f"sqlite:///{folder}/mc-{batch}.db"
    clock = ManualClock(START)
    with Engine.open(url, config=reference_config(), clock=clock, plugin_manager=manager) as e:
        e.ingest(
            [
                PatientRegistered(fact_id=f"reg-{m}", patient_id=f"M{m:06d}", occurred_at=START)
                for m in range(members)
            ],
            now=START,
        )
        items = [
            CheckedIn(fact_id=f"{member}-{n}", patient_id=member, occurred_at=at, channel="app")
            for member, n, at in stream(members, facts)
        ]
        started = time.perf_counter()
        for first in range(0, len(items), batch):
            part = items[first : first + batch]
            clock.set(part[-1].occurred_at)
            e.ingest(part, now=part[-1].occurred_at)
        return (time.perf_counter() - started) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--facts", type=int, default=20, help="check-ins a member")
    args = parser.parse_args()
    try:
        import eventsourcing  # noqa: F401, PLC0415 - dev only
    except ImportError:
        sys.exit("eventsourcing is not installed: pip install -e '.[dev]'")
    runs: list[tuple[str, Callable[[Path], float]]] = [
        ("eventsourcing, 1 fact a save", lambda f: eventsourcing_run(f, *sizes, 1)),
        ("eventsourcing, 10 facts a save", lambda f: eventsourcing_run(f, *sizes, 10)),
        ("membercore, 1 fact a commit", lambda f: membercore_run(f, *sizes, 1)),
        ("membercore, 1,000 facts a commit", lambda f: membercore_run(f, *sizes, 1000)),
    ]
    sizes = (args.members, args.facts)
    print(f"{args.members:,} members, {args.members * args.facts:,} check-ins, SQLite")
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        for name, run in runs:
            figures[name] = run(Path(folder))
            print(f" {name}: {figures[name] * 1e6:,.0f} µs a fact")
    es1, es10, mc1, mc1000 = (figures[name] for name, _ in runs)
    print(
        f"eventsourcing's time over membercore's: {es1 / mc1:.2f}x one a commit each, "
        f"{es1 / mc1000:.2f}x against membercore's batches, {es10 / mc1000:.2f}x "
        "against ten a save"
    )


if __name__ == "__main__":
    main()
