"""The PostgreSQL store: many workers on one database, psycopg 3 and a connection pool.

Install the driver with the ``postgres`` extra (``pip install 'membercore[postgres]'``),
then open the store by URL through the plugin manager, or directly::

    store = PostgresStore.open("postgresql://membercore@db.example/hospital")
    store = PostgresStore.open("postgresql://app:secret@10.0.0.5:5432/hospital?schema=mc_test")

Any libpq URL works (``postgres://`` too, with libpq's query parameters such as
``sslmode`` or ``connect_timeout``); one more parameter, ``schema``, names the
PostgreSQL schema the tables live in (default ``membercore``; a plain identifier).
``public`` and PostgreSQL's own schemas are refused unless the URL also says
``shared_schema=yes``. The
store creates the schema and its tables when it opens, so the role needs ``CREATE`` on
the database the first time (or a DBA creates the schema and grants it).

A store holds a :class:`psycopg_pool.ConnectionPool` (one connection kept open, a few
more on demand): each call takes a connection for its own statement or transaction and
gives it back, so threads may share one store, and processes each open their own. A
commit is one transaction sent as one pipeline: it locks the rows of the records it
changes (``SELECT ... FOR UPDATE`` in key order, so that concurrent commits do not
deadlock), writes each table with one statement over arrays (``unnest``), and checks the
versions at the end; any conflict rolls the whole transaction back.

Instants are ``timestamptz`` and come back in UTC. Keys sort by code point
(``COLLATE "C"``). PostgreSQL text cannot hold U+0000, which the store must keep: text
is written with U+0001 as an escape (U+0000 as U+0001 U+0001, U+0001 as U+0001 U+0002),
which keeps the order of keys and leaves every other text as it is.

The schema is versioned in the table ``schema_version``; :data:`MIGRATIONS` are applied
in order when a store opens, all in one transaction under an advisory lock, so two
processes opening at once migrate once.

Every psycopg error is translated into :class:`~membercore.errors.StorageError`
(:class:`~membercore.errors.StoreUnavailableError` when the server cannot be reached,
the driver is not installed, or no connection frees up in time). The password never
appears in the store's URL, its ``repr`` or an error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, LiteralString
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

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

# The driver is optional (the ``postgres`` extra): the plugin manager imports this module
# with every entry point, so a missing driver must only fail when a store is opened.
try:
    import psycopg
    import psycopg_pool
    from psycopg import conninfo as pg_conninfo
    from psycopg import sql
except ImportError as missing:  # pragma: no cover - the dev environment has the driver
    _MISSING_DRIVER: ImportError | None = missing
else:
    _MISSING_DRIVER = None

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = [
    "DEFAULT_SCHEMA",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresStore",
    "membercore_register_stores",
]

#: The schema, one migration per version: migration ``n`` takes the schema from version
#: n-1 to n. The statements run with ``search_path`` set to the store's schema. Append
#: only; never edit a released migration.
MIGRATIONS: Final[tuple[tuple[LiteralString, ...], ...]] = (
    (
        # Keys collate as "C": byte order of UTF-8 is code point order, as the port wants,
        # and comparisons skip the locale.
        """CREATE TABLE records (
            key              text COLLATE "C" PRIMARY KEY,
            version          bigint NOT NULL,
            snapshot         text NOT NULL,
            snapshot_version bigint NOT NULL,
            due_at           timestamptz
        )""",
        "CREATE INDEX records_due ON records (due_at, key) WHERE due_at IS NOT NULL",
        # The primary key is the journal's order: a member's events are one index range.
        """CREATE TABLE events (
            key     text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            seq     integer NOT NULL,
            type    text NOT NULL,
            at      timestamptz NOT NULL,
            payload text NOT NULL,
            PRIMARY KEY (key, version, seq)
        )""",
        """CREATE TABLE inbox (
            fact_id     text COLLATE "C" PRIMARY KEY,
            key         text COLLATE "C" NOT NULL,
            fingerprint text NOT NULL,
            at          timestamptz NOT NULL
        )""",
        # seq is allocated in insertion order; message_id is the idempotency key.
        """CREATE TABLE outbox (
            seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id      text COLLATE "C" NOT NULL UNIQUE,
            key             text COLLATE "C" NOT NULL,
            channel         text NOT NULL,
            payload         text NOT NULL,
            send_at         timestamptz NOT NULL,
            status          text NOT NULL DEFAULT 'pending',
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            receipt         text,
            last_error      text,
            delivered_at    timestamptz
        )""",
        # The dispatcher reads pending messages in order and skips deferred ones from the
        # index alone.
        """CREATE INDEX outbox_pending ON outbox (seq) INCLUDE (send_at, next_attempt_at)
            WHERE status = 'pending'""",
        "CREATE INDEX outbox_member ON outbox (key)",
        """CREATE TABLE dead_letters (
            seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            fact_id   text COLLATE "C" NOT NULL,
            fact_type text NOT NULL,
            payload   text NOT NULL,
            reason    text NOT NULL,
            at        timestamptz NOT NULL
        )""",
        # A raw input may be far larger than a btree entry allows: unique on its digest.
        "CREATE UNIQUE INDEX dead_letters_input ON dead_letters (fact_id, md5(payload))",
        """CREATE TABLE tasks (
            task_key text COLLATE "C" PRIMARY KEY,
            key      text COLLATE "C" NOT NULL,
            kind     text NOT NULL,
            role     text NOT NULL,
            assignee text,
            due_at   timestamptz NOT NULL,
            status   text NOT NULL,
            payload  text NOT NULL
        )""",
        "CREATE INDEX tasks_due ON tasks (due_at, task_key)",
        "CREATE INDEX tasks_open ON tasks (due_at, task_key) WHERE status = 'open'",
        "CREATE INDEX tasks_load ON tasks (assignee) WHERE status = 'open'",
        "CREATE INDEX tasks_member ON tasks (key)",
    ),
    (
        # Claims: a dispatcher holds the messages it sends until its lease ends, so that
        # two dispatchers never send one message (see PostgresStore.claim_outbox).
        "ALTER TABLE outbox ADD COLUMN claimed_by text, ADD COLUMN claim_until timestamptz",
        # Still covering: claims skip messages under a live lease from the index alone.
        "DROP INDEX outbox_pending",
        """CREATE INDEX outbox_pending ON outbox (seq)
            INCLUDE (send_at, next_attempt_at, claim_until) WHERE status = 'pending'""",
    ),
    (
        # Claims on due records: an engine holds the members it ticks until its lease
        # ends, so that two tickers never decide one member at once (see
        # PostgresStore.claim_due). A commit of the record releases the claim.
        "ALTER TABLE records ADD COLUMN claimed_by text, ADD COLUMN claim_until timestamptz",
    ),
)
#: The schema version this module writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)
#: The PostgreSQL schema the tables live in when the URL names none.
DEFAULT_SCHEMA: Final = "membercore"

_SCHEMES: Final = ("postgresql", "postgres")
_IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The first key of the two-key advisory lock that serialises migrations (the second is a
# hash of the schema's name): "mc" in ASCII, out of the way of an application's own.
_MIGRATION_LOCK: Final = 0x6D63
# Rows per page of a streamed listing (the queries spell it as the literal LIMIT 500).
_PAGE: Final = 500
_MAX_CONNECTIONS: Final = 4
# Seconds to wait for the server to accept a connection, and for a pooled one to free up.
_CONNECT_TIMEOUT: Final = 10
_POOL_TIMEOUT: Final = 15.0

_SCHEMA_VERSION_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


# -- text PostgreSQL cannot hold ------------------------------------------------------------


def _put(text: str) -> str:
    """``text`` as stored: U+0000 and U+0001 escaped, everything else as it is."""
    if "\x00" in text or "\x01" in text:
        return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")
    return text


def _got(text: str) -> str:
    """Stored text as it was written (the inverse of :func:`_put`)."""
    if "\x01" in text:
        # Left to right, replace() only ever meets whole escapes: see _put.
        return text.replace("\x01\x01", "\x00").replace("\x01\x02", "\x01")
    return text


def _put_optional(text: str | None) -> str | None:
    return None if text is None else _put(text)


def _got_optional(text: str | None) -> str | None:
    return None if text is None else _got(text)


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            # Skip the surrogates, which UTF-8 (and so PostgreSQL) cannot hold.
            following = last + 1 if not 0xD7FF <= last < 0xDFFF else 0xE000
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


# -- URLs -----------------------------------------------------------------------------------


def _redact(url: str) -> str:
    """``url`` with any password (in the authority or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is None and "password" not in parts.query:
            return url
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            name = user.partition(":")[0]
            netloc = f"{name}:***@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(key == "password" for key, _ in pairs):
                query = urlencode(
                    [(k, "***" if k == "password" else v) for k, v in pairs], quote_via=quote
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # Unparseable: say nothing of it that could be a secret.
        return url.partition("://")[0] + "://***"


def _secrets(url: str) -> list[str]:
    """The password(s) ``url`` carries, to scrub from driver messages."""
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in parse_qsl(parts.query) if k == "password" and v]
    except ValueError:
        return []
    # Also as written (percent-encoded), longest first so that no part is left behind.
    found += [quote(secret, safe="") for secret in found]
    return sorted(set(found), key=len, reverse=True)


_OURS = ("schema", "shared_schema")


def _split_schema(url: str) -> tuple[str, str, bool]:
    """The libpq URL without membercore's parameters; the schema; whether it may be shared.

    Raises:
        ValueError: ``shared_schema`` is neither yes nor no.
    """
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in pairs if key == "schema"]
    if len(schemas) > 1:
        raise ValueError(f"the URL names the schema {len(schemas)} times: name it once")
    shared = [value.lower() for key, value in pairs if key == "shared_schema"]
    if any(value not in ("yes", "no", "true", "false", "1", "0") for value in shared):
        raise ValueError(f"shared_schema must be yes or no, got {shared[-1]!r}")
    rest = [(key, value) for key, value in pairs if key not in _OURS]
    query = urlencode(rest, quote_via=quote)
    # Written out by hand: urlunsplit drops the "//" of a URL without a host
    # (postgresql:///db?host=/run/postgresql), which libpq then cannot read.
    stripped = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
    allowed = bool(shared) and shared[-1] in ("yes", "true", "1")
    return stripped, schemas[-1] if schemas else DEFAULT_SCHEMA, allowed


def _shared_schema(schema: str) -> bool:
    """PostgreSQL's own schemas, and ``public``, which every application shares."""
    return schema in ("public", "information_schema") or schema.startswith("pg_")


# -- statements -----------------------------------------------------------------------------

# The version check: the changed records' rows, locked in key order for the transaction.
_LOCK_RECORDS: Final = (
    "SELECT key, version FROM records WHERE key = ANY(%b::text[]) ORDER BY key FOR UPDATE"
)
# New records; a key another writer stored in the meantime is not returned: a conflict.
_CREATE_RECORDS: Final = """
    INSERT INTO records (key, version, snapshot, snapshot_version, due_at)
    SELECT * FROM unnest(%b::text[], %b::int8[], %b::text[], %b::int8[], %b::timestamptz[])
    ON CONFLICT DO NOTHING
    RETURNING key
"""
# Stored records, each only from the version the commit expects (else it conflicts, and
# the transaction is rolled back anyway); a change without a snapshot keeps the stored one.
_UPDATE_RECORDS: Final = """
    UPDATE records AS r SET
        version = c.version,
        snapshot = coalesce(c.snapshot, r.snapshot),
        snapshot_version = CASE WHEN c.snapshot IS NULL
            THEN r.snapshot_version ELSE c.snapshot_version END,
        due_at = c.due_at,
        claimed_by = NULL,
        claim_until = NULL
    FROM unnest(%b::text[], %b::int8[], %b::int8[], %b::text[], %b::int8[], %b::timestamptz[])
        AS c (key, expected, version, snapshot, snapshot_version, due_at)
    WHERE r.key = c.key AND r.version = c.expected
"""
# Nothing can be stored under a version the check lets through; DO NOTHING keeps "writing
# an event again is no error" true all the same.
_INSERT_EVENTS: Final = """
    INSERT INTO events (key, version, seq, type, at, payload)
    SELECT * FROM unnest(
        %b::text[], %b::int8[], %b::int4[], %b::text[], %b::timestamptz[], %b::text[])
    ON CONFLICT DO NOTHING
"""
# A duplicate id within one statement meets the row inserted just before it: the first wins.
_INSERT_INBOX: Final = """
    INSERT INTO inbox (fact_id, key, fingerprint, at)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[])
    ON CONFLICT DO NOTHING
"""
# ORDER BY the position: seq is allocated in the order the commit lists the messages.
_INSERT_OUTBOX: Final = """
    INSERT INTO outbox (message_id, key, channel, payload, send_at, status, attempts)
    SELECT m.message_id, m.key, m.channel, m.payload, m.send_at, m.status, m.attempts
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],
                %b::text[], %b::int4[])
        WITH ORDINALITY AS m (message_id, key, channel, payload, send_at, status, attempts, n)
    ORDER BY m.n
    ON CONFLICT DO NOTHING
"""
_INSERT_DEAD_LETTERS: Final = """
    INSERT INTO dead_letters (fact_id, fact_type, payload, reason, at)
    SELECT d.fact_id, d.fact_type, d.payload, d.reason, d.at
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[])
        WITH ORDINALITY AS d (fact_id, fact_type, payload, reason, at, n)
    ORDER BY d.n
    ON CONFLICT DO NOTHING
"""
_UPSERT_TASKS: Final = """
    INSERT INTO tasks (task_key, key, kind, role, assignee, due_at, status, payload)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                         %b::timestamptz[], %b::text[], %b::text[])
    ON CONFLICT (task_key) DO UPDATE SET
        key = excluded.key, kind = excluded.kind, role = excluded.role,
        assignee = excluded.assignee, due_at = excluded.due_at, status = excluded.status,
        payload = excluded.payload
"""
_CANCEL_OUTBOX: Final = """
    UPDATE outbox SET status = 'cancelled'
    WHERE message_id = ANY(%b::text[]) AND status = 'pending'
"""
_OUTBOX_COLUMNS: Final = "seq, message_id, key, channel, payload, send_at, attempts, status"
_TASK_COLUMNS: Final = "task_key, key, kind, role, assignee, due_at, status, payload"
# One statement, its own transaction: lock the claimable rows no one else is locking
# (another claimer's rows are skipped, not waited for), then mark them. A row another
# claimer marked after this statement's snapshot is locked, then re-checked against its
# new claim, and left out.
_CLAIM: Final = """
    WITH claimable AS (
        SELECT seq FROM outbox
        WHERE status = 'pending' AND send_at <= %(now)s
            AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
            AND (claim_until IS NULL OR claim_until <= %(now)s)
        ORDER BY seq LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox AS o SET claimed_by = %(worker)s, claim_until = %(until)s
    FROM claimable WHERE o.seq = claimable.seq
    RETURNING o.seq, o.message_id, o.key, o.channel, o.payload, o.send_at, o.attempts,
        o.status
"""
# The same for due records: lock the claimable rows no one else is locking, then mark them.
_CLAIM_DUE: Final = """
    WITH claimable AS (
        SELECT key FROM records
        WHERE due_at <= %(now)s
            AND (claim_until IS NULL OR claim_until <= %(now)s OR claimed_by = %(worker)s)
        ORDER BY due_at, key LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE records AS r SET claimed_by = %(worker)s, claim_until = %(until)s
    FROM claimable WHERE r.key = claimable.key
    RETURNING r.key, r.due_at
"""
# One round trip: how many rows the update changed, and whether the message exists at all
# (the subquery sees the table as the statement began, which is all it needs).
_DELIVERY: Final = """
    WITH changed AS ({update} RETURNING 1)
    SELECT (SELECT count(*) FROM changed),
           EXISTS (SELECT 1 FROM outbox WHERE message_id = %(message_id)s)
"""
_DELIVERED: Final = """
    UPDATE outbox SET status = 'delivered', receipt = %(receipt)s, delivered_at = %(at)s,
        next_attempt_at = NULL, claimed_by = NULL, claim_until = NULL
    WHERE message_id = %(message_id)s AND status != 'delivered'
"""
_RETRY: Final = """
    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = %(retry_at)s,
        last_error = %(error)s, claimed_by = NULL, claim_until = NULL
    WHERE message_id = %(message_id)s AND status = 'pending'
"""
_GIVE_UP: Final = """
    UPDATE outbox SET attempts = attempts + 1, status = 'failed', next_attempt_at = NULL,
        last_error = %(error)s, claimed_by = NULL, claim_until = NULL
    WHERE message_id = %(message_id)s AND status = 'pending'
"""


def _outbox_message(row: tuple[Any, ...]) -> OutboxMessage:
    _, message_id, key, channel, payload, send_at, attempts, status = row
    return OutboxMessage(
        message_id=_got(message_id),
        key=_got(key),
        channel=_got(channel),
        payload=_got(payload),
        send_at=send_at,
        attempts=attempts,
        status=_got(status),
    )


def _task_row(row: tuple[Any, ...]) -> TaskRow:
    task_key, key, kind, role, assignee, due_at, status, payload = row
    return TaskRow(
        task_key=_got(task_key),
        key=_got(key),
        kind=_got(kind),
        role=_got(role),
        assignee=_got_optional(assignee),
        due_at=due_at,
        status=_got(status),
        payload=_got(payload),
    )


class _Rows:
    """A commit as statement parameters (columns as arrays), built before connecting."""

    __slots__ = (
        "cancelled",
        "created",
        "dead_letters",
        "events",
        "inbox",
        "outbox",
        "plan",
        "tasks",
        "updated",
    )

    def __init__(self, url: str, commit: Commit) -> None:
        self.plan = plan(url, commit)
        events = [
            (_put(e.key), e.version, seq, _put(e.type), e.at, _put(e.payload))
            for seq, e in self.plan.events
        ]
        created: list[tuple[str, int, str | None, int, datetime | None]] = []
        updated: list[tuple[str, int, int, str | None, int, datetime | None]] = []
        # Key order: concurrent commits take the same locks in the same order.
        outcomes = self.plan.outcomes
        for key in sorted(outcomes, key=_put):
            version, snapshot, snapshot_version, due_at = outcomes[key]
            expected = self.plan.expected[key]
            stored = _put_optional(snapshot)
            if expected == 0:  # a new record starts with a snapshot (checked by plan)
                created.append((_put(key), version, stored, snapshot_version, due_at))
            else:
                updated.append((_put(key), expected, version, stored, snapshot_version, due_at))
        self.created = _columns(created)
        self.updated = _columns(updated)
        self.events = _columns(events)
        self.inbox = _columns(
            [(_put(e.fact_id), _put(e.key), _put(e.fingerprint), e.at) for e in commit.inbox]
        )
        self.outbox = _columns(
            [
                (
                    _put(m.message_id),
                    _put(m.key),
                    _put(m.channel),
                    _put(m.payload),
                    m.send_at,
                    _put(m.status),
                    m.attempts,
                )
                for m in commit.outbox
            ],
        )
        self.dead_letters = _columns(
            [
                (_put(d.fact_id), _put(d.fact_type), _put(d.payload), _put(d.reason), d.at)
                for d in commit.dead_letters
            ],
        )
        # One row per task key, the last one written (as row-by-row upserts would leave).
        tasks = {
            t.task_key: (
                _put(t.task_key),
                _put(t.key),
                _put(t.kind),
                _put(t.role),
                _put_optional(t.assignee),
                t.due_at,
                _put(t.status),
                _put(t.payload),
            )
            for t in commit.tasks
        }
        self.tasks = _columns(list(tasks.values()))
        self.cancelled = [_put(message_id) for message_id in commit.cancelled]


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as columns, the form ``unnest`` takes them in (no rows: no columns)."""
    return [list(column) for column in zip(*rows, strict=True)]


class PostgresStore(Closing):
    """A :class:`~membercore.ports.Store` in a PostgreSQL schema, shared by threads.

    Open it with :meth:`open`; the constructor takes a URL too.

    Args:
        url: a ``postgresql://`` (or ``postgres://``) URL, with an optional ``schema``
            query parameter (default :data:`DEFAULT_SCHEMA`).
        max_connections: how many connections the pool may hold (one stays open).

    Raises:
        StoreUnavailableError: the driver is not installed, or the server cannot be
            reached or refuses the connection.
        StorageError: the URL is not a PostgreSQL URL, the schema name is not a plain
            identifier, the schema is newer than this membercore knows, or setting it up
            failed.
    """

    def __init__(self, url: str, *, max_connections: int = _MAX_CONNECTIONS) -> None:
        self.url = _redact(url)
        self._secrets = _secrets(url)
        scheme = url.partition("://")[0]
        if scheme not in _SCHEMES or "://" not in url:
            raise StorageError(
                self.url, "not a PostgreSQL URL (postgresql://user@host:5432/database)"
            )
        if _MISSING_DRIVER is not None:
            raise StoreUnavailableError(
                self.url,
                f"the PostgreSQL driver is not installed ({_MISSING_DRIVER}): "
                "install membercore[postgres]",
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in url):
            raise StorageError(self.url, "the URL holds a control character (a newline?)")
        try:
            libpq_url, schema, shared = _split_schema(url)
        except ValueError as e:
            raise StorageError(self.url, f"cannot read the URL: {self._scrub(e)}") from None
        if not _IDENTIFIER.fullmatch(schema):
            raise StorageError(
                self.url,
                f"schema {schema!r} is not a plain lower-case identifier ([a-z_][a-z0-9_]*)",
            )
        if _shared_schema(schema) and not shared:
            raise StorageError(
                self.url,
                f"schema {schema!r} is PostgreSQL's own or shared by every application: "
                "name one for membercore (?schema=membercore), or add shared_schema=yes "
                "to put the tables there on purpose",
            )
        self.schema = schema
        with self._driver_errors("reading the URL"):
            params = pg_conninfo.conninfo_to_dict(libpq_url)
        # Every connection: the store's schema first, instants in UTC, UTF-8 text.
        options = str(params.get("options") or "")
        params["options"] = f"{options} -c search_path={schema} -c TimeZone=UTC".strip()
        params["client_encoding"] = "UTF8"
        params.setdefault("connect_timeout", _CONNECT_TIMEOUT)
        params.setdefault("application_name", "membercore")
        self._conninfo = pg_conninfo.make_conninfo("", **params)
        self._set_up()
        self._pool: psycopg_pool.ConnectionPool[Connection[tuple[Any, ...]]]
        self._pool = psycopg_pool.ConnectionPool(
            self._conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max(1, max_connections),
            open=False,
            timeout=_POOL_TIMEOUT,
            name=f"membercore {self.url}",
            num_workers=1,
        )
        with self._driver_errors("connecting"):
            self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT)

    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Open the store a ``postgresql://`` or ``postgres://`` URL names.

        Args:
            url: the URL (libpq's form, plus an optional ``schema`` parameter).

        Returns:
            The open store, its schema created or migrated.

        Raises:
            StoreUnavailableError: the server cannot be reached, or the driver is missing.
            StorageError: the URL is not a PostgreSQL one, or setting up failed.
        """
        return cls(url)

    # -- errors -----------------------------------------------------------------------

    def _scrub(self, error: BaseException | str) -> str:
        message = str(error).strip()
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    def _translate(self, error: psycopg.Error, doing: str) -> StorageError:
        message = f"{doing} failed: {self._scrub(error)}"
        # A pool timeout or closed pool is an OperationalError too, as is a refused or
        # broken connection; a statement that fails on a live connection is not.
        unavailable = isinstance(error, psycopg_pool.PoolTimeout) or (
            isinstance(error, psycopg.OperationalError)
            and not isinstance(error, psycopg_pool.PoolClosed)
            and error.sqlstate is None
        )
        if unavailable:
            return StoreUnavailableError(self.url, message)
        return StorageError(self.url, message)

    @contextmanager
    def _driver_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as e:
            raise self._translate(e, doing) from e

    @contextmanager
    def _connection(self, doing: str) -> Iterator[Connection[tuple[Any, ...]]]:
        with self._driver_errors(doing), self._pool.connection() as conn:
            yield conn

    def _query(self, doing: str, sql: LiteralString, parameters: Any = ()) -> list[Any]:
        with self._connection(doing) as conn:
            return conn.execute(sql, parameters).fetchall()

    def _pages(
        self,
        doing: str,
        first: tuple[LiteralString, Sequence[object]],
        following: Callable[[tuple[Any, ...]], tuple[LiteralString, Sequence[object]]],
    ) -> Iterator[tuple[Any, ...]]:
        """Stream a listing page by page (keyset pagination).

        Each page is its own short query on a connection taken for it, so no connection
        is held between pages: the caller may commit while it iterates.
        """
        sql, parameters = first
        while True:
            rows = self._query(doing, sql, parameters)
            yield from rows
            if len(rows) < _PAGE:
                return
            sql, parameters = following(rows[-1])

    # -- setting up -------------------------------------------------------------------

    def _set_up(self) -> None:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as e:
            raise StoreUnavailableError(self.url, f"cannot connect: {self._scrub(e)}") from e
        try:
            with self._driver_errors("setting up the schema"), conn, conn.transaction():
                # Two processes opening at once: the second waits, then finds it done.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    (_MIGRATION_LOCK, self.schema),
                )
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                conn.execute(create.format(sql.Identifier(self.schema)))
                conn.execute(_SCHEMA_VERSION_TABLE)
                self._migrate(conn)
        finally:
            conn.close()

    def _migrate(self, conn: Connection[tuple[Any, ...]]) -> None:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StorageError(
                self.url,
                f"schema {self.schema} is at version {version}, newer than this membercore "
                f"knows ({SCHEMA_VERSION}); upgrade membercore",
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))

    @property
    def schema_version(self) -> int:
        """The version the schema is at (the highest in its ``schema_version`` table)."""
        (row,) = self._query(
            "reading the schema version", "SELECT coalesce(max(version), 0) FROM schema_version"
        )
        return int(row[0])

    # -- reading ----------------------------------------------------------------------

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        """The records stored under ``keys`` (absent keys are left out)."""
        wanted = [_put(key) for key in dict.fromkeys(keys)]
        if not wanted:
            return {}
        rows = self._query(
            "loading records",
            "SELECT key, version, snapshot, snapshot_version FROM records "
            "WHERE key = ANY(%b::text[])",
            (wanted,),
        )
        found: dict[str, Record] = {}
        for stored_key, version, snapshot, at in rows:
            key = _got(stored_key)
            found[key] = Record(
                key=key, version=version, snapshot=_got(snapshot), snapshot_version=at
            )
        return found

    def seen(self, fact_ids: Collection[str]) -> dict[str, str]:
        """Of ``fact_ids``, those in the inbox, with the fingerprint they were taken with."""
        wanted = [_put(fact_id) for fact_id in dict.fromkeys(fact_ids)]
        if not wanted:
            return {}
        rows = self._query(
            "reading the inbox",
            "SELECT fact_id, fingerprint FROM inbox WHERE fact_id = ANY(%b::text[])",
            (wanted,),
        )
        return {_got(fact_id): _got(fingerprint) for fact_id, fingerprint in rows}

    def events(self, key: str, *, after_version: int = 0) -> list[StoredEvent]:
        """A record's journal in order, from the commit after ``after_version``."""
        rows = self._query(
            "reading events",
            "SELECT version, type, at, payload FROM events "
            "WHERE key = %s AND version > %s ORDER BY version, seq",
            (_put(key), after_version),
        )
        return [
            StoredEvent(key=key, version=version, type=_got(type_), at=at, payload=_got(payload))
            for version, type_, at, payload in rows
        ]

    def scan(self, prefix: str = "") -> Iterator[Record]:
        """Every record whose key starts with ``prefix``, in key order, streamed."""
        start = _put(prefix)
        end = _prefix_end(start)
        select: LiteralString = (
            "SELECT key, version, snapshot, snapshot_version FROM records WHERE key "
        )
        below: LiteralString = "" if end is None else " AND key < %s"
        bound: tuple[str, ...] = () if end is None else (end,)
        order: LiteralString = " ORDER BY key LIMIT 500"
        rows = self._pages(
            "scanning records",
            (select + ">= %s" + below + order, (start, *bound)),
            lambda last: (select + "> %s" + below + order, (last[0], *bound)),
        )
        for key, version, snapshot, at in rows:
            yield Record(
                key=_got(key), version=version, snapshot=_got(snapshot), snapshot_version=at
            )

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first."""
        moment = require_aware("now", now)
        if limit <= 0:  # PostgreSQL refuses a negative LIMIT
            return []
        rows = self._query(
            "reading due records",
            "SELECT key, due_at FROM records WHERE due_at <= %s ORDER BY due_at, key LIMIT %s",
            (moment, limit),
        )
        return [(_got(key), due_at) for key, due_at in rows]

    def claim_due(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[tuple[str, datetime]]:
        """Claim up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first.

        One statement (``FOR UPDATE SKIP LOCKED`` in a CTE, then ``UPDATE ... RETURNING``)
        marks them claimed by ``worker`` until ``now + lease``: concurrent claimers, in
        any process, skip each other's rows rather than wait for them. Records under a
        claim whose lease has not ended are skipped; a commit of the record releases it.

        Raises:
            StorageError: ``worker`` is empty, ``lease`` not positive, or the database
                failed (nothing was claimed).
        """
        rows = self._claim("claiming due records", _CLAIM_DUE, now, limit, worker, lease)
        # RETURNING promises no order: put the claimed rows back in due order (the stored
        # keys collate as "C", which is code point order, as Python compares them).
        rows.sort(key=lambda row: (row[1], row[0]))
        return [(_got(key), due_at) for key, due_at in rows]

    def pending_outbox(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` pending messages to send by ``now``, in commit order."""
        moment = require_aware("now", now)
        if limit <= 0:
            return []
        rows = self._query(
            "reading the outbox",
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' "
            "AND send_at <= %(now)s AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s) "
            "ORDER BY seq LIMIT %(limit)s",
            {"now": moment, "limit": limit},
        )
        return [_outbox_message(row) for row in rows]

    def claim_outbox(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[OutboxMessage]:
        """Claim up to ``limit`` pending messages to send by ``now``, in commit order.

        One statement (``FOR UPDATE SKIP LOCKED`` in a CTE, then ``UPDATE ... RETURNING``)
        marks them claimed by ``worker`` until ``now + lease``: concurrent claimers, in
        any process, skip each other's rows rather than wait for them. Messages under a
        claim whose lease has not ended are skipped.

        Raises:
            StorageError: ``worker`` is empty, ``lease`` not positive, or the database
                failed (nothing was claimed).
        """
        rows = self._claim("claiming the outbox", _CLAIM, now, limit, worker, lease)
        # RETURNING promises no order: put the claimed rows back in commit order.
        rows.sort(key=lambda row: row[0])
        return [_outbox_message(row) for row in rows]

    def _claim(
        self,
        doing: str,
        claim: LiteralString,
        now: datetime,
        limit: int,
        worker: str,
        lease: timedelta,
    ) -> list[Any]:
        """The rows one claiming statement marked (none when ``limit`` is not positive)."""
        until = claim_until(self.url, now, worker, lease)
        if limit <= 0:
            return []
        parameters = {"now": now, "limit": limit, "worker": _put(worker), "until": until}
        return self._query(doing, claim, parameters)

    def outbox(self, status: str | None = None) -> Iterator[OutboxMessage]:
        """Every outbox message (of one status when given), in commit order."""
        where: LiteralString = "" if status is None else " AND status = %s"
        wanted: tuple[str, ...] = () if status is None else (_put(status),)
        sql: LiteralString = (
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE seq > %s{where} ORDER BY seq LIMIT 500"
        )
        rows = self._pages(
            "listing the outbox", (sql, (0, *wanted)), lambda last: (sql, (last[0], *wanted))
        )
        return map(_outbox_message, rows)

    def dead_letters(self) -> Iterator[DeadLetter]:
        """Every dead letter, oldest (first written) first."""
        sql: LiteralString = (
            "SELECT seq, fact_id, fact_type, payload, reason, at FROM dead_letters "
            "WHERE seq > %s ORDER BY seq LIMIT 500"
        )
        rows = self._pages("listing dead letters", (sql, (0,)), lambda last: (sql, (last[0],)))
        for _, fact_id, fact_type, payload, reason, at in rows:
            yield DeadLetter(
                fact_id=_got(fact_id),
                fact_type=_got(fact_type),
                payload=_got(payload),
                reason=_got(reason),
                at=at,
            )

    def tasks(self, status: str | None = "open") -> Iterator[TaskRow]:
        """Staff tasks of a status (every task when None), by due instant then task key."""
        wanted: tuple[str, ...] = () if status is None else (_put(status),)
        select: LiteralString = f"SELECT {_TASK_COLUMNS} FROM tasks"
        order: LiteralString = " ORDER BY due_at, task_key LIMIT 500"
        if status is None:
            first = select + order
            following = select + " WHERE (due_at, task_key) > (%s, %s)" + order
        else:
            first = select + " WHERE status = %s" + order
            following = select + " WHERE status = %s AND (due_at, task_key) > (%s, %s)" + order
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
        return {_got(assignee): int(count) for assignee, count in rows}

    # -- writing ----------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        """Write everything in ``commit`` in one transaction, sent as one pipeline.

        Raises:
            VersionConflictError: naming every conflicting key; nothing was written.
            StorageError: the database failed, or the commit is malformed (see
                :func:`~membercore_adapters.stores.commits.plan`); nothing was written.
        """
        if not commit:
            return
        rows = _Rows(self.url, commit)
        keys = [_put(key) for key in sorted(rows.plan.expected, key=_put)]
        with self._connection("committing") as conn, conn.pipeline(), conn.transaction():
            # Queued, not yet waited for: the whole transaction is one round trip or two.
            locked = conn.execute(_LOCK_RECORDS, (keys,)) if keys else None
            created = conn.execute(_CREATE_RECORDS, rows.created) if rows.created else None
            for sql, columns in (
                (_UPDATE_RECORDS, rows.updated),
                (_INSERT_EVENTS, rows.events),
                (_INSERT_INBOX, rows.inbox),
                (_INSERT_OUTBOX, rows.outbox),
                (_INSERT_DEAD_LETTERS, rows.dead_letters),
                (_UPSERT_TASKS, rows.tasks),
            ):
                if columns:
                    conn.execute(sql, columns)
            if rows.cancelled:
                conn.execute(_CANCEL_OUTBOX, (rows.cancelled,))
            stored: dict[str, int] = {}
            if locked is not None:
                stored = {_got(key): version for key, version in locked.fetchall()}
            new = {_got(key) for (key,) in created.fetchall()} if created is not None else set()
            # A new record another writer stored after the lock was read: not ours.
            taken = [key for key, expected in rows.plan.expected.items() if not expected]
            # Leaving the transaction with an exception rolls every write back.
            rows.plan.check(self.url, stored, taken=[key for key in taken if key not in new])

    def record_delivery(self, delivery: Delivery) -> None:
        """Mark a message delivered (a receipt), failed for now (retry_at) or given up.

        A receipt marks the message delivered unless it already is (the first receipt is
        kept). A failure counts an attempt of a pending message and either schedules the
        next one (``retry_at``) or gives up (status ``failed``); it changes nothing once
        the message is delivered or given up. Either releases the message's claim.

        Raises:
            StorageError: no message has that id, or the database failed.
        """
        update: LiteralString
        if delivery.receipt is not None:
            update = _DELIVERED
        elif delivery.retry_at is not None:
            update = _RETRY
        else:
            update = _GIVE_UP
        parameters = {
            "message_id": _put(delivery.message_id),
            "receipt": _put_optional(delivery.receipt),
            "at": delivery.at,
            "retry_at": delivery.retry_at,
            "error": _put_optional(delivery.error),
        }
        sql: LiteralString = _DELIVERY.replace("{update}", update.strip())
        ((_changed, known),) = self._query("recording a delivery", sql, parameters)
        if not known:
            raise StorageError(self.url, f"no outbox message {delivery.message_id!r}")

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool's connections (again is harmless); the store is unusable after."""
        with self._driver_errors("closing"):
            self._pool.close()


@hookimpl
def membercore_register_stores(register: Callable[[str, StoreOpener], None]) -> None:
    """Serve ``postgresql:`` and ``postgres:`` URLs."""
    for scheme in _SCHEMES:
        register(scheme, PostgresStore.open)
