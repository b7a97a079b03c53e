"""Properties of the engine over generated HIS feeds (membercore.testing.strategies).

Each example is a feed about up to three patients: registrations first, then check-ins,
charges, refunds of those charges, event attendances and diagnoses, in time order. All
are valid, so every fact is applied the first time. ``now`` is passed to ``ingest``, so
that the same feed is decided at the same instant however it is ingested.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pluggy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import households, reference_config
from membercore.facts import ChargePaid, Fact, PatientRegistered, RefundIssued
from membercore.households import AddDependent, FormHousehold, Relationship, RemoveDependent
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import Record, Store
from membercore.serialization import message_from_json, record_to_json
from membercore.service.engine import Engine, IngestReport
from membercore.service.member import replay
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore.testing.strategies import patient_streams
from membercore_adapters.stores import memory, sqlite

T = TypeVar("T")
CONFIG = reference_config()
START = datetime.fromisoformat("2026-03-02T02:00:00+00:00")
feeds = patient_streams(start=START)


@pytest.fixture(scope="module")
def manager() -> pluggy.PluginManager:
    """The first-party stores only (built once: it costs more than a small example)."""
    return make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])


def _open(manager: pluggy.PluginManager, url: str, now: datetime, **options: Any) -> Engine:
    clock = ManualClock(now)
    return Engine.open(url, config=CONFIG, clock=clock, plugin_manager=manager, **options)


def _after(feed: list[Fact]) -> datetime:
    """An hour after the last fact: when the feed is ingested."""
    return max((fact.occurred_at for fact in feed), default=START) + timedelta(hours=1)


def _records(engine: Engine) -> dict[str, str]:
    return {member.member_id: record_to_json(member) for member in engine.members()}


def _journals(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """Each member's events in order (type and content; versions depend on the commits)."""
    return {
        member_id: [(e.type, e.payload) for e in engine.store.events(member_key(member_id))]
        for member_id in _records(engine)
    }


def _outbox(engine: Engine) -> list[tuple[str, str, datetime]]:
    return sorted((m.message_id, m.payload, m.send_at) for m in engine.store.outbox())


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh database path per call (tmp_path is one per test, not per example)."""
    folder = tmp_path_factory.mktemp("engine-properties")
    return (folder / f"m-{n}.db" for n in itertools.count())


@given(feed=feeds)
def test_a_generated_feed_registers_each_patient_first_and_refunds_only_what_was_paid(
    feed: list[Fact],
) -> None:
    registered: set[str] = set()
    left: dict[str, int] = {}
    for before, fact in zip([None, *feed], feed, strict=False):
        assert before is None or before.occurred_at <= fact.occurred_at
        assert (fact.patient_id in registered) != isinstance(fact, PatientRegistered)
        registered.add(fact.patient_id)
        if isinstance(fact, ChargePaid):
            left[fact.charge_id] = fact.amount_fen
        if isinstance(fact, RefundIssued):
            left[fact.charge_id] -= fact.amount_fen
            assert left[fact.charge_id] >= 0
    assert len({fact.fact_id for fact in feed}) == len(feed)


@pytest.mark.slow
@given(feed=feeds)
def test_ingesting_a_feed_again_changes_nothing_and_counts_every_fact_a_duplicate(
    manager: pluggy.PluginManager, feed: list[Fact]
) -> None:
    now = _after(feed)
    with _open(manager, "memory://", now) as engine:
        first = engine.ingest(feed, now=now)
        assert (first.applied, first.duplicates, first.rejected) == (len(feed), 0, 0)
        records, journals, outbox = _records(engine), _journals(engine), _outbox(engine)
        versions = {
            key: r.version for key, r in engine.store.load(list(map(member_key, records))).items()
        }
        again = engine.ingest(feed, now=now + timedelta(days=1))
        assert again == IngestReport(duplicates=len(feed))
        assert _records(engine) == records
        assert _journals(engine) == journals
        assert _outbox(engine) == outbox
        assert {k: r.version for k, r in engine.store.load(list(versions)).items()} == versions


@pytest.mark.slow
@given(feed=feeds)
def test_the_batch_size_does_not_change_what_a_feed_leaves(
    manager: pluggy.PluginManager, feed: list[Fact]
) -> None:
    now = _after(feed)
    seen = []
    for size in (1, 7, 1000):
        with _open(manager, "memory://", now, batch_size=size) as engine:
            report = engine.ingest(feed, now=now)
            assert report.applied == len(feed)
            assert report.commits == len(range(0, len(feed), size))
            seen.append((_records(engine), _journals(engine), _outbox(engine)))
    assert seen[0] == seen[1] == seen[2]


# Two engines, a new SQLite file and 200 days of ticks per example: ~80 ms. The feeds are
# those of the memory-only properties above, so 50 examples suffice here.
@settings(max_examples=50)
@given(feed=feeds)
def test_memory_and_sqlite_stores_leave_the_same_records(
    manager: pluggy.PluginManager, files: Iterator[Path], feed: list[Fact]
) -> None:
    now = _after(feed)
    later = now + timedelta(days=200)  # journey timers, vesting, member days, a tier review
    results = []
    for url in ("memory://", f"sqlite:///{next(files)}"):
        with _open(manager, url, now) as engine:
            engine.ingest(feed, now=now)
            engine.tick(later)
            results.append(
                (
                    _records(engine),
                    _journals(engine),
                    _outbox(engine),
                    engine.store.due(later + timedelta(days=3650), 100),
                    list(engine.store.tasks(None)),
                )
            )
    assert results[0] == results[1]


def _household_moves(data: st.DataObject, patients: list[str]) -> list[object]:
    """Perhaps a household of the patients: the first the head, perhaps one leaving."""
    if len(patients) < 2 or not data.draw(st.booleans(), label="household"):
        return []
    head, *others = patients
    moves: list[object] = [FormHousehold(key="form", household_id="hh-1", head_id=head)]
    for other in others:
        relationship: Relationship = data.draw(st.sampled_from(["spouse", "parent", "child"]))
        moves.append(
            AddDependent(
                key=f"add-{other}",
                household_id="hh-1",
                member_id=other,
                relationship=relationship,
                guardian_id=head,
            )
        )
    if data.draw(st.booleans(), label="one leaves"):
        moves.append(
            RemoveDependent(key="leave", household_id="hh-1", member_id=others[0], reason="搬离")
        )
    return moves


def _replayed(
    records: Iterator[Record], store: Store, rebuild: Callable[[str, list[Any]], T]
) -> Iterator[tuple[Record, T, T]]:
    """Each record, the state its whole journal makes, and the one its snapshot is of."""
    for record in records:
        journal = store.events(record.key)
        whole = [message_from_json(e.payload) for e in journal]
        upto = [
            event
            for e, event in zip(journal, whole, strict=True)
            if e.version <= record.snapshot_version
        ]
        record_id = record.key.partition(":")[2]
        yield record, rebuild(record_id, whole), rebuild(record_id, upto)


# A year of ticks makes an example cost ~50 ms (monthly member days, birthdays, reviews);
# 100 examples keep the test near five seconds in CI.
@settings(max_examples=100)
@given(feed=feeds, data=st.data())
def test_replaying_the_stored_journal_rebuilds_the_stored_record(
    manager: pluggy.PluginManager, feed: list[Fact], data: st.DataObject
) -> None:
    now = _after(feed)
    # Snapshots written at every commit, or now and then with the journal in between.
    every = data.draw(st.sampled_from([1, 2, 16]), label="snapshot_every")
    with _open(manager, "memory://", now, snapshot_every=every) as engine:
        engine.ingest(feed, now=now)
        # In a batch of their own: registrations must be stored before a household forms.
        moves = _household_moves(data, sorted({fact.patient_id for fact in feed}))
        assert engine.ingest(moves, now=now).rejected == 0
        engine.tick(now + timedelta(days=365))
        # An engine of its own over the same store: it reads every record, caching none.
        fresh = Engine(engine.store, CONFIG, clock=engine.clock, plugins=collect(manager, CONFIG))
        members = engine.store.scan("member:")
        for record, rebuilt, at_snapshot in _replayed(members, engine.store, replay):
            # The snapshot is the journal replayed up to its version.
            assert record_to_json(at_snapshot) == record.snapshot
            # The whole journal makes the record the engine serves, household_id included:
            # the household events that concern a member are in their journal too.
            member_id = rebuilt.member_id
            assert record_to_json(fresh.member(member_id)) == record_to_json(rebuilt)
            assert engine.member(member_id) == fresh.member(member_id)
        homes = engine.store.scan("household:")
        for record, home, home_at_snapshot in _replayed(homes, engine.store, households.replay):
            assert record_to_json(home_at_snapshot) == record.snapshot
            assert fresh.household(home.household_id) == home
