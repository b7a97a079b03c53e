"""What the first-party stores share: closing at the end of a ``with`` block, claim checks."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Self

from membercore.errors import StorageError


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


def check_claim(url: str, worker: str, lease: timedelta) -> None:
    """Refuse a claim without a worker name or with a lease that is not positive.

    Raises:
        StorageError: naming the store and what is wrong.
    """
    if not worker:
        raise StorageError(url, "a claim needs a worker name")
    if lease <= timedelta(0):
        raise StorageError(url, f"a claim's lease must be positive, got {lease}")
