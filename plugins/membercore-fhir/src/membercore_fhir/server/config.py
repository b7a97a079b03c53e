"""The FHIR server's settings, from the same TOML file as the mapping.

A file that polls a server, and receives its subscription notifications::

    [fhir_server]
    base_url = "https://fhir.his.example/fhir/R4"
    types = ["Patient", "Encounter", "Condition", "Observation"]   # in this order
    page_size = 200              # _count: resources per page
    overlap_seconds = 300        # how late the server may make a resource visible
    timeout_seconds = 30         # per request
    retries = 5                  # a 429, a 5xx or a lost connection, tried again this often
    backoff_seconds = 1.0        # the first wait, doubled each time (Retry-After wins)
    max_backoff_seconds = 60     # no wait is longer

    [fhir_server.search]         # more search parameters, per type (replacing the defaults)
    Observation = { category = "laboratory" }

    [fhir_server.auth]           # method = "none", "bearer" or "smart"
    method = "smart"
    token_url = "https://auth.his.example/token"
    client_id = "membercore"
    private_key_file = "/etc/membercore/his-fhir.pem"   # or private_key_env
    key_id = "membercore-2026"
    algorithm = "RS384"          # or "ES384"
    scope = "system/*.read"

    [fhir_subscription]
    path = "/fhir"               # where the server posts its notifications
    secret_header = "X-Membercore-Secret"
    secret_env = "HIS_FHIR_NOTIFY_SECRET"

    [fhir]                       # the mapping (see membercore_fhir.mapping)
    sender = "his"

Secrets are never in the file: it names the environment variables (``token_env``,
``private_key_env``, ``secret_env``) or the key file that hold them, read when a source
or listener is built. The file is read strictly: an unknown key or a wrong value is a
:class:`~membercore.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import attrs

from membercore.errors import ConfigError
from membercore.serialization import mapping_files as keys
from membercore_fhir.server.watermark import parse_instant
from membercore_fhir.translate import TRANSLATORS

__all__ = [
    "DEFAULT_SEARCH",
    "BearerToken",
    "FhirSettings",
    "NoAuth",
    "ServerConfig",
    "SmartBackend",
    "SubscriptionConfig",
    "load_settings",
    "settings_from_dict",
]

Algorithm = Literal["RS384", "ES384"]

#: The search parameters a type is searched with unless ``[fhir_server.search]`` names
#: its own: each resource's Encounter comes along (``_include``), and a result's order and
#: report, so that its facts take the visit number, department, order number and report
#: time as a bundle of them all would give them.
DEFAULT_SEARCH: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "Observation": {
        "_include": ("Observation:based-on",),
        "_revinclude": ("DiagnosticReport:result",),
    },
    "Condition": {"_include": ("Condition:encounter",)},
    "Procedure": {"_include": ("Procedure:encounter",)},
    "ChargeItem": {"_include": ("ChargeItem:context",)},
}
#: Parameters the source sets itself: a type's table may not name them.
_RESERVED = frozenset({"_lastUpdated", "_sort", "_count"})


@attrs.frozen
class NoAuth:
    """No credentials (a server on the hospital's own network that asks for none)."""


@attrs.frozen
class BearerToken:
    """A static bearer token, read from the environment variable ``token_env``."""

    token_env: str


@attrs.frozen(kw_only=True)
class SmartBackend:
    """SMART Backend Services: client credentials with a signed JWT assertion.

    Attributes:
        token_url: the authorization server's token endpoint (the assertion's ``aud``).
        client_id: the client id the hospital registered (``iss`` and ``sub``).
        private_key_file: a PEM file holding the private key, or
        private_key_env: the environment variable holding the PEM text.
        key_id: the key's ``kid`` in the JWKS the hospital registered.
        algorithm: ``RS384`` (an RSA key) or ``ES384`` (an EC P-384 key).
        scope: the scopes asked for (``system/*.read``).
    """

    token_url: str
    client_id: str
    private_key_file: str | None = None
    private_key_env: str | None = None
    key_id: str | None = None
    algorithm: Algorithm = "RS384"
    scope: str = "system/*.read"


Auth = NoAuth | BearerToken | SmartBackend


@attrs.frozen(kw_only=True)
class ServerConfig:
    """How to poll one FHIR server (``[fhir_server]``).

    Attributes:
        base_url: the server's base URL, without a trailing slash.
        types: the resource types polled, in order (Patient first, so that the facts
            after find their patients).
        page_size: resources asked for per page (``_count``).
        overlap: how far back from its clock the server may still make resources
            visible (a transaction committed late): the reads go back so far.
        timeout: seconds a request may take.
        retries: how often a request answered 429 or 5xx, or whose connection failed,
            is sent again before the read fails.
        backoff: the first wait before sending again, doubled each time.
        max_backoff: the longest wait (a longer ``Retry-After`` is cut to it).
        search: more search parameters per type.
        auth: the credentials.
        since: where a type's first search starts (``_lastUpdated=ge`` it) before any
            position was committed: the time of the export the history was loaded from,
            so that the first poll asks only for what changed since.
    """

    base_url: str
    types: tuple[str, ...] = tuple(TRANSLATORS)
    page_size: int = 100
    overlap: timedelta = timedelta(minutes=5)
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    search: Mapping[str, Mapping[str, tuple[str, ...]]] = DEFAULT_SEARCH
    auth: Auth = NoAuth()
    since: datetime | None = None

    def parameters(self, kind: str) -> Mapping[str, tuple[str, ...]]:
        """The type's own search parameters (its table, else the defaults)."""
        return self.search.get(kind, {})


@attrs.frozen(kw_only=True)
class SubscriptionConfig:
    """Where notifications are received (``[fhir_subscription]``).

    Attributes:
        path: the URL path the server posts to (its ``channel.endpoint``'s path).
        secret_header: a header every notification must carry (set in the
            Subscription's ``channel.header``), or None.
        secret_env: the environment variable holding the header's value.
    """

    path: str = "/fhir"
    secret_header: str | None = None
    secret_env: str | None = None


@attrs.frozen(kw_only=True)
class FhirSettings:
    """What one settings file says: the server (if any) and the subscription endpoint."""

    server: ServerConfig | None
    subscription: SubscriptionConfig


def load_settings(path: Path) -> FhirSettings:
    """Read a settings file (TOML, UTF-8).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not TOML, or a key is unknown or holds a wrong value.
    """
    return settings_from_dict(keys.read_toml(path, "the settings file"))


def settings_from_dict(data: Mapping[str, Any]) -> FhirSettings:
    """The settings of TOML data: ``fhir_server`` and ``fhir_subscription`` (others left).

    Raises:
        ConfigError: naming the key that is unknown or holds a wrong value.
    """
    server = _server(data["fhir_server"]) if "fhir_server" in data else None
    return FhirSettings(
        server=server, subscription=_subscription(data.get("fhir_subscription", {}))
    )


_SERVER_KEYS = {
    "base_url",
    "types",
    "page_size",
    "overlap_seconds",
    "timeout_seconds",
    "retries",
    "backoff_seconds",
    "max_backoff_seconds",
    "search",
    "auth",
    "since",
}


def _server(table: object) -> ServerConfig:
    table = _table("fhir_server", table, _SERVER_KEYS)
    if "base_url" not in table:
        raise ConfigError("fhir_server.base_url", "missing: the server's base URL")
    fields: dict[str, Any] = {"base_url": _url("fhir_server.base_url", table["base_url"])}
    if "types" in table:
        fields["types"] = _types(table["types"])
    for key, field, low in (
        ("page_size", "page_size", 1),
        ("retries", "retries", 0),
    ):
        if key in table:
            fields[field] = _integer(f"fhir_server.{key}", table[key], low)
    for key, field in (
        ("timeout_seconds", "timeout"),
        ("backoff_seconds", "backoff"),
        ("max_backoff_seconds", "max_backoff"),
    ):
        if key in table:
            fields[field] = _seconds(f"fhir_server.{key}", table[key])
    if "overlap_seconds" in table:
        seconds = _seconds("fhir_server.overlap_seconds", table["overlap_seconds"])
        fields["overlap"] = timedelta(seconds=seconds)
    if "search" in table:
        fields["search"] = {**DEFAULT_SEARCH, **_search(table["search"])}
    if "auth" in table:
        fields["auth"] = _auth(table["auth"])
    if "since" in table:
        fields["since"] = _instant("fhir_server.since", table["since"])
    return ServerConfig(**fields)


def _types(value: object) -> tuple[str, ...]:
    key = "fhir_server.types"
    if not isinstance(value, list) or not value:
        raise ConfigError(key, 'a list of resource types, e.g. ["Patient", "Encounter"]')
    for number, kind in enumerate(value):
        if kind not in TRANSLATORS:
            known = ", ".join(TRANSLATORS)
            raise ConfigError(
                f"{key}[{number}]",
                f"{kind!r} is not a type the programme takes facts from (known: {known})",
            )
    if len(set(value)) != len(value):
        raise ConfigError(key, "a type is named twice")
    return tuple(value)


def _search(value: object) -> dict[str, dict[str, tuple[str, ...]]]:
    tables = _table("fhir_server.search", value, None)
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind, parameters in tables.items():
        key = f"fhir_server.search.{kind}"
        if kind not in TRANSLATORS:
            raise ConfigError(key, f"{kind!r} is not a type the programme takes facts from")
        named = _table(key, parameters, None)
        found[kind] = {}
        for name, sent in named.items():
            if name in _RESERVED:
                raise ConfigError(f"{key}.{name}", "the source sets it itself")
            values = sent if isinstance(sent, list) else [sent]
            if not values or not all(isinstance(v, str) and v for v in values):
                raise ConfigError(f"{key}.{name}", f"text or a list of text, not {sent!r}")
            found[kind][name] = tuple(values)
    return found


_AUTH_KEYS = {
    "none": {"method"},
    "bearer": {"method", "token_env"},
    "smart": {
        "method",
        "token_url",
        "client_id",
        "private_key_file",
        "private_key_env",
        "key_id",
        "algorithm",
        "scope",
    },
}


def _auth(value: object) -> Auth:
    method = value.get("method") if isinstance(value, Mapping) else None
    if method not in _AUTH_KEYS:
        raise ConfigError("fhir_server.auth.method", f"{method!r} is not none, bearer or smart")
    table = _table("fhir_server.auth", value, _AUTH_KEYS[method])
    if method == "none":
        return NoAuth()
    if method == "bearer":
        return BearerToken(_required(table, "token_env"))
    fields: dict[str, Any] = {
        "token_url": _url("fhir_server.auth.token_url", _required(table, "token_url")),
        "client_id": _required(table, "client_id"),
    }
    for key in ("private_key_file", "private_key_env", "key_id", "scope"):
        if key in table:
            fields[key] = _text(f"fhir_server.auth.{key}", table[key])
    if ("private_key_file" in table) == ("private_key_env" in table):
        raise ConfigError(
            "fhir_server.auth.private_key_file",
            "name the key by private_key_file or by private_key_env (one of them)",
        )
    if "algorithm" in table:
        if table["algorithm"] not in get_args(Algorithm):
            raise ConfigError(
                "fhir_server.auth.algorithm", f"{table['algorithm']!r} is not RS384 or ES384"
            )
        fields["algorithm"] = table["algorithm"]
    return SmartBackend(**fields)


def _subscription(value: object) -> SubscriptionConfig:
    table = _table("fhir_subscription", value, {"path", "secret_header", "secret_env"})
    fields: dict[str, Any] = {}
    if "path" in table:
        path = _text("fhir_subscription.path", table["path"])
        if not path.startswith("/"):
            raise ConfigError("fhir_subscription.path", f"{path!r} does not start with /")
        fields["path"] = path.rstrip("/") or "/"
    if ("secret_header" in table) != ("secret_env" in table):
        raise ConfigError(
            "fhir_subscription.secret_env", "secret_header and secret_env go together"
        )
    for key in ("secret_header", "secret_env"):
        if key in table:
            fields[key] = _text(f"fhir_subscription.{key}", table[key])
    return SubscriptionConfig(**fields)


def _table(key: str, value: object, known: set[str] | None) -> Mapping[str, Any]:
    found = keys.table(key, value)
    if known is not None:
        keys.known(key, found, known)
    return found


def _required(table: Mapping[str, Any], name: str) -> str:
    if name not in table:
        raise ConfigError(f"fhir_server.auth.{name}", "missing")
    return _text(f"fhir_server.auth.{name}", table[name])


def _text(key: str, value: object) -> str:
    return keys.text(key, value).strip()


def _url(key: str, value: object) -> str:
    url = _text(key, value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(key, f"{url!r} is not an http or https URL")
    return url.rstrip("/")


def _integer(key: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(key, f"a whole number of at least {low}, not {value!r}")
    return value


def _instant(key: str, value: object) -> datetime:
    """An instant with its UTC offset (TOML's offset date-time, or text)."""
    found = (
        value
        if isinstance(value, datetime)
        else parse_instant(value)
        if isinstance(value, str)
        else None
    )
    if found is None or found.tzinfo is None:
        raise ConfigError(
            key, f"an instant with its UTC offset (2026-11-01T00:00:00+08:00), not {value!r}"
        )
    return found


def _seconds(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(key, f"a number of seconds (0 or more), not {value!r}")
    return float(value)
