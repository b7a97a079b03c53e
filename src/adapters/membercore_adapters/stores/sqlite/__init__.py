"""The SQLite store: the embedded default, one file (or memory), stdlib ``sqlite3`` only.

Open it by URL through the plugin manager, or directly::

    store = SqliteStore.open("sqlite:///var/membercore.db")    # relative to the cwd
    store = SqliteStore.open("sqlite:////srv/membercore.db")   # absolute
    store = SqliteStore.open("sqlite:///:memory:")             # private, gone on close

Opened within :func:`~membercore_adapters.stores.sql.read_only`, the file is opened
``mode=ro``: never created, migrated or written (a file no write-ahead log lies beside
is read ``immutable``, so that no ``-wal`` or ``-shm`` file is left beside it).

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

The modules: :mod:`.schema` (migrations and connection settings), :mod:`.statements`
(the statements only SQLite runs, and its instants) and :mod:`.store` (the store).
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.hookspecs import StoreOpener, hookimpl
from membercore_adapters.stores.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from membercore_adapters.stores.sqlite.store import SqliteStore, database_path

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SqliteStore",
    "database_path",
    "membercore_register_stores",
]


@hookimpl
def membercore_register_stores(register: Callable[[str, StoreOpener], None]) -> None:
    """Serve ``sqlite:`` URLs."""
    register("sqlite", SqliteStore.open)
