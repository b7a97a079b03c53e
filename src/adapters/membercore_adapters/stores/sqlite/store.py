"""The SQLite store: one connection to one file (or memory), and what only it does.

The reads, listings and deliveries are :class:`~membercore_adapters.stores.sql.SqlStore`'s;
here are opening a URL, setting a connection up and migrating the file, the ``BEGIN
IMMEDIATE`` transactions of claims, outcomes and commits, and the translation of
``sqlite3`` errors.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from membercore.errors import StorageError, StoreUnavailableError
from membercore.ports.commits import CheckedCommit
from membercore_adapters.stores.base import stale
from membercore_adapters.stores.rows import CommitRows
from membercore_adapters.stores.sql import Opening, SqlStore, log, log_opened, migrate, opened_as
from membercore_adapters.stores.sqlite import schema
from membercore_adapters.stores.sqlite.schema import PRAGMAS
from membercore_adapters.stores.sqlite.statements import (
    ADVANCE_RECORD,
    CANCEL_OUTBOX,
    CLAIM,
    CLAIM_DUE,
    CLAIMABLE,
    CLAIMABLE_DUE,
    INSERT_DEAD_LETTER,
    INSERT_IDENTIFIER,
    INSERT_INBOX,
    INSERT_INPUT,
    INSERT_JOURNAL,
    INSERT_OUTBOX,
    ROWS,
    UPSERT_POSITION,
    UPSERT_RECORD,
    UPSERT_TASK,
    VERSIONS,
    chunks,
    placeholders,
)

__all__ = ["SqliteStore", "database_path"]

_MEMORY = ":memory:"
# Whether a message exists, and its status: by its record and id, as stored.
_MESSAGE_KNOWN = "SELECT 1 FROM outbox WHERE key = ? AND message_id = ?"
_MESSAGE_STATUS = "SELECT status FROM outbox WHERE key = ? AND message_id = ?"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class SqliteStore(SqlStore):
    """A :class:`~membercore.ports.Store` in one SQLite database, used from one thread.

    Opened within :func:`~membercore_adapters.stores.sql.read_only`, the file is opened
    ``mode=ro``: it is never created, migrated or written, and every write is refused.

    Args:
        path: the database file (created with its schema when missing), or ``:memory:``
            for a private in-memory database that disappears on :meth:`close`.
        url: the URL to name the store by in errors (default: built from ``path``).
        busy_timeout: seconds to wait for another connection's write lock.

    Raises:
        StoreUnavailableError: the file's directory does not exist or the file cannot
            be opened; read-only, the file does not exist or is not a membercore store.
        OutdatedSchemaError: an earlier release wrote the file, and migrating it is not
            allowed here.
        StorageError: the file is not a SQLite database, or its schema is newer than
            this version of membercore knows.
    """

    _rows = ROWS

    def __init__(
        self, path: str | Path, *, url: str | None = None, busy_timeout: float = 5.0
    ) -> None:
        path = str(path)
        self.url = url or f"sqlite:///{path}"
        self.path = path
        self._busy_timeout = busy_timeout
        way = opened_as()
        self.read_only = way is Opening.READ_ONLY
        # How the file stood when it was opened as immutable (None: it was not).
        self._immutable: tuple[int, int, int] | None = None
        if self.read_only:
            self._conn = self._connect_read_only(path, busy_timeout)
        else:
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
            found = self._set_up(way)
        except sqlite3.Error as e:
            self._conn.close()
            if self.read_only and "not a database" in str(e):
                raise StoreUnavailableError(
                    self.url,
                    f"{path!r} is not a membercore store (not a SQLite database): "
                    "nothing was changed",
                ) from e
            raise self._translate(e, "opening") from e
        except BaseException:
            self._conn.close()
            raise
        log_opened(self.url, found, schema.SCHEMA_VERSION, way)

    def _connect_read_only(self, path: str, busy_timeout: float) -> sqlite3.Connection:
        """A connection that can neither create the file nor write to it (``mode=ro``).

        A file beside which no write-ahead log lies (no connection has it open, or the
        last one closed cleanly) is read as ``immutable``: SQLite then creates no
        ``-wal`` and ``-shm`` files beside it, which would be left behind owned by
        whoever read the store (the worker, another user, could not write them after),
        and reads a store in a directory it may not write. A file with its log beside it
        is being written: it is read with the log, and sees every commit.

        Raises:
            StoreUnavailableError: the file does not exist (nothing was created), is
                not a file, or cannot be opened.
        """
        if path == _MEMORY:
            raise StoreUnavailableError(
                self.url, "a private in-memory database holds no store to read"
            )
        file = Path(path)
        if not file.exists():
            where = "" if file.parent.is_dir() else " (its directory does not exist)"
            raise StoreUnavailableError(
                self.url, f"no store at {path!r}{where}: nothing was created"
            )
        if not file.is_file():
            raise StoreUnavailableError(self.url, f"{path!r} is not a file: no store there")
        seen = _stamp(file)
        logged = Path(f"{path}-wal").exists()
        uri = file.absolute().as_uri() + ("?mode=ro" if logged else "?mode=ro&immutable=1")
        # Read as immutable, the file is watched: a writer may come (and go) meanwhile.
        self._immutable = None if logged else seen
        if not logged:
            log.debug("store %s: no write-ahead log beside it, read as immutable", self.url)
        try:
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=True,
                cached_statements=256,
            )
        except sqlite3.Error as e:
            raise StoreUnavailableError(self.url, f"cannot open {path!r}: {e}") from e
        return conn

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
        return cls(database_path(url), url=url)

    # -- setting up -------------------------------------------------------------------

    def _set_up(self, way: Opening) -> int:
        """Set the connection up and bring the schema to date; the version found."""
        conn = self._conn
        if way is Opening.READ_ONLY:
            conn.execute("PRAGMA query_only = ON")
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if not version:
                raise StoreUnavailableError(
                    self.url,
                    f"{self.path!r} is not a membercore store (it holds no membercore "
                    "schema): nothing was changed",
                )
            found = self._migrate(way)
            self._end_stale_erasing(remove=False)
            return found
        self._refuse_foreign()
        self._write_ahead()
        for pragma in PRAGMAS:
            conn.execute(pragma)
        with self._immediate():
            found = self._migrate(way)
            self._end_stale_erasing()
            return found

    def _write_ahead(self) -> None:
        """Switch the file to WAL, waiting while another connection holds it (up to the timeout).

        WAL must be switched on outside a transaction (``:memory:`` answers "memory").
        SQLite answers "database is locked" at once, without waiting, when another
        connection is switching a new file at the same moment (two workers started
        together on it): the switch is tried again until the busy timeout is spent.
        """
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    def _end_stale_erasing(self, *, remove: bool = True) -> None:
        """Remove (or, opened read-only, warn of) a marker of ``erasing`` left committed.

        Only an erasure writes one, and removes it before it commits: one found here was
        committed by another writer to the file, and would let anyone change the input
        log and the look-ups. The triggers refuse that again once it is gone.
        """
        conn = self._conn
        held = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'erasing'"
        if conn.execute(held).fetchone() is None:  # a schema before erasures (a test's)
            return
        if not remove:
            (stale,) = conn.execute("SELECT count(*) FROM erasing").fetchone()
            if stale:
                log.warning(
                    "store %s holds %d marker(s) of table erasing that outlived their "
                    "transaction: the input log and the look-ups can be changed until a "
                    "command that writes to the store opens it and removes them",
                    self.url,
                    stale,
                )
            return
        stale = conn.execute("DELETE FROM erasing").rowcount
        if stale:
            log.warning(
                "store %s: removed %d marker(s) of table erasing that outlived their "
                "transaction (written to the file by another program); the input log and "
                "the look-ups are append-only again",
                self.url,
                stale,
            )

    def _refuse_foreign(self) -> None:
        """Refuse a database another application keeps, before anything is written to it.

        Raises:
            StorageError: the file holds tables and no membercore schema.
        """
        # One statement, one view of the file: another connection creating the schema
        # between a read of the version and a read of the tables would look foreign.
        foreign = (
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND (SELECT user_version FROM pragma_user_version) = 0 ORDER BY name LIMIT 4"
        )
        tables = [name for (name,) in self._conn.execute(foreign)]
        if tables:
            listed = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
            raise StorageError(
                self.url,
                f"{self.path!r} holds another application's tables ({listed}) and no "
                "membercore store: membercore keeps its store in a file of its own; "
                "nothing was changed",
            )

    def _migrate(self, way: Opening) -> int:
        conn = self._conn
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        # Read when a store opens, so that a test may stand in a schema of its own.
        return migrate(
            self.url,
            "the file's schema",
            version,
            schema.MIGRATIONS,
            schema.SCHEMA_VERSION,
            conn.execute,
            # PRAGMA takes no parameters; the number is an int we computed.
            lambda number: conn.execute(f"PRAGMA user_version = {int(number)}"),
            way=way,
        )

    @property
    def schema_version(self) -> int:
        """The schema version the database is at (``PRAGMA user_version``)."""
        with self._driver_errors("reading the schema version"):
            (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        return int(version)

    # -- errors -----------------------------------------------------------------------

    _driver_error = (sqlite3.Error,)

    def _translate(self, error: Exception, doing: str) -> StorageError:
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

    def _query(self, doing: str, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        with self._driver_errors(doing):
            if self._immutable is None:
                return self._conn.execute(sql, parameters).fetchall()
            return self._watched(sql, parameters)

    def _watched(self, sql: str, parameters: Sequence[object]) -> list[Any]:
        """A query of a file read as immutable, read again when a writer came meanwhile.

        SQLite trusts an immutable file never to change: a writer that came since it was
        opened (its log beside the file) or came and went (the file changed as its log
        was taken in) would be read past, or half read. The file is opened afresh — with
        the writer's log, if it is still there — and the query asked again.
        """
        if self._written():
            self._reopen()
        try:
            rows = self._conn.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError:  # half of a page written meanwhile
            if not self._written():
                raise
            rows = None
        if rows is None or self._written():
            self._reopen()
            rows = self._conn.execute(sql, parameters).fetchall()
        return rows

    def _written(self) -> bool:
        """Whether a writer came since the file was opened as immutable."""
        path = self.path
        try:
            return Path(f"{path}-wal").exists() or _stamp(Path(path)) != self._immutable
        except OSError:  # gone: opening it again says so
            return True

    def _reopen(self) -> None:
        log.debug("store %s: written while read as immutable, opened again", self.url)
        self._conn.close()
        self._conn = self._connect_read_only(self.path, self._busy_timeout)
        self._conn.execute("PRAGMA query_only = ON")

    def _select_in(self, doing: str, select: str, values: list[str]) -> list[Any]:
        found: list[Any] = []
        for chunk in chunks(values):
            found += self._query(doing, f"{select} IN ({placeholders(len(chunk))})", chunk)
        return found

    # -- claims -----------------------------------------------------------------------
    # One ``BEGIN IMMEDIATE`` transaction reads the claimable rows and marks them: the
    # write lock it takes first keeps every other claimer (in this process or another)
    # out until it commits.

    def _claim_due(self, now: Any, limit: int, worker: str, until: Any) -> list[Any]:
        parameters = (now, now, worker, limit)
        return self._claim(
            "claiming due records", CLAIMABLE_DUE, parameters, CLAIM_DUE, worker, until
        )

    def _claim_outbox(self, now: Any, limit: int, worker: str, until: Any) -> list[Any]:
        parameters = (now, now, now, limit)
        return self._claim("claiming the outbox", CLAIMABLE, parameters, CLAIM, worker, until)

    def _claim(
        self,
        doing: str,
        claimable: str,
        parameters: Sequence[object],
        mark: str,
        worker: str,
        until: int,
    ) -> list[Any]:
        """Read the claimable rows and mark each (by its first column) claimed, at once."""
        conn = self._conn
        with self._driver_errors(doing), self._immediate():
            rows = conn.execute(claimable, parameters).fetchall()
            conn.executemany(mark, [(worker, until, row[0]) for row in rows])
        return rows

    # -- writing ----------------------------------------------------------------------

    def _write(self, checked: CheckedCommit, rows: CommitRows) -> None:
        """One ``BEGIN IMMEDIATE`` transaction: check the versions, then write row by row."""
        whole = [(k, v, s, sv, due, m) for k, _, v, s, sv, due, m in rows.records if s is not None]
        kept = [(v, due, m, k) for k, _, v, s, _, due, m in rows.records if s is None]
        conn = self._conn
        with self._driver_errors("committing"), self._immediate():
            checked.check(self.url, self._versions(checked.expected))
            conn.executemany(UPSERT_RECORD, whole)
            conn.executemany(ADVANCE_RECORD, kept)
            conn.executemany(INSERT_JOURNAL, rows.journal)
            conn.executemany(INSERT_INBOX, rows.inbox)
            conn.executemany(INSERT_OUTBOX, rows.outbox)
            conn.executemany(INSERT_DEAD_LETTER, rows.dead_letters)
            if rows.tasks:
                conn.executemany(UPSERT_TASK, rows.tasks)
            conn.executemany(CANCEL_OUTBOX, [(message_id,) for message_id in rows.cancelled])
            conn.executemany(INSERT_IDENTIFIER, rows.identifiers)
            conn.executemany(UPSERT_POSITION, rows.positions)
            if rows.inputs:
                conn.executemany(INSERT_INPUT, rows.inputs)

    def _versions(self, keys: Iterable[str]) -> dict[str, int]:
        """The stored version of each record of ``keys`` that is stored (in the transaction)."""
        stored: dict[str, int] = {}
        for chunk in chunks(list(keys)):
            sql = f"{VERSIONS} IN ({placeholders(len(chunk))})"
            stored.update(self._conn.execute(sql, chunk).fetchall())
        return stored

    def _write_all(
        self,
        doing: str,
        statements: Sequence[tuple[str, list[Any]]],
        *,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        conn = self._conn
        with self._driver_errors(doing), self._immediate():
            if versions:
                stale(self.url, versions, self._versions(versions))
            for statement, rows in statements:
                conn.executemany(statement, rows)

    def _deliver(self, update: str, parameters: tuple[object, ...], named: tuple[str, str]) -> bool:
        with self._driver_errors("recording a delivery"):
            if self._conn.execute(update, parameters).rowcount:
                return True
            known = self._conn.execute(_MESSAGE_KNOWN, named)
            return known.fetchone() is not None

    def _outcome(
        self, update: str, parameters: tuple[object, ...], named: tuple[str, str]
    ) -> str | None:
        conn = self._conn
        # One transaction: the status read is the one the update met.
        with self._driver_errors("recording an outcome"), self._immediate():
            conn.execute(update, parameters)
            row = conn.execute(_MESSAGE_STATUS, named).fetchone()
        return None if row is None else str(row[0])

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (again is harmless); the store is unusable afterwards."""
        with self._driver_errors("closing"):
            self._conn.close()


def _stamp(file: Path) -> tuple[int, int, int]:
    """What changes when a file is written: its inode, size and modification time."""
    held = file.stat()
    return held.st_ino, held.st_size, held.st_mtime_ns


def database_path(url: str) -> str:
    """The file a ``sqlite:`` URL names, or ``:memory:``.

    The path is relative to the working directory or absolute, as
    :meth:`SqliteStore.open` reads the URL.

    Raises:
        StorageError: the URL is not a ``sqlite:`` URL of a local file.
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
        return _MEMORY
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
    return path
