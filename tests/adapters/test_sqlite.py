from __future__ import annotations

import importlib
import shutil
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import attrs
import pytest

from membercore import Engine, reference_config
from membercore.errors import StorageError, StoreUnavailableError, VersionConflictError
from membercore.facts import ChargeLine, ChargePaid, Fact, PatientRegistered
from membercore.ports import Commit
from membercore.serialization import message_from_stored
from membercore.service.member import replay
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore.testing.contracts import T0, assert_empty, every_table
from membercore.testing.contracts.accounts import lookup_of, staff_of, token_of
from membercore_adapters.stores import memory as memory_adapter
from membercore_adapters.stores import packing, rows
from membercore_adapters.stores import sqlite as sqlite_adapter
from membercore_adapters.stores.memory import MemoryStore
from membercore_adapters.stores.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore
from membercore_adapters.stores.sqlite import schema as sqlite_schema

from .accounts import keeps_accounts_after_migrating, keeps_no_secret
from .case_loads import BEFORE_CASE_LOADS
from .outcomes import BEFORE_OUTCOMES, awaits_outcomes, outcome_queries
from .packed_journal import (
    BEFORE_PACKING,
    carries_on_packed,
    reads_a_text_snapshot_first,
    repacks,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "membercore.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(path)
    yield store
    store.close()


def _micros(instant: datetime) -> int:
    """An instant as the store keeps it: microseconds since the Unix epoch."""
    return (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")
        return {name for (name,) in rows}


# -- the schema and its migrations -------------------------------------------------------


@contextmanager
def _written_at_schema(
    path: Path, monkeypatch: pytest.MonkeyPatch, version: int
) -> Iterator[sqlite3.Connection]:
    """A file created at schema ``version``, open to write rows as that schema held them.

    The migrations after it run when the test next opens the store.
    """
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", MIGRATIONS[:version])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", version)
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        yield conn
    conn.close()
    monkeypatch.undo()


def _task_as_written(conn: sqlite3.Connection, key: str) -> None:
    """The task of ``every_table(key)``, written as a schema before 11 held it.

    The store's own statement names the key a schema of 11 has.
    """
    conn.execute(
        "INSERT INTO tasks (task_key, key, kind, role, assignee, due_at, status, payload) "
        "VALUES (?, ?, 'call', 'nurse', NULL, ?, 'open', '{}')",
        (f"task-{key}", key, _micros(T0)),
    )
    conn.commit()


def test_a_file_of_schema_ten_keys_tasks_by_record_and_keeps_them(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _written_at_schema(path, monkeypatch, 10) as conn, SqliteStore(path) as store:
        for key in ("member:p-1", "member:p-2"):
            store.commit(attrs.evolve(every_table(key), tasks=()))
            _task_as_written(conn, key)
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 11
        kept = [(t.key, t.task_key, t.status) for t in store.tasks(None)]
        assert kept == [
            ("member:p-1", "task-member:p-1", "open"),
            ("member:p-2", "task-member:p-2", "open"),
        ]
        # Another member's task of a key already used is a task of its own.
        other = attrs.evolve(store.tasks().__next__(), key="member:p-2", assignee="hm-01")
        store.commit(Commit(tasks=[other]))
        assert [(t.key, t.task_key, t.assignee) for t in store.tasks(None)] == [
            ("member:p-1", "task-member:p-1", None),
            ("member:p-2", "task-member:p-1", "hm-01"),
            ("member:p-2", "task-member:p-2", None),
        ]
        assert len(list(store.outbox())) == len(list(store.inputs())) == 2
    assert "tasks_by_record" not in _tables(path)
    assert {"tasks_due", "tasks_open", "tasks_load"} <= _tables(path)


def test_opening_a_new_file_creates_the_schema_and_records_its_version(
    store: SqliteStore, path: Path
) -> None:
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert {
        "records",
        "journal",
        "legacy_events",
        "inbox",
        "outbox",
        "dead_letters",
        "tasks",
        "records_due",
        "outbox_pending",
        "tasks_open",
        "tasks_load",
        "api_tokens",
        "staff_accounts",
        "lookups",
        "lookups_member",
        "lookups_who",
    } <= _tables(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_reopening_a_file_keeps_its_data_and_migrates_nothing_again(path: Path) -> None:
    with SqliteStore(path) as store:
        store.commit(every_table())
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.load(["member:p-1"])["member:p-1"].version == 1
        store.commit(every_table(expected_version=1))
        assert [e.version for e in store.events("member:p-1")] == [1, 2]


def test_a_new_migration_is_applied_on_reopening_and_keeps_the_data(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SqliteStore(path) as store:
        store.commit(every_table())
    later = (*MIGRATIONS, ("CREATE TABLE audit (at INTEGER NOT NULL, what TEXT NOT NULL)",))
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", later)
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", len(later))
    with SqliteStore(path) as store:
        assert store.schema_version == len(later)
        assert store.load(["member:p-1"])["member:p-1"].snapshot == '{"points":1}'
    assert "audit" in _tables(path)


def test_a_file_of_schema_one_gains_outbox_claims_and_keeps_its_messages(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A message as schema 1 stored it.
    with _written_at_schema(path, monkeypatch, 1) as conn:
        conn.execute(
            "INSERT INTO outbox (message_id, key, channel, payload, send_at) "
            "VALUES ('m-member:p-1-1', 'member:p-1', 'sms', '{}', ?)",
            (_micros(T0),),
        )
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 2
        (claimed,) = store.claim_outbox(T0, 10, worker="w-1", lease=timedelta(minutes=5))
        assert claimed.message_id == "m-member:p-1-1"
        assert store.claim_outbox(T0, 10, worker="w-2", lease=timedelta(minutes=5)) == []
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT claimed_by FROM outbox").fetchone()
    assert row == ("w-1",)


def test_a_file_of_schema_two_gains_record_claims_and_keeps_its_records(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A record as schema 2 stored it.
    with _written_at_schema(path, monkeypatch, 2) as conn:
        conn.execute(
            "INSERT INTO records (key, version, snapshot, snapshot_version, due_at) "
            "VALUES ('member:p-1', 1, '{}', 1, ?)",
            (_micros(T0),),
        )
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 3
        lease = timedelta(minutes=5)
        assert store.claim_due(T0, 10, worker="w-1", lease=lease) == [("member:p-1", T0)]
        assert store.claim_due(T0, 10, worker="w-2", lease=lease) == []
        assert store.load(["member:p-1"])["member:p-1"].version == 1
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT claimed_by FROM records").fetchone()
    conn.close()
    assert row == ("w-1",)


def test_a_file_of_schema_three_gains_case_loads_from_the_journals(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records and journals as schema 3 stored them.
    with _written_at_schema(path, monkeypatch, 3) as conn:
        conn.executemany(
            "INSERT INTO records (key, version, snapshot, snapshot_version) VALUES (?, ?, '{}', ?)",
            [(key, version, version) for key, version in BEFORE_CASE_LOADS["records"]],
        )
        conn.executemany(
            "INSERT INTO events (key, version, seq, type, at, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [(k, v, n, t, _micros(T0), p) for k, v, n, t, p in BEFORE_CASE_LOADS["events"]],
        )
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        assert store.case_loads() == BEFORE_CASE_LOADS["loads"]


def _before_packing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record and its journal as schema 4 stored them."""
    with _written_at_schema(path, monkeypatch, 4) as conn:
        conn.execute(
            "INSERT INTO records (key, version, snapshot, snapshot_version) VALUES (?, ?, ?, ?)",
            BEFORE_PACKING["record"],
        )
        conn.executemany(
            "INSERT INTO events (key, version, seq, type, at, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [(k, v, n, t, _micros(at), p) for k, v, n, t, at, p in BEFORE_PACKING["events"]],
        )


def test_a_file_of_schema_four_reads_its_journal_as_written_and_packs_what_follows(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _before_packing(path, monkeypatch)
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 5
        carries_on_packed(store)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM legacy_events").fetchone() == (3,)
        journal = conn.execute("SELECT version, typeof(events) FROM journal").fetchall()
        record = conn.execute("SELECT snapshot, typeof(packed) FROM records").fetchone()
    conn.close()
    assert journal == [(3, "blob"), (4, "blob")]
    assert record == ("", "blob")


def test_repacking_moves_an_earlier_releases_journal_and_snapshot_into_packed_form(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _before_packing(path, monkeypatch)
    with SqliteStore(path) as store:
        repacks(store)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM legacy_events").fetchone() == (0,)
        record = conn.execute("SELECT snapshot, typeof(packed) FROM records").fetchone()
    conn.close()
    assert record == ("", "blob")


def test_a_file_of_schema_six_gains_outcomes_and_keeps_its_delivered_messages(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Messages as schema 6 stored them.
    with _written_at_schema(path, monkeypatch, 6) as conn:
        conn.executemany(
            "INSERT INTO outbox (message_id, key, channel, payload, send_at, status, receipt, "
            "delivered_at) VALUES (?, 'member:p-1', 'sms', '{}', ?, ?, ?, ?)",
            [
                (message_id, _micros(T0), status, receipt, None if at is None else _micros(at))
                for message_id, status, receipt, at in BEFORE_OUTCOMES
            ],
        )
    conn.close()
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 7
        awaits_outcomes(store)
    assert {"outbox_awaiting", "outbox_sent_to"} <= _tables(path)


def test_the_outcome_listings_are_read_through_their_indexes(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = outcome_queries(store, monkeypatch)
    plans = [
        " ".join(row[3] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {sql}", parameters))
        for sql, parameters in asked
    ]
    assert "USING INDEX outbox_awaiting (channel=? AND delivered_at>?)" in plans[0]
    assert "USING INDEX outbox_sent_to (channel=? AND address=? AND delivered_at>?)" in plans[1]


def test_a_file_of_schema_seven_gains_accounts_and_keeps_every_row(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _written_at_schema(path, monkeypatch, 7) as conn, SqliteStore(path) as store:
        store.commit(attrs.evolve(every_table(), inputs=(), tasks=()))
        _task_as_written(conn, "member:p-1")
    assert "api_tokens" not in _tables(path)
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 8
        keeps_accounts_after_migrating(store)


def test_a_file_of_schema_eight_gains_an_input_log_that_counts_the_records_before_it(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _written_at_schema(path, monkeypatch, 8), SqliteStore(path) as store:
        store.commit(attrs.evolve(every_table("member:p-1"), inputs=(), tasks=()))
        store.commit(attrs.evolve(every_table("member:p-2"), inputs=(), tasks=()))
    assert "inputs" not in _tables(path)
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 9
        assert store.unlogged() == 2
        assert list(store.inputs()) == []
        store.commit(every_table("member:p-3"))
        assert [entry.keys for entry in store.inputs()] == [("member:p-3",)]
        assert store.unlogged() == 2
        assert len(list(store.scan())) == 3


def test_the_input_log_is_neither_changed_nor_removed_in_the_file(
    store: SqliteStore, path: Path
) -> None:
    store.commit(every_table())
    with sqlite3.connect(path) as conn:
        for statement in ("UPDATE inputs SET kind = 'tick'", "DELETE FROM inputs"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    conn.close()
    assert [entry.kind for entry in store.inputs()] == ["fact"]


def test_a_marker_of_erasing_another_program_committed_is_removed_when_the_store_opens(
    store: SqliteStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.commit(every_table())
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO erasing (marker) VALUES ('mine')")
        conn.execute("UPDATE inputs SET kind = 'tick'")  # let through while it stands
    conn.close()
    with SqliteStore(path) as reopened:
        assert "outlived their transaction" in caplog.text
        assert [entry.kind for entry in reopened.inputs()] == ["tick"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM erasing").fetchone() == (0,)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE inputs SET kind = 'fact'")
    conn.close()


def test_the_store_release_0_1_0_wrote_gains_accounts_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store-v1.db"
    shutil.copy(FIXTURES / "store-v1.db", path)
    with sqlite3.connect(path) as conn:
        (written_at,) = conn.execute("PRAGMA user_version").fetchone()
        before = conn.execute("SELECT key, version, snapshot FROM records ORDER BY key").fetchall()
        events = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    assert before
    assert written_at < 8  # before accounts
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [(r.key, r.version, r.snapshot) for r in store.scan()] == before
        assert (sum(len(store.events(key)) for key, _, _ in before),) == events
        assert list(store.tokens()) == list(store.lookups()) == []
        assert list(store.inputs()) == []
        assert store.unlogged() == len(before)
        store.record_lookup(lookup_of("p-lin"))
        assert [lookup.member_id for lookup in store.lookups()] == ["p-lin"]


def test_lookups_are_neither_changed_nor_removed_in_the_file(
    store: SqliteStore, path: Path
) -> None:
    store.record_lookup(lookup_of("p-1"))
    with sqlite3.connect(path) as conn:
        for statement in ("UPDATE lookups SET who = 'someone else'", "DELETE FROM lookups"):
            with pytest.raises(sqlite3.IntegrityError, match="look-ups are append-only"):
                conn.execute(statement)
    conn.close()
    with pytest.raises(StorageError, match="append-only"):
        store._write_all("removing look-ups", [("DELETE FROM lookups", [()])])
    assert list(store.lookups()) == [lookup_of("p-1")]


def test_a_scope_a_later_release_added_grants_nothing_and_an_unknown_role_is_named(
    store: SqliteStore, path: Path
) -> None:
    store.add_token(token_of("a1", scopes=("read",)))
    store.save_staff_account(staff_of("md-01"))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE api_tokens SET scopes = 'export read'")
        conn.execute("UPDATE staff_accounts SET role = 'surgeon'")
    conn.close()
    assert store.token("a1") == token_of("a1", scopes=("read",))
    for read in (lambda: store.staff_account("md-01"), lambda: list(store.staff_accounts())):
        with pytest.raises(StorageError, match="reading staff account 'md-01': unknown role"):
            read()


def test_the_file_keeps_no_token_secret_and_no_password(tmp_path: Path) -> None:
    path = tmp_path / "secrets.db"

    def written() -> bytes:
        files = [path, Path(f"{path}-wal")]
        return b"".join(file.read_bytes() for file in files if file.exists())

    with SqliteStore(path) as store:
        keeps_no_secret(store, written)


def test_a_failing_migration_leaves_the_schema_and_data_as_they_were(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SqliteStore(path) as store:
        store.commit(every_table())
    broken = (*MIGRATIONS, ("CREATE TABLE audit (at INTEGER)", "CREATE TABLE audit (again)"))
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", broken)
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StorageError, match="already exists"):
        SqliteStore(path)
    monkeypatch.undo()
    assert "audit" not in _tables(path)
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_a_file_from_a_newer_membercore_is_refused(path: Path) -> None:
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer"):
        SqliteStore(path)


# -- the connection ----------------------------------------------------------------------


def test_the_file_runs_in_wal_mode_with_normal_sync_and_a_busy_timeout(
    store: SqliteStore, path: Path
) -> None:
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn = store._conn  # the settings are per connection
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)


def test_two_stores_on_one_file_share_records_and_conflict(path: Path) -> None:
    with SqliteStore(path) as first, SqliteStore(path) as second:
        first.commit(every_table())
        assert second.load(["member:p-1"])["member:p-1"].version == 1
        second.commit(every_table(expected_version=1))
        with pytest.raises(VersionConflictError) as raised:
            first.commit(every_table(expected_version=1))
        assert raised.value.conflicts == {"member:p-1": 1}
        assert first.load(["member:p-1"])["member:p-1"].version == 2


def test_a_store_used_from_another_thread_raises_a_storage_error(store: SqliteStore) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.load(["member:p-1"])
        except BaseException as e:  # collected for the main thread to inspect
            errors.append(e)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], StorageError)
    assert isinstance(errors[0].__cause__, sqlite3.ProgrammingError)


# -- URLs --------------------------------------------------------------------------------


def test_a_url_with_three_slashes_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    with SqliteStore.open("sqlite:///var/members.db") as store:
        assert store.url == "sqlite:///var/members.db"
        store.commit(every_table())
    assert (tmp_path / "var" / "members.db").is_file()


def test_a_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    with SqliteStore.open(f"sqlite:///{tmp_path}/abs.db") as store:
        store.commit(every_table())
    assert str(tmp_path).startswith("/")
    assert (tmp_path / "abs.db").is_file()


@pytest.mark.parametrize("url", ["sqlite:///:memory:"])
def test_a_memory_url_named_as_such_opens_a_private_database_each_time(url: str) -> None:
    with SqliteStore.open(url) as first, SqliteStore.open(url) as second:
        first.commit(every_table())
        assert second.load(["member:p-1"]) == {}
        assert first.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://db/members",
        "sqlite:/x.db",
        "sqlite://host/x.db",
        "sqlite:///x.db?mode=ro",
        "x.db",
    ],
)
def test_a_url_that_names_no_local_sqlite_file_is_refused(url: str) -> None:
    with pytest.raises(StorageError) as raised:
        SqliteStore.open(url)
    assert raised.value.store == url


# -- driver errors -------------------------------------------------------------------------


def test_a_missing_directory_makes_the_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="does not exist") as raised:
        SqliteStore.open(f"sqlite:///{tmp_path}/missing/members.db")
    assert raised.value.store == f"sqlite:///{tmp_path}/missing/members.db"


def test_a_directory_in_place_of_the_file_makes_the_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError) as raised:
        SqliteStore(tmp_path)
    assert isinstance(raised.value.__cause__, sqlite3.Error)


def test_a_file_that_is_not_a_database_raises_a_storage_error(path: Path) -> None:
    path.write_bytes(b"this is not a SQLite database, just some text" * 100)
    with pytest.raises(StorageError, match="not a database") as raised:
        SqliteStore(path)
    assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)


def test_a_locked_database_raises_a_storage_error_and_writes_nothing(path: Path) -> None:
    with SqliteStore(path, busy_timeout=0.05) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageError, match="locked") as raised:
                store.commit(every_table())
            assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert_empty(store)
        store.commit(every_table())  # the store is usable once the lock is gone
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_a_driver_error_midway_through_a_commit_writes_nothing(
    store: SqliteStore, path: Path
) -> None:
    # The tasks are written last: everything else of the commit is in by then.
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_tasks BEFORE INSERT ON tasks "
            "BEGIN SELECT RAISE(ABORT, 'tasks are refused'); END"
        )
    with pytest.raises(StorageError, match="tasks are refused") as raised:
        store.commit(every_table())
    assert isinstance(raised.value.__cause__, sqlite3.Error)
    assert_empty(store)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER refuse_tasks")
    store.commit(every_table())
    assert store.load(["member:p-1"])["member:p-1"].version == 1


class _FailingConnection:
    """Passes everything to the real connection, and fails one kind of write."""

    def __init__(self, conn: sqlite3.Connection, failing: str, error: BaseException) -> None:
        self._conn = conn
        self._failing = failing
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        if self._failing in sql:
            raise self._error
        return self._conn.executemany(sql, rows)


@pytest.mark.parametrize(
    ("failing", "error", "expected"),
    [
        ("INTO dead_letters", RuntimeError("the process is going down"), RuntimeError),
        ("INTO outbox", KeyboardInterrupt(), KeyboardInterrupt),
        ("INTO journal", sqlite3.OperationalError("disk I/O error"), StorageError),
    ],
)
def test_any_failure_inside_the_transaction_rolls_it_back(
    store: SqliteStore,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
    error: BaseException,
    expected: type[BaseException],
) -> None:
    store.commit(every_table("member:p-0"))
    monkeypatch.setattr(store, "_conn", _FailingConnection(store._conn, failing, error))
    with pytest.raises(expected):
        store.commit(every_table())
    monkeypatch.undo()
    assert set(store.load(["member:p-0", "member:p-1"])) == {"member:p-0"}
    assert store.events("member:p-1") == []
    assert store.seen(["fact-member:p-1-1"]) == {}
    assert [m.key for m in store.outbox()] == ["member:p-0"]
    assert [d.fact_id for d in store.dead_letters()] == ["bad-member:p-0"]
    assert [t.key for t in store.tasks()] == ["member:p-0"]


# -- registration ------------------------------------------------------------------------


def _registered(hook: Callable[[Callable[[str, Any], None]], None]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    hook(found.__setitem__)
    return found


def test_the_adapters_register_their_schemes() -> None:
    assert _registered(sqlite_adapter.membercore_register_stores) == {"sqlite": SqliteStore.open}
    assert _registered(memory_adapter.membercore_register_stores) == {"memory": MemoryStore.open}


def test_the_adapters_and_the_contract_are_installed_as_entry_points() -> None:
    stores = {ep.name: ep.value for ep in entry_points(group="membercore")}
    assert stores["memory"] == "membercore_adapters.stores.memory"
    assert stores["sqlite"] == "membercore_adapters.stores.sqlite"
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins["membercore"] == "membercore.testing.pytest_plugin"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("membercore_adapters.memory", "membercore_adapters.stores.memory"),
        ("membercore_adapters.sqlite", "membercore_adapters.stores.sqlite"),
        ("membercore_adapters.storebase", "membercore_adapters.stores.base"),
    ],
)
def test_the_old_module_paths_give_the_moved_modules_with_a_warning(
    old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_a_damaged_packed_snapshot_or_journal_is_a_storage_error_naming_the_record(
    store: SqliteStore, path: Path
) -> None:
    store.commit(every_table("member:p-1"))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE records SET packed = x'02ffff' WHERE key = 'member:p-1'")
        conn.execute("UPDATE journal SET events = x'09' WHERE key = 'member:p-1'")
    conn.close()
    with pytest.raises(StorageError, match="reading record member:p-1: damaged packed value"):
        store.load(["member:p-1"])
    with pytest.raises(StorageError, match="reading record member:p-1: damaged"):
        list(store.scan())
    with pytest.raises(StorageError, match="reading member:p-1 v1: not a commit's packed events"):
        store.events("member:p-1")


def test_a_text_snapshot_an_earlier_release_wrote_over_a_packed_one_is_read(
    store: SqliteStore, path: Path
) -> None:
    def write_text(text: str) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE records SET snapshot = ?, version = 1", (text,))
        conn.close()

    reads_a_text_snapshot_first(store, write_text)


@pytest.mark.parametrize(
    ("damage", "read", "says"),
    [
        (
            "UPDATE records SET packed = 'hello'",
            "load",
            "reading record member:p-1: not a packed value",
        ),
        (
            "UPDATE records SET packed = NULL",
            "load",
            "reading record member:p-1: the record holds no",
        ),
        (
            "UPDATE journal SET events = CAST(x'ff00ff' AS TEXT)",
            "events",
            "reading the events of member:p-1 failed",
        ),
    ],
)
def test_a_snapshot_or_journal_damaged_outside_membercore_names_the_record(
    store: SqliteStore, path: Path, damage: str, read: str, says: str
) -> None:
    store.commit(every_table("member:p-1"))
    with sqlite3.connect(path) as conn:
        conn.execute(damage)
    conn.close()
    reading = {
        "load": lambda: store.load(["member:p-1"]),
        "events": lambda: store.events("member:p-1"),
    }
    with pytest.raises(StorageError, match=says):
        reading[read]()


def test_events_read_while_another_store_repacks_come_once(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _before_packing(path, monkeypatch)
    key = BEFORE_PACKING["record"][0]
    with SqliteStore(path) as reader, SqliteStore(path) as packer:
        written = reader.events(key)
        query = reader._query

        def repacked_between(doing: str, sql: str, parameters: Any = ()) -> list[Any]:
            rows = query(doing, sql, parameters)
            if "FROM legacy_events" in sql:
                packer.repack()  # commits between the reader's legacy and journal reads
            return rows

        monkeypatch.setattr(reader, "_query", repacked_between)
        assert reader.events(key) == written


def test_a_database_another_application_keeps_is_refused_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "his.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE patients (id TEXT, name TEXT)")
        conn.execute("INSERT INTO patients VALUES ('P1', '王秀英')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match=r"another application's tables \(patients\)"):
        SqliteStore(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["his.db"]  # no -wal, no -shm


def test_an_empty_database_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).close()  # an empty file, as a new database is
    with SqliteStore(path) as store:
        assert_empty(store)


def test_a_store_an_earlier_release_packed_with_deflate_reads_and_carries_on_in_zstandard(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{path}"
    me = "p-deflate"
    line = ChargeLine(department="dental", category="exam", amount_fen=50_000)

    def facts(first: int, count: int) -> list[Fact]:
        return [
            ChargePaid(
                fact_id=f"c-{n}",
                patient_id=me,
                occurred_at=T0 + timedelta(days=n),
                charge_id=f"ch-{n}",
                lines=(line,),
            )
            for n in range(first, first + count)
        ]

    def opened() -> Engine:
        return Engine.open(
            url, config=reference_config(), clock=ManualClock(T0 + timedelta(days=60))
        )

    with monkeypatch.context() as earlier:  # what 0.2.0 wrote: deflate, formats 1 and 2
        earlier.setattr(packing, "JOURNAL", packing.DEFLATE_JOURNAL)
        earlier.setattr(rows, "JOURNAL", packing.DEFLATE_JOURNAL)
        earlier.setattr(rows, "RECORD", packing.DEFLATE_RECORD)
        with opened() as engine:
            registered = PatientRegistered(fact_id="reg", patient_id=me, occurred_at=T0)
            for fact in [registered, *facts(1, 12)]:
                engine.ingest([fact], now=fact.occurred_at)
            before = engine.member(me)
    with opened() as engine:
        assert engine.member(me) == before  # read cold, from deflate
        for fact in facts(13, 12):
            engine.ingest([fact], now=fact.occurred_at)
        after = engine.member(me)
        journal = list(engine.store.events(member_key(me)))
    assert after.ledger != before.ledger
    with opened() as engine:
        assert engine.member(me) == after  # read cold, across both formats
    assert replay(me, (message_from_stored(event.payload) for event in journal)) == after
    with sqlite3.connect(path) as conn:
        formats = [packed[0] for (packed,) in conn.execute("SELECT events FROM journal")]
        (snapshot,) = conn.execute("SELECT packed FROM records WHERE key = ?", (member_key(me),))
    conn.close()
    assert set(formats) == {packing.DEFLATE_JOURNAL, packing.JOURNAL}
    assert snapshot[0][0] == packing.RECORD


def test_two_connections_opening_a_new_file_at_once_both_open_it(tmp_path: Path) -> None:
    # Two workers started together on a new file: each waits for the other's switch to
    # WAL and schema, and neither takes the other's half-made schema for a foreign one.
    failures: list[BaseException] = []
    for round_ in range(300):
        path = tmp_path / f"new-{round_}.db"
        start = threading.Barrier(2)

        def open_it(path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                SqliteStore(path).close()
            except StorageError as error:
                failures.append(error)

        openers = [threading.Thread(target=open_it) for _ in range(2)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert failures == []
