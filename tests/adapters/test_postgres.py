"""The PostgreSQL store beyond the contract: its schema, pool, URLs and driver errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import psycopg
import pytest
from psycopg import sql

from membercore.errors import (
    OutdatedSchemaError,
    StorageError,
    StoreUnavailableError,
    VersionConflictError,
)
from membercore.ports import (
    Change,
    Commit,
)
from membercore.testing.contracts import T0, assert_empty, every_table
from membercore.testing.contracts.accounts import lookup_of
from membercore_adapters.stores.postgres import (
    MIGRATIONS,
    SCHEMA_VERSION,
    PostgresStore,
)
from membercore_adapters.stores.postgres import schema as postgres_schema
from membercore_adapters.stores.postgres import store as postgres_store
from membercore_adapters.stores.postgres.statements import put, spelled
from membercore_adapters.stores.sql import without_migrating

from .accounts import keeps_accounts_after_migrating, keeps_no_secret
from .case_loads import BEFORE_CASE_LOADS
from .outcomes import BEFORE_OUTCOMES, awaits_outcomes, outcome_queries
from .packed_journal import (
    BEFORE_PACKING,
    carries_on_packed,
    reads_a_text_snapshot_first,
    repacks,
)


@pytest.fixture
def url(postgres_schema_url: str) -> str:
    return postgres_schema_url


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    with PostgresStore.open(url) as store:
        yield store


def _schema(url: str) -> str:
    return url.rpartition("schema=")[2]


def _admin(postgres_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(postgres_url, autocommit=True)


@contextmanager
def _written_at_schema(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch, version: int
) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A schema created at ``version``, open to write rows as that version held them.

    The migrations after it run when the test next opens the store.
    """
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", MIGRATIONS[:version])
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", version)
    PostgresStore.open(url).close()
    with _admin(postgres_url) as conn:
        yield conn
    monkeypatch.undo()


def _tables(postgres_url: str, schema: str) -> set[str]:
    with _admin(postgres_url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'i')",
            (schema,),
        ).fetchall()
    return {name for (name,) in rows}


# -- the schema and its migrations -------------------------------------------------------


def _task_as_written(conn: psycopg.Connection[tuple[Any, ...]], url: str, key: str) -> None:
    """The task of ``every_table(key)``, written as a schema before version 11 held it.

    The store's own statement names the key a schema of version 11 has.
    """
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.tasks (task_key, key, kind, role, assignee, due_at, status, payload) "
            "VALUES (%s, %s, 'call', 'nurse', NULL, %s, 'open', '{{}}')"
        ).format(sql.Identifier(_schema(url))),
        (f"task-{key}", key, T0),
    )


def test_opening_creates_the_schema_its_tables_and_records_its_version(
    store: PostgresStore, url: str, postgres_url: str
) -> None:
    assert store.schema == _schema(url)
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert {
        "records",
        "journal",
        "legacy_events",
        "inbox",
        "outbox",
        "dead_letters",
        "tasks",
        "schema_version",
        "records_due",
        "outbox_pending",
        "dead_letters_input",
        "tasks_open",
        "tasks_load",
        "api_tokens",
        "staff_accounts",
        "lookups",
        "lookups_member",
        "lookups_who",
    } <= _tables(postgres_url, store.schema)


def test_reopening_keeps_the_data_and_migrates_nothing_again(url: str, postgres_url: str) -> None:
    with PostgresStore.open(url) as store:
        store.commit(every_table())
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.load(["member:p-1"])["member:p-1"].version == 1
        store.commit(every_table(expected_version=1))
        assert [e.version for e in store.events("member:p-1")] == [1, 2]
    with _admin(postgres_url) as conn:
        versions = conn.execute(
            sql.SQL("SELECT version FROM {}.schema_version ORDER BY version").format(
                sql.Identifier(_schema(url))
            )
        ).fetchall()
    assert versions == [(n,) for n in range(1, SCHEMA_VERSION + 1)]


def test_a_new_migration_is_applied_on_reopening_and_keeps_the_data(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PostgresStore.open(url) as store:
        store.commit(every_table())
    later = (*MIGRATIONS, ("CREATE TABLE audit (at timestamptz NOT NULL, what text NOT NULL)",))
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", later)
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", len(later))
    with PostgresStore.open(url) as store:
        assert store.schema_version == len(later)
        assert store.load(["member:p-1"])["member:p-1"].snapshot == '{"points":1}'
    assert "audit" in _tables(postgres_url, _schema(url))


def test_a_schema_of_version_one_gains_outbox_claims_and_keeps_its_messages(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A message as schema 1 stored it.
    with _written_at_schema(url, postgres_url, monkeypatch, 1) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.outbox (message_id, key, channel, payload, send_at) "
                "VALUES ('m-member:p-1-1', 'member:p-1', 'sms', '{{}}', %s)"
            ).format(sql.Identifier(_schema(url))),
            (T0,),
        )
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 2
        (claimed,) = store.claim_outbox(T0, 10, worker="w-1", lease=timedelta(minutes=5))
        assert claimed.message_id == "m-member:p-1-1"
        assert store.claim_outbox(T0, 10, worker="w-2", lease=timedelta(minutes=5)) == []
    with _admin(postgres_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT claimed_by FROM {}.outbox").format(sql.Identifier(_schema(url)))
        ).fetchone()
    assert row == ("w-1",)


def test_a_schema_of_version_two_gains_record_claims_and_keeps_its_records(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A record as schema 2 stored it.
    with _written_at_schema(url, postgres_url, monkeypatch, 2) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.records (key, version, snapshot, snapshot_version, due_at) "
                "VALUES ('member:p-1', 1, '{{}}', 1, %s)"
            ).format(sql.Identifier(_schema(url))),
            (T0,),
        )
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 3
        lease = timedelta(minutes=5)
        assert store.claim_due(T0, 10, worker="w-1", lease=lease) == [("member:p-1", T0)]
        assert store.claim_due(T0, 10, worker="w-2", lease=lease) == []
        assert store.load(["member:p-1"])["member:p-1"].version == 1
    with _admin(postgres_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT claimed_by FROM {}.records").format(sql.Identifier(_schema(url)))
        ).fetchone()
    assert row == ("w-1",)


def test_a_schema_of_version_three_gains_case_loads_from_the_journals(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records and journals as schema 3 stored them.
    with _written_at_schema(url, postgres_url, monkeypatch, 3) as conn:
        schema = sql.Identifier(_schema(url))
        for key, version in BEFORE_CASE_LOADS["records"]:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.records (key, version, snapshot, snapshot_version) "
                    "VALUES (%s, %s, '{{}}', %s)"
                ).format(schema),
                (key, version, version),
            )
        for key, version, seq, type_, payload in BEFORE_CASE_LOADS["events"]:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.events (key, version, seq, type, at, payload) "
                    "VALUES (%s, %s, %s, %s, %s, %s)"
                ).format(schema),
                (key, version, seq, type_, T0, payload),
            )
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        assert store.case_loads() == BEFORE_CASE_LOADS["loads"]


def _before_packing(url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record and its journal as schema 4 stored them."""
    schema = sql.Identifier(_schema(url))
    with _written_at_schema(url, postgres_url, monkeypatch, 4) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.records (key, version, snapshot, snapshot_version) "
                "VALUES (%s, %s, %s, %s)"
            ).format(schema),
            BEFORE_PACKING["record"],
        )
        for key, version, seq, type_, at, payload in BEFORE_PACKING["events"]:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.events (key, version, seq, type, at, payload) "
                    "VALUES (%s, %s, %s, %s, %s, %s)"
                ).format(schema),
                (key, version, seq, type_, at, put(payload)),
            )


def test_a_schema_of_version_four_reads_its_journal_as_written_and_packs_what_follows(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = sql.Identifier(_schema(url))
    _before_packing(url, postgres_url, monkeypatch)
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 5
        carries_on_packed(store)
    with _admin(postgres_url) as conn:
        legacy = conn.execute(sql.SQL("SELECT count(*) FROM {}.legacy_events").format(schema))
        assert legacy.fetchone() == (3,)
        journal = conn.execute(sql.SQL("SELECT version FROM {}.journal ORDER BY 1").format(schema))
        assert journal.fetchall() == [(3,), (4,)]
        record = conn.execute(
            sql.SQL("SELECT snapshot, length(packed) > 0 FROM {}.records").format(schema)
        )
        assert record.fetchone() == ("", True)


def test_a_schema_of_version_six_gains_outcomes_and_keeps_its_delivered_messages(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Messages as schema 6 stored them.
    with _written_at_schema(url, postgres_url, monkeypatch, 6) as conn:
        for message_id, status, receipt, at in BEFORE_OUTCOMES:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.outbox (message_id, key, channel, payload, send_at, "
                    "status, receipt, delivered_at) "
                    "VALUES (%s, 'member:p-1', 'sms', '{{}}', %s, %s, %s, %s)"
                ).format(sql.Identifier(_schema(url))),
                (message_id, T0, status, receipt, at),
            )
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 7
        awaits_outcomes(store)
    assert {"outbox_awaiting", "outbox_sent_to"} <= _tables(postgres_url, _schema(url))


def test_a_schema_of_version_ten_gains_keys_by_record_and_keeps_every_row(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        _written_at_schema(url, postgres_url, monkeypatch, 10) as conn,
        PostgresStore.open(url) as store,
    ):
        for key in ("member:p-1", "member:p-2"):
            store.commit(attrs.evolve(every_table(key), tasks=()))
            _task_as_written(conn, url, key)
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 11
        facts = ["fact-member:p-1-1", "fact-member:p-2-1"]
        assert store.seen([*facts, "fact-unknown"]) == dict.fromkeys(facts, "f")
        assert [m.message_id for m in store.outbox()] == ["m-member:p-1-1", "m-member:p-2-1"]
        task = store.tasks(None).__next__()
        # A task written again is the same task, changed where it is.
        store.commit(Commit(tasks=[attrs.evolve(task, status="closed", assignee="hm-01")]))
        store.commit(every_table("member:p-3"))
        assert [(t.task_key, t.status) for t in store.tasks(None)] == [
            ("task-member:p-1", "closed"),
            ("task-member:p-2", "open"),
            ("task-member:p-3", "open"),
        ]
        assert len(list(store.inputs())) == 3
    indexes = _tables(postgres_url, _schema(url))
    assert {"inbox_fact", "outbox_message", "outbox_message_id", "tasks_due"} <= indexes
    assert not {"outbox_member", "tasks_member"} & indexes


def test_the_outcome_listings_are_read_through_their_indexes(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = outcome_queries(store, monkeypatch)
    plans = []
    # An empty table is read whole at once, unless the planner is told not to.
    with store._connection("explaining") as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        for statement, parameters in asked:
            rows = conn.execute(f"EXPLAIN {spelled(statement)}", parameters).fetchall()
            plans.append(" ".join(row[0] for row in rows))
    assert "Index Scan using outbox_awaiting" in plans[0]
    assert "Index Scan using outbox_sent_to" in plans[1]


def test_a_schema_of_version_seven_gains_accounts_and_keeps_every_row(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        _written_at_schema(url, postgres_url, monkeypatch, 7) as conn,
        PostgresStore.open(url) as store,
    ):
        store.commit(attrs.evolve(every_table(), inputs=(), tasks=()))
        _task_as_written(conn, url, "member:p-1")
    assert "api_tokens" not in _tables(postgres_url, _schema(url))
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 8
        keeps_accounts_after_migrating(store)


def test_a_schema_of_version_eight_gains_an_input_log_that_counts_the_records_before_it(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _written_at_schema(url, postgres_url, monkeypatch, 8), PostgresStore.open(url) as store:
        store.commit(attrs.evolve(every_table("member:p-1"), inputs=(), tasks=()))
        store.commit(attrs.evolve(every_table("member:p-2"), inputs=(), tasks=()))
    assert "inputs" not in _tables(postgres_url, _schema(url))
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION >= 9
        assert store.unlogged() == 2
        assert list(store.inputs()) == []
        store.commit(every_table("member:p-3"))
        assert [entry.keys for entry in store.inputs()] == [("member:p-3",)]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE {}.inputs SET kind = 'tick'", "DELETE FROM {}.inputs", "TRUNCATE {}.inputs"],
    ids=lambda statement: statement.split()[0],
)
def test_the_input_log_is_neither_changed_nor_removed_in_the_database(
    store: PostgresStore, url: str, postgres_url: str, statement: str
) -> None:
    store.commit(every_table())
    with _admin(postgres_url) as conn:
        refused = sql.SQL(statement).format(sql.Identifier(_schema(url)))
        with pytest.raises(psycopg.errors.RestrictViolation, match="input log is append-only"):
            conn.execute(refused)
    assert [entry.kind for entry in store.inputs()] == ["fact"]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE {}.lookups SET who = 'someone else'", "DELETE FROM {}.lookups", "TRUNCATE {}.lookups"],
    ids=lambda statement: statement.split()[0],
)
def test_lookups_are_neither_changed_nor_removed_in_the_database(
    store: PostgresStore, url: str, postgres_url: str, statement: str
) -> None:
    store.record_lookup(lookup_of("p-1"))
    with _admin(postgres_url) as conn:
        refused = sql.SQL(statement).format(sql.Identifier(_schema(url)))
        with pytest.raises(psycopg.errors.RestrictViolation, match="look-ups are append-only"):
            conn.execute(refused)
    with pytest.raises(StorageError, match="append-only"):
        store._write_all("removing look-ups", [("DELETE FROM lookups", [()])])
    assert list(store.lookups()) == [lookup_of("p-1")]


def test_a_marker_of_erasing_never_outlives_its_transaction(
    store: PostgresStore, url: str, postgres_url: str
) -> None:
    store.commit(every_table())
    schema = sql.Identifier(_schema(url))
    with _admin(postgres_url) as conn:
        mark = sql.SQL("INSERT INTO {}.erasing (marker) VALUES ('mine')").format(schema)
        with pytest.raises(psycopg.errors.RestrictViolation, match="outlive its transaction"):
            conn.execute(mark)  # autocommit: its commit is refused
        with pytest.raises(psycopg.errors.RestrictViolation, match="input log is append-only"):
            conn.execute(sql.SQL("UPDATE {}.inputs SET kind = 'tick'").format(schema))
    assert [entry.kind for entry in store.inputs()] == ["fact"]


def test_the_database_keeps_no_token_secret_and_no_password(
    store: PostgresStore, url: str, postgres_url: str
) -> None:
    def written() -> bytes:
        with _admin(postgres_url) as conn:
            tables = [
                sql.SQL("SELECT t::text FROM {}.{} AS t").format(
                    sql.Identifier(_schema(url)), sql.Identifier(table)
                )
                for table in ("api_tokens", "staff_accounts", "lookups")
            ]
            rows = [row for table in tables for (row,) in conn.execute(table).fetchall()]
        return "\n".join(rows).encode("utf-8")

    keeps_no_secret(store, written)


def test_a_failing_migration_leaves_the_schema_and_data_as_they_were(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PostgresStore.open(url) as store:
        store.commit(every_table())
    broken = (*MIGRATIONS, ("CREATE TABLE audit (at integer)", "CREATE TABLE audit (again text)"))
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", broken)
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StorageError, match="already exists") as raised:
        PostgresStore.open(url)
    assert isinstance(raised.value.__cause__, psycopg.Error)
    monkeypatch.undo()
    assert "audit" not in _tables(postgres_url, _schema(url))
    with PostgresStore.open(url) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_a_schema_from_a_newer_membercore_is_refused(url: str, postgres_url: str) -> None:
    PostgresStore.open(url).close()
    with _admin(postgres_url) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.schema_version (version) VALUES (%s)").format(
                sql.Identifier(_schema(url))
            ),
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(StorageError, match="newer"):
        PostgresStore.open(url)


def test_stores_opening_at_once_on_a_new_schema_migrate_it_once(
    url: str, postgres_url: str
) -> None:
    opening = 6
    barrier = threading.Barrier(opening)
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(PostgresStore.open(url))
        except BaseException as e:  # collected for the main thread to inspect
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(opening)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(opened) == opening
        with _admin(postgres_url) as conn:
            applied = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.schema_version").format(
                    sql.Identifier(_schema(url))
                )
            ).fetchone()
        assert applied == (SCHEMA_VERSION,)
    finally:
        for store in opened:
            store.close()


# -- sharing one store, and several ------------------------------------------------------


def test_threads_share_one_store_and_the_version_check_keeps_them_honest(
    store: PostgresStore,
) -> None:
    store.commit(Commit(changes=[Change(key="member:shared", expected_version=0, snapshot="0")]))
    conflicts: list[VersionConflictError] = []
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(20):
                key = f"member:w{worker}-{n}"
                store.commit(every_table(key))
                record = store.load(["member:shared"])["member:shared"]
                change = Change(
                    key="member:shared",
                    expected_version=record.version,
                    snapshot=str(record.version + 1),
                )
                try:
                    store.commit(Commit(changes=[change]))
                except VersionConflictError as e:
                    conflicts.append(e)
        except BaseException as e:  # collected for the main thread to inspect
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(store.scan("member:w"))) == 80
    shared = store.load(["member:shared"])["member:shared"]
    # Every commit that did not conflict moved the shared record on by exactly one.
    assert shared.version == 1 + 80 - len(conflicts)
    assert shared.snapshot == str(shared.version)


def test_two_stores_on_one_schema_share_records_and_conflict(url: str) -> None:
    with PostgresStore.open(url) as first, PostgresStore.open(url) as second:
        first.commit(every_table())
        assert second.load(["member:p-1"])["member:p-1"].version == 1
        second.commit(every_table(expected_version=1))
        with pytest.raises(VersionConflictError) as raised:
            first.commit(every_table(expected_version=1))
        assert raised.value.conflicts == {"member:p-1": 1}
        assert first.load(["member:p-1"])["member:p-1"].version == 2


def test_schemas_keep_their_stores_apart(url: str, postgres_url: str) -> None:
    other = url.replace("schema=", "schema=other_")
    try:
        with PostgresStore.open(url) as first, PostgresStore.open(other) as second:
            first.commit(every_table())
            assert second.load(["member:p-1"]) == {}
            assert second.schema == "other_" + first.schema
    finally:
        with _admin(postgres_url) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(_schema(other)))
            )


# -- driver errors -------------------------------------------------------------------------


def test_a_server_that_does_not_answer_makes_the_store_unavailable() -> None:
    url = "postgresql://membercore:hunter2-secret@127.0.0.1:1/hospital"
    with pytest.raises(StoreUnavailableError) as raised:
        PostgresStore.open(url)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    assert raised.value.store == "postgresql://membercore:***@127.0.0.1:1/hospital"
    assert "127.0.0.1" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_password_in_the_query_is_kept_out_of_errors_too() -> None:
    url = "postgresql://127.0.0.1:1/hospital?user=app&password=hunter2-secret"
    with pytest.raises(StoreUnavailableError) as raised:
        PostgresStore.open(url)
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in raised.value.store


def test_an_unknown_database_makes_the_store_unavailable(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/membercore_no_such_database"
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        PostgresStore.open(url)


def test_the_password_is_never_in_the_url_or_repr(url: str) -> None:
    # Whatever the test server's URL, give it the password "hunter2": the project's
    # servers use trust authentication, which ignores it.
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:hunter2@{parts.hostname}:{parts.port or 5432}"
    with PostgresStore.open(urlunsplit(parts._replace(netloc=netloc))) as store:
        assert "hunter2" not in store.url
        assert "hunter2" not in repr(store)
        assert ":***@" in store.url


def test_an_invalid_connection_option_is_a_storage_error_without_the_password() -> None:
    with pytest.raises(StorageError) as raised:
        PostgresStore.open("postgresql://app:hunter2@localhost/db?no_such_option=1")
    assert "no_such_option" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_missing_driver_makes_the_store_unavailable_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres_store, "MISSING_DRIVER", ImportError("no module psycopg"))
    with pytest.raises(StoreUnavailableError, match=r"membercore\[postgres\]"):
        PostgresStore.open("postgresql://localhost/db")


def test_a_driver_error_midway_through_a_commit_writes_nothing(
    store: PostgresStore, postgres_url: str
) -> None:
    # The tasks are written last but for cancellations: everything else is in by then.
    schema = sql.Identifier(store.schema)
    with _admin(postgres_url) as conn:
        conn.execute(
            sql.SQL(
                "CREATE FUNCTION {}.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'tasks are refused'; END $$"
            ).format(schema)
        )
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER refuse_tasks BEFORE INSERT ON {}.tasks "
                "FOR EACH ROW EXECUTE FUNCTION {}.refuse()"
            ).format(schema, schema)
        )
    with pytest.raises(StorageError, match="tasks are refused") as raised:
        store.commit(every_table())
    assert isinstance(raised.value.__cause__, psycopg.Error)
    assert_empty(store)
    with _admin(postgres_url) as conn:
        conn.execute(sql.SQL("DROP TRIGGER refuse_tasks ON {}.tasks").format(schema))
    store.commit(every_table())  # the store (and its pooled connection) is usable again
    assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_a_conflict_found_at_the_end_of_the_pipeline_writes_nothing(store: PostgresStore) -> None:
    store.commit(every_table("member:p-0"))
    stale = every_table("member:p-0")  # creates p-0 again: everything else would be new
    with pytest.raises(VersionConflictError) as raised:
        store.commit(Commit(changes=[*stale.changes, *every_table().changes], inbox=stale.inbox))
    assert raised.value.conflicts == {"member:p-0": 0}
    assert set(store.load(["member:p-0", "member:p-1"])) == {"member:p-0"}
    assert store.events("member:p-1") == []


def test_a_statement_failing_on_a_live_connection_is_a_storage_error(
    store: PostgresStore, postgres_url: str
) -> None:
    with _admin(postgres_url) as conn:
        conn.execute(sql.SQL("DROP TABLE {}.inbox").format(sql.Identifier(store.schema)))
    with pytest.raises(StorageError, match="reading the inbox failed") as raised:
        store.seen(["fact-1"])
    assert not isinstance(raised.value, StoreUnavailableError)
    assert isinstance(raised.value.__cause__, psycopg.errors.UndefinedTable)


def test_a_text_snapshot_an_earlier_release_wrote_over_a_packed_one_is_read(
    store: PostgresStore, url: str, postgres_url: str
) -> None:
    def write_text(text: str) -> None:
        with _admin(postgres_url) as conn:
            update = sql.SQL("UPDATE {}.records SET snapshot = %s, version = 1")
            conn.execute(update.format(sql.Identifier(_schema(url))), (text,))

    reads_a_text_snapshot_first(store, write_text)


def test_a_schema_of_an_earlier_version_is_not_migrated_where_that_is_not_allowed(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _written_at_schema(url, postgres_url, monkeypatch, 4):
        pass
    with without_migrating():
        with pytest.raises(OutdatedSchemaError, match="schema version 4") as raised:
            PostgresStore.open(url)
        assert (raised.value.found, raised.value.latest) == (4, SCHEMA_VERSION)
    assert "journal" not in _tables(postgres_url, _schema(url))  # nothing changed
    with PostgresStore.open(url) as store:  # allowed: migrated
        assert store.schema_version == SCHEMA_VERSION


def test_repacking_moves_an_earlier_releases_journal_and_snapshot_into_packed_form(
    url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _before_packing(url, postgres_url, monkeypatch)
    with PostgresStore.open(url) as store:
        repacks(store)
    schema = sql.Identifier(_schema(url))
    with _admin(postgres_url) as conn:
        legacy = conn.execute(sql.SQL("SELECT count(*) FROM {}.legacy_events").format(schema))
        assert legacy.fetchone() == (0,)
        record = conn.execute(
            sql.SQL("SELECT snapshot, length(packed) > 0 FROM {}.records").format(schema)
        )
        assert record.fetchone() == ("", True)
