"""Opening SQL stores read-only: nothing created, migrated or written; reads as usual."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from membercore import reference_config
from membercore.errors import OutdatedSchemaError, StorageError, StoreUnavailableError
from membercore.plugins import make_plugin_manager
from membercore.ports import Delivery, Positioned
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore.testing.contracts import T0, every_table
from membercore.testing.contracts.accounts import lookup_of, staff_of, token_of
from membercore_adapters.demo.hospital import HospitalSpec, timed_messages
from membercore_adapters.stores import memory, postgres, sqlite
from membercore_adapters.stores.postgres import MIGRATIONS as PG_MIGRATIONS
from membercore_adapters.stores.postgres import SCHEMA_VERSION as PG_VERSION
from membercore_adapters.stores.postgres import PostgresStore
from membercore_adapters.stores.postgres import schema as postgres_schema
from membercore_adapters.stores.sql import (
    Opening,
    SqlStore,
    opened_as,
    opening,
    read_only,
    without_migrating,
)
from membercore_adapters.stores.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore
from membercore_adapters.stores.sqlite import schema as sqlite_schema
from membercore_adapters.testing import schema_relations

# -- helpers ----------------------------------------------------------------------------


def _schema(url: str) -> str:
    return url.rpartition("schema=")[2]


def _admin(postgres_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(postgres_url, autocommit=True)


def _pg_tables(postgres_url: str, schema: str) -> set[str]:
    """Every relation in the schema: tables, sequences, indexes."""
    return schema_relations(f"{postgres_url}?schema={schema}", kinds="")


def _pg_schema_exists(postgres_url: str, schema: str) -> bool:
    with _admin(postgres_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
        return row.fetchone() == (1,)


def _files(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file of ``folder``: its content's digest and its modification time."""
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
    }


def _open_engine(url: str, at: datetime) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
    return Engine.open(
        url, config=reference_config(), clock=ManualClock(at), plugin_manager=manager
    )


_STREAM = list(timed_messages(HospitalSpec(patients=6, months=3)))
_END = _STREAM[-1][0] + timedelta(days=1)


def _written(url: str) -> list[str]:
    """Write a small hospital's history into the store at ``url``; its members' ids."""
    lines = [
        (at, Positioned(raw=message, position=f"line {number}"))
        for number, (at, message) in enumerate(_STREAM, start=1)
    ]
    with _open_engine(url, _END) as engine:
        engine.ingest(lines, source="his")
        engine.ingest(["{not json", '{"type": "no_such_fact"}'])
        return [record.key.partition(":")[2] for record in engine.store.scan("member:")]


def _reads(engine: Engine, members: list[str]) -> dict[str, object]:
    """Everything the read commands show, through the engine and its store."""
    store = engine.store
    return {
        "members": [engine.member(member) for member in members],
        "tags": [engine.tags(member) for member in members],
        "segments": [engine.segment(member) for member in members],
        "journals": [store.events(f"member:{member}") for member in members],
        "outbox": list(store.outbox()),
        "pending": list(store.outbox("pending")),
        "tasks": list(store.tasks(None)),
        "dead_letters": list(store.dead_letters()),
        "position": engine.position("his"),
    }


# -- the context ------------------------------------------------------------------------


def test_the_stricter_way_of_opening_holds_in_nested_blocks() -> None:
    assert opened_as() is Opening.MIGRATING
    with without_migrating():
        assert opened_as() is Opening.CURRENT
        with read_only():
            assert opened_as() is Opening.READ_ONLY
        assert opened_as() is Opening.CURRENT
    with read_only(), without_migrating(), opening(Opening.MIGRATING):
        assert opened_as() is Opening.READ_ONLY
    assert opened_as() is Opening.MIGRATING


def test_a_store_opened_read_only_stays_so_after_the_block(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    SqliteStore(path).close()
    with read_only():
        store = SqliteStore(path)
    with store, pytest.raises(StorageError, match="opened read-only"):
        store.commit(every_table())


def test_without_migrating_still_creates_a_missing_store(tmp_path: Path) -> None:
    with without_migrating(), SqliteStore(tmp_path / "new.db") as store:
        assert store.schema_version == SCHEMA_VERSION
        assert not store.read_only


# -- SQLite ------------------------------------------------------------------------------


def test_a_missing_sqlite_file_is_no_store_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with read_only(), pytest.raises(StoreUnavailableError) as raised:
        SqliteStore.open(f"sqlite:///{path}")
    assert f"no store at {str(path)!r}: nothing was created" in str(raised.value)
    assert list(tmp_path.iterdir()) == []
    with read_only(), pytest.raises(StoreUnavailableError, match="directory does not exist"):
        SqliteStore(tmp_path / "nowhere" / "m.db")
    assert list(tmp_path.iterdir()) == []


def test_a_memory_database_has_no_store_to_open_read_only() -> None:
    with read_only(), pytest.raises(StoreUnavailableError, match="in-memory"):
        SqliteStore.open("sqlite:///:memory:")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "holds no membercore schema"),  # SQLite reads an empty file as empty
        (b"hospital notes, not a database" * 200, "not a SQLite database"),
        (None, "holds no membercore schema"),  # a SQLite database of something else
    ],
    ids=["empty", "text", "other-database"],
)
def test_a_sqlite_file_that_is_not_a_membercore_store_is_refused_unchanged(
    tmp_path: Path, content: bytes | None, said: str
) -> None:
    path = tmp_path / "other.db"
    if content is None:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE patients (name TEXT)")
        conn.close()
    else:
        path.write_bytes(content)
    before = _files(tmp_path)
    with read_only(), pytest.raises(StoreUnavailableError) as raised:
        SqliteStore(path)
    assert "is not a membercore store" in str(raised.value)
    assert said in str(raised.value)
    assert "nothing was changed" in str(raised.value)
    assert _files(tmp_path) == before


def test_a_sqlite_store_of_an_earlier_schema_is_refused_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", MIGRATIONS[:4])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", 4)
    SqliteStore(path).close()
    monkeypatch.undo()
    before = _files(tmp_path)
    with read_only(), pytest.raises(OutdatedSchemaError) as raised:
        SqliteStore(path)
    assert (raised.value.found, raised.value.latest) == (4, SCHEMA_VERSION)
    assert _files(tmp_path) == before


def test_a_sqlite_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with read_only(), pytest.raises(StorageError, match="newer"):
        SqliteStore(path)


def test_reading_a_sqlite_store_creates_and_changes_no_file(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with SqliteStore(path) as store:
        store.commit(every_table())
    before = _files(tmp_path)
    assert list(before) == ["m.db"]  # closed cleanly: no write-ahead log left
    with read_only(), SqliteStore(path) as store:
        assert store.read_only
        assert store.load(["member:p-1"])["member:p-1"].version == 1
        assert len(list(store.outbox())) == 1
        assert _files(tmp_path) == before  # no -wal, no -shm beside it
    assert _files(tmp_path) == before


def test_a_sqlite_store_another_connection_is_writing_reads_each_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    with SqliteStore(path) as writer:
        writer.commit(every_table())
        with read_only(), SqliteStore(path) as reader:
            assert reader.load(["member:p-1"])["member:p-1"].version == 1
            writer.commit(every_table(expected_version=1))  # the reader holds no lock
            assert reader.load(["member:p-1"])["member:p-1"].version == 2
            assert len(reader.events("member:p-1")) == len(writer.events("member:p-1"))
    with SqliteStore(path) as store:  # the writer's log was taken in: nothing lost
        assert store.load(["member:p-1"])["member:p-1"].version == 2


def test_a_sqlite_store_written_by_short_lived_writers_while_it_is_read_reads_each_commit(
    tmp_path: Path,
) -> None:
    # Read while nothing writes it (no write-ahead log beside it), the store is then
    # written by writers that each open, commit and close (as `ingest` run by cron
    # does), taking their log into the file as they close, while the reader reads on.
    path = tmp_path / "m.db"
    url = f"sqlite:///{path}"
    members = _written(url)
    with read_only():
        reader = SqliteStore(path)
    with reader:
        records = {record.key: record.version for record in reader.scan()}
        logged = len(list(reader.inputs()))
        for round_ in range(1, 6):
            at = _END + timedelta(days=round_)
            with _open_engine(url, at) as engine:  # a writer that comes and goes
                engine.ingest(
                    [
                        {
                            "type": "checked_in",
                            "fact_id": f"in-{round_}-{member}",
                            "patient_id": member,
                            "occurred_at": at.isoformat(),
                            "channel": "app",
                        }
                        for member in members
                    ]
                )
                engine.tick()
            assert not Path(f"{path}-wal").exists()  # its log was taken into the file
            now = {record.key: record.version for record in reader.scan()}
            changed = [now[f"member:{m}"] > records[f"member:{m}"] for m in members]
            assert all(changed)
            assert len(list(reader.inputs())) > logged
            first = f"member:{members[0]}"
            assert reader.events(first)[-1].version == now[first]  # its journal read whole
            records, logged = now, len(list(reader.inputs()))
    assert not Path(f"{path}-wal").exists()
    assert not Path(f"{path}-shm").exists()


_READ_IN_A_READ_ONLY_FOLDER = """
import sys
from membercore_adapters.stores.sql import read_only
from membercore_adapters.stores.sqlite import SqliteStore
with read_only(), SqliteStore(sys.argv[1]) as store:
    print(store.load(["member:p-1"])["member:p-1"].version, len(list(store.outbox())))
"""


def test_a_sqlite_store_in_a_folder_the_reader_cannot_write_is_read(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        _read_in_a_read_only_folder(tmp_path, None)
        return
    # Root writes any folder: read as an unprivileged user, in a process of its own, in
    # a folder that user can reach (pytest's own are root's alone).
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no unprivileged reader to test with")
    nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    tried = subprocess.run(
        [*nobody, sys.executable, "-c", "import membercore_adapters.stores.sqlite"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if tried.returncode != 0:
        pytest.skip(f"an unprivileged user cannot run this Python: {tried.stderr[-200:]}")
    with tempfile.TemporaryDirectory() as reachable:
        Path(reachable).chmod(0o755)
        _read_in_a_read_only_folder(Path(reachable), nobody)


def _read_in_a_read_only_folder(where: Path, reader: list[str] | None) -> None:
    """Write a store in a folder of ``where``, then read it there with the folder read-only.

    ``reader``: the command that runs the reading process as another user (None: read here).
    """
    folder = where / "store"
    folder.mkdir()
    path = folder / "m.db"
    with SqliteStore(path) as store:
        store.commit(every_table())
    path.chmod(0o644)
    before = _files(folder)
    folder.chmod(0o555)
    try:
        if reader is None:
            with read_only(), SqliteStore(path) as store:
                read = [store.load(["member:p-1"])["member:p-1"].version, len(list(store.outbox()))]
        else:
            done = subprocess.run(
                [*reader, sys.executable, "-c", _READ_IN_A_READ_ONLY_FOLDER, str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            read = [int(found) for found in done.stdout.split()]
    finally:
        folder.chmod(0o755)
    assert read == [1, 1]
    assert _files(folder) == before


def test_writing_to_a_sqlite_store_opened_read_only_fails(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with SqliteStore(path) as store:
        store.commit(every_table())
    with read_only(), SqliteStore(path) as store:
        _every_write_fails(store)
    # A writer beside it: its log is read too.
    with SqliteStore(path), read_only(), SqliteStore(path) as store:
        _every_write_fails(store)
    with SqliteStore(path) as store:
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def _every_write_fails(store: SqlStore) -> None:
    """Each write is refused by the store, and by the database when the store is passed by."""
    with pytest.raises(StorageError, match="committing refused: the store was opened read-only"):
        store.commit(every_table(expected_version=1))
    with pytest.raises(StorageError, match="read-only"):
        store.claim_outbox(T0, 10, worker="w", lease=timedelta(minutes=1))
    with pytest.raises(StorageError, match="read-only"):
        store.claim_due(T0, 10, worker="w", lease=timedelta(minutes=1))
    with pytest.raises(StorageError, match="read-only"):
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="r-1"))
    with pytest.raises(StorageError, match="read-only"):
        store.record_outcome("m-1", "delivered", T0)
    with pytest.raises(StorageError, match="read-only"):
        store.repack()
    # Accounts, too: tokens, staff accounts, look-ups.
    with pytest.raises(StorageError, match=r"adding a token refused: .* read-only"):
        store.add_token(token_of("a1"))
    with pytest.raises(StorageError, match="read-only"):
        store.revoke_token("a1", T0)
    with pytest.raises(StorageError, match="read-only"):
        store.save_staff_account(staff_of("hm-01"))
    with pytest.raises(StorageError, match="read-only"):
        store.record_lookup(lookup_of("p-1"))
    assert list(store.tokens()) == list(store.staff_accounts()) == list(store.lookups()) == []
    # The database itself refuses, as a StorageError naming the work.
    with pytest.raises(StorageError, match="deleting failed") as raised:
        store._write_all("deleting", [("DELETE FROM outbox", [()])])
    assert "read" in str(raised.value).lower()  # SQLite: readonly; PostgreSQL: read-only
    assert len(list(store.outbox())) == 1


def test_a_sqlite_store_reads_the_same_read_only_through_the_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    members = _written(url)
    with _open_engine(url, _END) as engine:
        expected = _reads(engine, members)
    assert expected["outbox"]
    assert expected["dead_letters"]
    assert expected["position"]
    before = _files(tmp_path)
    with read_only():
        engine = _open_engine(url, _END)
    with engine:
        assert engine.store.read_only  # type: ignore[attr-defined]
        assert _reads(engine, members) == expected
    assert _files(tmp_path) == before


# -- PostgreSQL ---------------------------------------------------------------------------


def test_a_missing_postgres_schema_is_no_store_and_nothing_is_created(
    postgres_schema_url: str, postgres_url: str
) -> None:
    schema = _schema(postgres_schema_url)
    with read_only(), pytest.raises(StoreUnavailableError) as raised:
        PostgresStore.open(postgres_schema_url)
    assert f"no membercore store in schema {schema} of database" in str(raised.value)
    assert "the schema does not exist" in str(raised.value)
    assert "nothing was created" in str(raised.value)
    assert not _pg_schema_exists(postgres_url, schema)


def test_an_empty_postgres_schema_is_no_store_and_gains_no_table(
    postgres_schema_url: str, postgres_url: str
) -> None:
    schema = _schema(postgres_schema_url)
    with _admin(postgres_url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    with read_only(), pytest.raises(StoreUnavailableError) as raised:
        PostgresStore.open(postgres_schema_url)
    assert f"no membercore store in schema {schema}" in str(raised.value)
    assert "it holds no membercore tables" in str(raised.value)
    assert _pg_tables(postgres_url, schema) == set()


def test_a_postgres_store_of_an_earlier_schema_is_refused_unchanged(
    postgres_schema_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", PG_MIGRATIONS[:4])
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", 4)
    PostgresStore.open(postgres_schema_url).close()
    monkeypatch.undo()
    before = _pg_tables(postgres_url, _schema(postgres_schema_url))
    with read_only(), pytest.raises(OutdatedSchemaError) as raised:
        PostgresStore.open(postgres_schema_url)
    assert (raised.value.found, raised.value.latest) == (4, PG_VERSION)
    assert _pg_tables(postgres_url, _schema(postgres_schema_url)) == before


def test_writing_to_a_postgres_store_opened_read_only_fails(postgres_schema_url: str) -> None:
    with PostgresStore.open(postgres_schema_url) as store:
        store.commit(every_table())
    with read_only(), PostgresStore.open(postgres_schema_url) as store:
        assert store.read_only
        _every_write_fails(store)
    with PostgresStore.open(postgres_schema_url) as store:
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_a_postgres_store_reads_the_same_read_only_through_the_engine(
    postgres_schema_url: str, postgres_url: str
) -> None:
    members = _written(postgres_schema_url)
    with _open_engine(postgres_schema_url, _END) as engine:
        expected = _reads(engine, members)
    assert expected["outbox"]
    assert expected["dead_letters"]
    assert expected["position"]
    with read_only():
        engine = _open_engine(postgres_schema_url, _END)
    with engine:
        assert _reads(engine, members) == expected


def test_every_session_of_a_postgres_store_opened_read_only_is_read_only(
    postgres_schema_url: str,
) -> None:
    PostgresStore.open(postgres_schema_url).close()
    with read_only(), PostgresStore.open(postgres_schema_url) as store:
        (row,) = store._query("asking", "SHOW default_transaction_read_only")
        assert row == ("on",)
    with PostgresStore.open(postgres_schema_url) as store:
        (row,) = store._query("asking", "SHOW default_transaction_read_only")
        assert row == ("off",)
