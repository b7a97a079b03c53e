"""The SQL stores' accounts: API tokens, staff accounts and look-ups, in three tables.

:class:`SqlAccounts` is the :class:`~membercore.ports.AccountStore` of
:class:`~membercore_adapters.stores.sql.SqlStore`, written once for both dialects with
``?`` placeholders, over the tables of schema 8 (``api_tokens``, ``staff_accounts``,
``lookups``). Each write is a transaction of its own; the listings are streamed page by
page (keyset pagination), as the store's other listings are. ``lookups`` is append-only
in the database too: a trigger refuses every change and removal of a row.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

from membercore.dates import require_aware
from membercore.errors import StorageError
from membercore.ports import ApiToken, Lookup, StaffAccount
from membercore_adapters.stores.part import SqlPart
from membercore_adapters.stores.rows import LOOKUP_COLUMNS, STAFF_COLUMNS, TOKEN_COLUMNS

__all__ = ["SqlAccounts"]

_T = TypeVar("_T")

#: Rows per page of a streamed listing (as :data:`~membercore_adapters.stores.sql.PAGE`).
_PAGE: Final = 500

_INSERT_TOKEN: Final = (
    "INSERT INTO api_tokens (token_id, name, scopes, digest, created_at, revoked_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# The first revocation is kept.
_REVOKE: Final = "UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL"
_TOKEN: Final = f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_id = ?"
_TOKEN_BY_DIGEST: Final = f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE digest = ?"
_TOKENS_ORDER: Final = f" ORDER BY created_at, token_id LIMIT {_PAGE}"
_TOKENS: Final = f"SELECT {TOKEN_COLUMNS} FROM api_tokens{_TOKENS_ORDER}"
_TOKENS_AFTER: Final = (
    f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE (created_at, token_id) > (?, ?){_TOKENS_ORDER}"
)
_SAVE_STAFF: Final = """
    INSERT INTO staff_accounts (staff_id, name, role, password_hash, active, created_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (staff_id) DO UPDATE SET
        name = excluded.name, role = excluded.role, password_hash = excluded.password_hash,
        active = excluded.active, created_at = excluded.created_at
"""
_STAFF: Final = f"SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE staff_id = ?"
_STAFF_AFTER: Final = (
    f"SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE staff_id > ? ORDER BY staff_id LIMIT {_PAGE}"
)
_INSERT_LOOKUP: Final = (
    "INSERT INTO lookups (at, who, member_id, purpose, via) VALUES (?, ?, ?, ?, ?)"
)
# Completed by the filters asked for; served by lookups_member and lookups_who.
_LOOKUPS: Final = f"SELECT {LOOKUP_COLUMNS} FROM lookups WHERE seq > ?"


class SqlAccounts(SqlPart):
    """The :class:`~membercore.ports.AccountStore` of a SQL store.

    :class:`~membercore_adapters.stores.sql.SqlStore` provides what is abstract here.
    """

    @abstractmethod
    def _pages(
        self,
        doing: str,
        first: tuple[str, Sequence[object]],
        following: Callable[[tuple[Any, ...]], tuple[str, Sequence[object]]],
    ) -> Iterator[tuple[Any, ...]]:
        """Stream a listing page by page (keyset pagination)."""

    def _read(self, what: str, read: Callable[[tuple[Any, ...]], _T], row: tuple[Any, ...]) -> _T:
        """A row as its value; a row that makes none (damaged) is a StorageError."""
        try:
            return read(row)
        except ValueError as e:
            raise StorageError(self.url, f"reading {what}: {e}") from e

    def _named(self, kind: str, row: tuple[Any, ...]) -> str:
        """What a row is, by the key in its first column: ``staff account 'hm-01'``."""
        return f"{kind} {self._rows.got(row[0])!r}"

    # -- API tokens ---------------------------------------------------------------------

    def add_token(self, token: ApiToken) -> None:
        """Keep a new token, in a transaction of its own.

        Raises:
            StorageError: a token of its id or of its digest is stored already, the
                database failed, or the store was opened read-only (nothing written).
        """
        self._writable("adding a token")
        stored = self.token(token.token_id) or self.token_by_digest(token.digest)
        if stored is not None:
            raise StorageError(self.url, f"token {token.token_id!r} is stored already")
        rows = self._rows
        row = (
            rows.put(token.token_id),
            rows.put(token.name),
            " ".join(token.scopes),
            token.digest,
            rows.instant(token.created_at),
            rows.instant_optional(token.revoked_at),
        )
        self._write_all("adding a token", [(_INSERT_TOKEN, [row])])

    def revoke_token(self, token_id: str, at: datetime) -> ApiToken:
        """Revoke a token at ``at``, keeping its row (the first revocation is kept).

        Raises:
            NaiveInstantError: ``at`` is naive.
            StorageError: no token has that id, the database failed, or the store was
                opened read-only.
        """
        self._writable("revoking a token")
        moment = self._rows.instant(require_aware("at", at))
        self._write_all("revoking a token", [(_REVOKE, [(moment, self._rows.put(token_id))])])
        token = self.token(token_id)
        if token is None:
            raise StorageError(self.url, f"no token {token_id!r}")
        return token

    def token(self, token_id: str) -> ApiToken | None:
        """The token of ``token_id``, revoked or not."""
        rows = self._query("reading a token", _TOKEN, (self._rows.put(token_id),))
        return self._read(f"token {token_id!r}", self._rows.token, rows[0]) if rows else None

    def token_by_digest(self, digest: str) -> ApiToken | None:
        """The token whose secret's digest is ``digest``, revoked or not."""
        rows = self._query("reading a token", _TOKEN_BY_DIGEST, (self._rows.put(digest),))
        return (
            self._read(self._named("token", rows[0]), self._rows.token, rows[0]) if rows else None
        )

    def tokens(self) -> Iterator[ApiToken]:
        """Every token, by creation instant then id, streamed."""
        rows = self._pages(
            "listing tokens", (_TOKENS, ()), lambda last: (_TOKENS_AFTER, (last[4], last[0]))
        )
        return (self._read(self._named("token", row), self._rows.token, row) for row in rows)

    # -- staff accounts -----------------------------------------------------------------

    def save_staff_account(self, account: StaffAccount) -> None:
        """Keep ``account``, replacing the account of its staff id, in one transaction.

        Raises:
            StorageError: the database failed, or the store was opened read-only.
        """
        self._writable("saving a staff account")
        rows = self._rows
        row = (
            rows.put(account.staff_id),
            rows.put(account.name),
            rows.put(account.role),
            rows.put(account.password_hash),
            account.active,
            rows.instant(account.created_at),
        )
        self._write_all("saving a staff account", [(_SAVE_STAFF, [row])])

    def staff_account(self, staff_id: str) -> StaffAccount | None:
        """The account of ``staff_id``, active or not."""
        rows = self._query("reading a staff account", _STAFF, (self._rows.put(staff_id),))
        if not rows:
            return None
        return self._read(f"staff account {staff_id!r}", self._rows.staff, rows[0])

    def staff_accounts(self) -> Iterator[StaffAccount]:
        """Every staff account, by staff id, streamed."""
        rows = self._pages(
            "listing staff accounts", (_STAFF_AFTER, ("",)), lambda last: (_STAFF_AFTER, (last[0],))
        )
        staff = self._rows.staff
        return (self._read(self._named("staff account", row), staff, row) for row in rows)

    # -- look-ups -----------------------------------------------------------------------

    def record_lookup(self, lookup: Lookup) -> None:
        """Append a look-up, in a transaction of its own.

        Raises:
            StorageError: the database failed, or the store was opened read-only.
        """
        self._writable("recording a look-up")
        rows = self._rows
        row = (
            rows.instant(lookup.at),
            rows.put(lookup.who),
            rows.put(lookup.member_id),
            rows.put(lookup.purpose),
            rows.put(lookup.via),
        )
        self._write_all("recording a look-up", [(_INSERT_LOOKUP, [row])])

    def lookups(
        self,
        *,
        member_id: str | None = None,
        who: str | None = None,
        since: datetime | None = None,
    ) -> Iterator[Lookup]:
        """The look-ups recorded (of a member, by someone, since an instant), in order.

        Raises:
            NaiveInstantError: ``since`` is naive.
        """
        rows = self._rows
        filters: list[tuple[str, object]] = []
        if member_id is not None:
            filters.append((" AND member_id = ?", rows.put(member_id)))
        if who is not None:
            filters.append((" AND who = ?", rows.put(who)))
        if since is not None:
            filters.append((" AND at >= ?", rows.instant(require_aware("since", since))))
        sql = _LOOKUPS + "".join(where for where, _ in filters) + f" ORDER BY seq LIMIT {_PAGE}"
        wanted = tuple(value for _, value in filters)
        found = self._pages(
            "listing look-ups", (sql, (0, *wanted)), lambda last: (sql, (last[0], *wanted))
        )
        return (self._read("a look-up", rows.lookup, row) for row in found)
