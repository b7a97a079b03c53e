"""Values written for people: any value in a few dozen characters, for an error message.

Errors name the value that was wrong; a value from a feed may be ten megabytes of text,
a number of ten thousand digits (which Python refuses to write out) or nested
thousands deep. :func:`brief` writes any of them in a bounded number of characters.
:func:`span` writes a length of time in words (``3 days 2 hours``), not as Python's
``3 days, 2:00:00``.
"""

from __future__ import annotations

import reprlib
from datetime import date, timedelta

__all__ = ["brief", "span"]

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


#: The units :func:`span` writes, largest first, each with its length.
_UNITS = (
    ("day", timedelta(days=1)),
    ("hour", timedelta(hours=1)),
    ("minute", timedelta(minutes=1)),
    ("second", timedelta(seconds=1)),
    ("millisecond", timedelta(milliseconds=1)),
)


def span(delta: timedelta) -> str:
    """A length of time in words, in its two largest units: ``3 days 2 hours``, ``5 minutes``.

    The units are days, hours, minutes, seconds and milliseconds; those it holds none of
    are left out (``3 days 4 minutes``), and so is what is left below the second
    (``1 hour 30 minutes`` for 1:30:59). A part of a millisecond alone is ``less than a
    millisecond``; a negative length is written with a minus sign.
    """
    if delta < timedelta(0):
        return f"-{span(-delta)}"
    parts: list[str] = []
    left = delta
    for name, length in _UNITS:
        count, left = divmod(left, length)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    if parts:
        return " ".join(parts[:2])
    return "0 seconds" if delta == timedelta(0) else "less than a millisecond"
