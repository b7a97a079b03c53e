"""Whether a message built in code already holds what reading it back would give.

A fact or command built in code is checked as strictly as one read from JSON
(:func:`membercore.service.inputs.as_typed`): written out and read back through the
strict converter, so that a value of the wrong type (attrs does not check types) is
refused naming its field. Most messages a source builds hold every value in exactly
the form the converter reads: text as ``str``, whole numbers as ``int``, instants with
a fixed UTC offset, lists of a type as tuples, tables as dicts, names from a closed
list among them. Read back, such a message would be equal to itself, so
:func:`in_form` tells so by looking at its values where they stand, which costs a
fraction of building the message again.

Only forms whose reading is known exactly are vouched for; any other (a value of
another type, a list given as a ``list``, an instant in a named time zone, a type this
module does not know) is left to the round trip, which reads it as before and refuses
what it refused before.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from enum import Enum
from functools import cache
from typing import Any, Literal, Union

import attrs

from membercore.converters import reads_tables
from membercore.messages import ParamValue

__all__ = ["in_form"]

Check = Callable[[object], bool]


def in_form(message: object) -> bool:
    """Whether ``message`` (an attrs message) reads back through the strict converter as itself.

    ``False`` says nothing about the message: only that this look does not vouch for it.
    """
    kind = type(message)
    return attrs.has(kind) and _of_class(kind)(message)


def _never(_value: object) -> bool:
    return False


@cache
def _of_class(kind: type[Any]) -> Check:
    """The check of an attrs class: each field's value in the form its type reads."""
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):
        return _never
    if reads_tables(kind):
        return _never  # read by its own hook, not field by field
    fields = tuple((field.name, _of_type(hints[field.name])) for field in attrs.fields(kind))

    def check(value: object) -> bool:
        if type(value) is not kind:
            return False
        return all(held(getattr(value, name)) for name, held in fields)

    return check


def _of_type(hint: Any) -> Check:  # noqa: PLR0911 - one plain branch per form
    """The check of a value of type ``hint``, or one that vouches for nothing."""
    if hint in (str, int, bool):
        return lambda value: type(value) is hint
    if hint is datetime:
        return _instant
    if hint is date:
        return lambda value: type(value) is date
    if hint is ParamValue:
        return _never
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return _literal(args)
    if origin in (Union, types.UnionType):
        return _optional(args)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _of_type(args[0])
        return lambda value: type(value) is tuple and all(map(item, value))
    if origin is Mapping and args and args[0] is str:
        entry = _of_type(args[1])
        return lambda value: (
            type(value) is dict
            and all(type(key) is str and entry(held) for key, held in value.items())
        )
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda value: type(value) is hint
    if isinstance(hint, type) and attrs.has(hint):
        return _nested(hint)
    return _never


def _nested(kind: Any) -> Check:
    # Looked up when first asked, not when made: a class may hold itself.
    def check(value: object) -> bool:
        return _of_class(kind)(value)

    return check


def _instant(value: object) -> bool:
    # Written out with its offset and read back, an instant keeps a fixed offset: one in
    # a named zone (which moves its offset with the season) comes back as another value.
    return type(value) is datetime and type(value.tzinfo) is timezone


def _literal(names: tuple[Any, ...]) -> Check:
    if not all(type(name) is str for name in names):
        return _never
    allowed = frozenset(names)
    return lambda value: type(value) is str and value in allowed


def _optional(args: tuple[Any, ...]) -> Check:
    present = [arg for arg in args if arg is not type(None)]
    if len(present) != 1 or len(args) != 2:  # X | None, nothing wider
        return _never
    held = _of_type(present[0])
    return lambda value: value is None or held(value)
