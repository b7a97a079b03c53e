"""Who is calling: the authentication port of the HTTP API, and bearer tokens held in memory.

The API asks an :class:`Authenticator` who sends a request, from its ``Authorization``
header, and gets a :class:`Principal` back (or ``None``: the request is refused with
401). What a principal may do is its scopes; each endpoint names the scope it needs
(403 without it). A member of staff's scopes follow from their role
(:data:`ROLE_SCOPES`). :class:`StaticTokens` holds bearer tokens given once (the tests',
``membercore serve --token-file``), kept only as SHA-256 digests and compared in
constant time; :class:`~membercore_adapters.http.accounts.StoredAccounts` reads the
store's API tokens and the staff's sign-in sessions; :class:`AnyOf` asks several in turn.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol, get_args

import attrs

from membercore.errors import ConfigError

__all__ = [
    "KINDS",
    "ROLES",
    "ROLE_SCOPES",
    "SCOPES",
    "AnyOf",
    "Authenticator",
    "Kind",
    "Principal",
    "Role",
    "Scope",
    "StaticTokens",
    "bearer",
    "load_token_file",
]

#: What a principal may do: send facts, read members and tasks, carry out commands
#: (staff's task work included), administer.
Scope = Literal["ingest", "read", "commands", "admin"]
#: A hospital system (the HIS, the mini-program, the CRM), or a member of staff.
Kind = Literal["system", "staff"]
#: The roles of the staff who use the API (:data:`membercore.ports.STAFF_ROLES`).
Role = Literal["health_manager", "nurse", "doctor", "call_centre", "customer_service", "admin"]

SCOPES: frozenset[str] = frozenset(get_args(Scope))
KINDS: frozenset[str] = frozenset(get_args(Kind))
ROLES: frozenset[str] = frozenset(get_args(Role))

#: What each role may do. Staff who look after patients read the records they may see
#: and carry out commands on them (their tasks among them); they send no facts, which
#: come from the hospital's systems. An administrator may do everything.
ROLE_SCOPES: Mapping[str, frozenset[Scope]] = {
    "health_manager": frozenset({"read", "commands"}),
    "nurse": frozenset({"read", "commands"}),
    "doctor": frozenset({"read", "commands"}),
    "call_centre": frozenset({"read", "commands"}),
    "customer_service": frozenset({"read", "commands"}),
    "admin": frozenset({"admin"}),
}


def _scopes(
    _: object, attribute: attrs.Attribute[frozenset[Scope]], value: frozenset[Scope]
) -> None:
    unknown = sorted(set(value) - SCOPES)
    if unknown:
        raise ValueError(f"{attribute.name}: unknown scopes {unknown} (known: {sorted(SCOPES)})")


def _as_scopes(scopes: Iterable[str]) -> frozenset[Scope]:
    """The scopes as a frozenset (each checked by :func:`_scopes`)."""
    return frozenset(scopes)  # type: ignore[arg-type] # checked by the validator


@attrs.frozen(kw_only=True)
class Principal:
    """Who a request comes from, as the authenticator found them.

    Attributes:
        kind: ``system`` (a hospital system) or ``staff``.
        id: the system's name, or the staff member's key on the programme's roster (the
            tasks they claim are given to it).
        scopes: what they may do (``ingest``, ``read``, ``commands``, ``admin``).
        role: a staff member's role; ``None`` for a system.
    """

    kind: Kind = attrs.field(validator=attrs.validators.in_(KINDS))
    id: str = attrs.field(validator=attrs.validators.min_len(1))
    scopes: frozenset[Scope] = attrs.field(converter=_as_scopes, validator=_scopes)
    role: Role | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(ROLES))
    )

    @role.validator
    def _role_for_staff(self, _: attrs.Attribute[Role | None], value: Role | None) -> None:
        if self.kind == "staff" and value is None:
            raise ValueError("a staff principal has a role")
        if self.kind == "system" and value is not None:
            raise ValueError("a system principal has no role")

    def may(self, scope: Scope) -> bool:
        """Whether the principal holds ``scope`` (``admin`` holds every scope)."""
        return scope in self.scopes or "admin" in self.scopes


class Authenticator(Protocol):
    """Tells who sends a request from its ``Authorization`` header.

    Awaited for every request but the public ones (``GET /openapi.json``, signing in),
    on the server's event loop: an implementation reading a store does it off the loop
    (on the engine's thread), never blocking it.
    """

    async def authenticate(self, authorization_header: str | None) -> Principal | None:
        """The principal the header names, or ``None`` when it names nobody.

        Args:
            authorization_header: the header's value (``Bearer <token>``), or ``None``
                when the request has none.

        Returns:
            The principal, or ``None``: missing, malformed, unknown or revoked
            credentials alike (the API answers 401 without saying which).
        """
        ...


def bearer(authorization_header: str | None) -> str | None:
    """The token of a ``Bearer <token>`` header, or ``None`` for any other header."""
    if authorization_header is None:
        return None
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class AnyOf:
    """Authenticators asked in turn: the first that names a principal is believed.

    Args:
        authenticators: asked in this order.
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._each = tuple(authenticators)

    async def authenticate(self, authorization_header: str | None) -> Principal | None:
        """The principal the first authenticator that knows the header names, or ``None``."""
        for authenticator in self._each:
            found = await authenticator.authenticate(authorization_header)
            if found is not None:
                return found
        return None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class StaticTokens:
    """Bearer tokens given in memory, each standing for a principal.

    Only the SHA-256 digest of each token is kept; a header's token is digested and
    compared with every known digest with :func:`hmac.compare_digest`, so that neither
    a match nor its place is told by the time taken.

    Args:
        tokens: each token with the principal it stands for.

    Raises:
        ConfigError: a token is empty.
    """

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        held: list[tuple[bytes, Principal]] = []
        for token, principal in tokens.items():
            if not token.strip():
                raise ConfigError("tokens", "a token is empty")
            held.append((_digest(token), principal))
        self._held = tuple(held)

    async def authenticate(self, authorization_header: str | None) -> Principal | None:
        """The principal of the header's bearer token, or ``None``."""
        token = bearer(authorization_header)
        if token is None:
            return None
        digest = _digest(token)
        found = None
        for known, principal in self._held:
            if hmac.compare_digest(known, digest):  # every digest compared: no early exit
                found = principal
        return found

    def __repr__(self) -> str:
        return f"StaticTokens({len(self._held)} tokens)"


def load_token_file(path: Path) -> StaticTokens:
    """The tokens of a token file (``membercore serve --token-file``).

    The file is JSON: a list of objects with ``token``, ``kind``, ``id``, ``scopes`` and,
    for staff, ``role``::

        [{"token": "…", "kind": "system", "id": "his", "scopes": ["ingest", "read"]},
         {"token": "…", "kind": "staff", "id": "hm-wang", "role": "health_manager",
          "scopes": ["read", "commands"]}]

    Each token is at least 16 characters long (a random one: ``openssl rand -hex 24``),
    and no two entries hold the same token.

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not such a list, naming the entry and key; a token is
            too short; two entries hold the same token (both named).
    """
    text = path.read_text(encoding="utf-8")
    try:
        entries = json.loads(text)
    except ValueError as error:
        raise ConfigError(str(path), f"not JSON: {error}") from None
    if not isinstance(entries, list):
        raise ConfigError(str(path), "a token file is a JSON list of objects")
    tokens: dict[str, Principal] = {}
    places: dict[str, int] = {}
    for place, entry in enumerate(entries):
        token, principal = _entry(str(path), place, entry)
        if token in places:
            raise ConfigError(
                f"{path}[{place}].token",
                f"the same token as {path}[{places[token]}]: each token stands for one principal",
            )
        places[token] = place
        tokens[token] = principal
    return StaticTokens(tokens)


#: The fewest characters of a token in a token file.
MIN_TOKEN_LENGTH = 16


_KEYS = frozenset({"token", "kind", "id", "scopes", "role"})


def _entry(path: str, place: int, entry: object) -> tuple[str, Principal]:
    where = f"{path}[{place}]"
    if not isinstance(entry, dict):
        raise ConfigError(where, "each token is a JSON object")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", f"unknown key {unknown[0]!r}")
    for key in ("token", "kind", "id"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ConfigError(f"{where}.{key}", "a non-empty string is needed")
    if len(entry["token"]) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{where}.token",
            f"a token of at least {MIN_TOKEN_LENGTH} characters is needed, got "
            f"{len(entry['token'])}: make one with `openssl rand -hex 24`",
        )
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(f"{where}.scopes", f"a list of scopes ({', '.join(sorted(SCOPES))})")
    try:
        principal = Principal(
            kind=entry["kind"], id=entry["id"], scopes=scopes, role=entry.get("role")
        )
    except (ValueError, TypeError) as error:
        raise ConfigError(where, str(error)) from None
    return str(entry["token"]), principal
