"""The PostgreSQL store as a distributed PostgreSQL would take it, table by table.

The schema's keys are read from PostgreSQL's catalogue; the statements are every one the
store sends while the whole conformance suite runs against it (a tracing cursor), checked
as the test that sent them ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import psycopg.sql
import pytest

from membercore import reference_config
from membercore.consent import GrantConsent
from membercore.facts import PatientRegistered
from membercore.outreach import RequestMessage
from membercore.ports import DeliveryReport, OutboxMessage
from membercore.service.dispatch import Backoff
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore.testing.contracts import AccountsContract, ErasureContract, StoreContract
from membercore_adapters.stores import postgres as postgres_stores
from membercore_adapters.stores.postgres import PostgresStore
from membercore_adapters.stores.postgres.distribution import (
    DISTRIBUTED,
    EVERY_NODE,
    NUMBERED,
    REFERENCE,
    on_every_node,
    spaced,
)

_CHANGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)", re.IGNORECASE)
_INSERTED = re.compile(r"\bINSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)
_SET = re.compile(
    r"\bUPDATE\s+(\w+)(?:\s+AS\s+\w+)?\s+SET\s+(.*?)(?=\bWHERE\b|\bFROM\b|\bRETURNING\b|$)",
    re.IGNORECASE | re.DOTALL,
)
_CONFLICT_SET = re.compile(r"\bDO\s+UPDATE\s+SET\s+(.*)$", re.IGNORECASE | re.DOTALL)


_normal = spaced


def _names(statement: str, table: str, column: str) -> bool:
    """Whether ``statement`` names ``table``'s row by ``column``: inserts it, or asks it equal."""
    for inserted, columns in _INSERTED.findall(statement):
        if inserted == table and (
            table in NUMBERED or column in {c.strip() for c in columns.split(",")}
        ):
            return True
    where = statement.partition(" WHERE ")[2]
    # Equal to a value given with the statement: a parameter, or a list of them.
    given = r"(?:=\s*(?:\?|%s|%b|%\(\w+\)s|ANY\s*\()|IN\s*\()"
    return re.search(rf"\b(?:\w+\.)?{column}\s*{given}", where) is not None


def _sets(statement: str) -> set[tuple[str, str]]:
    """The (table, column) pairs of distribution columns ``statement`` would change."""
    changed = set()
    for table, assignments in _SET.findall(statement):
        column = DISTRIBUTED.get(table)
        if column is not None and re.search(rf"(?:^|,)\s*{column}\s*=", assignments):
            changed.add((table, column))
    conflict = _CONFLICT_SET.search(statement)
    inserted = _INSERTED.search(statement)
    if conflict is not None and inserted is not None:
        column = DISTRIBUTED.get(inserted.group(1))
        if column is not None and re.search(rf"(?:^|,)\s*{column}\s*=", conflict.group(1)):
            changed.add((inserted.group(1), column))
    return changed


def unrouted(statement: str) -> list[str]:
    """What keeps ``statement`` from its rows' nodes; nothing when it is fit to distribute."""
    text = _normal(statement)
    if not text.upper().startswith(_CHANGES):
        return []  # the schema's own statements, when a store opens
    found = [f"it changes {table}.{column}" for table, column in sorted(_sets(text))]
    if on_every_node(text):
        return found
    for table in sorted({t for t in _TABLE.findall(text) if t in DISTRIBUTED}):
        column = DISTRIBUTED[table]
        if not _names(text, table, column):
            found.append(f"it reads or writes {table} without naming its {column}")
    return found


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement the store sends from now on, checked when the test ends."""
    statements: list[str] = []
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def traced_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query))
        return execute(self, query, *args, **kwargs)

    def traced_executemany(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query))
        return executemany(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", traced_execute)
    monkeypatch.setattr(psycopg.Cursor, "executemany", traced_executemany)
    yield statements
    unfit = {_normal(s): why for s in statements if (why := unrouted(s))}
    assert not unfit, "\n".join(f"{s}\n    {'; '.join(why)}" for s, why in unfit.items())


class _Traced:
    @pytest.fixture
    def store(
        self, postgres_schema_url: str, request: pytest.FixtureRequest
    ) -> Iterator[PostgresStore]:
        # Traced once the schema is made: its migrations are not the store's work.
        store = PostgresStore.open(postgres_schema_url)
        request.getfixturevalue("sent")
        yield store
        store.close()


class TestTheStoreNamesTheRecordOfWhatItWrites(_Traced, StoreContract):
    """The store's conformance suite, its statements checked."""


class TestTheAccountsNameTheirRows(_Traced, AccountsContract):
    """The accounts' conformance suite, its statements checked."""


class TestTheErasureMovesRecordsAndNeverRekeysThem(_Traced, ErasureContract):
    """The erasure's conformance suite, its statements checked."""


# -- the engine's own work: a message's way names its record -------------------------------

_MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
_LOOKED_UP = _normal(next(o for o in EVERY_NODE if o.startswith("SELECT key FROM outbox")))


class _Channel:
    """An SMS or WeCom provider that takes what it is handed, failing the first ``down``."""

    def __init__(self, name: str, *, down: int = 0) -> None:
        self.name = name
        self.down = down

    def send(self, message: OutboxMessage) -> str:
        if self.down:
            self.down -= 1
            raise ConnectionError("provider unreachable")
        return f"r-{message.message_id}"

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> list[DeliveryReport]:
        return [DeliveryReport(message_id=m.message_id, delivered=True, at=now) for m in awaiting]


def test_the_engine_hands_over_and_hears_of_messages_on_their_records_node(
    postgres_schema_url: str, request: pytest.FixtureRequest
) -> None:
    PostgresStore.open(postgres_schema_url).close()  # the schema made: traced from here on
    sent: list[str] = request.getfixturevalue("sent")
    clock = ManualClock(_MONDAY)
    with Engine.open(postgres_schema_url, config=reference_config(), clock=clock) as engine:
        for patient in ("p-wang", "p-li"):
            registered = PatientRegistered(
                fact_id=f"reg-{patient}",
                patient_id=patient,
                occurred_at=_MONDAY,
                phone="13800138000",
                wecom=f"wm-{patient}",
            )
            engine.ingest([registered])
            engine.execute(
                GrantConsent(
                    key=f"grant-{patient}",
                    member_id=patient,
                    purpose="care",
                    channels=("wecom", "sms"),
                    given_by=patient,
                    source="app",
                )
            )
            engine.execute(
                RequestMessage(
                    key=f"ask-{patient}",
                    member_id=patient,
                    template_key="hba1c_recheck",
                    purpose="care",
                    variables={"name": "王女士"},
                    reason="test",
                )
            )
        channels = {"wecom": _Channel("wecom", down=1), "sms": _Channel("sms")}
        policy = Backoff(first=timedelta(minutes=1), attempts=3)
        engine.dispatch(channels, backoff=policy)
        clock.advance(timedelta(minutes=2))
        engine.dispatch(channels, backoff=policy)
        read = engine.read_reports(channels)
        assert read.delivered == 2
        outcomes = [(m.key, m.status, m.attempts, m.outcome) for m in engine.store.outbox()]
        assert outcomes == [
            ("member:p-wang", "delivered", 1, "delivered"),
            ("member:p-li", "delivered", 0, "delivered"),
        ]
    assert _LOOKED_UP not in {_normal(s)[: len(_LOOKED_UP)] for s in sent}


def test_repacking_an_earlier_releases_rows_reads_and_moves_them_by_record(
    postgres_url: str, postgres_schema_url: str, request: pytest.FixtureRequest
) -> None:
    PostgresStore.open(postgres_schema_url).close()
    schema = psycopg.sql.Identifier(postgres_schema_url.rpartition("schema=")[2])
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # A record and its journal as a release before packing wrote them.
        conn.execute(
            psycopg.sql.SQL(
                "INSERT INTO {}.records (key, version, snapshot, snapshot_version) "
                "VALUES ('member:p-1', 2, '{{\"points\":1}}', 2)"
            ).format(schema)
        )
        for version in (1, 2):
            conn.execute(
                psycopg.sql.SQL(
                    "INSERT INTO {}.legacy_events (key, version, seq, type, at, payload) "
                    "VALUES ('member:p-1', %s, 0, 'posted', %s, '{{}}')"
                ).format(schema),
                (version, _MONDAY),
            )
    sent: list[str] = request.getfixturevalue("sent")
    with PostgresStore.open(postgres_schema_url) as store:
        assert store.repack() == (2, 1)
        assert [e.version for e in store.events("member:p-1")] == [1, 2]
    repacking = [s for s in map(_normal, sent) if "legacy_events" in s or "snapshot !=" in s]
    assert repacking  # the statements the repack sent, checked as the test ends


# -- the schema's keys, from the catalogue -------------------------------------------------

_UNIQUE_KEYS = """
    SELECT c.relname, i.indisprimary, array(
        SELECT coalesce(a.attname, '(expression)')
        FROM unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
        LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
        ORDER BY k.n)
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indrelid
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND i.indisunique
"""
_TABLES = """
    SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relkind = 'r'
"""


def _catalogue(postgres_url: str, url: str) -> tuple[set[str], list[tuple[str, bool, list[str]]]]:
    PostgresStore.open(url).close()
    schema = url.rpartition("schema=")[2]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        tables = {name for (name,) in conn.execute(_TABLES, (schema,))}
        keys = [(t, bool(p), list(c)) for t, p, c in conn.execute(_UNIQUE_KEYS, (schema,))]
    return tables, keys


def test_every_table_is_distributed_by_a_column_or_copied_to_every_node(
    postgres_url: str, postgres_schema_url: str
) -> None:
    tables, _keys = _catalogue(postgres_url, postgres_schema_url)
    assert not set(DISTRIBUTED) & REFERENCE
    assert tables == set(DISTRIBUTED) | REFERENCE


def test_every_key_of_a_distributed_table_starts_with_its_distribution_column(
    postgres_url: str, postgres_schema_url: str
) -> None:
    _tables, keys = _catalogue(postgres_url, postgres_schema_url)
    primary = {table for table, is_primary, _columns in keys if is_primary}
    assert set(DISTRIBUTED) <= primary
    unfit = [
        (table, columns)
        for table, _primary, columns in keys
        if table in DISTRIBUTED and columns[0] != DISTRIBUTED[table]
    ]
    assert unfit == []


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        (
            "UPDATE inbox SET fact_id = ?, key = ? WHERE fact_id = ?",
            [
                "it changes inbox.key",
                "it reads or writes inbox without naming its key",
            ],
        ),
        (
            "SELECT version FROM journal WHERE version > ?",
            ["it reads or writes journal without naming its key"],
        ),
        (
            "SELECT version FROM journal WHERE key > ?",
            ["it reads or writes journal without naming its key"],
        ),
        (
            "INSERT INTO tasks (task_key, kind) VALUES (?, ?)",
            ["it reads or writes tasks without naming its key"],
        ),
        (
            "INSERT INTO tasks (key, task_key) VALUES (?, ?) "
            "ON CONFLICT (task_key) DO UPDATE SET key = excluded.key",
            ["it changes tasks.key"],
        ),
        (
            "UPDATE outbox SET key = ? WHERE message_id = ?",
            ["it changes outbox.key", "it reads or writes outbox without naming its key"],
        ),
        (
            "UPDATE outbox SET status = 'cancelled', key = ? WHERE message_id = ANY(?)",
            ["it changes outbox.key"],
        ),
        ("UPDATE outbox SET status = 'cancelled' WHERE message_id = ANY(?)", []),
        ("SELECT version FROM journal WHERE key = ANY(%b::text[])", []),
        ("INSERT INTO journal (key, version, events) VALUES (?, ?, ?)", []),
        ("DELETE FROM tasks WHERE key = ? AND task_key = ?", []),
        ("CREATE TABLE records (key text)", []),
    ],
)
def test_a_statement_that_would_rekey_a_row_or_miss_its_node_is_found(
    statement: str, why: list[str]
) -> None:
    assert unrouted(statement) == why


def test_every_statement_sent_to_every_node_is_one_the_store_has() -> None:
    stores = Path(postgres_stores.__file__).parent.parent
    sources = _normal(" ".join(p.read_text() for p in stores.rglob("*.py")))
    missing = [opening for opening in EVERY_NODE if opening not in sources.replace('" "', "")]
    assert missing == []
