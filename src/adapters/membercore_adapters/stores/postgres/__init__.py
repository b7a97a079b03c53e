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
processes opening at once migrate once. Opened within
:func:`~membercore_adapters.stores.sql.read_only`, a store creates and migrates nothing
and its sessions are read only. :func:`drop_store` destroys a store: it drops its tables.

Every psycopg error is translated into :class:`~membercore.errors.StorageError`
(:class:`~membercore.errors.StoreUnavailableError` when the server cannot be reached,
the driver is not installed, or no connection frees up in time). The password never
appears in the store's URL, its ``repr`` or an error message.

The modules: :mod:`.schema` (migrations), :mod:`.urls` (the URL's parameters and its
password), :mod:`.statements` (the statements only PostgreSQL runs, and its text) and
:mod:`.store` (the store).
"""

from __future__ import annotations

from collections.abc import Callable

from membercore.hookspecs import StoreOpener, hookimpl
from membercore_adapters.stores.postgres.schema import DEFAULT_SCHEMA, MIGRATIONS, SCHEMA_VERSION
from membercore_adapters.stores.postgres.store import PostgresStore, drop_store
from membercore_adapters.stores.postgres.urls import SCHEMES

__all__ = [
    "DEFAULT_SCHEMA",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresStore",
    "drop_store",
    "membercore_register_stores",
]


@hookimpl
def membercore_register_stores(register: Callable[[str, StoreOpener], None]) -> None:
    """Serve ``postgresql:`` and ``postgres:`` URLs."""
    for scheme in SCHEMES:
        register(scheme, PostgresStore.open)
