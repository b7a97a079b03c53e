"""What the SQL stores log under ``membercore.store``: openings, schemas, conflicts, repacks."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from membercore.errors import VersionConflictError
from membercore.testing.contracts import every_table
from membercore_adapters.stores.postgres import SCHEMA_VERSION as PG_VERSION
from membercore_adapters.stores.postgres import PostgresStore
from membercore_adapters.stores.sql import read_only
from membercore_adapters.stores.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore
from membercore_adapters.stores.sqlite import schema as sqlite_schema


@pytest.fixture
def said(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="membercore.store")
    return caplog


def _lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "membercore.store" and record.levelno == level
    ]


def test_a_new_sqlite_store_says_it_created_its_schema_and_opened(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    SqliteStore.open(url).close()
    assert _lines(said) == [
        f"created the schema of store {url} at version {SCHEMA_VERSION}",
        f"opened store {url} (schema version {SCHEMA_VERSION})",
    ]
    said.clear()
    SqliteStore.open(url).close()
    assert _lines(said) == [f"opened store {url} (schema version {SCHEMA_VERSION})"]


def test_a_migrated_sqlite_store_says_from_which_version_to_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, said: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.db"
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", MIGRATIONS[:4])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", 4)
    SqliteStore(path).close()
    monkeypatch.undo()
    said.clear()
    SqliteStore(path).close()
    assert _lines(said)[0] == (
        f"migrated store sqlite:///{path} from schema version 4 to {SCHEMA_VERSION}"
    )


def test_a_store_opened_read_only_says_so(tmp_path: Path, said: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "m.db"
    SqliteStore(path).close()
    said.clear()
    with read_only():
        SqliteStore(path).close()
    assert _lines(said) == [
        f"opened store sqlite:///{path} read-only (schema version {SCHEMA_VERSION})"
    ]


def test_a_version_conflict_is_said_at_debug_naming_the_records(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.db"
    with SqliteStore(path) as first, SqliteStore(path) as second:
        first.commit(every_table())
        said.clear()
        with pytest.raises(VersionConflictError):
            second.commit(every_table())
    (conflict,) = _lines(said, logging.DEBUG)
    assert "version conflict on 1 records (member:p-1), nothing written" in conflict
    assert _lines(said) == []  # not at INFO: the engine retries it


def test_a_repack_says_what_it_moved(tmp_path: Path, said: pytest.LogCaptureFixture) -> None:
    with SqliteStore(tmp_path / "m.db") as store:
        store.commit(every_table())
        said.clear()
        assert store.repack() == (0, 0)
    assert _lines(said) == [
        f"repacked store sqlite:///{tmp_path}/m.db: 0 events moved into the journal, "
        "0 snapshots packed"
    ]


def test_a_postgres_store_is_logged_without_its_password(
    postgres_schema_url: str, said: pytest.LogCaptureFixture
) -> None:
    parts = urlsplit(postgres_schema_url)
    host = parts.netloc.rpartition("@")[2]
    # The test server trusts its clients: the password is carried, never checked.
    url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:pw-9f2c@{host}"))
    PostgresStore.open(url).close()
    with read_only():
        PostgresStore.open(url).close()
    lines = _lines(said)
    assert lines[0].startswith("created the schema of store postgresql://")
    assert lines[-1].endswith(f"read-only (schema version {PG_VERSION})")
    assert all(":***@" in line for line in lines)
    assert "pw-9f2c" not in said.text
