"""Instants and the programme's business calendar: the one place for calendar rules.

Instants are timezone-aware and stored in UTC. Calendar rules (daily caps, month ends,
"N months later", birthdays and ages) are reckoned in the programme's timezone, default
``Asia/Shanghai``.

One rule for 29 February: in a common year, the anniversary of 29 February is 1 March.
A person born on 29 February is a year older, is greeted on their birthday and comes of
age on 1 March (:func:`anniversary`, :func:`age_on`), so age and birthday always agree;
1 March is also the safe reading for consent (a minor stays a minor until then). Month
arithmetic is another thing: :func:`add_months` clamps to the end of a shorter month.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from membercore.errors import NaiveInstantError

__all__ = [
    "ManualClock",
    "add_months",
    "age_on",
    "anniversary",
    "as_utc",
    "as_utc_or_none",
    "aware",
    "aware_or_none",
    "end_of_month_after",
    "local_date",
    "local_day_start",
    "local_month_start",
    "local_wall_time",
    "next_month_on",
    "require_aware",
    "zone",
]


def zone(name: str) -> ZoneInfo:
    """Return the timezone called ``name`` (an IANA name such as ``Asia/Shanghai``)."""
    return ZoneInfo(name)


def require_aware(field: str, value: datetime) -> datetime:
    """Return ``value`` in UTC, or raise if it carries no timezone.

    Raises:
        NaiveInstantError: ``value`` is naive.
    """
    if value.tzinfo is UTC:
        return value  # most instants are stored and compared in UTC already
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveInstantError(field, value)
    return value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """An attrs converter: an aware instant in UTC (a naive one is left for :func:`aware`).

    Storing one form makes equal instants equal in ``repr`` too, which idempotency
    fingerprints rely on.
    """
    tz = value.tzinfo
    if tz is UTC or tz is None or value.utcoffset() is None:
        return value
    return value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    """:func:`as_utc`, letting ``None`` through."""
    return None if value is None else as_utc(value)


def aware(_instance: Any, attribute: Any, value: datetime) -> None:
    """An attrs validator that refuses naive datetimes."""
    tz = value.tzinfo
    if tz is not UTC and (tz is None or value.utcoffset() is None):
        raise NaiveInstantError(attribute.name, value)


def aware_or_none(instance: Any, attribute: Any, value: datetime | None) -> None:
    """An attrs validator that refuses naive datetimes and lets ``None`` pass."""
    if value is not None:
        aware(instance, attribute, value)


#: Calendar arithmetic is pure and asked of the same few days over and over (every
#: decision on a day reckons the same window starts): the answers are kept.
_calendar_cache = lru_cache(maxsize=4096)


@lru_cache(maxsize=1 << 14)
def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date of ``instant`` in ``tz``.

    Kept for the instants asked last: a member's noted facts are read on every decision.
    """
    return instant.astimezone(tz).date()


@_calendar_cache
def local_day_start(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) at which ``day`` begins in ``tz``."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


@_calendar_cache
def local_month_start(year: int, month: int, tz: ZoneInfo) -> datetime:
    """The instant (UTC) at which the given month begins in ``tz``.

    ``month`` may run past 12 or below 1; it is carried into the year.
    """
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return local_day_start(date(year, month, 1), tz)


def add_months(instant: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The same local wall time ``months`` calendar months later (or earlier).

    The day is clamped to the end of a shorter month: 29 February plus twelve months is
    28 February, 31 January plus one month is the last day of February.
    """
    # Kept by the instant in UTC: two readings of an ambiguous wall time (``fold``)
    # compare equal in their own zone, but are different instants.
    return _add_months(instant.astimezone(UTC), months, tz)


@_calendar_cache
def _add_months(instant: datetime, months: int, tz: ZoneInfo) -> datetime:
    local = instant.astimezone(tz)
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    moved = datetime.combine(date(year, month, day), local.timetz().replace(tzinfo=None))
    return moved.replace(tzinfo=tz).astimezone(UTC)


def end_of_month_after(instant: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The end of the ``months``-th month after the month of ``instant``, local time.

    The end is the first instant of the following month: points earned on 15 January 2026
    with ``months=24`` are good through 31 January 2028 and gone at 1 February 2028 00:00.
    """
    local = instant.astimezone(tz)
    return local_month_start(local.year, local.month + months + 1, tz)


def anniversary(day: date, year: int) -> date:
    """The anniversary of ``day`` in ``year``: the same month and day.

    In a common year the anniversary of 29 February is 1 March (the day after 28
    February, when the year that began on 29 February is complete).
    """
    if (day.month, day.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 3, 1)
    return day.replace(year=year)


def age_on(birth_date: date, day: date) -> int:
    """Full years of age on ``day``: one more on each :func:`anniversary` of the birth.

    Someone born on 29 February turns a year older on 1 March in a common year.
    """
    years = day.year - birth_date.year
    return years if day >= anniversary(birth_date, day.year) else years - 1


def next_month_on(day: date, day_of_month: int) -> date:
    """The ``day_of_month`` (1 to 28) of the month after the month of ``day``."""
    if day.month == 12:
        return date(day.year + 1, 1, day_of_month)
    return date(day.year, day.month + 1, day_of_month)


def local_wall_time(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant ``day`` shows ``clock`` on the wall in ``tz`` (as an instant in ``tz``)."""
    return datetime.combine(day, clock, tzinfo=tz)


class ManualClock:
    """A clock set by hand.

    Args:
        at: the instant it shows (timezone-aware).
    """

    def __init__(self, at: datetime) -> None:
        self._at = require_aware("at", at)

    def now(self) -> datetime:
        """The instant it shows."""
        return self._at

    def set(self, at: datetime) -> None:
        """Show ``at`` from now on (it may go back, as a test may need)."""
        self._at = require_aware("at", at)

    def advance(self, by: timedelta) -> datetime:
        """Move on by ``by`` and return the new instant."""
        self._at += by
        return self._at
