"""attrs validators shared by facts and commands.

They raise :class:`~membercore.errors.InvalidFactError` naming the message type (its
``TYPE`` tag) and the field, so a rejected message says exactly what was wrong.
"""

from __future__ import annotations

from typing import Any

from membercore.errors import InvalidFactError

__all__ = ["non_empty", "non_negative", "positive"]


def _type_of(instance: Any) -> str:
    return str(getattr(instance, "TYPE", type(instance).__name__))


def non_empty(instance: Any, attribute: Any, value: str) -> None:
    """Refuse an empty or blank string."""
    if not value.strip():
        raise InvalidFactError(_type_of(instance), attribute.name, value, "must not be empty")


def non_negative(instance: Any, attribute: Any, value: int) -> None:
    """Refuse a negative integer."""
    if value < 0:
        raise InvalidFactError(_type_of(instance), attribute.name, value, "must not be negative")


def positive(instance: Any, attribute: Any, value: int) -> None:
    """Refuse zero or a negative integer."""
    if value <= 0:
        raise InvalidFactError(_type_of(instance), attribute.name, value, "must be positive")
