"""Who may use the programme, as a store keeps it: API tokens, staff accounts, look-ups.

An optional capability of a store, not a role every store must have: a store that keeps
accounts implements :class:`AccountStore` besides :class:`~membercore.ports.Store`, and
the HTTP API, the staff console and the ``membercore token`` and ``membercore staff``
commands ask ``isinstance(store, AccountStore)`` before they use it. The first-party
stores (memory, SQLite, PostgreSQL) all keep accounts; a plugin's store may leave them
out and stays a whole store.

- An :class:`ApiToken` lets a system (the HIS integration, the member app's back end)
  call the API with some of :data:`SCOPES`. Only the SHA-256 digest of its secret is
  kept; revoking it keeps the row, with the instant it was revoked.
- A :class:`StaffAccount` lets a member of staff sign in to the console with one of
  :data:`STAFF_ROLES`; only the scrypt hash of the password is kept
  (:mod:`membercore.access` makes and checks both).
- A :class:`Lookup` records that someone looked at a member's record: when, who, which
  member, for what purpose and through what (:data:`VIA`). Look-ups are only ever
  appended: the port has no method that changes or removes one.

Instants are aware and kept in UTC. Behaviour is pinned by
:class:`~membercore.testing.contracts.AccountsContract`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, as_utc_or_none, aware, aware_or_none
from membercore.ports.store import Recorder

__all__ = [
    "SCOPES",
    "STAFF_ROLES",
    "VIA",
    "AccountStore",
    "ApiToken",
    "Lookup",
    "StaffAccount",
]

#: What an API token may be used for: taking facts in, reading records, sending
#: commands, administering the programme (tokens and accounts among them).
SCOPES: Final = ("ingest", "read", "commands", "admin")
#: The roles of a staff account: the health manager (健康管家), the nurse (护士), the
#: doctor (医生), the call centre (呼叫中心: the calls the programme asks of its
#: ``[outreach] call_role``), customer service (客服) and the administrator (管理员).
STAFF_ROLES: Final = (
    "health_manager",
    "nurse",
    "doctor",
    "call_centre",
    "customer_service",
    "admin",
)
#: Through what a look-up was made: the HTTP API, the staff console, the command line.
VIA: Final = ("api", "console", "cli", "engine")

_TOKEN_ID: Final = re.compile(r"[a-z0-9]{1,64}")
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


def _scopes(items: Iterable[str]) -> tuple[str, ...]:
    """Scopes once each, in the order of :data:`SCOPES` (any others after, sorted)."""
    if isinstance(items, str):
        raise TypeError(f"scopes are a collection of scope names, not the text {items!r}")
    wanted = set(items)
    return tuple(s for s in SCOPES if s in wanted) + tuple(sorted(wanted - set(SCOPES)))


def _known_scopes(_instance: Any, _attribute: Any, scopes: tuple[str, ...]) -> None:
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}: a token's scopes are {', '.join(SCOPES)}")


def _token_id(_instance: Any, _attribute: Any, token_id: str) -> None:
    if not _TOKEN_ID.fullmatch(token_id):
        raise ValueError(f"token id {token_id!r} is not 1 to 64 lower-case letters and digits")


def _digest(_instance: Any, _attribute: Any, digest: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise ValueError("a token's digest is a SHA-256 digest in 64 lower-case hex digits")


def _role(_instance: Any, _attribute: Any, role: str) -> None:
    if role not in STAFF_ROLES:
        raise ValueError(f"unknown role {role!r}: a staff account's roles are {STAFF_ROLES}")


def _via(_instance: Any, _attribute: Any, via: str) -> None:
    if via not in VIA:
        raise ValueError(f"unknown way {via!r}: a look-up is made through one of {VIA}")


@attrs.frozen(kw_only=True)
class ApiToken:
    """A system's token for the API: its name, what it may do, and its secret's digest.

    The secret itself is shown once, when the token is made, and kept nowhere
    (:func:`membercore.access.token_digest` gives the digest kept here). The digest is
    left out of the ``repr``.

    Attributes:
        token_id: the token's id (lower-case letters and digits), which its secret
            carries after its prefix (``mc_<token_id>_...``).
        name: what the token is for, as people name it (``HIS integration``).
        scopes: what it may be used for, each of :data:`SCOPES` once, in that order.
        digest: the SHA-256 digest of its secret, as 64 lower-case hex digits.
        created_at: when it was made.
        revoked_at: when it was revoked (None: it is in force).
    """

    token_id: str = attrs.field(validator=_token_id)
    name: str = attrs.field(validator=non_empty)
    scopes: tuple[str, ...] = attrs.field(converter=_scopes, validator=_known_scopes)
    digest: str = attrs.field(validator=_digest, repr=False)
    created_at: datetime = attrs.field(converter=as_utc, validator=aware)
    revoked_at: datetime | None = attrs.field(
        default=None, converter=as_utc_or_none, validator=aware_or_none
    )

    @property
    def revoked(self) -> bool:
        """Whether the token was revoked: it authenticates no one any more."""
        return self.revoked_at is not None


@attrs.frozen(kw_only=True)
class StaffAccount:
    """A member of staff's account for the console.

    Attributes:
        staff_id: the staff id, as the programme's staff roster (``[[staff.staff]]``
            ``key``) and the hospital's directory name them (``hm-01``).
        name: shown to colleagues (``王健康``).
        role: one of :data:`STAFF_ROLES`.
        password_hash: the password's scrypt hash, self-describing
            (:func:`membercore.access.hash_password`); left out of the ``repr``.
        active: whether the account may sign in (a deactivated one is kept).
        created_at: when it was made.
    """

    staff_id: str = attrs.field(validator=non_empty)
    name: str = attrs.field(validator=non_empty)
    role: str = attrs.field(validator=_role)
    password_hash: str = attrs.field(validator=non_empty, repr=False)
    active: bool = True
    created_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class Lookup:
    """Someone looked at a member's record: the entry the audit trail of reads is made of.

    Attributes:
        at: when.
        who: who looked: a member of staff's id (``hm-01``), or for a system the id of
            the API token it used, written ``token:<token_id>``
            (:func:`membercore.access.who`).
        member_id: the member whose record was read.
        purpose: why (``follow-up call``, ``service desk enquiry``...): a short reason,
            never the record's content.
        via: through what: one of :data:`VIA`.
    """

    at: datetime = attrs.field(converter=as_utc, validator=aware)
    who: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    purpose: str = attrs.field(validator=non_empty)
    via: str = attrs.field(validator=_via)


@runtime_checkable
class AccountStore(Recorder, Protocol):
    """A store that keeps API tokens, staff accounts and look-ups (an optional capability).

    Each write is a transaction of its own, apart from :meth:`Recorder.commit`: who may
    use the programme is not part of any member's record. Every method may raise
    :class:`~membercore.errors.StorageError` (a store opened read-only refuses every
    write so); a driver's own errors never escape.
    """

    # -- API tokens ---------------------------------------------------------------------

    def add_token(self, token: ApiToken) -> None:
        """Keep a new token.

        Raises:
            StorageError: naming the token, when a token of its id or of its digest is
                stored already (nothing was written).
        """
        ...

    def revoke_token(self, token_id: str, at: datetime) -> ApiToken:
        """Revoke a token at ``at``, keeping its row; the token as it now stands.

        The first revocation is kept: revoking a revoked token changes nothing.

        Raises:
            NaiveInstantError: ``at`` is naive.
            StorageError: naming the token, when no token has that id.
        """
        ...

    def token(self, token_id: str) -> ApiToken | None:
        """The token of ``token_id``, revoked or not; None when there is none."""
        ...

    def token_by_digest(self, digest: str) -> ApiToken | None:
        """The token whose secret's digest is ``digest``, revoked or not; None when none."""
        ...

    def tokens(self) -> Iterator[ApiToken]:
        """Every token, revoked ones too, by creation instant then id, streamed."""
        ...

    # -- staff accounts -----------------------------------------------------------------

    def save_staff_account(self, account: StaffAccount) -> None:
        """Keep ``account``, replacing the stored account of its staff id if there is one."""
        ...

    def staff_account(self, staff_id: str) -> StaffAccount | None:
        """The account of ``staff_id``, active or not; None when there is none."""
        ...

    def staff_accounts(self) -> Iterator[StaffAccount]:
        """Every staff account, deactivated ones too, by staff id, streamed."""
        ...

    # -- look-ups -----------------------------------------------------------------------

    def record_lookup(self, lookup: Lookup) -> None:
        """Append a look-up (the same look-up made twice is recorded twice)."""
        ...

    def lookups(
        self,
        *,
        member_id: str | None = None,
        who: str | None = None,
        since: datetime | None = None,
    ) -> Iterator[Lookup]:
        """The look-ups recorded, in the order they were recorded, streamed.

        Args:
            member_id: only those of this member's record.
            who: only those this member of staff (or system) made.
            since: only those made at or after this instant (aware).

        Raises:
            NaiveInstantError: ``since`` is naive.
        """
        ...
