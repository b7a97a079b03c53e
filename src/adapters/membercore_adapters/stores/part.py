"""What the parts of a SQL store (its accounts, its erasure) need of the store itself.

:class:`SqlPart` declares it: the row mapping of the dialect, a query, a query over
``IN (...)``, a transaction of statements and the refusal of a write to a store opened
read-only. :class:`~membercore_adapters.stores.sql.SqlStore` and its dialects provide
them; :class:`~membercore_adapters.stores.accounts.SqlAccounts` and
:class:`~membercore_adapters.stores.erasing.SqlErasure` are written on them, once for both
dialects, with ``?`` placeholders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from membercore_adapters.stores.rows import Rows

__all__ = ["SqlPart"]


class SqlPart(ABC):
    """What a part of a SQL store is written on (the store provides it)."""

    url: str
    _rows: ClassVar[Rows]

    @abstractmethod
    def _query(self, doing: str, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        """The rows of one statement (``doing`` names it in errors)."""

    @abstractmethod
    def _select_in(self, doing: str, select: str, values: list[str]) -> list[Any]:
        """The rows of ``select`` (ending in ``WHERE column``) whose column is in ``values``."""

    @abstractmethod
    def _write_all(
        self,
        doing: str,
        statements: Sequence[tuple[str, list[Any]]],
        *,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        """Run each statement (``?`` placeholders) over its rows, all in one transaction.

        With ``versions``, first check in the transaction that each record is stored at
        its version (:class:`~membercore.errors.VersionConflictError` otherwise).
        """

    @abstractmethod
    def _writable(self, doing: str) -> None:
        """Refuse a write to a store opened read-only.

        Raises:
            StorageError: the store was opened read-only; nothing was written.
        """
