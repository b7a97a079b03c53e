"""The PostgreSQL store: a connection pool on one schema, and what only it does.

The reads, listings and deliveries are :class:`~membercore_adapters.stores.sql.SqlStore`'s;
here are opening a URL, creating and migrating the schema under an advisory lock, the
pipelined commit, the claiming statements, and the translation of psycopg errors (the
password never shows in one).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from membercore.errors import StorageError, StoreUnavailableError
from membercore.ports.commits import CheckedCommit
from membercore_adapters.stores.postgres import schema
from membercore_adapters.stores.postgres.schema import MIGRATION_LOCK, SCHEMA_VERSION_TABLE
from membercore_adapters.stores.postgres.statements import (
    CANCEL_OUTBOX,
    CLAIM,
    CLAIM_DUE,
    CREATE_RECORDS,
    DELIVERY,
    INSERT_DEAD_LETTERS,
    INSERT_IDENTIFIERS,
    INSERT_INBOX,
    INSERT_JOURNAL,
    INSERT_OUTBOX,
    LOCK_RECORDS,
    OUTCOME,
    ROWS,
    UPDATE_RECORDS,
    UPSERT_POSITIONS,
    UPSERT_TASKS,
    columns,
    got,
    spelled,
)
from membercore_adapters.stores.postgres.urls import (
    IDENTIFIER,
    SCHEMES,
    redact,
    secrets,
    shared_schema,
    split_schema,
)
from membercore_adapters.stores.rows import CommitRows
from membercore_adapters.stores.sql import SqlStore, migrate

# The driver is optional (the ``postgres`` extra): the plugin manager imports this module
# with every entry point, so a missing driver must only fail when a store is opened.
try:
    import psycopg
    import psycopg_pool
    from psycopg import conninfo as pg_conninfo
    from psycopg import sql
except ImportError as missing:  # pragma: no cover - the dev environment has the driver
    MISSING_DRIVER: ImportError | None = missing
    _DRIVER_ERROR: tuple[type[Exception], ...] = ()
else:
    MISSING_DRIVER = None
    _DRIVER_ERROR = (psycopg.Error,)

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = ["MISSING_DRIVER", "PostgresStore"]

_MAX_CONNECTIONS: Final = 4
# Seconds to wait for the server to accept a connection, and for a pooled one to free up.
_CONNECT_TIMEOUT: Final = 10
_POOL_TIMEOUT: Final = 15.0


class PostgresStore(SqlStore):
    """A :class:`~membercore.ports.Store` in a PostgreSQL schema, shared by threads.

    Open it with :meth:`open`; the constructor takes a URL too.

    Args:
        url: a ``postgresql://`` (or ``postgres://``) URL, with an optional ``schema``
            query parameter (by default
            :data:`~membercore_adapters.stores.postgres.schema.DEFAULT_SCHEMA`).
        max_connections: how many connections the pool may hold (one stays open).

    Raises:
        StoreUnavailableError: the driver is not installed, or the server cannot be
            reached or refuses the connection.
        StorageError: the URL is not a PostgreSQL URL, the schema name is not a plain
            identifier, the schema is newer than this membercore knows, or setting it up
            failed.
    """

    _rows = ROWS

    def __init__(self, url: str, *, max_connections: int = _MAX_CONNECTIONS) -> None:
        self.url = redact(url)
        self._secrets = secrets(url)
        scheme = url.partition("://")[0]
        if scheme not in SCHEMES or "://" not in url:
            raise StorageError(
                self.url, "not a PostgreSQL URL (postgresql://user@host:5432/database)"
            )
        missing_driver = MISSING_DRIVER
        if missing_driver is not None:
            raise StoreUnavailableError(
                self.url,
                f"the PostgreSQL driver is not installed ({missing_driver}): "
                "install membercore[postgres]",
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in url):
            raise StorageError(self.url, "the URL holds a control character (a newline?)")
        try:
            libpq_url, schema, shared = split_schema(url)
        except ValueError as e:
            raise StorageError(self.url, f"cannot read the URL: {self._scrub(e)}") from None
        if not IDENTIFIER.fullmatch(schema):
            raise StorageError(
                self.url,
                f"schema {schema!r} is not a plain lower-case identifier ([a-z_][a-z0-9_]*)",
            )
        if shared_schema(schema) and not shared:
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

    _driver_error = _DRIVER_ERROR

    def _translate(self, error: Exception, doing: str) -> StorageError:
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
    def _connection(self, doing: str) -> Iterator[Connection[tuple[Any, ...]]]:
        with self._driver_errors(doing), self._pool.connection() as conn:
            yield conn

    def _query(self, doing: str, sql: str, parameters: Any = ()) -> list[Any]:
        with self._connection(doing) as conn:
            return conn.execute(spelled(sql), parameters).fetchall()

    def _select_in(self, doing: str, select: str, values: list[str]) -> list[Any]:
        return self._query(doing, f"{select} = ANY(%b::text[])", (values,))

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
                    (MIGRATION_LOCK, self.schema),
                )
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                conn.execute(create.format(sql.Identifier(self.schema)))
                conn.execute(SCHEMA_VERSION_TABLE)
                self._migrate(conn)
        finally:
            conn.close()

    def _migrate(self, conn: Connection[tuple[Any, ...]]) -> None:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        # Read when a store opens, so that a test may stand in a schema of its own.
        migrate(
            self.url,
            f"schema {self.schema}",
            int(row[0]) if row else 0,
            schema.MIGRATIONS,
            schema.SCHEMA_VERSION,
            conn.execute,
            lambda number: conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (number,)
            ),
        )

    @property
    def schema_version(self) -> int:
        """The version the schema is at (the highest in its ``schema_version`` table)."""
        (row,) = self._query(
            "reading the schema version", "SELECT coalesce(max(version), 0) FROM schema_version"
        )
        return int(row[0])

    # -- claims: one statement each, skipping the rows another claimer is locking -----

    def _claim_due(self, now: Any, limit: int, worker: str, until: Any) -> list[Any]:
        parameters = {"now": now, "limit": limit, "worker": worker, "until": until}
        rows = self._query("claiming due records", CLAIM_DUE, parameters)
        # RETURNING promises no order: put the claimed rows back in due order (the stored
        # keys collate as "C", which is code point order, as Python compares them).
        rows.sort(key=lambda row: (row[1], row[0]))
        return rows

    def _claim_outbox(self, now: Any, limit: int, worker: str, until: Any) -> list[Any]:
        parameters = {"now": now, "limit": limit, "worker": worker, "until": until}
        rows = self._query("claiming the outbox", CLAIM, parameters)
        # RETURNING promises no order: put the claimed rows back in commit order.
        rows.sort(key=lambda row: row[0])
        return rows

    # -- writing ----------------------------------------------------------------------

    def _write(self, checked: CheckedCommit, rows: CommitRows) -> None:
        """One transaction sent as one pipeline; the versions are checked at its end."""
        # Key order: concurrent commits take the same locks in the same order.
        records = sorted(rows.records, key=lambda record: record[0])
        keys = [key for key, *_ in records]
        created = columns([(k, v, s, sv, due, m) for k, e, v, s, sv, due, m in records if not e])
        updated = columns([record for record in records if record[1]])
        with self._connection("committing") as conn, conn.pipeline(), conn.transaction():
            # Queued, not yet waited for: the whole transaction is one round trip or two.
            locked = conn.execute(LOCK_RECORDS, (keys,)) if keys else None
            inserted = conn.execute(CREATE_RECORDS, created) if created else None
            for statement, values in (
                (UPDATE_RECORDS, updated),
                (INSERT_JOURNAL, columns(rows.journal)),
                (INSERT_INBOX, columns(rows.inbox)),
                (INSERT_OUTBOX, columns(rows.outbox)),
                (INSERT_DEAD_LETTERS, columns(rows.dead_letters)),
                (UPSERT_TASKS, columns(rows.tasks)),
                (INSERT_IDENTIFIERS, columns(rows.identifiers)),
                (UPSERT_POSITIONS, columns(rows.positions)),
            ):
                if values:
                    conn.execute(statement, values)
            if rows.cancelled:
                conn.execute(CANCEL_OUTBOX, (rows.cancelled,))
            stored: dict[str, int] = {}
            if locked is not None:
                stored = {got(key): version for key, version in locked.fetchall()}
            new = {got(key) for (key,) in inserted.fetchall()} if inserted is not None else set()
            # A new record another writer stored after the lock was read: not ours.
            taken = [key for key, expected in checked.expected.items() if not expected]
            # Leaving the transaction with an exception rolls every write back.
            checked.check(self.url, stored, taken=[key for key in taken if key not in new])

    def _write_all(self, doing: str, statements: Sequence[tuple[str, list[Any]]]) -> None:
        with self._connection(doing) as conn, conn.transaction(), conn.cursor() as cursor:
            for statement, rows in statements:
                if rows:
                    cursor.executemany(spelled(statement), rows)

    def _deliver(self, update: str, parameters: tuple[object, ...], message_id: str) -> bool:
        statement = DELIVERY.replace("{update}", update.strip())
        ((_changed, known),) = self._query(
            "recording a delivery", statement, (*parameters, message_id)
        )
        return bool(known)

    def _outcome(self, update: str, parameters: tuple[object, ...], message_id: str) -> str | None:
        statement = OUTCOME.replace("{update}", update.strip())
        ((_changed, status),) = self._query(
            "recording an outcome", statement, (*parameters, message_id)
        )
        return None if status is None else got(status)

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool's connections (again is harmless); the store is unusable after."""
        with self._driver_errors("closing"):
            self._pool.close()
