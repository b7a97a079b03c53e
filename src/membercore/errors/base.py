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
        if attrs.has(type(self)):  # a root raised as it is: its fields, named
            fields = attrs.fields(type(self))
            return ", ".join(f"{field.name} {getattr(self, field.name)!r}" for field in fields)
        return super().__str__()

    def __repr__(self) -> str:
        if attrs.has(type(self)):
            return f"{type(self).__name__}({str(self)!r})"
        return super().__repr__()
