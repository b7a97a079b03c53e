"""Loading history: a hospital's past put in the order it happened.

A HIS often exports one patient after another; a history is decided as it happened
only if its facts come in time order. :func:`in_time_order` sorts inputs by their
instants and gives a command written among them (a consent after the registration it
follows) the instant of the input before it about the same member.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from membercore.errors import InvalidFactError, MembercoreError
from membercore.facts import Fact
from membercore.messages import Command
from membercore.ports import Positioned
from membercore.serialization import message_from_dict
from membercore.service.inputs import (
    INPUT_FAULTS,
    Input,
    a_pair,
    concerns,
    own_instant,
    placed_at,
    reached,
    written_instant,
)

__all__ = ["in_time_order"]


def in_time_order(inputs: Iterable[Input]) -> list[Input]:
    """``inputs`` sorted by when they happened, for loading history.

    A fact's instant is when it happened; an input paired with an instant (a tuple, or
    a JSON line ``[instant, {...}]``), that one; a payment's, when it was paid. Any other
    command is paired with the latest instant of the lines before it about the records
    it concerns (a consent written after the registration it follows; a dependent added
    after the household was formed and the dependent registered), else of the line
    before it. Inputs of one
    instant keep their order; what cannot be read comes first, to be refused with its
    reason as ever.
    """
    timed: list[tuple[datetime, int, Input]] = []
    latest: dict[str, datetime] = {}
    last = _NEVER
    for position, item in enumerate(inputs):
        if reached(item):
            continue  # a position alone: a history is decided in time order, not resumed
        own, keys = _happened(item)
        at = placed_at(keys, own, latest, last)
        placed: Input = item
        if own is None and at != _NEVER and not isinstance(item, tuple):
            placed = (at, item)  # a command on its own: decided at its place
        last = max(last, at)
        timed.append((at, position, placed))
    timed.sort(key=lambda entry: entry[:2])
    return [item for _, _, item in timed]


_NEVER = datetime.min.replace(tzinfo=UTC)


def _happened(item: Input) -> tuple[datetime | None, list[str]]:
    """When an input happened (``None``: a command on its own) and whose records it names."""
    message = _message_of(item)
    return _instant(item, message), _keys(message)


def _instant(item: Input, message: object) -> datetime | None:
    if isinstance(item, tuple):  # the instant it is paired with, if it is one
        paired = item[0] if len(item) == 2 else None
        aware = isinstance(paired, datetime) and paired.utcoffset() is not None
        return paired if aware else _NEVER
    if isinstance(message, list) and a_pair(message):
        return _pair_instant(message[0])
    if isinstance(message, Fact):
        return message.occurred_at
    if isinstance(message, Command):
        return own_instant(message)
    return _written(message) if isinstance(message, Mapping) else _NEVER


def _written(data: Mapping[str, object]) -> datetime | None:
    """The instant a tagged dict names: a fact's, a payment's; ``None`` for a command."""
    name = next((n for n in ("occurred_at", "paid_at") if n in data), None)
    if name is None:
        return None  # a command on its own
    at = data[name]
    return _pair_instant(at) if isinstance(at, str) else _NEVER


def _message_of(item: Input) -> object:
    message: object = item[1] if isinstance(item, tuple) and len(item) == 2 else item
    if isinstance(message, Positioned):
        message = message.raw
    if isinstance(message, str):
        try:
            return json.loads(message)
        except ValueError:
            return None
    return message


def _keys(message: object) -> list[str]:
    if isinstance(message, list) and a_pair(message):
        message = message[1]
    try:
        if isinstance(message, Mapping):
            message = message_from_dict(message)
        return concerns(message)
    except (MembercoreError, *INPUT_FAULTS):
        return []


def _pair_instant(text: str) -> datetime:
    """The instant written, or :data:`_NEVER` when it cannot be one (refused later)."""
    try:
        instant = written_instant(text)
    except InvalidFactError:
        return _NEVER
    return instant if instant.utcoffset() is not None else _NEVER
