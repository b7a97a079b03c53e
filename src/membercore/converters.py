"""The cattrs converters every membercore value is written and read with.

Instants are ISO 8601 strings with their offset and must be timezone-aware; dates are ISO
8601; sets are written as sorted lists. Reading is strict about kinds: text is never
taken for a list of its characters, ``1.5`` never for an integer, ``"no"`` never for a
boolean. The canonical form (:func:`canonical_form`, :func:`canonical_json`) is what
fingerprints digest: the stored form without the fields left at their default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_any_set,
    is_mapping,
    is_mutable_sequence,
    is_sequence,
    list_structure_factory,
)
from cattrs.gen import make_dict_unstructure_fn, override

from membercore.dates import require_aware
from membercore.messages import ParamValue
from membercore.text import brief

__all__ = [
    "JSON",
    "OMIT_AT_DEFAULT",
    "TAG",
    "JsonText",
    "canonical_form",
    "canonical_json",
    "converter",
    "reads_tables",
    "stored_converter",
]


#: The key of a message's type tag in its stored form.
TAG = "type"


class JsonText:
    """Compact JSON text for every record and message written, text as it is.

    Encoded with orjson when it is installed (``membercore[fast]``), else with the
    standard library: the same text either way (a property test compares them). What
    orjson declines (an integer past 64 bits, a lone surrogate, a key that is not text)
    falls back to the standard library, which writes it as before. Read with the
    standard library. With ``sort_keys``, every object's keys are sorted: the canonical
    text fingerprints digest (:func:`canonical_json`).
    """

    def __init__(self, *, sort_keys: bool = False) -> None:
        self._standard = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys
        )
        self._fast = _orjson()
        self._options = 0
        if self._fast is not None:
            # What the standard library does not write as JSON (an instant, a dataclass)
            # orjson declines too, and so does a subclass of text or of an integer (an
            # enumeration), which the standard library writes in its own way.
            self._options = (
                self._fast.OPT_PASSTHROUGH_DATETIME
                | self._fast.OPT_PASSTHROUGH_DATACLASS
                | self._fast.OPT_PASSTHROUGH_SUBCLASS
                | (self._fast.OPT_SORT_KEYS if sort_keys else 0)
            )

    def encode(self, data: object) -> str:
        """``data`` as compact JSON text (its objects' keys sorted, if asked)."""
        if self._fast is not None:
            try:
                encoded: bytes = self._fast.dumps(data, option=self._options)
            except (TypeError, ValueError):
                pass
            else:
                return encoded.decode("utf-8")
        return self._standard.encode(data)

    def decode(self, text: str) -> Any:
        """The plain data of JSON text this encoder (or any JSON writer) wrote.

        Read with the standard library, which reads an integer past 64 bits exactly
        (orjson reads it as a float).
        """
        return json.loads(text)


def _orjson() -> Any:
    try:
        import orjson  # noqa: PLC0415 - optional: used when installed
    except ImportError:
        return None
    return orjson


#: The one encoder of every record and message written.
JSON = JsonText()


def _structure_instant(value: object, _type: object) -> datetime:
    if isinstance(value, datetime):
        return require_aware("instant", value)
    if isinstance(value, str):
        instant = datetime.fromisoformat(value)
        # What membercore writes is in UTC already: nothing to convert.
        return instant if instant.tzinfo is UTC else require_aware("instant", instant)
    raise TypeError(f"expected an ISO 8601 instant, got {brief(value)}")


def _structure_date(value: object, _type: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"expected an ISO 8601 date, got {brief(value)}")


def _strict(kind: type[Any]) -> Any:
    # cattrs would call int(1.5) or bool("no"); a programme config must not be guessed at.
    def structure(value: object, _type: object) -> Any:
        if type(value) is not kind:
            raise TypeError(f"expected {_NAMES[kind]}, got {_what(value)}")
        return value

    return structure


_NAMES: dict[type[Any], str] = {
    int: "a whole number",
    bool: "true or false",
    str: "text",
    list: "a list",
    dict: "a table (named values)",
}


def _what(value: object) -> str:
    """A value named by its kind, then shown briefly: ``text 'diagnosis'``."""
    for kind in (bool, int, str, float):
        if isinstance(value, kind):
            name = {bool: "a boolean", int: "a number", str: "text", float: "a decimal"}[kind]
            return f"{name} {brief(value)}"
    if isinstance(value, Mapping):
        return f"a table {brief(value)}"
    if isinstance(value, list | tuple):
        return f"a list {brief(value)}"
    return brief(value)


#: What a list may be given as (a tuple of types: checked faster than their union).
_LISTS: tuple[type, ...] = (list, tuple, set, frozenset)


def _listy(make: Callable[[Any, cattrs.Converter], Any]) -> Callable[[Any, cattrs.Converter], Any]:
    # cattrs would take text as a list of its characters and a table as a list of its
    # keys: "diagnosis" where a list of names is meant must be refused, not spelt out.
    def factory(type_: Any, conv: cattrs.Converter) -> Any:
        inner = make(type_, conv)

        def structure(value: object, kind: Any) -> Any:
            if not isinstance(value, _LISTS):
                raise TypeError(f"expected a list, got {_what(value)}")
            return inner(value, kind)

        return structure

    return factory


def _tably(make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A table (a mapping) must be given as one: not as text, nor as a list of pairs.
    def factory(type_: Any) -> Any:
        inner = make(type_)

        def structure(value: object, kind: Any) -> Any:
            # A dict, as JSON reads every table, is known without asking the ABC.
            if type(value) is not dict and not isinstance(value, Mapping):
                raise TypeError(f"expected a table (named values), got {_what(value)}")
            return inner(value, kind)

        return structure

    return factory


@cache
def converter() -> cattrs.Converter:
    """The strict converter: configuration and inputs, where an unknown key is refused.

    Everything membercore writes is unstructured with it too.
    """
    return _converter(forbid_extra_keys=True)


@cache
def stored_converter() -> cattrs.Converter:
    """The tolerant converter for stored data: keys this release does not know are ignored."""
    return _converter()


@cache
def _canonical_converter() -> cattrs.Converter:
    # Fingerprints digest the stored form without the fields left at their default.
    return _converter(omit_if_default=True)


def _converter(
    *, forbid_extra_keys: bool = False, omit_if_default: bool = False
) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys, omit_if_default=omit_if_default)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, _structure_instant)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, _structure_date)
    for kind in (int, bool, str):
        conv.register_structure_hook(kind, _strict(kind))
    conv.register_structure_hook_func(lambda t: t == ParamValue, _param_value)
    # A class read from an open table (a channel's plugin options as written) reads and
    # writes itself: ``from_table`` and ``as_table``.
    conv.register_structure_hook_func(reads_tables, lambda table, kind: kind.from_table(table))
    conv.register_unstructure_hook_func(reads_tables, lambda value: value.as_table())
    conv.register_structure_hook_factory(is_sequence, _listy(homogenous_tuple_structure_factory))
    conv.register_structure_hook_factory(is_mutable_sequence, _listy(list_structure_factory))
    conv.register_structure_hook_factory(is_any_set, _listy(_set_factory))
    conv.register_structure_hook_factory(is_mapping, _tably(conv.gen_structure_mapping))
    # Sets (seen ids, consented channels) are written as sorted lists: JSON has no sets.
    conv.register_unstructure_hook_func(_is_frozenset, sorted)
    conv.register_unstructure_hook_factory(_omits_some, _omitting(conv, omit_if_default))
    return conv


def _omitting(conv: cattrs.Converter, omit_if_default: bool) -> Callable[[Any], Any]:
    def factory(kind: Any) -> Any:
        fields: dict[str, Any] = {name: override(omit_if_default=True) for name in _omitted(kind)}
        return make_dict_unstructure_fn(
            kind, conv, _cattrs_omit_if_default=omit_if_default, **fields
        )

    return factory


#: The metadata key of a field written only when it holds something else than its
#: default (a field added to a busy event, which most events leave at its default).
OMIT_AT_DEFAULT = "membercore.omit_at_default"


def _omitted(kind: Any) -> list[str]:
    return [field.name for field in attrs.fields(kind) if field.metadata.get(OMIT_AT_DEFAULT)]


def _omits_some(kind: Any) -> bool:
    return attrs.has(kind) and bool(_omitted(kind))


def reads_tables(kind: Any) -> bool:
    """Whether the converters read and write ``kind`` by its own ``from_table`` and ``as_table``."""
    return isinstance(kind, type) and hasattr(kind, "from_table") and hasattr(kind, "as_table")


def _is_frozenset(type_: object) -> bool:
    return type_ is frozenset or getattr(type_, "__origin__", None) is frozenset


def _param_value(value: object, _type: object) -> ParamValue:
    # The parameters of journey guards and actions: text, integers or yes/no, as given.
    if type(value) in (str, int, bool):
        return value  # type: ignore[return-value]
    raise TypeError(f"expected text, an integer or a boolean, got {value!r}")


def _set_factory(type_: Any, conv: cattrs.Converter) -> Any:
    item = (getattr(type_, "__args__", None) or (Any,))[0]

    def structure(value: Iterable[Any], _kind: Any) -> frozenset[Any]:
        return frozenset(conv.structure(element, item) for element in value)

    return structure


def canonical_form(message: object) -> Any:
    """A message's fields as stored, without those holding their default: what fingerprints digest.

    The form a message is stored in (with the ``type`` tag, without the schema
    version), except that a field equal to its default is left out, at every level.
    Adding an optional field with a default to a message therefore leaves the canonical
    form of every message that does not set it as it was. Any other value is unstructured
    as it is.
    """
    data = _canonical_converter().unstructure(message)
    tag = getattr(message, "TYPE", None)
    if isinstance(tag, str) and isinstance(data, dict):
        return {TAG: tag, **data}
    return data


# Canonical JSON: keys sorted, compact, text as it is.
_CANONICAL = JsonText(sort_keys=True)


def canonical_json(message: object) -> str:
    """:func:`canonical_form` as JSON text with sorted keys: equal messages, equal text.

    Raises:
        TypeError: a value has no JSON form.
    """
    return _CANONICAL.encode(canonical_form(message))
