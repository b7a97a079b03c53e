"""The SQLite store: the embedded default, one file (or memory), stdlib ``sqlite3`` only.

Open it by URL through the plugin manager, or directly::

    store = SqliteStore.open("sqlite:///var/membercore.db")    # relative to the cwd
    store = SqliteStore.open("sqlite:////srv/membercore.db")   # absolute
    store = SqliteStore.open("sqlite:///:memory:")             # private, gone on close

The file runs in WAL mode with ``synchronous=NORMAL``: a commit survives a crash of the
process, the last few may be lost on a power cut, and readers on other connections never
block the writer. A store is **one connection used from one thread** (``sqlite3`` checks
it: another thread gets a :class:`~membercore.errors.StorageError`); open one store per
thread or process, and let the busy timeout queue writers.

Instants are stored as integer microseconds since the Unix epoch, in UTC: they sort as
instants do, compare without parsing, and read back as aware UTC datetimes. The schema
is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order when
a store is opened, each inside the same transaction as the version bump.

Every ``sqlite3`` error is translated into :class:`~membercore.errors.StorageError`
(:class:`~membercore.errors.StoreUnavailableError` when the file cannot be opened).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import unquote

from membercore.dates import require_aware
from membercore.errors import StorageError, StoreUnavailableError
from membercore.hookspecs import StoreOpener, hookimpl
from membercore.ports import (
    Commit,
    DeadLetter,
    Delivery,
    OutboxMessage,
    Record,
    StoredEvent,
    TaskRow,
)
from membercore_adapters.stores.base import Closing, claim_until
from membercore_adapters.stores.commits import plan

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteStore", "membercore_register_stores"]

_T = TypeVar("_T")

#: The schema, one migration per version: migration ``n`` takes ``user_version`` n-1 to n.
#: Append only; never edit a released migration.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        # Rowid table: snapshots are large, so the key index stays small and dense.
        """CREATE TABLE records (
            key      TEXT PRIMARY KEY NOT NULL,
            version  INTEGER NOT NULL,
            snapshot TEXT NOT NULL,
            snapshot_version INTEGER NOT NULL,
            due_at   INTEGER
        )""",
        "CREATE INDEX records_due ON records (due_at, key) WHERE due_at IS NOT NULL",
        # Clustered on (key, version, seq): a member's journal is one contiguous range.
        """CREATE TABLE events (
            key     TEXT NOT NULL,
            version INTEGER NOT NULL,
            seq     INTEGER NOT NULL,
            type    TEXT NOT NULL,
            at      INTEGER NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (key, version, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE inbox (
            fact_id     TEXT PRIMARY KEY NOT NULL,
            key         TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            at          INTEGER NOT NULL
        )""",
        # seq is the rowid: max + 1 on insert, so it is commit order (rows are never
        # renumbered); message_id is the external idempotency key.
        """CREATE TABLE outbox (
            seq             INTEGER PRIMARY KEY,
            message_id      TEXT NOT NULL UNIQUE,
            key             TEXT NOT NULL,
            channel         TEXT NOT NULL,
            payload         TEXT NOT NULL,
            send_at         INTEGER NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending',
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            receipt         TEXT,
            last_error      TEXT,
            delivered_at    INTEGER
        )""",
        # Covering: the dispatcher skips deferred messages without touching the table.
        """CREATE INDEX outbox_pending ON outbox (seq, send_at, next_attempt_at)
            WHERE status = 'pending'""",
        "CREATE INDEX outbox_member ON outbox (key)",
        """CREATE TABLE dead_letters (
            seq       INTEGER PRIMARY KEY,
            fact_id   TEXT NOT NULL,
            fact_type TEXT NOT NULL,
            payload   TEXT NOT NULL,
            reason    TEXT NOT NULL,
            at        INTEGER NOT NULL,
            UNIQUE (fact_id, payload)
        )""",
        """CREATE TABLE tasks (
            task_key TEXT PRIMARY KEY NOT NULL,
            key      TEXT NOT NULL,
            kind     TEXT NOT NULL,
            role     TEXT NOT NULL,
            assignee TEXT,
            due_at   INTEGER NOT NULL,
            status   TEXT NOT NULL,
            payload  TEXT NOT NULL
        )""",
        "CREATE INDEX tasks_due ON tasks (due_at, task_key)",
        "CREATE INDEX tasks_open ON tasks (due_at, task_key) WHERE status = 'open'",
        "CREATE INDEX tasks_load ON tasks (assignee) WHERE status = 'open'",
        "CREATE INDEX tasks_member ON tasks (key)",
    ),
    (
        # Claims: a dispatcher holds the messages it sends until its lease ends, so that
        # two dispatchers never send one message (see SqliteStore.claim_outbox).
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claim_until INTEGER",
        # Still covering: claims skip messages under a live lease from the index alone.
        "DROP INDEX outbox_pending",
        """CREATE INDEX outbox_pending ON outbox (seq, send_at, next_attempt_at, claim_until)
            WHERE status = 'pending'""",
    ),
    (
        # Claims on due records: an engine holds the members it ticks until its lease
        # ends, so that two tickers never decide one member at once (see
        # SqliteStore.claim_due). A commit of the record releases the claim.
        "ALTER TABLE records ADD COLUMN claimed_by TEXT",
        "ALTER TABLE records ADD COLUMN claim_until INTEGER",
    ),
)
#: The schema version this module writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)

_MEMORY = ":memory:"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Keys per ``IN (...)`` query: far below every SQLite build's variable limit (999 before
# 3.32), large enough that a 1,000-fact batch costs a couple of queries.
_CHUNK = 500
# Rows per page of a streamed listing.
_PAGE = 500
# Batch commits of ~1,000 facts dirty thousands of pages: a 64 MiB page cache and a
# checkpoint every 16,000 pages (64 MiB of WAL, cut back to that size afterwards)
# measured 1.2-1.5x faster than the defaults (2 MiB, 1,000 pages).
_PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536",
    "PRAGMA wal_autocheckpoint = 16000",
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA temp_store = MEMORY",
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _to_us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _optional_us(instant: datetime | None) -> int | None:
    return None if instant is None else _to_us(instant)


@cache
def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            # Skip the surrogates, which UTF-8 (and so SQLite) cannot hold.
            following = last + 1 if not 0xD7FF <= last < 0xDFFF else 0xE000
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


_UPSERT_RECORD = """
    INSERT INTO records (key, version, snapshot, snapshot_version, due_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        version = excluded.version, snapshot = excluded.snapshot,
        snapshot_version = excluded.snapshot_version, due_at = excluded.due_at,
        claimed_by = NULL, claim_until = NULL
"""
_ADVANCE_RECORD = """
    UPDATE records SET version = ?, due_at = ?, claimed_by = NULL, claim_until = NULL
    WHERE key = ?
"""
_CANCEL_OUTBOX = (
    "UPDATE outbox SET status = 'cancelled' WHERE message_id = ? AND status = 'pending'"
)
_INSERT_EVENT = """
    INSERT INTO events (key, version, seq, type, at, payload) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
_INSERT_INBOX = """
    INSERT INTO inbox (fact_id, key, fingerprint, at) VALUES (?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
_INSERT_OUTBOX = """
    INSERT INTO outbox (message_id, key, channel, payload, send_at, status, attempts)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
_INSERT_DEAD_LETTER = """
    INSERT INTO dead_letters (fact_id, fact_type, payload, reason, at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
_UPSERT_TASK = """
    INSERT INTO tasks (task_key, key, kind, role, assignee, due_at, status, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (task_key) DO UPDATE SET
        key = excluded.key, kind = excluded.kind, role = excluded.role,
        assignee = excluded.assignee, due_at = excluded.due_at, status = excluded.status,
        payload = excluded.payload
"""
_OUTBOX_COLUMNS = "seq, message_id, key, channel, payload, send_at, attempts, status"
_CLAIMABLE = f"""
    SELECT {_OUTBOX_COLUMNS} FROM outbox
    WHERE status = 'pending' AND send_at <= ?
        AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
        AND (claim_until IS NULL OR claim_until <= ?)
    ORDER BY seq LIMIT ?
"""
_CLAIM = "UPDATE outbox SET claimed_by = ?, claim_until = ? WHERE seq = ?"
_CLAIMABLE_DUE = """
    SELECT key, due_at FROM records
    WHERE due_at IS NOT NULL AND due_at <= ?
        AND (claim_until IS NULL OR claim_until <= ? OR claimed_by = ?)
    ORDER BY due_at, key LIMIT ?
"""
_CLAIM_DUE = "UPDATE records SET claimed_by = ?, claim_until = ? WHERE key = ?"
_TASK_COLUMNS = "task_key, key, kind, role, assignee, due_at, status, payload"


def _outbox_message(row: tuple[Any, ...]) -> OutboxMessage:
    _, message_id, key, channel, payload, send_at, attempts, status = row
    return OutboxMessage(
        message_id=message_id,
        key=key,
        channel=channel,
        payload=payload,
        send_at=_from_us(send_at),
        attempts=attempts,
        status=status,
    )


def _task_row(row: tuple[Any, ...]) -> TaskRow:
    task_key, key, kind, role, assignee, due_at, status, payload = row
    return TaskRow(
        task_key=task_key,
        key=key,
        kind=kind,
        role=role,
        assignee=assignee,
        due_at=_from_us(due_at),
        status=status,
        payload=payload,
    )


class _Rows:
    """A commit as parameter rows, built before the transaction opens."""

    __slots__ = (
        "advanced",
        "cancelled",
        "dead_letters",
        "events",
        "inbox",
        "outbox",
        "plan",
        "records",
        "tasks",
    )

    def __init__(self, url: str, commit: Commit) -> None:
        self.plan = plan(url, commit)
        self.records: list[tuple[str, int, str, int, int | None]] = []
        self.advanced: list[tuple[int, int | None, str]] = []
        for key, outcome in self.plan.outcomes.items():
            version, snapshot, snapshot_version, due_at = outcome
            if snapshot is not None:
                self.records.append(
                    (key, version, snapshot, snapshot_version, _optional_us(due_at))
                )
            else:
                self.advanced.append((version, _optional_us(due_at), key))
        self.events = [
            (e.key, e.version, seq, e.type, _to_us(e.at), e.payload) for seq, e in self.plan.events
        ]
        self.inbox = [
            (entry.fact_id, entry.key, entry.fingerprint, _to_us(entry.at))
            for entry in commit.inbox
        ]
        self.outbox = [
            (m.message_id, m.key, m.channel, m.payload, _to_us(m.send_at), m.status, m.attempts)
            for m in commit.outbox
        ]
        self.dead_letters = [
            (d.fact_id, d.fact_type, d.payload, d.reason, _to_us(d.at)) for d in commit.dead_letters
        ]
        self.tasks = [
            (t.task_key, t.key, t.kind, t.role, t.assignee, _to_us(t.due_at), t.status, t.payload)
            for t in commit.tasks
        ]
        self.cancelled = [(message_id,) for message_id in commit.cancelled]


class SqliteStore(Closing):
    """A :class:`~membercore.ports.Store` in one SQLite database, used from one thread.

    Args:
        path: the database file (created with its schema when missing), or ``:memory:``
            for a private in-memory database that disappears on :meth:`close`.
        url: the URL to name the store by in errors (default: built from ``path``).
        busy_timeout: seconds to wait for another connection's write lock.

    Raises:
        StoreUnavailableError: the file's directory does not exist or the file cannot
            be opened.
        StorageError: the file is not a SQLite database, or its schema is newer than
            this version of membercore knows.
    """

    def __init__(
        self, path: str | Path, *, url: str | None = None, busy_timeout: float = 5.0
    ) -> None:
        path = str(path)
        self.url = url or f"sqlite:///{path}"
        self.path = path
        if path != _MEMORY and not Path(path).parent.is_dir():
            raise StoreUnavailableError(
                self.url, f"directory {str(Path(path).parent)!r} does not exist"
            )
        try:
            self._conn = sqlite3.connect(
                path,
                timeout=busy_timeout,
                isolation_level=None,  # we issue BEGIN / COMMIT ourselves
                check_same_thread=True,
                cached_statements=256,
            )
        except sqlite3.Error as e:
            raise StoreUnavailableError(self.url, f"cannot open {path!r}: {e}") from e
        try:
            self._set_up()
        except sqlite3.Error as e:
            self._conn.close()
            raise self._translate(e, "opening") from e
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, url: str) -> SqliteStore:
        """Open the store a ``sqlite:`` URL names.

        ``sqlite:///relative/path.db`` is relative to the working directory,
        ``sqlite:////absolute/path.db`` absolute (percent-escapes are decoded:
        ``%20`` is a space), ``sqlite:///:memory:`` a private in-memory database. A URL
        that names no file (``sqlite://``, ``sqlite:///``) is refused: a store that keeps
        nothing is ``memory://``, asked for by name.

        Args:
            url: the URL.

        Returns:
            The open store.

        Raises:
            StorageError: the URL is not a ``sqlite:`` URL of a local file (it takes
                no host, query or fragment, and names a file), or opening failed (see
                the class).
        """
        scheme, separator, rest = url.partition("://")
        if scheme != "sqlite" or not separator:
            raise StorageError(url, "not a sqlite URL (sqlite:///path/to/file.db)")
        if "?" in rest or "#" in rest:
            raise StorageError(url, "a sqlite URL takes no query or fragment")
        if rest in ("", "/"):
            raise StorageError(
                url,
                "the URL names no database file (sqlite:///path/to/file.db); "
                "a store that keeps nothing is memory://",
            )
        if rest == f"/{_MEMORY}":
            return cls(_MEMORY, url=url)
        if not rest.startswith("/"):
            raise StorageError(
                url, "a sqlite URL names no host: sqlite:///relative.db or sqlite:////abs.db"
            )
        if _BAD_ESCAPE.search(rest):
            raise StorageError(url, "a '%' in the path starts no escape (write '%25' for '%')")
        path = unquote(rest[1:], errors="strict")
        name = path.rstrip("/").rpartition("/")[2]
        unusable = not name.strip() or name != name.strip()
        if unusable or any(ord(c) < 32 or ord(c) == 127 for c in path):
            raise StorageError(url, f"{path!r} is not a usable file path")
        return cls(path, url=url)

    # -- setting up -------------------------------------------------------------------

    def _set_up(self) -> None:
        conn = self._conn
        # WAL must be switched on outside a transaction; :memory: answers "memory".
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        with self._immediate():
            self._migrate()

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StorageError(
                self.url,
                f"schema version {version} is newer than this membercore knows "
                f"({SCHEMA_VERSION}); upgrade membercore",
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                self._conn.execute(statement)
            # PRAGMA takes no parameters; number is an int we computed.
            self._conn.execute(f"PRAGMA user_version = {int(number)}")

    @property
    def schema_version(self) -> int:
        """The schema version the database is at (``PRAGMA user_version``)."""
        with self._driver_errors("reading the schema version"):
            (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        return int(version)

    # -- errors -----------------------------------------------------------------------

    def _translate(self, error: sqlite3.Error, doing: str) -> StorageError:
        message = f"{doing} failed: {error}"
        if "unable to open" in str(error):
            return StoreUnavailableError(self.url, message)
        return StorageError(self.url, message)

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """One write transaction: everything in the block, or (on any error) nothing."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on some errors (a full disk, an I/O error).
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _driver_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise self._translate(e, doing) from e

    def _query(self, doing: str, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        with self._driver_errors(doing):
            return self._conn.execute(sql, parameters).fetchall()

    def _pages(
        self,
        doing: str,
        first: tuple[str, Sequence[object]],
        following: Callable[[tuple[Any, ...]], tuple[str, Sequence[object]]],
    ) -> Iterator[tuple[Any, ...]]:
        """Stream a listing page by page (keyset pagination).

        Each page is its own short query, so no statement stays open between pages: the
        caller may commit while it iterates, and WAL checkpoints are never held back.
        """
        sql, parameters = first
        while True:
            rows = self._query(doing, sql, parameters)
            yield from rows
            if len(rows) < _PAGE:
                return
            sql, parameters = following(rows[-1])

    # -- reading ----------------------------------------------------------------------

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        """The records stored under ``keys`` (absent keys are left out)."""
        found: dict[str, Record] = {}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            sql = (
                "SELECT key, version, snapshot, snapshot_version FROM records "
                f"WHERE key IN ({_placeholders(len(chunk))})"
            )
            for key, version, snapshot, at in self._query("loading records", sql, chunk):
                found[key] = Record(
                    key=key, version=version, snapshot=snapshot, snapshot_version=at
                )
        return found

    def seen(self, fact_ids: Collection[str]) -> dict[str, str]:
        """Of ``fact_ids``, those in the inbox, with the fingerprint they were taken with."""
        found: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(fact_ids))):
            sql = (
                "SELECT fact_id, fingerprint FROM inbox "
                f"WHERE fact_id IN ({_placeholders(len(chunk))})"
            )
            found.update(self._query("reading the inbox", sql, chunk))
        return found

    def events(self, key: str, *, after_version: int = 0) -> list[StoredEvent]:
        """A record's journal in order, from the commit after ``after_version``."""
        rows = self._query(
            "reading events",
            "SELECT version, type, at, payload FROM events "
            "WHERE key = ? AND version > ? ORDER BY version, seq",
            (key, after_version),
        )
        return [
            StoredEvent(key=key, version=version, type=type_, at=_from_us(at), payload=payload)
            for version, type_, at, payload in rows
        ]

    def scan(self, prefix: str = "") -> Iterator[Record]:
        """Every record whose key starts with ``prefix``, in key order, streamed."""
        end = _prefix_end(prefix)
        below = "" if end is None else " AND key < ?"
        bound: tuple[str, ...] = () if end is None else (end,)
        select = "SELECT key, version, snapshot, snapshot_version FROM records WHERE key {} ?"
        select += below
        order = f" ORDER BY key LIMIT {_PAGE}"
        rows = self._pages(
            "scanning records",
            (select.format(">=") + order, (prefix, *bound)),
            lambda last: (select.format(">") + order, (last[0], *bound)),
        )
        for key, version, snapshot, at in rows:
            yield Record(key=key, version=version, snapshot=snapshot, snapshot_version=at)

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first."""
        moment = _to_us(require_aware("now", now))
        if limit <= 0:  # SQLite reads a negative LIMIT as no limit at all
            return []
        rows = self._query(
            "reading due records",
            "SELECT key, due_at FROM records WHERE due_at IS NOT NULL AND due_at <= ? "
            "ORDER BY due_at, key LIMIT ?",
            (moment, limit),
        )
        return [(key, _from_us(due_at)) for key, due_at in rows]

    def claim_due(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[tuple[str, datetime]]:
        """Claim up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first.

        One ``BEGIN IMMEDIATE`` transaction reads the records and marks them claimed by
        ``worker`` until ``now + lease``: the write lock it takes first keeps every other
        claimer (in this process or another) out until it commits. Records under another
        worker's claim whose lease has not ended are skipped (a worker started again under
        its name takes its own claims back); a commit of the record releases its claim.

        Raises:
            StorageError: ``worker`` is empty, ``lease`` not positive, or the database
                failed (nothing was claimed).
        """
        until = claim_until(self.url, now, worker, lease)
        if limit <= 0:
            return []
        moment = _to_us(now)
        rows = self._claim(
            "claiming due records",
            _CLAIMABLE_DUE,
            (moment, moment, worker, limit),
            _CLAIM_DUE,
            worker,
            until,
        )
        return [(key, _from_us(due_at)) for key, due_at in rows]

    def pending_outbox(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` pending messages to send by ``now``, in commit order."""
        moment = _to_us(require_aware("now", now))
        if limit <= 0:
            return []
        rows = self._query(
            "reading the outbox",
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND send_at <= ? "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY seq LIMIT ?",
            (moment, moment, limit),
        )
        return [_outbox_message(row) for row in rows]

    def claim_outbox(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[OutboxMessage]:
        """Claim up to ``limit`` pending messages to send by ``now``, in commit order.

        One ``BEGIN IMMEDIATE`` transaction reads the messages and marks them claimed by
        ``worker`` until ``now + lease``: the write lock it takes first keeps every other
        claimer (in this process or another) out until it commits. Messages under a claim
        whose lease has not ended are skipped.

        Raises:
            StorageError: ``worker`` is empty, ``lease`` not positive, or the database
                failed (nothing was claimed).
        """
        until = claim_until(self.url, now, worker, lease)
        if limit <= 0:
            return []
        moment = _to_us(now)
        parameters = (moment, moment, moment, limit)
        rows = self._claim("claiming the outbox", _CLAIMABLE, parameters, _CLAIM, worker, until)
        return [_outbox_message(row) for row in rows]

    def _claim(
        self,
        doing: str,
        claimable: str,
        parameters: Sequence[object],
        mark: str,
        worker: str,
        until: datetime,
    ) -> list[Any]:
        """Read the claimable rows and mark each (by its first column) claimed, at once."""
        conn = self._conn
        claim_end = _to_us(until)
        with self._driver_errors(doing), self._immediate():
            rows = conn.execute(claimable, parameters).fetchall()
            conn.executemany(mark, [(worker, claim_end, row[0]) for row in rows])
        return rows

    def outbox(self, status: str | None = None) -> Iterator[OutboxMessage]:
        """Every outbox message (of one status when given), in commit order."""
        where = "" if status is None else " AND status = ?"
        wanted: tuple[str, ...] = () if status is None else (status,)
        sql = (
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE seq > ?{where} ORDER BY seq LIMIT {_PAGE}"
        )
        rows = self._pages(
            "listing the outbox", (sql, (0, *wanted)), lambda last: (sql, (last[0], *wanted))
        )
        return map(_outbox_message, rows)

    def dead_letters(self) -> Iterator[DeadLetter]:
        """Every dead letter, oldest (first written) first."""
        sql = (
            "SELECT seq, fact_id, fact_type, payload, reason, at FROM dead_letters "
            f"WHERE seq > ? ORDER BY seq LIMIT {_PAGE}"
        )
        rows = self._pages("listing dead letters", (sql, (0,)), lambda last: (sql, (last[0],)))
        for _, fact_id, fact_type, payload, reason, at in rows:
            yield DeadLetter(
                fact_id=fact_id,
                fact_type=fact_type,
                payload=payload,
                reason=reason,
                at=_from_us(at),
            )

    def tasks(self, status: str | None = "open") -> Iterator[TaskRow]:
        """Staff tasks of a status (every task when None), by due instant then task key."""
        wanted: tuple[str, ...] = () if status is None else (status,)
        select = f"SELECT {_TASK_COLUMNS} FROM tasks"
        order = f" ORDER BY due_at, task_key LIMIT {_PAGE}"
        if status is None:
            first = select + order
            following = select + " WHERE (due_at, task_key) > (?, ?)" + order
        else:
            first = select + " WHERE status = ?" + order
            following = select + " WHERE status = ? AND (due_at, task_key) > (?, ?)" + order
        rows = self._pages(
            "listing tasks",
            (first, wanted),
            lambda last: (following, (*wanted, last[5], last[0])),
        )
        return map(_task_row, rows)

    def task_loads(self) -> dict[str, int]:
        """Open tasks per assignee (unassigned tasks are nobody's load)."""
        rows = self._query(
            "counting tasks",
            "SELECT assignee, count(*) FROM tasks WHERE status = 'open' "
            "AND assignee IS NOT NULL GROUP BY assignee ORDER BY assignee",
        )
        return dict(rows)

    # -- writing ----------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        """Write everything in ``commit`` in one transaction (``BEGIN IMMEDIATE``).

        Raises:
            VersionConflictError: naming every conflicting key; nothing was written.
            StorageError: the database failed, or the commit is malformed (see
                :func:`~membercore_adapters.stores.commits.plan`); nothing was written.
        """
        if not commit:
            return
        rows = _Rows(self.url, commit)
        conn = self._conn
        with self._driver_errors("committing"), self._immediate():
            self._check_versions(rows)
            conn.executemany(_UPSERT_RECORD, rows.records)
            conn.executemany(_ADVANCE_RECORD, rows.advanced)
            conn.executemany(_INSERT_EVENT, rows.events)
            conn.executemany(_INSERT_INBOX, rows.inbox)
            conn.executemany(_INSERT_OUTBOX, rows.outbox)
            conn.executemany(_INSERT_DEAD_LETTER, rows.dead_letters)
            conn.executemany(_UPSERT_TASK, rows.tasks)
            conn.executemany(_CANCEL_OUTBOX, rows.cancelled)

    def _check_versions(self, rows: _Rows) -> None:
        stored: dict[str, int] = {}
        keys = list(rows.plan.expected)
        for chunk in _chunks(keys):
            sql = f"SELECT key, version FROM records WHERE key IN ({_placeholders(len(chunk))})"
            stored.update(self._conn.execute(sql, chunk).fetchall())
        rows.plan.check(self.url, stored)

    def record_delivery(self, delivery: Delivery) -> None:
        """Mark a message delivered (a receipt), failed for now (retry_at) or given up.

        A receipt marks the message delivered unless it already is (the first receipt is
        kept). A failure counts an attempt of a pending message and either schedules the
        next one (``retry_at``) or gives up (status ``failed``); it changes nothing once
        the message is delivered or given up. Either releases the message's claim.

        Raises:
            StorageError: no message has that id, or the database failed.
        """
        at = _to_us(delivery.at)
        if delivery.receipt is not None:
            sql = (
                "UPDATE outbox SET status = 'delivered', receipt = ?, delivered_at = ?, "
                "next_attempt_at = NULL, claimed_by = NULL, claim_until = NULL "
                "WHERE message_id = ? AND status != 'delivered'"
            )
            parameters: tuple[object, ...] = (delivery.receipt, at, delivery.message_id)
        elif delivery.retry_at is not None:
            sql = (
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ?, claimed_by = NULL, claim_until = NULL "
                "WHERE message_id = ? AND status = 'pending'"
            )
            parameters = (_to_us(delivery.retry_at), delivery.error, delivery.message_id)
        else:
            sql = (
                "UPDATE outbox SET attempts = attempts + 1, status = 'failed', "
                "next_attempt_at = NULL, last_error = ?, claimed_by = NULL, claim_until = NULL "
                "WHERE message_id = ? AND status = 'pending'"
            )
            parameters = (delivery.error, delivery.message_id)
        with self._driver_errors("recording a delivery"):
            changed = self._conn.execute(sql, parameters).rowcount
            if changed:
                return
            known = self._conn.execute(
                "SELECT 1 FROM outbox WHERE message_id = ?", (delivery.message_id,)
            ).fetchone()
        if known is None:
            raise StorageError(self.url, f"no outbox message {delivery.message_id!r}")

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (again is harmless); the store is unusable afterwards."""
        with self._driver_errors("closing"):
            self._conn.close()


@hookimpl
def membercore_register_stores(register: Callable[[str, StoreOpener], None]) -> None:
    """Serve ``sqlite:`` URLs."""
    register("sqlite", SqliteStore.open)
