"""Dropping a PostgreSQL store: its tables go, in one transaction; nothing else does."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from membercore.errors import StorageError
from membercore.testing.contracts import assert_empty, every_table
from membercore_adapters.stores.postgres import SCHEMA_VERSION, PostgresStore, drop_store
from membercore_adapters.stores.postgres.schema import STORE_FUNCTIONS, STORE_TABLES
from membercore_adapters.testing import postgres_schema, schema_relations


def _schema(url: str) -> str:
    return url.rpartition("schema=")[2]


def _admin(postgres_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(postgres_url, autocommit=True)


def _tables(postgres_url: str, schema: str) -> set[str]:
    return schema_relations(f"{postgres_url}?schema={schema}")


def _run(postgres_url: str, statement: str, schema: str) -> None:
    with _admin(postgres_url) as conn:
        conn.execute(sql.SQL(statement).format(schema=sql.Identifier(schema)))


def test_the_tables_dropped_are_every_table_a_store_keeps(
    postgres_schema_url: str, postgres_url: str
) -> None:
    PostgresStore.open(postgres_schema_url).close()
    kept = _tables(postgres_url, _schema(postgres_schema_url))
    assert kept == set(STORE_TABLES) - {"events"}  # events is legacy_events since v5
    assert set(drop_store(postgres_schema_url)) == kept


def test_a_dropped_store_is_empty_and_usable_and_its_schema_stays(
    postgres_schema_url: str, postgres_url: str
) -> None:
    with PostgresStore.open(postgres_schema_url) as store:
        store.commit(every_table())
    dropped = drop_store(postgres_schema_url)
    assert {"records", "schema_version"} <= set(dropped)
    schema = _schema(postgres_schema_url)
    assert _tables(postgres_url, schema) == set()
    with _admin(postgres_url) as conn:
        found = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
        assert found.fetchone() == (1,)  # the schema, and its grants, stay
    with PostgresStore.open(postgres_schema_url) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert_empty(store)
        store.commit(every_table())
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_the_lookups_trigger_function_goes_with_the_tables(
    postgres_schema_url: str, postgres_url: str
) -> None:
    schema = _schema(postgres_schema_url)
    PostgresStore.open(postgres_schema_url).close()
    assert _functions(postgres_url, schema) == set(STORE_FUNCTIONS)
    drop_store(postgres_schema_url)
    assert _functions(postgres_url, schema) == set()
    with PostgresStore.open(postgres_schema_url) as store:  # made anew, trigger and all
        assert _functions(postgres_url, schema) == set(STORE_FUNCTIONS)
        assert list(store.lookups()) == []


def _functions(postgres_url: str, schema: str) -> set[str]:
    with _admin(postgres_url) as conn:
        rows = conn.execute(
            "SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s",
            (schema,),
        ).fetchall()
    return {name for (name,) in rows}


def test_dropping_leaves_other_schemas_and_other_tables_as_they_were(
    postgres_schema_url: str, postgres_url: str
) -> None:
    schema = _schema(postgres_schema_url)
    with PostgresStore.open(postgres_schema_url) as store:
        store.commit(every_table())
    # The hospital's own table in the store's schema, and another store beside it.
    _run(postgres_url, "CREATE TABLE {schema}.ward_notes (note text)", schema)
    _run(postgres_url, "INSERT INTO {schema}.ward_notes VALUES ('kept')", schema)
    with postgres_schema(postgres_url) as other_url:
        with PostgresStore.open(other_url) as other:
            other.commit(every_table())
        drop_store(postgres_schema_url)
        with PostgresStore.open(other_url) as other:
            assert other.load(["member:p-1"])["member:p-1"].version == 1
            assert len(list(other.outbox())) == 1
    assert _tables(postgres_url, schema) == {"ward_notes"}
    with _admin(postgres_url) as conn:
        notes = sql.SQL("SELECT note FROM {}.ward_notes").format(sql.Identifier(schema))
        assert conn.execute(notes).fetchall() == [("kept",)]


def test_a_schema_without_a_membercore_store_is_left_as_it_is(
    postgres_schema_url: str, postgres_url: str
) -> None:
    schema = _schema(postgres_schema_url)
    _run(postgres_url, "CREATE SCHEMA {schema}", schema)
    _run(postgres_url, "CREATE TABLE {schema}.records (what text)", schema)  # not ours
    assert drop_store(postgres_schema_url) == ()
    assert _tables(postgres_url, schema) == {"records"}
    assert drop_store(postgres_schema_url.replace(schema, f"{schema}_none")) == ()


def test_a_drop_the_database_refuses_drops_nothing(
    postgres_schema_url: str, postgres_url: str
) -> None:
    schema = _schema(postgres_schema_url)
    with PostgresStore.open(postgres_schema_url) as store:
        store.commit(every_table())
    _run(postgres_url, "CREATE VIEW {schema}.report AS SELECT key FROM {schema}.records", schema)
    with pytest.raises(StorageError, match="dropping the store failed") as raised:
        drop_store(postgres_schema_url)
    assert "report" in str(raised.value)  # what depends on the table
    assert _tables(postgres_url, schema) == set(STORE_TABLES) - {"events"}
    with PostgresStore.open(postgres_schema_url) as store:
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_a_store_a_later_release_wrote_is_not_dropped(
    postgres_schema_url: str, postgres_url: str
) -> None:
    PostgresStore.open(postgres_schema_url).close()
    schema = _schema(postgres_schema_url)
    later = f"INSERT INTO {{schema}}.schema_version (version) VALUES ({SCHEMA_VERSION + 1})"
    _run(postgres_url, later, schema)
    with pytest.raises(StorageError, match="newer than this membercore knows"):
        drop_store(postgres_schema_url)
    assert "records" in _tables(postgres_url, schema)


def test_dropping_is_logged_as_a_warning_without_the_password(
    postgres_schema_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    parts = urlsplit(postgres_schema_url)
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    # The test server trusts its clients: the password is carried, never checked.
    with_password = urlunsplit(parts._replace(netloc=f"{user}:s3cr3t-pw@{host}"))
    PostgresStore.open(with_password).close()
    caplog.set_level(logging.DEBUG, logger="membercore.store")
    drop_store(with_password)
    (warned,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warned.name == "membercore.store"
    assert f"dropped the membercore store in schema {_schema(postgres_schema_url)}" in (
        warned.getMessage()
    )
    assert "s3cr3t-pw" not in caplog.text
    assert ":***@" in warned.getMessage()
