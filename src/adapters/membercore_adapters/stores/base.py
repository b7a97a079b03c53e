"""What the first-party stores share: closing at the end of a ``with`` block, claims, outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from membercore.dates import require_aware
from membercore.errors import StorageError, UnknownMessageError, VersionConflictError


class Closing:
    """A store used as a context manager closes itself; its repr names its URL.

    Subclasses set ``url`` and define ``close``.
    """

    url: str

    def close(self) -> None:
        """Release what the store holds (each store defines it)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def claim_until(url: str, now: datetime, worker: str, lease: timedelta) -> datetime:
    """When a claim taken at ``now`` ends: ``now + lease``, once the claim is checked.

    Raises:
        NaiveInstantError: ``now`` has no timezone.
        StorageError: naming the store, when the claim has no worker name or a lease
            that is not positive.
    """
    moment = require_aware("now", now)
    if not worker:
        raise StorageError(url, "a claim needs a worker name")
    if lease <= timedelta(0):
        raise StorageError(url, f"a claim's lease must be positive, got {lease}")
    return moment + lease


def outcome_at(url: str, message_id: str, outcome: str, at: datetime) -> datetime:
    """When the outcome of ``message_id`` was reported: ``at`` in UTC, once it is checked.

    Raises:
        NaiveInstantError: ``at`` has no timezone.
        StorageError: naming the store and the message, when ``outcome`` is empty.
    """
    moment = require_aware("at", at)
    if not outcome:
        raise StorageError(url, f"an empty outcome for outbox message {message_id!r}")
    return moment


def undelivered(url: str, message_id: str, status: str | None) -> StorageError:
    """Why an outcome of ``message_id`` is refused: the message's ``status`` (None: no message)."""
    if status is None:
        return UnknownMessageError(url=url, message_id=message_id)
    return StorageError(
        url, f"outbox message {message_id!r} is {status}, not delivered: it has no outcome"
    )


def stale(url: str, versions: Mapping[str, int], stored: Mapping[str, int]) -> None:
    """Refuse a write whose records are not stored at the versions it was decided on.

    Raises:
        VersionConflictError: naming each record another commit moved on (or removed).
    """
    conflicts = {key: version for key, version in versions.items() if stored.get(key) != version}
    if conflicts:
        raise VersionConflictError(url, conflicts)
