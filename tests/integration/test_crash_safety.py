"""A process killed while it ingests loses nothing and takes nothing twice.

A child process (``ingest_worker.py``) feeds the demo hospital to an engine on a store,
slice by slice, as the demo does. The test kills it with SIGKILL at seeded random points
(after a progress line, then a random few milliseconds, so that some kills land inside a
commit), starts it again on the same store each time — it re-sends the whole stream from
the start — and lets the last one finish. The store must then hold exactly what an
uninterrupted run leaves on a fresh store: the same member and household records, the
same journals, the same outbox, the same inbox.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pytest

from membercore import ledger, reference_config
from membercore.consent import GrantConsent
from membercore.facts import DiagnosisRecorded, Fact, PatientRegistered
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import Record
from membercore.serialization import record_to_json
from membercore.service.engine import Engine
from membercore.service.recording import HOUSEHOLD, MEMBER
from membercore.testing.clock import ManualClock
from membercore_adapters.demo.hospital import HospitalSpec, timed_messages
from membercore_adapters.stores import memory, postgres, sqlite

WORKER = Path(__file__).with_name("ingest_worker.py")
SPEC = HospitalSpec(patients=60, months=3, seed=7)
CONFIG = reference_config()
# Small commits, so that a slice spans several and a kill can land between two of them.
OPTIONS = ("--batch-size", "25", "--tick-limit", "10")
KILLS = 3
SEED = 20261123
# Seconds to wait for a worker: the whole stream takes about two on the project's VM.
PATIENCE = 120


def _command(url: str) -> list[str]:
    spec = ["--patients", str(SPEC.patients), "--months", str(SPEC.months)]
    return [sys.executable, str(WORKER), url, *spec, "--seed", str(SPEC.seed), *OPTIONS]


def _start(url: str, errors: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(_command(url), stdout=subprocess.PIPE, stderr=errors, text=True)


def _lines(worker: subprocess.Popen[str]) -> Iterator[str]:
    assert worker.stdout is not None
    while line := worker.stdout.readline():
        yield line.rstrip("\n")


def _slices(worker: subprocess.Popen[str], errors: IO[str]) -> int:
    """The number of slices a worker announces on its first line."""
    first = next(_lines(worker), "")
    assert first.startswith("slices "), _read(errors)
    return int(first.split()[1])


def _finish(worker: subprocess.Popen[str], errors: IO[str]) -> int:
    """Let a worker run to the end; the number of slices it reported done."""
    last = list(_lines(worker))[-1:]
    assert worker.wait(PATIENCE) == 0, _read(errors)
    assert last, _read(errors)
    assert last[0].startswith("done "), _read(errors)
    return int(last[0].split()[1])


def _kill_after(
    worker: subprocess.Popen[str], errors: IO[str], slice_number: int, delay: float
) -> None:
    """Let a worker report ``slice_number``, then SIGKILL it ``delay`` seconds later."""
    for line in _lines(worker):
        if line.startswith(f"slice {slice_number} "):
            break
    else:
        pytest.fail(f"the worker ended before slice {slice_number}: {_read(errors)}")
    time.sleep(delay)
    worker.send_signal(signal.SIGKILL)
    # It was still at work when the signal came: the kill interrupted something.
    assert worker.wait(PATIENCE) == -signal.SIGKILL


def _read(errors: IO[str]) -> str:
    errors.flush()
    errors.seek(0)
    return errors.read()[-4000:]


def _open(url: str) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
    return Engine.open(url, config=CONFIG, clock=ManualClock(SPEC.start), plugin_manager=manager)


def _fact_ids() -> list[str]:
    return [message.fact_id for _, message in timed_messages(SPEC) if isinstance(message, Fact)]


def _contents(url: str, fact_ids: list[str], end: datetime) -> dict[str, Any]:
    """What a store holds, in terms that do not depend on how its commits were cut."""
    with _open(url) as engine:
        store = engine.store
        members = list(engine.members())
        keys = [record.key for prefix in (MEMBER, HOUSEHOLD) for record in store.scan(prefix)]
        return {
            "members": {member.member_id: record_to_json(member) for member in members},
            "households": [record_to_json(household) for household in engine.households()],
            "tiers": {member.member_id: member.tier.tier for member in members},
            "journeys": {
                member.member_id: sorted(
                    (instance.instance_id, instance.state, instance.ended)
                    for instance in member.journeys.instances.values()
                )
                for member in members
            },
            "balances": {
                member.member_id: ledger.balances(member.ledger, CONFIG, end) for member in members
            },
            # The journals without their versions: a fact applied twice shows as an event
            # too many, however the commits were cut.
            "journals": {
                key: [(event.type, event.at, event.payload) for event in store.events(key)]
                for key in keys
            },
            "outbox": [(message.message_id, message.status) for message in store.outbox()],
            "inbox": store.seen(fact_ids),
            "dead_letters": [(letter.fact_id, letter.reason) for letter in store.dead_letters()],
            "tasks": list(store.tasks(None)),
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def store_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh stores of one backend: one for the uninterrupted run, one to crash."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/reference.db", f"sqlite:///{tmp_path}/crashed.db"
        return
    crashed: str = request.getfixturevalue("postgres_schema_url")
    reference = crashed.replace("schema=", "schema=ref_")
    yield reference, crashed
    import psycopg  # noqa: PLC0415 - only reached once the server answered
    from psycopg import sql  # noqa: PLC0415

    base, _, schema = reference.rpartition("schema=")
    with psycopg.connect(base.rstrip("?&"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.mark.slow
def test_an_ingestion_killed_at_random_points_and_restarted_ends_as_an_uninterrupted_one(
    store_urls: tuple[str, str], tmp_path: Path
) -> None:
    reference_url, crashed_url = store_urls
    randomly = random.Random(SEED)
    with (
        (tmp_path / "reference.err").open("w+", encoding="utf-8") as reference_errors,
        (tmp_path / "crashed.err").open("w+", encoding="utf-8") as errors,
        # The uninterrupted run on its own store, meanwhile.
        _start(reference_url, reference_errors) as reference,
    ):
        points: list[int] = []
        for kill in range(KILLS):
            with _start(crashed_url, errors) as worker:
                slices = _slices(worker, errors)
                # Increasing points, each well before the end: every restart gets further,
                # and every kill meets a worker still at work.
                points = points or sorted(randomly.sample(range(2, slices - 20), KILLS))
                _kill_after(worker, errors, points[kill], randomly.uniform(0.0, 0.03))
        with _start(crashed_url, errors) as worker:
            assert _finish(worker, errors) == slices
        assert _finish(reference, reference_errors) == slices

    fact_ids = _fact_ids()
    end = SPEC.start.replace(year=SPEC.start.year + 1)
    expected = _contents(reference_url, fact_ids, end)
    found = _contents(crashed_url, fact_ids, end)
    assert expected["members"], "the uninterrupted run stored no members"
    assert expected["outbox"], "the uninterrupted run sent nothing to compare"
    for part in expected:
        assert found[part] == expected[part], part
    # No fact lost: every fact of the stream is in the inbox, but for those refused.
    refused = {fact_id for fact_id, _ in found["dead_letters"]}
    assert found["inbox"].keys() == set(fact_ids) - refused


# -- the order of one commit's outbox ---------------------------------------------------


class _Shuffling:
    """A memory store whose ``load`` answers in the reverse of the order asked, as
    PostgreSQL's ``WHERE key = ANY(...)`` may (heap order): the port promises no order."""

    def __init__(self) -> None:
        self.inner = memory.MemoryStore()

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        return dict(reversed(self.inner.load(keys).items()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_outbox_order_of_a_commit_does_not_depend_on_the_order_the_store_loads_in() -> None:
    when = SPEC.start
    patients = ["P-A", "P-B", "P-C"]
    first = [
        PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=when) for p in patients
    ]
    consents = [
        GrantConsent(
            key=f"care-{p}",
            member_id=p,
            purpose="care",
            channels=("sms",),
            given_by=p,
            source="app",
        )
        for p in patients
    ]
    # Rule A: a type-2 diabetes diagnosis sends the programme's introduction.
    diagnoses = [
        DiagnosisRecorded(
            fact_id=f"dx-{p}", patient_id=p, occurred_at=when, icd10="E11", visit_id=f"v-{p}"
        )
        for p in patients
    ]
    orders = []
    for store in (memory.MemoryStore(), _Shuffling()):
        plugins = collect(make_plugin_manager(load_entrypoints=False, plugins=[memory]), CONFIG)
        engine = Engine(store, CONFIG, clock=ManualClock(when), plugins=plugins)
        engine.ingest([*first, *consents], now=when)
        engine.ingest(diagnoses, now=when)
        orders.append([message.message_id for message in store.outbox()])
    ordered, shuffled = orders
    assert len(ordered) >= len(patients)
    assert shuffled == ordered
