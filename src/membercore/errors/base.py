"""The root of membercore's errors.

Most errors are attrs classes (``auto_exc``): frozen, their fields in ``args`` in the
order the constructor takes them, compared and hashed by identity. Each writes its
message in its own ``__str__``; a family's root raised as it is names its fields;
``repr`` shows the class and the message. ``EngineError``, ``JourneyError`` and
``SegmentError`` take their message as their one argument.
"""

from __future__ import annotations

import attrs

__all__ = ["MembercoreError"]


class MembercoreError(Exception):
    """Root of every error membercore raises on purpose."""

    def __str__(self) -> str:
        kind = type(self)
        if attrs.has(kind):  # a root raised as it is: its fields, named
            return ", ".join(f"{f.name} {getattr(self, f.name)!r}" for f in attrs.fields(kind))
        return super().__str__()

    def __repr__(self) -> str:
        if attrs.has(type(self)):
            return f"{type(self).__name__}({str(self)!r})"
        return super().__repr__()
