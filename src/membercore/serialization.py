"""The cattrs converters: configuration, facts, commands, events, records and snapshots.

Messages are plain dicts with a stable ``type`` tag (the class's ``TYPE``, never its
Python name); instants are ISO 8601 strings with their offset; money and points stay
integers. Configuration is structured strictly: an unknown key or a wrong value raises
:class:`~membercore.errors.ConfigError` naming the key.

Inputs and stored data are read two ways. Facts and commands coming in
(:func:`message_from_dict`, :func:`message_from_json`) are strict: an unknown key is
refused with :class:`~membercore.errors.InvalidFactError` naming it, as bad input must
never be silently dropped. What membercore stored itself — events
(:func:`message_from_stored`), records (:func:`record_from_json`) and ledger snapshots
(:func:`snapshot_from_dict`) — may have been written by an earlier or a later release:
it is brought up to date by the upcasters of its schema version
(:mod:`membercore.upcasting`) and read with tolerance, unknown keys ignored. Both ways
apply the upcasters: an input may carry an old version too.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

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
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.v import format_exception, transform_error

from membercore import (
    benefits,
    consent,
    households,
    identity,
    journeys,
    outreach,
    plans,
    rewards,
    segments,
    tiers,
)
from membercore.config import ProgrammeConfig
from membercore.config.journeys import ParamValue
from membercore.dates import require_aware
from membercore.errors import (
    ConfigError,
    InvalidAmountError,
    InvalidFactError,
    MembercoreError,
    SchemaVersionError,
)
from membercore.facts import CLINICAL_FACT_TYPES, FACT_TYPES
from membercore.households import HouseholdState
from membercore.ledger.commands import COMMAND_TYPES
from membercore.ledger.events import Posting
from membercore.ledger.state import LedgerState
from membercore.service.member import Member
from membercore.staff import offers, programmes, tasks
from membercore.text import brief
from membercore.upcasting import UPCASTERS, VERSION_KEY, Upcasters, schema_version

__all__ = [
    "canonical_form",
    "canonical_json",
    "dump_config",
    "load_config",
    "load_config_file",
    "load_config_toml",
    "message_from_dict",
    "message_from_json",
    "message_from_stored",
    "message_to_dict",
    "message_to_json",
    "message_types",
    "record_from_json",
    "record_to_json",
    "snapshot_from_dict",
    "snapshot_to_dict",
]

T = TypeVar("T")

_EVENT_TYPES: tuple[type[Any], ...] = (Posting,)
_TAG = "type"


def _structure_instant(value: object, _type: object) -> datetime:
    if isinstance(value, datetime):
        return require_aware("instant", value)
    if isinstance(value, str):
        return require_aware("instant", datetime.fromisoformat(value))
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


def _listy(make: Callable[[Any, cattrs.Converter], Any]) -> Callable[[Any, cattrs.Converter], Any]:
    # cattrs would take text as a list of its characters and a table as a list of its
    # keys: "diagnosis" where a list of names is meant must be refused, not spelt out.
    def factory(type_: Any, conv: cattrs.Converter) -> Any:
        inner = make(type_, conv)

        def structure(value: object, kind: Any) -> Any:
            if not isinstance(value, list | tuple | set | frozenset):
                raise TypeError(f"expected a list, got {_what(value)}")
            return inner(value, kind)

        return structure

    return factory


def _tably(make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A table (a mapping) must be given as one: not as text, nor as a list of pairs.
    def factory(type_: Any) -> Any:
        inner = make(type_)

        def structure(value: object, kind: Any) -> Any:
            if not isinstance(value, Mapping):
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
    conv.register_structure_hook_factory(is_sequence, _listy(homogenous_tuple_structure_factory))
    conv.register_structure_hook_factory(is_mutable_sequence, _listy(list_structure_factory))
    conv.register_structure_hook_factory(is_any_set, _listy(_set_factory))
    conv.register_structure_hook_factory(is_mapping, _tably(conv.gen_structure_mapping))
    # Sets (seen ids, consented channels) are written as sorted lists: JSON has no sets.
    conv.register_unstructure_hook_func(_is_frozenset, sorted)
    return conv


def _is_frozenset(type_: object) -> bool:
    return type_ is frozenset or getattr(type_, "__origin__", None) is frozenset


def _param_value(value: object, _type: object) -> ParamValue:
    # The parameters of journey guards and actions: text, integers or yes/no, as given.
    if type(value) in (str, int, bool):
        return value  # type: ignore[return-value]
    raise TypeError(f"expected text, an integer or a boolean, got {value!r}")


def load_config(data: Mapping[str, Any]) -> ProgrammeConfig:
    """Structure and validate a programme configuration.

    Raises:
        ConfigError: naming the first offending key (``$.earning.sharing.points``...).
    """
    try:
        return converter().structure(dict(data), ProgrammeConfig)
    except cattrs.BaseValidationError as error:
        raise _config_error(error) from error
    except ConfigError as error:
        # Raised by the programme's own cross-checks, once its parts are structured.
        raise ConfigError(f"$.{error.key}", error.problem) from error
    except (ArithmeticError, LookupError, RecursionError, TypeError, ValueError) as error:
        raise ConfigError("$", f"cannot be read: {brief(str(error))[1:-1]}") from error


def load_config_toml(text: str) -> ProgrammeConfig:
    """Load a programme configuration from TOML text.

    Raises:
        ConfigError: the TOML does not parse, or a key is invalid.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("$", f"not valid TOML: {error}") from error
    except RecursionError:
        raise ConfigError("$", "not valid TOML: arrays or tables nested too deep") from None
    except ValueError as error:  # a number too long for Python to read
        raise ConfigError("$", f"not valid TOML: {brief(str(error))[1:-1]}") from None
    if not data:
        # In code, load_config({}) is the default programme; an empty file is a mistake.
        raise ConfigError("$", "the programme is empty: give at least its name and tiers")
    return load_config(data)


def load_config_file(path: Path) -> ProgrammeConfig:
    """Load a programme configuration from a TOML file (UTF-8, with or without a BOM).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is empty, not UTF-8 text or not TOML, or a key is invalid.
    """
    if path.stat().st_size > _MAX_PROGRAMME:
        size = path.stat().st_size
        raise ConfigError("$", f"a programme of {size} bytes, more than {_MAX_PROGRAMME}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problem = (
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start}); "
            "save the programme as UTF-8"
        )
        raise ConfigError("$", problem) from None
    return load_config_toml(text)


def dump_config(config: ProgrammeConfig) -> dict[str, Any]:
    """A programme configuration as plain data (the inverse of :func:`load_config`)."""
    data: dict[str, Any] = converter().unstructure(config)
    return data


#: The largest programme file read (a programme is tens of kilobytes).
_MAX_PROGRAMME = 5_000_000
#: How many further problems a refusal lists after the first.
_ALSO = 5


def _config_error(error: cattrs.BaseValidationError) -> ConfigError:
    problems = _problems(error)
    key, problem = problems[0]
    if len(problems) > 1:
        others = "; ".join(f"{other_key}: {other}" for other_key, other in problems[1 : 1 + _ALSO])
        more = f"; and {len(problems) - 1 - _ALSO} more" if len(problems) > 1 + _ALSO else ""
        problem = f"{problem} (also {others}{more})"
    return ConfigError(key, problem)


_SEP = "\x1f"
_LITERAL = re.compile(r"(.*) not in literal typing\.Literal\[(.*)\]", re.DOTALL)


def _problems(error: cattrs.BaseValidationError) -> list[tuple[str, str]]:
    """Every leaf of a cattrs error as (path of the offending key, what is wrong)."""
    located = []
    for message in transform_error(error, "$", _describe):
        described, _, path = message.rpartition(" @ ")
        for item in described.split(_SEP * 2):
            field, sep, problem = item.partition(_SEP)
            located.append((f"{path}.{field}", problem) if sep else (path, item))
    return located


def _set_factory(type_: Any, conv: cattrs.Converter) -> Any:
    item = (getattr(type_, "__args__", None) or (Any,))[0]

    def structure(value: Iterable[Any], _kind: Any) -> frozenset[Any]:
        return frozenset(conv.structure(element, item) for element in value)

    return structure


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
            f"{key}{_SEP}unknown key {key!r}" for key in sorted(exc.extra_fields)
        )
    literal = _LITERAL.fullmatch(str(exc))
    if literal is not None:  # cattrs' words for a value outside a fixed set
        return f"expected one of {literal.group(2)}, got {brief(literal.group(1))}"
    if isinstance(exc, TypeError | MembercoreError | cattrs.errors.CattrsError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deep"
    if isinstance(exc, AttributeError | KeyError) and type_ is not None and attrs.has(type_):
        return "expected a table (named values)"
    if isinstance(exc, ValueError | ArithmeticError):
        return f"not a valid value: {brief(str(exc))[1:-1]}"
    return format_exception(exc, type_)


_MESSAGE_TYPES: dict[str, type[Any]] = {
    cls.TYPE: cls
    for cls in (
        *FACT_TYPES,
        *COMMAND_TYPES,
        *_EVENT_TYPES,
        *tiers.MESSAGE_TYPES,
        *households.MESSAGE_TYPES,
        *rewards.MESSAGE_TYPES,
        *plans.PLAN_COMMAND_TYPES,
        *plans.PLAN_EVENT_TYPES,
        *benefits.QUOTA_COMMAND_TYPES,
        *benefits.QUOTA_EVENT_TYPES,
        *consent.MESSAGE_TYPES,
        *journeys.MESSAGE_TYPES,
        *outreach.MESSAGE_TYPES,
        *segments.MESSAGE_TYPES,
        *CLINICAL_FACT_TYPES,
        *tasks.MESSAGE_TYPES,
        *offers.MESSAGE_TYPES,
        *programmes.MESSAGE_TYPES,
        identity.CommandTaken,
        identity.MergedInto,
    )
}


#: Records' names as their upcasters know them.
_RECORD_KINDS: dict[type[Any], str] = {
    Member: "member",
    HouseholdState: "household",
    LedgerState: "ledger",
}


def message_types() -> frozenset[str]:
    """The ``type`` tag of every fact, command and event membercore reads and writes."""
    return frozenset(_MESSAGE_TYPES)


def message_to_dict(message: Any) -> dict[str, Any]:
    """A fact, command or event as plain data with its ``type`` tag.

    A message whose class is at a schema version above 1 carries it under ``"v"``.

    Raises:
        TypeError: ``message`` is not a membercore message.
    """
    tag = getattr(message, "TYPE", None)
    if _MESSAGE_TYPES.get(str(tag)) is not type(message):
        raise TypeError(f"{type(message).__name__} is not a membercore message type")
    data: dict[str, Any] = converter().unstructure(message)
    version = schema_version(type(message))
    if version > 1:
        return {_TAG: tag, VERSION_KEY: version, **data}
    return {_TAG: tag, **data}


def message_from_dict(data: Mapping[str, Any], *, upcasters: Upcasters | None = None) -> Any:
    """The fact, command or event a tagged dict describes: an input, read strictly.

    Data of an earlier schema version (``"v"``) is upcast first.

    Args:
        data: the tagged dict.
        upcasters: the upcasters to apply (by default membercore's own).

    Raises:
        InvalidFactError: the tag is missing or unknown, the version is one this release
            cannot read, or a field is missing, unknown or invalid; ``field`` is the
            path of the first offending field.
    """
    return _message(data, upcasters, stored=False)


def message_from_stored(
    data: str | Mapping[str, Any], *, upcasters: Upcasters | None = None
) -> Any:
    """A message as membercore stored it (a journal's event, an outbox payload).

    Its schema version brought up to date by the upcasters; keys this release does not
    know (written by another release) are ignored.

    Args:
        data: the JSON text :func:`message_to_json` wrote, or the dict
            :func:`message_to_dict` made.
        upcasters: the upcasters to apply (by default membercore's own).

    Raises:
        InvalidFactError: the text is not JSON, or not a valid tagged message.
        SchemaVersionError: the data's version has no upcaster to this release's.
    """
    if isinstance(data, str):
        data = _json_object(data)
    return _message(data, upcasters, stored=True)


def _message(data: Mapping[str, Any], upcasters: Upcasters | None, *, stored: bool) -> Any:
    fields = dict(data)
    if _TAG not in fields:
        raise InvalidFactError("message", _TAG, None, f"a message needs its {_TAG!r} tag")
    tag = str(fields.pop(_TAG))
    cls = _MESSAGE_TYPES.get(tag)
    if cls is None:
        raise InvalidFactError(tag, _TAG, tag, "unknown message type")
    # Data without a version is of version 1 (all that release 0.1.0 wrote).
    version = fields.pop(VERSION_KEY, 1)
    if version != schema_version(cls) or type(version) is not int:
        fields = _upcast_message(tag, cls, fields, version, upcasters, stored=stored)
    try:
        return (stored_converter() if stored else converter()).structure(fields, cls)
    except cattrs.BaseValidationError as error:
        problems = _problems(error)
        path, problem = problems[0]
        if len(problems) > 1:
            also = "; ".join(f"{p}: {q}" for p, q in problems[1 : 1 + _ALSO])
            more = f"; and {len(problems) - 1 - _ALSO} more" if len(problems) > 1 + _ALSO else ""
            problem += f" (also {also}{more})"
        field = path.removeprefix("$.")
        raise InvalidFactError(tag, field, _value_at(fields, field), problem) from error


def _upcast_message(
    tag: str,
    cls: type[Any],
    fields: dict[str, Any],
    version: object,
    upcasters: Upcasters | None,
    *,
    stored: bool,
) -> dict[str, Any]:
    current = schema_version(cls)
    try:
        if not stored and isinstance(version, int) and version > current:
            raise SchemaVersionError(
                tag, version, f"this release reads {tag} up to version {current}"
            )
        return (upcasters or UPCASTERS).upcast(tag, fields, version, current)
    except SchemaVersionError as error:
        if stored:
            raise
        raise InvalidFactError(tag, VERSION_KEY, version, error.problem) from error


def canonical_form(message: object) -> Any:
    """A message's fields as stored, without those holding their default: what fingerprints digest.

    The form :func:`message_to_dict` writes (with the ``type`` tag, without the schema
    version), except that a field equal to its default is left out, at every level.
    Adding an optional field with a default to a message therefore leaves the canonical
    form of every message that does not set it as it was. Any other value is unstructured
    as it is.
    """
    data = _canonical_converter().unstructure(message)
    tag = getattr(message, "TYPE", None)
    if isinstance(tag, str) and isinstance(data, dict):
        return {_TAG: tag, **data}
    return data


# Canonical JSON: keys sorted, compact, text as it is.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def canonical_json(message: object) -> str:
    """:func:`canonical_form` as JSON text with sorted keys: equal messages, equal text.

    Raises:
        TypeError: a value has no JSON form.
    """
    return _CANONICAL.encode(canonical_form(message))


def _value_at(data: object, path: str) -> object:
    """The value at a path such as ``lines[0].insurance_fen`` (``None`` if absent)."""
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if index and isinstance(data, list) and int(index) < len(data):
            data = data[int(index)]
        elif name and isinstance(data, dict):
            data = data.get(name)
        else:
            return None
    return data


def snapshot_to_dict(state: LedgerState) -> dict[str, Any]:
    """A member's ledger state as plain data (with its schema version above 1)."""
    data: dict[str, Any] = _versioned(LedgerState, converter().unstructure(state))
    return data


def snapshot_from_dict(
    data: Mapping[str, Any], *, upcasters: Upcasters | None = None
) -> LedgerState:
    """The ledger state a snapshot describes, upcast and read with tolerance.

    Args:
        data: what :func:`snapshot_to_dict` made, in this or another release.
        upcasters: the upcasters to apply (by default membercore's own).

    Raises:
        SchemaVersionError: the snapshot's version has no upcaster to this release's.
    """
    fields = _record_data(dict(data), LedgerState, upcasters)
    return stored_converter().structure(fields, LedgerState)


# One encoder for every record and message: json.dumps would build one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def record_to_json(state: Any) -> str:
    """A record's state (a member, a household, the reward stock) as compact JSON text.

    A record whose class is at a schema version above 1 carries it under ``"v"``.
    """
    data = converter().unstructure(state)
    return _JSON.encode(_versioned(type(state), data))


def record_from_json(text: str, kind: type[T], *, upcasters: Upcasters | None = None) -> T:
    """The state of type ``kind`` that :func:`record_to_json` wrote, in this or another release.

    Its schema version is brought up to date by the upcasters of the record's name
    (``member``, ``household``); keys this release does not know are ignored.

    Args:
        text: the stored JSON text.
        kind: the record's class.
        upcasters: the upcasters to apply (by default membercore's own).

    Raises:
        SchemaVersionError: the record's version has no upcaster to this release's.
    """
    data = json.loads(text)
    if isinstance(data, dict):
        data = _record_data(data, kind, upcasters)
    state: T = stored_converter().structure(data, kind)
    return state


def _versioned(cls: type[Any], data: Any) -> Any:
    version = schema_version(cls)
    if version > 1 and isinstance(data, dict):
        return {VERSION_KEY: version, **data}
    return data


def _record_data(
    data: dict[str, Any], cls: type[Any], upcasters: Upcasters | None
) -> dict[str, Any]:
    version = data.pop(VERSION_KEY, 1)
    current = schema_version(cls)
    if version == current and type(version) is int:
        return data
    kind = _RECORD_KINDS.get(cls, cls.__name__)
    return (upcasters or UPCASTERS).upcast(kind, data, version, current)


def message_to_json(message: Any) -> str:
    """A fact, command or event as compact JSON text with its ``type`` tag."""
    return _JSON.encode(message_to_dict(message))


def message_from_json(text: str) -> Any:
    """The message :func:`message_to_json` wrote: an input, read strictly.

    Raises:
        InvalidFactError: the text is not JSON, or not a valid tagged message.
    """
    return message_from_dict(_json_object(text))


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidFactError("message", "json", text[:80], f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise InvalidFactError("message", "json", text[:80], "a message is a JSON object")
    return data
