"""Validators shared by the configuration's parts.

They raise :class:`~membercore.errors.ConfigError` naming the field; when a programme is
loaded, the loader prefixes the path of the class (``$.earning.sharing``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from membercore.errors import ConfigError

__all__ = [
    "MAX_DAYS",
    "MAX_HOURS",
    "MAX_MONTHS",
    "known_timezone",
    "local_time",
    "non_blank",
    "non_negative",
    "optional_positive",
    "percent",
    "positive",
    "unique_keys",
    "values_non_negative",
    "within",
]


def non_negative(_instance: Any, attribute: Any, value: int) -> None:
    """Refuse a negative integer."""
    if value < 0:
        raise ConfigError(attribute.name, f"must not be negative, got {value}")


def positive(_instance: Any, attribute: Any, value: int) -> None:
    """Refuse zero or a negative integer."""
    if value <= 0:
        raise ConfigError(attribute.name, f"must be positive, got {value}")


#: How long a span of time in a programme may be: a century of days, of months, of hours
#: within ten years. Longer spans are typing mistakes, and past them dates overflow.
MAX_DAYS = 36_600
MAX_MONTHS = 1_200
MAX_HOURS = 24 * 3_660


def within(low: int, high: int) -> Any:
    """A validator refusing an integer outside ``low``..``high``."""

    def check(_instance: Any, attribute: Any, value: int) -> None:
        if not low <= value <= high:
            raise ConfigError(attribute.name, f"must be from {low} to {high}, got {value}")

    return check


def optional_positive(_instance: Any, attribute: Any, value: int | None) -> None:
    """Refuse zero or a negative integer; ``None`` passes."""
    if value is not None and value <= 0:
        raise ConfigError(attribute.name, f"must be positive when set, got {value}")


def percent(_instance: Any, attribute: Any, value: int | None) -> None:
    """Refuse a percentage outside 0..100; ``None`` passes."""
    if value is not None and not 0 <= value <= 100:
        raise ConfigError(attribute.name, f"must be a percentage from 0 to 100, got {value}")


def values_non_negative(_instance: Any, attribute: Any, value: Mapping[str, int]) -> None:
    """Refuse a mapping with a negative value."""
    for key, item in value.items():
        if item < 0:
            raise ConfigError(f"{attribute.name}[{key!r}]", f"must not be negative, got {item}")


def known_timezone(_instance: Any, attribute: Any, value: str) -> None:
    """Refuse a name that is not an IANA timezone."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(attribute.name, f"unknown timezone {value!r}") from error


def unique_keys(_instance: Any, attribute: Any, value: Iterable[Any]) -> None:
    """Refuse a sequence of items (with a ``key``) where a key repeats."""
    seen: set[str] = set()
    for index, item in enumerate(value):
        if item.key in seen:
            raise ConfigError(f"{attribute.name}[{index}].key", f"duplicate key {item.key!r}")
        seen.add(item.key)


_LOCAL_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def local_time(_instance: Any, attribute: Any, value: str | None) -> None:
    """Refuse a local time that is not a 24-hour ``HH:MM``; ``None`` passes."""
    if value is not None and not _LOCAL_TIME.fullmatch(value):
        raise ConfigError(attribute.name, f"must be a 24-hour local time HH:MM, got {value!r}")


def non_blank(_instance: Any, attribute: Any, value: str) -> None:
    """Refuse an empty or blank string."""
    if not value.strip():
        raise ConfigError(attribute.name, "must not be empty")
