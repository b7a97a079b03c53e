"""What every first-party store does on its way out: close when a ``with`` block ends."""

from __future__ import annotations

from types import TracebackType
from typing import Self


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
