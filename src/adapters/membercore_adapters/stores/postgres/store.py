"""The PostgreSQL store: a connection pool on one schema, and what only it does.

The reads, listings and deliveries are :class:`~membercore_adapters.stores.sql.SqlStore`'s;
here are opening a URL, creating and migrating the schema under an advisory lock, the
pipelined commit, the claiming statements, and the translation of psycopg errors (the
password never shows in one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from membercore.errors import StorageError, StoreUnavailableError
from membercore.ports.commits import CheckedCommit
from membercore_adapters.stores.base import stale
from membercore_adapters.stores.postgres import schema
from membercore_adapters.stores.postgres.schema import (
    MIGRATION_LOCK,
    SCHEMA_VERSION_TABLE,
    STORE_FUNCTIONS,
    STORE_TABLES,
)
from membercore_adapters.stores.postgres.statements import (
    CANCEL_OUTBOX,
    CLAIM,
    CLAIM_DUE,
    CREATE_RECORDS,
    DELIVERY,
    INSERT_DEAD_LETTERS,
    INSERT_IDENTIFIERS,
    INSERT_INBOX,
    INSERT_INPUTS,
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
from membercore_adapters.stores.sql import Opening, SqlStore, log, log_opened, migrate, opened_as

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

__all__ = ["MISSING_DRIVER", "PostgresStore", "drop_store"]

_MAX_CONNECTIONS: Final = 4
# Seconds to wait for the server to accept a connection, and for a pooled one to free up.
_CONNECT_TIMEOUT: Final = 10
_POOL_TIMEOUT: Final = 15.0


class PostgresStore(SqlStore):
    """A :class:`~membercore.ports.Store` in a PostgreSQL schema, shared by threads.

    Open it with :meth:`open`; the constructor takes a URL too. Opened within
    :func:`~membercore_adapters.stores.sql.read_only`, it creates and migrates nothing,
    and every session is read only (``default_transaction_read_only``).

    Args:
        url: a ``postgresql://`` (or ``postgres://``) URL, with an optional ``schema``
            query parameter (by default
            :data:`~membercore_adapters.stores.postgres.schema.DEFAULT_SCHEMA`).
        max_connections: how many connections the pool may hold (one stays open).

    Raises:
        StoreUnavailableError: the driver is not installed, or the server cannot be
            reached or refuses the connection; read-only, the schema holds no
            membercore store.
        OutdatedSchemaError: an earlier release wrote the schema, and migrating it is
            not allowed here.
        StorageError: the URL is not a PostgreSQL URL, the schema name is not a plain
            identifier, the schema is newer than this membercore knows, or setting it up
            failed.
    """

    _rows = ROWS
    # Rows stay on the node of their record: an erasure moves them (see distribution).
    moves_messages = True

    def __init__(self, url: str, *, max_connections: int = _MAX_CONNECTIONS) -> None:
        self.url = redact(url)
        self._secrets = secrets(url)
        way = opened_as()
        self.read_only = way is Opening.READ_ONLY
        self.schema, self._conninfo = _target(url, read_only=self.read_only)
        found = self._set_up(way)
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
        log_opened(self.url, found, schema.SCHEMA_VERSION, way)

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
        return _scrubbed(error, self._secrets)

    _driver_error = _DRIVER_ERROR

    def _translate(self, error: Exception, doing: str) -> StorageError:
        return _translated(error, doing, self.url, self._secrets)

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

    def _set_up(self, way: Opening) -> int:
        """Create or migrate the schema as ``way`` allows; the version it was found at."""
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as e:
            raise StoreUnavailableError(self.url, f"cannot connect: {self._scrub(e)}") from e
        try:
            if way is Opening.READ_ONLY:
                with self._driver_errors("reading the schema"), conn:
                    return self._found(conn)
            with self._driver_errors("setting up the schema"), conn, conn.transaction():
                # Two processes opening at once: the second waits, then finds it done.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    (MIGRATION_LOCK, self.schema),
                )
                create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                conn.execute(create.format(sql.Identifier(self.schema)))
                conn.execute(SCHEMA_VERSION_TABLE)
                return self._migrate(conn, way)
        finally:
            conn.close()

    def _found(self, conn: Connection[tuple[Any, ...]]) -> int:
        """The version of the store's schema, read only; none there is said so.

        Raises:
            StoreUnavailableError: the schema holds no membercore store.
            OutdatedSchemaError: an earlier release wrote it.
            StorageError: a later release wrote it.
        """
        row = conn.execute(
            "SELECT current_database(), "
            "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s), "
            "to_regclass(format('%%I.%%I', %s::text, 'schema_version')) IS NOT NULL",
            (self.schema, self.schema),
        ).fetchone()
        database, schema_there, versioned = row if row else ("?", False, False)
        where = f"schema {self.schema} of database {database}"
        if not versioned:
            why = (
                "the schema does not exist" if not schema_there else "it holds no membercore tables"
            )
            raise StoreUnavailableError(
                self.url, f"no membercore store in {where} ({why}): nothing was created"
            )
        return self._migrate(conn, Opening.READ_ONLY, where=where)

    def _migrate(self, conn: Connection[tuple[Any, ...]], way: Opening, *, where: str = "") -> int:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        # Read when a store opens, so that a test may stand in a schema of its own.
        return migrate(
            self.url,
            where or f"schema {self.schema}",
            int(row[0]) if row else 0,
            schema.MIGRATIONS,
            schema.SCHEMA_VERSION,
            conn.execute,
            lambda number: conn.execute(
                "INSERT INTO schema_version (version) VALUES (%s)", (number,)
            ),
            way=way,
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
                (UPDATE_RECORDS, [*updated, updated[0]] if updated else updated),
                (INSERT_JOURNAL, columns(rows.journal)),
                (INSERT_INBOX, columns(rows.inbox)),
                (INSERT_OUTBOX, columns(rows.outbox)),
                (INSERT_DEAD_LETTERS, columns(rows.dead_letters)),
                (UPSERT_TASKS, columns(rows.tasks)),
                (INSERT_IDENTIFIERS, columns(rows.identifiers)),
                (UPSERT_POSITIONS, columns(rows.positions)),
                (INSERT_INPUTS, columns(rows.inputs)),
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

    def _write_all(
        self,
        doing: str,
        statements: Sequence[tuple[str, list[Any]]],
        *,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        with self._connection(doing) as conn, conn.transaction(), conn.cursor() as cursor:
            if versions:
                locked = conn.execute(LOCK_RECORDS, (sorted(ROWS.put(k) for k in versions),))
                stale(self.url, versions, {ROWS.got(k): v for k, v in locked.fetchall()})
            for statement, rows in statements:
                if rows:
                    cursor.executemany(spelled(statement), rows)

    def _deliver(self, update: str, parameters: tuple[object, ...], named: tuple[str, str]) -> bool:
        statement = DELIVERY.replace("{update}", update.strip())
        ((_changed, known),) = self._query("recording a delivery", statement, (*parameters, *named))
        return bool(known)

    def _outcome(
        self, update: str, parameters: tuple[object, ...], named: tuple[str, str]
    ) -> str | None:
        statement = OUTCOME.replace("{update}", update.strip())
        ((_changed, status),) = self._query(
            "recording an outcome", statement, (*parameters, *named)
        )
        return None if status is None else got(status)

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool's connections (again is harmless); the store is unusable after."""
        with self._driver_errors("closing"):
            self._pool.close()


# -- what a store and drop_store share ----------------------------------------------------


def _scrubbed(error: BaseException | str, hidden: Sequence[str]) -> str:
    """An error's words with every secret of the URL replaced by ``***``."""
    message = str(error).strip()
    for secret in hidden:
        message = message.replace(secret, "***")
    return message


def _translated(error: Exception, doing: str, url: str, hidden: Sequence[str]) -> StorageError:
    """A driver's error as the StorageError to raise (the password scrubbed from it)."""
    message = f"{doing} failed: {_scrubbed(error, hidden)}"
    # A pool timeout or closed pool is an OperationalError too, as is a refused or
    # broken connection; a statement that fails on a live connection is not.
    unavailable = isinstance(error, psycopg_pool.PoolTimeout) or (
        isinstance(error, psycopg.OperationalError)
        and not isinstance(error, psycopg_pool.PoolClosed)
        and error.sqlstate is None
    )
    if unavailable:
        return StoreUnavailableError(url, message)
    return StorageError(url, message)


def _target(url: str, *, read_only: bool = False) -> tuple[str, str]:
    """The schema a store's URL names, and the libpq connection string for it.

    Every connection puts the store's schema first on its ``search_path``, keeps
    instants in UTC and text in UTF-8; ``read_only``, every transaction on it is read
    only (``default_transaction_read_only``), so that a write fails in the database
    too.

    Raises:
        StoreUnavailableError: the driver is not installed.
        StorageError: the URL is not a PostgreSQL URL, or names a schema that is not a
            plain identifier, or one shared by every application without saying so.
    """
    shown, hidden = redact(url), secrets(url)
    scheme = url.partition("://")[0]
    if scheme not in SCHEMES or "://" not in url:
        raise StorageError(shown, "not a PostgreSQL URL (postgresql://user@host:5432/database)")
    missing_driver = MISSING_DRIVER
    if missing_driver is not None:
        raise StoreUnavailableError(
            shown,
            f"the PostgreSQL driver is not installed ({missing_driver}): "
            "install membercore[postgres]",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise StorageError(shown, "the URL holds a control character (a newline?)")
    try:
        libpq_url, schema, shared = split_schema(url)
    except ValueError as e:
        raise StorageError(shown, f"cannot read the URL: {_scrubbed(e, hidden)}") from None
    if not IDENTIFIER.fullmatch(schema):
        raise StorageError(
            shown, f"schema {schema!r} is not a plain lower-case identifier ([a-z_][a-z0-9_]*)"
        )
    if shared_schema(schema) and not shared:
        raise StorageError(
            shown,
            f"schema {schema!r} is PostgreSQL's own or shared by every application: "
            "name one for membercore (?schema=membercore), or add shared_schema=yes "
            "to put the tables there on purpose",
        )
    try:
        params = pg_conninfo.conninfo_to_dict(libpq_url)
    except psycopg.Error as e:
        raise _translated(e, "reading the URL", shown, hidden) from e
    options = str(params.get("options") or "")
    settings = f"-c search_path={schema} -c TimeZone=UTC"
    if read_only:
        settings += " -c default_transaction_read_only=on"
    params["options"] = f"{options} {settings}".strip()
    params["client_encoding"] = "UTF8"
    params.setdefault("connect_timeout", _CONNECT_TIMEOUT)
    params.setdefault("application_name", "membercore")
    return schema, pg_conninfo.make_conninfo("", **params)


def drop_store(url: str) -> tuple[str, ...]:
    """Destroy the membercore store in the schema ``url`` names: drop its tables.

    **This destroys everything the store holds** — every member's record and journal,
    the outbox, the tasks, the dead letters, the sources' positions, the API tokens,
    staff accounts and look-ups — and cannot be undone. Call it only on a store its
    caller owns and means to start afresh (the store ``membercore demo`` wrote and
    marked as its own), never on a hospital's.

    Membercore's tables in that schema (and the function of the look-ups' trigger) are
    dropped in one transaction, under the lock that serialises openings and migrations,
    so that a store opening meanwhile waits and then creates the schema anew; the
    schema itself stays (with its grants), as does anything else in it or in the
    database. A schema that holds no membercore store is left as it is. Stop the
    workers on the store first: one still running fails on its next statement.

    Args:
        url: the store's URL, as :meth:`PostgresStore.open` takes it.

    Returns:
        The tables dropped (none when the schema held no membercore store).

    Raises:
        StoreUnavailableError: the server cannot be reached, or the driver is missing.
        StorageError: the URL is not a PostgreSQL one, a later release wrote the store
            (its tables are not all known here: nothing was dropped), or the database
            refused (another object depends on a table: nothing was dropped).
    """
    shown, hidden = redact(url), secrets(url)
    schema_name, conninfo = _target(url)
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as e:
        raise StoreUnavailableError(shown, f"cannot connect: {_scrubbed(e, hidden)}") from e
    try:
        with conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (MIGRATION_LOCK, schema_name)
            )
            tables = _store_tables(conn, schema_name)
            if "schema_version" not in tables:
                log.info("store %s: no membercore store in schema %s to drop", shown, schema_name)
                return ()
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            version = int(row[0]) if row else 0
            if version > schema.SCHEMA_VERSION:
                raise StorageError(
                    shown,
                    f"schema {schema_name} is at version {version}, newer than this "
                    f"membercore knows ({schema.SCHEMA_VERSION}): nothing was dropped",
                )
            drop = sql.SQL("DROP TABLE {}").format(
                sql.SQL(", ").join(sql.Identifier(schema_name, table) for table in tables)
            )
            conn.execute(drop)
            # The functions of the tables' triggers, gone with the tables.
            for function in STORE_FUNCTIONS:
                gone = sql.SQL("DROP FUNCTION IF EXISTS {}()")
                conn.execute(gone.format(sql.Identifier(schema_name, function)))
    except psycopg.Error as e:
        raise _translated(e, "dropping the store", shown, hidden) from e
    finally:
        conn.close()
    log.warning(
        "dropped the membercore store in schema %s of %s: %d tables, everything it held",
        schema_name,
        shown,
        len(tables),
    )
    return tables


def _store_tables(conn: Connection[tuple[Any, ...]], schema_name: str) -> tuple[str, ...]:
    """Membercore's tables that ``schema_name`` holds, as :data:`STORE_TABLES` orders them."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname = ANY(%s)",
        (schema_name, list(STORE_TABLES)),
    ).fetchall()
    present = {name for (name,) in rows}
    return tuple(table for table in STORE_TABLES if table in present)
