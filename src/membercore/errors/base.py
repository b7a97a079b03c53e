"""The root of membercore's errors.

Every other error is an attrs class (``auto_exc``): frozen, its fields in ``args`` in the
order the constructor takes them, compared and hashed by identity. Each writes its
message in its own ``__str__``; ``repr`` shows the class and that message.
"""

from __future__ import annotations

import attrs

__all__ = ["MembercoreError"]


class MembercoreError(Exception):
    """Root of every error membercore raises on purpose."""

    def __repr__(self) -> str:
        if attrs.has(type(self)):
            return f"{type(self).__name__}({str(self)!r})"
        return super().__repr__()
