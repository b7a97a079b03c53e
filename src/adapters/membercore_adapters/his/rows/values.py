"""A cell's value as the programme reads it: text, amounts in fen, instants, dates, flags.

A cell comes as a database driver or a file gives it: text (a CSV file), ``Decimal``
(a DECIMAL column), ``float`` (an Excel number, a SQLite REAL), ``int``, ``datetime``
(a DATETIME column, an Excel date) or ``date``. Each reader takes any of these and says
in words what is wrong with one it cannot take (:class:`CellError`); the row's
translation names the column.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

__all__ = [
    "CellError",
    "as_count",
    "as_date",
    "as_fen",
    "as_flag",
    "as_instant",
    "as_price_fen",
    "as_text",
    "shown",
]

_FLAGS = {
    "1": True,
    "y": True,
    "yes": True,
    "true": True,
    "t": True,
    "是": True,
    "0": False,
    "n": False,
    "no": False,
    "false": False,
    "f": False,
    "否": False,
}
# 2026-03-02 10:30:00, 2026/3/2 10:30, 2026-03-02T10:30:00.5+08:00, 2026-03-02.
_INSTANT = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


class CellError(ValueError):
    """A cell whose value cannot be read as the field needs: ``problem`` says why."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def shown(value: object) -> str:
    """A cell's value as text, the way a reason quotes it (``'12.345'``)."""
    if isinstance(value, datetime | date):
        return repr(value.isoformat(sep=" ") if isinstance(value, datetime) else str(value))
    if isinstance(value, float):
        return repr(repr(value))
    return repr(str(value))


def as_text(value: object) -> str | None:
    """Text, stripped; None for an empty cell. A number is written as it reads."""
    if value is None:
        return None
    if isinstance(value, float):
        text = str(_decimal(value)) if not value.is_integer() else str(int(value))
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, bytes):
        raise CellError(f"{shown(value)} is bytes, not text")
    else:
        text = str(value)
    text = text.strip()
    return text or None


def as_fen(value: object) -> int:
    """An amount in yuan (``128.50``) as whole fen, exactly; finer than a fen is refused."""
    fen = _yuan(value) * 100
    if fen != fen.to_integral_value():
        raise CellError(f"{shown(value)} yuan is finer than a fen")
    return int(fen)


def as_price_fen(value: object) -> int:
    """A unit price in yuan as fen, rounded half up (a tablet may cost 0.125 yuan)."""
    return int((_yuan(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def as_count(value: object) -> int | None:
    """A positive whole quantity (``3``, ``3.00``); None for one that is not whole or positive.

    Herbs are charged by the gram (``12.5``) and a refund line counts back (``-1``): the
    charge line keeps its amount, and says no quantity.
    """
    number = _number(value, "a quantity")
    if number <= 0 or number != number.to_integral_value():
        return None
    return int(number)


def as_flag(value: object) -> bool:
    """Yes or no: ``是``/``否``, ``Y``/``N``, ``1``/``0``, ``true``/``false``."""
    if isinstance(value, bool):
        return value
    text = (as_text(value) or "").lower()
    if text not in _FLAGS:
        raise CellError(f"{shown(value)} is not yes or no (是/否, Y/N, 1/0, true/false)")
    return _FLAGS[text]


def as_date(value: object) -> date:
    """A date: a ``date``, the date of a ``datetime``, or text (``2026-03-02``, ``2026/3/2``)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _parsed(value).date()


def as_instant(value: object, zone: ZoneInfo) -> datetime:
    """An aware instant; a naive time (or a date alone: its midnight) is in ``zone``."""
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, date):
        found = datetime.combine(value, time())
    else:
        found = _parsed(value)
    return found if found.tzinfo is not None else found.replace(tzinfo=zone)


def _parsed(value: object) -> datetime:
    text = as_text(value) or ""
    match = _INSTANT.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        found = datetime(  # noqa: DTZ001 - a naive time is given its zone by the caller
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
        if offset:
            found = datetime.fromisoformat(f"{found.isoformat()}{_offset(offset)}")
    except ValueError:
        raise CellError(f"{shown(value)} is not a date and time (2026-03-02 10:30:00)") from None
    return found


def _offset(text: str) -> str:
    if text == "Z":
        return "+00:00"
    return text if ":" in text else f"{text[:3]}:{text[3:]}"


def _yuan(value: object) -> Decimal:
    return _number(value, "an amount in yuan")


def _number(value: object, what: str) -> Decimal:
    if isinstance(value, bool):
        raise CellError(f"{shown(value)} is not {what}")
    if isinstance(value, Decimal | int | float):
        number = Decimal(value) if not isinstance(value, float) else _decimal(value)
        if not number.is_finite():
            raise CellError(f"{shown(value)} is not {what}")
        return number
    text = (as_text(value) or "").replace(",", "").removeprefix("¥").removeprefix("￥")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(f"{shown(value)} is not {what}") from None
    if not number.is_finite():
        raise CellError(f"{shown(value)} is not {what}")
    return number


def _decimal(value: float) -> Decimal:
    """A float (an Excel cell) as the decimal it stands for, to Excel's 15 digits.

    A formula's ``0.1*3`` is ``0.30000000000000004`` as a float and 0.3 in the cell.
    """
    if not math.isfinite(value):
        return Decimal(value)  # refused by the caller
    return Decimal(format(value, ".15g"))
