"""The database servers tests run against: their URL once they answer, else a skip.

Each server is named by an environment variable (``MEMBERCORE_TEST_POSTGRES_URL``,
``MEMBERCORE_TEST_MARIADB_URL``), else the local default. A test that needs one asks
:func:`server_url`: without an answering server it is skipped with the reason — except in
CI (the environment variable ``CI`` set), where that is a failure: a backend must never
go untested there unnoticed. The drivers are imported only when asked for: their absence
is a reason like any other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import attrs
import pytest

__all__ = ["SERVERS", "Server", "postgres_schema", "schema_relations", "server_url"]


@attrs.frozen
class Server:
    """A kind of test server: the variable naming it, its default URL, how to reach it."""

    variable: str
    default: str
    probe: Callable[[str], None]


def _postgres(url: str) -> None:
    import psycopg  # noqa: PLC0415 - the driver is optional: its absence is a skip

    with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3, autocommit=True) as conn:
        conn.execute("SELECT 1")


def _mariadb(url: str) -> None:
    import pymysql  # noqa: PLC0415 - the driver is optional: its absence is a skip

    parts = urlsplit(url)
    connection = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/") or None,
        connect_timeout=3,
    )
    connection.close()


#: The servers by kind: ``postgresql`` (a psycopg URL) and ``mariadb`` (a SQLAlchemy
#: ``mysql+pymysql://`` URL).
SERVERS = {
    "postgresql": Server(
        "MEMBERCORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test", _postgres
    ),
    "mariadb": Server(
        "MEMBERCORE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test", _mariadb
    ),
}


def server_url(kind: str) -> str:
    """The URL of the test server of ``kind``, once it answers (else a skip, or a failure in CI).

    Raises:
        KeyError: no server is of that kind.
    """
    server = SERVERS[kind]
    url = os.environ.get(server.variable) or server.default
    try:
        server.probe(url)
    except Exception as error:  # whatever it was: the driver, the network, the server
        said = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = (
            f"{kind} not reachable at {_redacted(url)} ({type(error).__name__}: {said}); "
            f"set {server.variable}"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return url


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


@contextmanager
def postgres_schema(url: str, prefix: str = "mc_test") -> Iterator[str]:
    """``url`` naming a PostgreSQL schema of its own (``?schema=``), dropped afterwards."""
    import psycopg  # noqa: PLC0415 - reached once server_url found the driver
    from psycopg import sql  # noqa: PLC0415

    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def schema_relations(url: str, kinds: str = "r") -> set[str]:
    """The relations of ``kinds`` in the schema a URL names (``?schema=``).

    Args:
        url: a PostgreSQL URL naming its schema, as :func:`postgres_schema` gives.
        kinds: ``pg_class.relkind`` letters: ``r`` tables (the default), ``S``
            sequences, ``i`` indexes; ``""`` every kind.
    """
    import psycopg  # noqa: PLC0415 - reached once server_url found the driver

    server, _, query = url.partition("?")
    schema = query.rpartition("schema=")[2].partition("&")[0]
    with psycopg.connect(server, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND (%s = '' OR strpos(%s, c.relkind::text) > 0)",
            (schema, kinds, kinds),
        ).fetchall()
    return {name for (name,) in rows}
