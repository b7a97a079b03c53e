"""Limits on what an input may hold, checked before any expensive work.

A feed can send anything: text nested a hundred thousand deep, a number of ten thousand
digits, a ten-megabyte name, a list where one value was meant, text that is not valid
Unicode. :func:`check` walks an input once, without recursion, and refuses it at the
first value past a limit, naming the field and the limit; :func:`parse` reads JSON text
within the same limits. What passes is small enough for every later step (parsing the
message, deciding it, storing it, writing an error about it) to take a bounded time.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

import attrs

from membercore.errors import ConfigError, InvalidFactError
from membercore.text import brief

__all__ = ["InputLimits", "check", "parse", "printable", "small", "truncated"]

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROLS = frozenset("\t\n\r")
# log10(2): a whole number of n bits has about n * 0.30103 decimal digits.
_DIGITS_PER_BIT = 0.30103
# Python refuses to read or write a whole number of more digits (sys.int_info).
_PYTHON_DIGITS = 4_000


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int:
        raise ConfigError(f"limits.{attribute.name}", f"must be a whole number, got {value!r}")
    if value < 1:
        raise ConfigError(f"limits.{attribute.name}", f"must be at least 1, got {value}")


def _digits(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    _positive(instance, attribute, value)
    if value > _PYTHON_DIGITS:
        problem = f"at most {_PYTHON_DIGITS} (Python reads no longer number), got {value}"
        raise ConfigError(f"limits.{attribute.name}", problem)


@attrs.frozen(kw_only=True)
class InputLimits:
    """How large an input may be.

    Attributes:
        max_chars: characters of one input as JSON text (or of its longest text value).
        max_depth: how deeply objects and lists may nest.
        max_items: items of one list, or keys of one object.
        max_text: characters of one text value (a name, a reason).
        max_id: characters of an identifier (``fact_id``, ``patient_id``, ``key``...).
        max_digits: decimal digits of one number.
        max_reason: characters of a refusal's reason as stored.
        max_payload: characters of a refused input kept with its dead letter; past it
            the input is cut, with its size noted.
    """

    max_chars: int = attrs.field(default=1_000_000, validator=_positive)
    max_depth: int = attrs.field(default=16, validator=_positive)
    max_items: int = attrs.field(default=1_000, validator=_positive)
    max_text: int = attrs.field(default=4_000, validator=_positive)
    max_id: int = attrs.field(default=200, validator=_positive)
    max_digits: int = attrs.field(default=20, validator=_digits)
    max_reason: int = attrs.field(default=1_000, validator=_positive)
    max_payload: int = attrs.field(default=20_000, validator=_positive)


def _is_id(name: str) -> bool:
    return name in ("key", "id") or name.endswith(("_id", "_key", "_ids"))


def _refuse(kind: str, path: str, value: object, problem: str) -> InvalidFactError:
    return InvalidFactError(kind, path.lstrip(".") or "message", value, problem)


def _children(value: object) -> Iterator[tuple[object, object]] | None:
    """The parts of a container as (key, part): a field's or key's name, or an index."""
    if isinstance(value, Mapping):
        return iter(value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return enumerate(value)
    kind = type(value)
    if attrs.has(kind):
        return ((f.name, getattr(value, f.name)) for f in attrs.fields(kind))
    return None


def _size(value: object) -> int:
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return len(value)
    kind = type(value)
    return len(attrs.fields(kind)) if attrs.has(kind) else 0


def _join(path: str, key: object) -> str:
    """The path of a part: ``lines[0].amount_fen``."""
    if isinstance(key, str):
        return f"{path}.{key[:40]}" if path else key[:40]
    return f"{path}[{brief(key)}]"


def check(value: object, limits: InputLimits, *, kind: str = "message") -> None:
    """Refuse an input that holds a value past the limits, or text that is not clean.

    One walk, without recursion: each container's leaves are checked where they stand,
    only containers are put aside, and a path is written out only for a refusal. Plain
    text and whole numbers well within the limits pass on a quick look; anything else
    gets the full check.

    Args:
        value: a tagged dict, a fact or command, or anything else a feed sent.
        limits: the limits.
        kind: the input's type, for the error.

    Raises:
        InvalidFactError: naming the path of the first offending value and the limit.
    """
    problem = _leaf_problem("", value, limits)
    if problem is not None:
        raise _refuse(kind, "", value, problem)
    bound = _number_bound(limits.max_digits)
    max_depth, max_items = limits.max_depth, limits.max_items
    max_text, max_id = limits.max_text, limits.max_id
    # Each container put aside with its trail (its parent's trail and its key), from which
    # its path is written out only for a refusal.
    stack: list[tuple[object, int, _Trail]] = [(value, 0, None)]
    while stack:
        item, depth, trail = stack.pop()
        parts = _children(item)
        if parts is None:
            continue  # a leaf, or left to the message's own type checks
        if depth >= max_depth:
            raise _refuse(kind, _path(trail), "…", f"nested deeper than {max_depth}")
        if _size(item) > max_items:
            raise _refuse(
                kind, _path(trail), "…", f"holds {_size(item)} items, more than {max_items}"
            )
        is_map = isinstance(item, Mapping)
        nested = []
        for key, child in parts:
            is_id = _named_id(key, limits, mapped=is_map)
            if is_id is None:
                problem = _text_problem(key, limits, is_id=True)  # type: ignore[arg-type]
                raise _refuse(kind, _path((trail, key)), key, problem or "")
            if _clean(child, is_id, max_id if is_id else max_text, bound):
                continue
            problem = _leaf_problem(key, child, limits)
            if problem is not None:
                raise _refuse(kind, _path((trail, key)), child, problem)
            if not isinstance(child, str | int | float | datetime | date) and child is not None:
                nested.append((child, depth + 1, (trail, key)))
        nested.reverse()
        stack.extend(nested)


#: Where a part stands: its container's trail and its key (None: the input itself).
_Trail = tuple[Any, object] | None


def _path(trail: _Trail) -> str:
    """The path a trail leads to: ``lines[0].amount_fen``."""
    keys: list[object] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = _join(path, key)
    return path


def _clean(value: object, is_id: bool, length: int, bound: int) -> bool:
    """Whether a leaf passes on a quick look: short printable text, a small whole number.

    Text (an identifier unpadded) of at most ``length`` characters; a whole number
    strictly between ``-bound`` and ``bound``; an instant, a date, a boolean or None.
    Anything else is looked at closely (:func:`_leaf_problem`), which says what is wrong.
    """
    kind = type(value)
    if kind is str:
        return (
            len(value) <= length  # type: ignore[arg-type]
            and value.isprintable()  # type: ignore[attr-defined]
            and (not is_id or value == value.strip())  # type: ignore[attr-defined]
        )
    if kind is int:
        return -bound < value < bound  # type: ignore[operator]
    return value is None or kind is datetime or kind is date or kind is bool


#: Keys found clean, each with whether it names an identifier (at most _KEYS_KEPT).
_KEYS: dict[str, bool] = {}
_KEYS_KEPT = 4_096


def _named_id(key: object, limits: InputLimits, *, mapped: bool) -> bool | None:
    """Whether the part named ``key`` holds an identifier; None: the key itself is refused.

    A mapping's text keys are identifiers themselves, checked as such (a field's name or
    a list's index is not); the keys found clean are kept (up to :data:`_KEYS_KEPT`),
    so that the same few field names are not looked at again in every input.
    """
    if not isinstance(key, str):
        return False
    is_id = _KEYS.get(key)
    if is_id is None:
        if mapped and _text_problem(key, limits, is_id=True) is not None:
            return None
        is_id = _is_id(key)
        if mapped and len(_KEYS) < _KEYS_KEPT:
            _KEYS[key] = is_id
    elif mapped and len(key) > limits.max_id:
        return None
    return is_id


@cache
def _number_bound(max_digits: int) -> int:
    """A whole number strictly between ``-bound`` and ``bound`` has at most ``max_digits``."""
    return int(10**max_digits)


def _leaf_problem(key: object, value: object, limits: InputLimits) -> str | None:
    """What is wrong with a text or a number (named ``key``), if anything."""
    if isinstance(value, _Digits):
        return f"a number of {len(value.lstrip('-'))} digits, more than {limits.max_digits}"
    if isinstance(value, str):
        return _text_problem(value, limits, is_id=isinstance(key, str) and _is_id(key))
    if isinstance(value, int) and not isinstance(value, bool):
        return _number_problem(value, limits)
    return None


def _text_problem(text: str, limits: InputLimits, *, is_id: bool) -> str | None:
    """What is wrong with a text value (an identifier, if ``is_id``), if anything."""
    bound = limits.max_id if is_id else limits.max_text
    if len(text) > bound:
        what = "an identifier" if is_id else "a text value"
        return f"{what} of {len(text)} characters, more than {bound}"
    if is_id and text != text.strip():
        return "an identifier with spaces before or after it"
    if text.isprintable():
        return None  # no control character, no bidirectional control, no lone surrogate
    return _character_problem(text, is_id=is_id)


def _character_problem(text: str, *, is_id: bool) -> str | None:
    """What is wrong with the characters of a text that is not all printable, if anything."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"not valid Unicode (a lone surrogate at character {error.start})"
    for n, char in enumerate(text):
        if char in _ALLOWED_CONTROLS and not is_id:
            continue
        if unicodedata.category(char) == "Cc" or (is_id and char in _BIDI):
            what = "a control character" if char not in _BIDI else "a bidirectional control"
            return f"{what} (U+{ord(char):04X}) at character {n}"
        if is_id and not char.isprintable():
            # Zero-width, no-break and other invisible characters make look-alike ids.
            return f"an invisible character (U+{ord(char):04X}) at character {n}"
    return None


def _number_problem(number: int, limits: InputLimits) -> str | None:
    if -_number_bound(limits.max_digits) < number < _number_bound(limits.max_digits):
        return None
    # Counted without writing the number out when it is long: Python refuses to write
    # very long ones (its bits tell its digits within one).
    estimate = int(abs(number).bit_length() * _DIGITS_PER_BIT) + 1
    if estimate > _PYTHON_DIGITS:
        return f"a number of about {estimate} digits, more than {limits.max_digits}"
    return f"a number of {len(str(abs(number)))} digits, more than {limits.max_digits}"


def small(value: object, nodes: int) -> bool:
    """Whether ``value`` holds at most ``nodes`` values (objects, lists and leaves).

    Stops counting past ``nodes``: what it costs is bounded by ``nodes``, whatever the
    value holds (a list of ten million items is known too large at once).
    """
    stack: list[object] = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > nodes:
            return False
        if isinstance(item, str | bytes):
            seen += len(item) // 64
        elif isinstance(item, Mapping):
            if len(item) > nodes:
                return False
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            if len(item) > nodes:
                return False
            stack.extend(item)
    return seen <= nodes


def parse(text: str, limits: InputLimits) -> object:
    """JSON text read within the limits.

    Raises:
        InvalidFactError: the text is too long, not JSON, nested too deep or holds a
            value past the limits.
    """
    if len(text) > limits.max_chars:
        raise _refuse(
            "message", "json", text, f"{len(text)} characters, more than {limits.max_chars}"
        )

    def number(digits: str) -> int | _Digits:
        # Read before Python turns the digits into a number (it refuses past 4,300); one
        # too long is kept as its digits, for the walk to refuse naming its field.
        if len(digits.lstrip("-")) > limits.max_digits:
            return _Digits(digits)
        return int(digits)

    try:
        data = json.loads(text, parse_int=number, object_pairs_hook=_unique)
    except InvalidFactError:
        raise
    except RecursionError:
        # JSON's reader nests as deep as Python's recursion limit allows, no deeper.
        raise _refuse("message", "json", text, f"nested deeper than {limits.max_depth}") from None
    except ValueError as error:
        problem = f"not JSON: {_first_line(str(error))}"
        raise _refuse("message", "json", text, problem) from None
    if isinstance(data, _Digits):  # a number, not a message: said of the text
        raise _refuse("message", "json", data, _leaf_problem("", data, limits) or "")
    tag = data.get("type") if isinstance(data, dict) else None
    check(data, limits, kind=tag if isinstance(tag, str) and tag else "message")
    return data


class _Digits(str):
    """The digits of a whole number JSON text holds past the limits, as they were written."""

    __slots__ = ()


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys are each given once: which of two would count is a guess."""
    data = dict(pairs)
    if len(data) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _refuse("message", key, key, "a key given twice in one object")
            seen.add(key)
    return data


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else ""


def truncated(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut.

    What is not valid Unicode (a lone surrogate) is written as its escape, so that any
    store takes it.
    """
    if len(text) > limit:
        text = f"{text[:limit]}… [{len(text)} characters, cut at {limit}]"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def printable(text: str) -> str:
    r"""``text`` with every character that is not printable written as its escape.

    A reason or an id shown to an operator never carries a terminal's control codes
    (``\x1b[2J`` clears the screen) nor characters that hide themselves.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
