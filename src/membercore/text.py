"""Values written for people: any value in a few dozen characters, for an error message.

Errors name the value that was wrong; a value from a feed may be ten megabytes of text,
a number of ten thousand digits (which Python refuses to write out) or nested
thousands deep. :func:`brief` writes any of them in a bounded number of characters.
"""

from __future__ import annotations

import reprlib
from datetime import date

__all__ = ["brief"]

# log10(2): a whole number of n bits has about n * 0.30103 decimal digits.
_DIGITS_PER_BIT = 0.30103


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel = 3
    short.maxtuple = short.maxlist = short.maxdict = 4
    short.maxset = short.maxfrozenset = short.maxdeque = short.maxarray = 4
    short.maxstring = short.maxother = 60
    short.maxlong = 40
    return short


_BRIEF = _short_repr()


def brief(value: object) -> str:
    """A value written for an error message in a few dozen characters, whatever it is."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<a number of about {int(value.bit_length() * _DIGITS_PER_BIT) + 1} digits>"
    if isinstance(value, date):  # an instant or a date as people write it: ISO 8601
        return value.isoformat()
    try:
        return _BRIEF.repr(value)
    except (ValueError, RecursionError, TypeError):
        return f"<{type(value).__name__}>"
