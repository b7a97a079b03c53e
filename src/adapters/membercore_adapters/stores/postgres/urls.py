"""The URLs of the PostgreSQL store: membercore's parameters, and passwords kept out of sight.

A store's URL is libpq's, plus ``schema`` (the PostgreSQL schema its tables live in) and
``shared_schema`` (yes to put them in ``public`` or PostgreSQL's own on purpose). The
store's ``url``, its ``repr`` and every error message show a password as ``***``.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from membercore_adapters.stores.postgres.schema import DEFAULT_SCHEMA

__all__ = ["IDENTIFIER", "SCHEMES", "redact", "secrets", "shared_schema", "split_schema"]

#: The URL schemes the store serves.
SCHEMES: Final = ("postgresql", "postgres")
#: What a schema's name may be: a plain lower-case identifier.
IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def redact(url: str) -> str:
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


def secrets(url: str) -> list[str]:
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


def split_schema(url: str) -> tuple[str, str, bool]:
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


def shared_schema(schema: str) -> bool:
    """PostgreSQL's own schemas, and ``public``, which every application shares."""
    return schema in ("public", "information_schema") or schema.startswith("pg_")
