"""The engine when the store pushes back: version conflicts are retried, failures propagate.

The stores are real (memory, SQLite files); the test doubles wrap them and only change
what ``commit`` does: fail with a conflict, let another engine commit first, fail as a
full disk would, smuggle a row the database refuses halfway through the transaction, or
have the SQLite connection itself fail part-way through one of the commit's statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import hookimpl, journeys, ledger, reference_config
from membercore.consent import GrantConsent
from membercore.errors import EngineError, GaveUpError, StorageError, VersionConflictError
from membercore.facts import ChargeLine, ChargePaid, DiagnosisRecorded, PatientRegistered
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import Commit, Store, TaskRow
from membercore.service.engine import Engine, IngestReport
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite
from membercore_adapters.stores.memory import MemoryStore
from membercore_adapters.stores.sqlite.statements import CLAIM_DUE

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
JUNE = datetime(2026, 6, 2, 10, 0, tzinfo=SH)  # the first HbA1c recheck of a March diagnosis
FAR = datetime(2100, 1, 1, tzinfo=UTC)
CONFIG = reference_config()
ME = "p-lin"
MARKETING = GrantConsent(
    key="marketing", member_id=ME, purpose="marketing", channels=("sms",), given_by=ME, source="app"
)


def _manager() -> Any:
    return make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])


def _open(url: str, **options: Any) -> Engine:
    return Engine.open(
        url, config=CONFIG, clock=ManualClock(T0), plugin_manager=_manager(), **options
    )


def _over(store: Store, **options: Any) -> Engine:
    plugins = collect(_manager(), CONFIG)
    return Engine(store, CONFIG, clock=ManualClock(T0), plugins=plugins, **options)


def _charge(yuan: int, fact_id: str) -> ChargePaid:
    line = ChargeLine(department="internal", category="exam", amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id, patient_id=ME, occurred_at=T0, charge_id=f"ch-{fact_id}", lines=(line,)
    )


def _set_up(engine: Engine) -> None:
    """A registered patient with care consent and a type-2 diabetes diagnosis."""
    engine.ingest([PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=T0)])
    engine.execute(
        GrantConsent(
            key="consent",
            member_id=ME,
            purpose="care",
            channels=("wecom",),
            given_by=ME,
            source="app",
        )
    )
    diagnosis = DiagnosisRecorded(
        fact_id="dx", patient_id=ME, occurred_at=T0, icd10="E11", visit_id="v"
    )
    engine.ingest([diagnosis])


def _stored(store: Store) -> dict[str, Any]:
    key = member_key(ME)
    return {
        "record": store.load([key]),
        "events": store.events(key),
        "inbox": store.seen(["reg", "dx", "f-1", "f-2"]),
        "outbox": list(store.outbox()),
        "dead_letters": list(store.dead_letters()),
        "tasks": list(store.tasks(None)),
        "due": store.due(FAR, 100),
    }


def _stored_in(url: str) -> dict[str, Any]:
    with sqlite.SqliteStore.open(url) as store:
        return _stored(store)


def _earned(engine: Engine) -> int:
    return ledger.balances(engine.member(ME).ledger, CONFIG, T0).lifetime_earned


def _types(store: Store) -> list[str]:
    return [event.type for event in store.events(member_key(ME))]


class _Wrapped:
    """A real store behind a test double: everything but ``commit`` goes straight to it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ConflictingStore(_Wrapped):
    """Its first ``times`` commits fail with a version conflict on every key they change."""

    def __init__(self, inner: Store, times: int = 1) -> None:
        super().__init__(inner)
        self.times = times

    def commit(self, commit: Commit) -> None:
        self.attempts += 1
        if self.attempts <= self.times:
            raise VersionConflictError(
                self.url, {change.key: change.expected_version for change in commit.changes}
            )
        self.inner.commit(commit)


class InterleavedStore(_Wrapped):
    """Lets someone else commit to the same database just before its first commit."""

    def __init__(self, inner: Store, meanwhile: Callable[[], object]) -> None:
        super().__init__(inner)
        self.meanwhile = meanwhile

    def commit(self, commit: Commit) -> None:
        self.attempts += 1
        if self.attempts == 1:
            self.meanwhile()
        self.inner.commit(commit)


class BrokenStore(_Wrapped):
    """Every commit fails as a full disk would, until ``broken`` is cleared."""

    broken = True

    def commit(self, commit: Commit) -> None:
        self.attempts += 1
        if self.broken:
            raise StorageError(self.url, "committing failed: database or disk is full")
        self.inner.commit(commit)


class PoisonedStore(_Wrapped):
    """Adds to each commit a task row the database refuses, after everything else."""

    def commit(self, commit: Commit) -> None:
        self.attempts += 1
        # No kind: SQLite's NOT NULL refuses the row once the records and events are in.
        poison = TaskRow(
            task_key="poison",
            key=member_key(ME),
            kind=None,  # type: ignore[arg-type]
            role="nurse",
            assignee=None,
            due_at=T0,
        )
        self.inner.commit(attrs.evolve(commit, tasks=(*commit.tasks, poison)))


# -- version conflicts ------------------------------------------------------------------


def test_an_ingestion_that_meets_a_version_conflict_is_retried_and_applied_once() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    store = ConflictingStore(inner)
    report = _over(store).ingest([_charge(100, "f-1")])
    assert report == IngestReport(applied=1, commits=1, retries=1)
    assert store.attempts == 2
    assert _earned(_over(inner)) == 100
    assert _types(inner).count("points_posted") == 1
    assert inner.seen(["f-1"]).keys() == {"f-1"}


def test_a_command_that_meets_a_version_conflict_is_retried_and_carried_out_once() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    store = ConflictingStore(inner, times=2)
    started = _types(inner).count("journey_started")
    events = _over(store).execute(MARKETING)
    # The marketing consent also starts the member-day invitations, once.
    assert [type(event).__name__ for event in events] == [
        "ConsentGranted",
        "JourneyStarted",
        "CommandTaken",
    ]
    assert store.attempts == 3
    assert _types(inner).count("consent_granted") == 2  # care at set-up, marketing now
    assert _types(inner).count("journey_started") == started + 1


def test_a_tick_that_meets_a_version_conflict_is_retried_and_fires_each_timer_once() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    store = ConflictingStore(inner)
    _over(store).tick(JUNE)
    assert store.attempts == 2
    (diabetes,) = journeys.active(_over(inner).member(ME).journeys, "diabetes")
    assert diabetes.counters["missed"] == 1
    # The outbox holds the text a channel is handed: the recheck's, once.
    rechecks = [m for m in inner.outbox() if "糖化血红蛋白复查" in m.payload]
    assert len(rechecks) == 1


def test_another_engine_committing_to_the_same_file_first_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with _open(url) as other:
        _set_up(other)
        ours = InterleavedStore(
            sqlite.SqliteStore.open(url), lambda: other.ingest([_charge(200, "f-2")])
        )
        with _over(ours) as engine:
            report = engine.ingest([_charge(100, "f-1")])
            assert (report.applied, report.retries) == (1, 1)
            assert _earned(engine) == 300
        assert _earned(other) == 300
        versions = [event.version for event in other.store.events(member_key(ME))]
        assert versions == sorted(versions)
        (record,) = other.store.load([member_key(ME)]).values()
        assert record.version == versions[-1]


def test_a_fact_another_engine_took_first_is_a_duplicate_on_the_retry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    fact = _charge(100, "f-1")
    with _open(url) as other:
        _set_up(other)
        ours = InterleavedStore(sqlite.SqliteStore.open(url), lambda: other.ingest([fact]))
        with _over(ours) as engine:
            assert engine.ingest([fact]) == IngestReport(duplicates=1, retries=1)
            assert _earned(engine) == 100


def test_conflicts_without_end_give_up_with_an_engine_error_and_store_nothing() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    before = _stored(inner)
    store = ConflictingStore(inner, times=1_000)
    with pytest.raises(EngineError, match="3 version conflicts"):
        _over(store, retries=3).ingest([_charge(100, "f-1")])
    assert store.attempts == 3
    assert _stored(inner) == before


# -- store failures -----------------------------------------------------------------------


_OPERATIONS: dict[str, Callable[[Engine], object]] = {
    "ingest": lambda engine: engine.ingest([_charge(100, "f-1")]),
    "execute": lambda engine: engine.execute(MARKETING),
    "tick": lambda engine: engine.tick(JUNE),
}


@pytest.mark.parametrize("operation", list(_OPERATIONS))
def test_a_store_failure_at_commit_propagates_and_nothing_is_written(
    tmp_path: Path, operation: str
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with _open(url) as first:
        _set_up(first)
        before_record = first.member(ME)
    before = _stored_in(url)
    broken = BrokenStore(sqlite.SqliteStore.open(url))
    with _over(broken) as engine:
        with pytest.raises(StorageError, match="disk is full"):
            _OPERATIONS[operation](engine)
        # The engine does not believe in what it could not store.
        assert engine.member(ME) == before_record
    with _open(url) as reopened:
        assert _stored(reopened.store) == before
        assert reopened.member(ME) == before_record


@pytest.mark.parametrize("operation", list(_OPERATIONS))
def test_a_commit_the_database_refuses_halfway_leaves_nothing_behind(
    tmp_path: Path, operation: str
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with _open(url) as first:
        _set_up(first)
    before = _stored_in(url)
    poisoned = PoisonedStore(sqlite.SqliteStore.open(url))
    with _over(poisoned) as engine, pytest.raises(StorageError, match="NOT NULL"):
        _OPERATIONS[operation](engine)
    with _open(url) as reopened:
        assert _stored(reopened.store) == before


def test_an_engine_keeps_no_memory_of_a_commit_that_failed() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    engine = _over(BrokenStore(inner))
    with pytest.raises(StorageError):
        engine.ingest([_charge(100, "f-1")])
    # Another engine takes the record to the version the failed commit would have made.
    _over(inner).ingest([_charge(50, "f-2")])
    assert _earned(engine) == 50


def test_after_a_failed_commit_the_engine_carries_on_from_what_is_stored() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    (before,) = inner.load([member_key(ME)]).values()
    store = BrokenStore(inner)
    engine = _over(store)
    with pytest.raises(StorageError):
        engine.ingest([_charge(100, "f-1")])
    store.broken = False
    # The lost fact was never taken: sent again it applies, on top of the stored record.
    assert engine.ingest([_charge(100, "f-1")]) == IngestReport(applied=1, commits=1)
    assert engine.ingest([_charge(50, "f-2")]).applied == 1
    assert _earned(engine) == 150
    (after,) = inner.load([member_key(ME)]).values()
    assert after.version == before.version + 2


class FaultyConnection:
    """A real ``sqlite3`` connection that fails as a disk would, part-way into a commit.

    The statement whose SQL contains ``fails`` first writes the first half of its rows
    (at least one) for real, then raises the driver's I/O error; ``COMMIT`` itself can be
    the one that fails.
    """

    def __init__(self, inner: sqlite3.Connection, fails: str) -> None:
        self.inner = inner
        self.fails = fails
        self.armed = True
        self.failures = 0
        # A tick's claim of due records is its own transaction: its COMMIT goes through.
        self.claiming = False

    def _fail(self) -> None:
        self.failures += 1
        raise sqlite3.OperationalError("disk I/O error")

    def executemany(self, statement: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        if statement == CLAIM_DUE:
            self.claiming = True
        if self.armed and self.fails in statement:
            rows = list(rows)
            self.inner.executemany(statement, rows[: (len(rows) + 1) // 2])
            self._fail()
        return self.inner.executemany(statement, rows)

    def execute(self, statement: str, parameters: Any = ()) -> sqlite3.Cursor:
        if statement == "COMMIT" and self.claiming:
            self.claiming = False
            return self.inner.execute(statement, parameters)
        if self.armed and statement == self.fails:
            self._fail()
        return self.inner.execute(statement, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# The statements of a SQLite commit, in the order it runs them, after the version check.
_STATEMENTS = [
    "INSERT INTO records",
    "INSERT INTO journal",
    "INSERT INTO inbox",
    "INSERT INTO outbox",
    # (A commit without tasks, as these are, writes no statement of them.)
    "INSERT INTO identifiers",
    "COMMIT",
]


@pytest.mark.parametrize("fails", _STATEMENTS)
@pytest.mark.parametrize("operation", list(_OPERATIONS))
def test_a_driver_failure_part_way_through_a_commit_is_reported_and_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, fails: str
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with _open(url) as first:
        _set_up(first)
        before_record = first.member(ME)
    before = _stored_in(url)
    store = sqlite.SqliteStore.open(url)
    # The fault goes underneath the store, into its connection: the store's own code runs.
    faulty = FaultyConnection(store._conn, fails)
    monkeypatch.setattr(store, "_conn", faulty)
    with _over(store) as engine:
        with pytest.raises(StorageError, match="committing failed: disk I/O error") as raised:
            _OPERATIONS[operation](engine)
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        assert faulty.failures == 1
        assert not faulty.inner.in_transaction
        # Nothing half-written: not the rows before the failing statement, nor its half.
        with _open(url) as reopened:
            assert _stored(reopened.store) == before
            assert reopened.member(ME) == before_record
        assert engine.member(ME) == before_record
        # The same connection carries on once the disk is back, from what is stored.
        faulty.armed = False
        if operation == "tick":
            # The failed tick's claim on the member is this engine's: it ticks it again at
            # once, where another worker would wait for the lease to end.
            assert _over(store, worker="another").tick(JUNE).records == 0
            assert engine.tick(JUNE).records == 1
        else:
            _OPERATIONS[operation](engine)
    after = _stored_in(url)
    assert after["record"][member_key(ME)].version == before["record"][member_key(ME)].version + 1
    assert len(after["events"]) > len(before["events"])


def test_a_command_that_never_gets_through_names_itself_its_member_and_the_conflicts() -> None:
    inner = MemoryStore()
    _set_up(_over(inner))
    engine = _over(ConflictingStore(inner, times=100), retries=3)
    with pytest.raises(GaveUpError) as raised:
        engine.execute(MARKETING)
    message = str(raised.value)
    assert "grant_consent" in message
    assert repr(ME) in message
    assert "'marketing'" in message  # the command's key
    assert f"member:{ME} (3×)" in message
    assert raised.value.conflicts == {f"member:{ME}": 3}


def test_a_worker_started_again_under_its_name_ticks_its_claimed_members_at_once() -> None:
    store = MemoryStore()
    _set_up(_over(store))
    due = store.due(JUNE, 10)
    assert due
    # A worker claimed the due members and died before it committed.
    store.claim_due(JUNE, 10, worker="worker-1", lease=timedelta(minutes=5))
    assert _over(store, worker="worker-2").tick(JUNE).records == 0
    assert _over(store, worker="worker-1").tick(JUNE).records == len(due)


class _Fragile:
    """A plugin whose journey's action fails for one member when its timer fires."""

    @staticmethod
    def _fails_for_p1(event: Any) -> list[object]:
        if event.member_id == "p-1":
            raise ValueError("the clinic's system is down for p-1")
        return []

    @hookimpl
    def membercore_register_actions(self, register: Callable[[Any], None]) -> None:
        from membercore.journeys import ActionSpec  # noqa: PLC0415

        register(
            ActionSpec(name="fragile", params=(), doc="fails for p-1", commands=self._fails_for_p1)
        )

    @hookimpl
    def membercore_register_journeys(self, register: Callable[[Any], None]) -> None:
        from membercore.journeys import Call, Delay, JourneyDefinition, Transition, Trigger  # noqa: PLC0415

        register(
            JourneyDefinition(
                key="fragile",
                label="易错",
                purpose="care",
                states=("start", "done"),
                initial="start",
                final=("done",),
                entry=Trigger(kind="fact", type="patient_registered"),
                transitions=(
                    Transition(
                        name="later",
                        source="start",
                        target="done",
                        trigger=Trigger(kind="after", delay=Delay(days=1)),
                        actions=(Call(name="fragile", params={}),),
                    ),
                ),
            )
        )


def test_a_member_whose_tick_fails_holds_no_other_member_up() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, _Fragile()])
    clock = ManualClock(T0)
    engine = Engine.open("memory://", config=CONFIG, clock=clock, plugin_manager=manager)
    engine.ingest(
        [PatientRegistered(fact_id=f"r-{p}", patient_id=p, occurred_at=T0) for p in ("p-1", "p-2")]
    )
    report = engine.tick(T0 + timedelta(days=2))
    assert report.records == 2
    states = {i.journey: i.state for i in engine.member("p-2").journeys.instances.values()}
    assert states["fragile"] == "done"
    (letter,) = engine.dead_letters()
    assert "tick of member p-1 failed" in letter.reason
    assert "the clinic's system is down" in letter.reason
    assert engine.tick(T0 + timedelta(days=3)).records == 0  # not tried again and again


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE records SET snapshot = '{\"member_id\": [', packed = NULL",  # as text
        "UPDATE records SET snapshot = '{\"member_id\": 5}', packed = NULL",  # not a member
    ],
)
def test_a_record_damaged_outside_membercore_is_a_storage_error_naming_it(
    tmp_path: Path, damage: str
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with _open(url) as first:
        _set_up(first)
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute(damage)
    db.close()
    with _open(url) as engine, pytest.raises(StorageError) as raised:
        engine.member(ME)
    assert f"reading record {member_key(ME)}: its snapshot or journal could not be read" in str(
        raised.value
    )
