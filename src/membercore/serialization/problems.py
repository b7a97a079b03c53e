"""What cattrs found wrong, as membercore says it: the path of the offending key and why."""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.v import format_exception, transform_error

from membercore.errors import (
    ConfigError,
    InvalidAmountError,
    InvalidFactError,
    MembercoreError,
)
from membercore.text import brief

__all__ = ["ALSO", "VALUE_FAULTS", "not_the_data", "problems", "summary", "value_at"]


#: How many further problems a refusal lists after the first.
ALSO = 5


_SEP = "\x1f"


_LITERAL = re.compile(r"(.*) not in literal typing\.Literal\[(.*)\]", re.DOTALL)


#: The built-in exceptions reading or deciding a malformed value raises: the value's
#: fault, not the machine's.
VALUE_FAULTS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    UnicodeError,
    ValueError,
)

#: What reading a value raises when the value is at fault: membercore's own refusals,
#: cattrs' and the built-in kinds.
_DATA_FAULTS = (MembercoreError, cattrs.errors.CattrsError, *VALUE_FAULTS)


def not_the_data(error: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The first of ``error``'s exceptions that is not the data's fault, if any.

    cattrs gathers what each field raised, whatever it was: no memory left, or an
    interruption a signal handler raised, would otherwise be said as a bad value (and
    an input refused for it).
    """
    for inner in error.exceptions:
        if isinstance(inner, BaseExceptionGroup):
            found = not_the_data(inner)
            if found is not None:
                return found
        elif not isinstance(inner, _DATA_FAULTS):
            return inner
    return None


def problems(error: cattrs.BaseValidationError) -> list[tuple[str, str]]:
    """Every leaf of a cattrs error as (path of the offending key, what is wrong)."""
    located = []
    for message in transform_error(error, "$", _describe):
        described, _, path = message.rpartition(" @ ")
        for item in described.split(_SEP * 2):
            field, sep, problem = item.partition(_SEP)
            located.append((f"{path}.{field}", problem) if sep else (path, item))
    return located


def _describe(exc: BaseException, type_: type[Any] | None) -> str:  # noqa: PLR0911 - one case each
    # Our validators and cattrs' extra-key check know the field; cattrs knows the path
    # to its class. Join them so that every problem names its full key.
    if isinstance(exc, ConfigError):
        return f"{exc.key}{_SEP}{exc.problem}"
    if isinstance(exc, InvalidFactError):
        return f"{exc.field}{_SEP}{exc.problem} (got {brief(exc.value)})"
    if isinstance(exc, InvalidAmountError):
        return f"points{_SEP}{exc.problem} (got {exc.amount})"
    if isinstance(exc, ForbiddenExtraKeysError):
        return (_SEP * 2).join(
            f"{key}{_SEP}unknown key {key!r}{_nearest(key, exc.cl)}"
            for key in sorted(exc.extra_fields)
        )
    literal = _LITERAL.fullmatch(str(exc))
    if literal is not None:  # cattrs' words for a value outside a fixed set
        return f"expected one of {literal.group(2)}, got {brief(literal.group(1))}"
    if isinstance(exc, TypeError | MembercoreError | cattrs.errors.CattrsError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deep"
    if isinstance(exc, AttributeError | KeyError) and _a_table(type_):
        return "expected a table (named values)"
    if isinstance(exc, ValueError | ArithmeticError):
        return f"not a valid value: {brief(str(exc))[1:-1]}"
    return format_exception(exc, type_)


def _nearest(key: str, kind: object) -> str:
    """`` (did you mean 'daily_cap'?)`` when a key of ``kind`` is spelt much like ``key``."""
    if not (isinstance(kind, type) and attrs.has(kind)):
        return ""
    known = [field.name for field in attrs.fields(kind)]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _a_table(type_: object) -> bool:
    """Whether values of ``type_`` are read from tables: an attrs class, or optionally one."""
    kinds = get_args(type_) or (type_,)
    return any(isinstance(kind, type) and attrs.has(kind) for kind in kinds)


def value_at(data: object, path: str) -> object:
    """The value at a path such as ``lines[0].insurance_fen`` (``None`` if absent)."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if index and isinstance(data, list) and int(index) < len(data):
            data = data[int(index)]
        elif name and isinstance(data, dict):
            data = data.get(name)
        else:
            return None
    return data


def summary(error: cattrs.BaseValidationError) -> tuple[str, str]:
    """The path of the first offending key, and its problem followed by a few others."""
    found = problems(error)
    path, problem = found[0]
    if len(found) > 1:
        others = "; ".join(f"{key}: {other}" for key, other in found[1 : 1 + ALSO])
        more = f"; and {len(found) - 1 - ALSO} more" if len(found) > 1 + ALSO else ""
        problem = f"{problem} (also {others}{more})"
    return path, problem
