"""Facts, commands and events as tagged plain data and JSON, read strictly or as stored."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import cattrs

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
    upcasting,
)
from membercore.converters import JSON, TAG, converter, stored_converter
from membercore.errors import (
    InvalidFactError,
    SchemaVersionError,
)
from membercore.experiments import assignment as experiments
from membercore.facts import CLINICAL_FACT_TYPES, FACT_TYPES
from membercore.ledger.commands import COMMAND_TYPES
from membercore.ledger.events import Posting
from membercore.serialization.problems import not_the_data, summary, value_at
from membercore.staff import offers, programmes, tasks
from membercore.upcasting import VERSION_KEY, Upcasters, schema_version

__all__ = [
    "message_classes",
    "message_from_dict",
    "message_from_json",
    "message_from_stored",
    "message_to_dict",
    "message_to_json",
    "message_types",
]


_EVENT_TYPES: tuple[type[Any], ...] = (Posting,)


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
        *identity.MESSAGE_TYPES,
        *experiments.MESSAGE_TYPES,
    )
}


def message_types() -> frozenset[str]:
    """The ``type`` tag of every fact, command and event membercore reads and writes."""
    return frozenset(_MESSAGE_TYPES)


def message_classes() -> Mapping[str, type[Any]]:
    """The class of every fact, command and event membercore reads and writes, by tag."""
    return MappingProxyType(_MESSAGE_TYPES)


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
        return {TAG: tag, VERSION_KEY: version, **data}
    return {TAG: tag, **data}


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
    if TAG not in fields:
        raise InvalidFactError("message", TAG, None, f"a message needs its {TAG!r} tag")
    tag = str(fields.pop(TAG))
    cls = _MESSAGE_TYPES.get(tag)
    if cls is None:
        raise InvalidFactError(tag, TAG, tag, "unknown message type")
    # Data without a version is of version 1 (all that release 0.1.0 wrote).
    version = fields.pop(VERSION_KEY, 1)
    if version != schema_version(cls) or type(version) is not int:
        fields = _upcast_message(tag, cls, fields, version, upcasters, stored=stored)
    try:
        return (stored_converter() if stored else converter()).structure(fields, cls)
    except cattrs.BaseValidationError as error:
        if (cause := not_the_data(error)) is not None:
            raise cause from error
        path, problem = summary(error)
        field = path.removeprefix("$.")
        raise InvalidFactError(tag, field, value_at(fields, field), problem) from error


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
        return (upcasters or upcasting.UPCASTERS).upcast(tag, fields, version, current)
    except SchemaVersionError as error:
        if stored:
            raise
        raise InvalidFactError(tag, VERSION_KEY, version, error.problem) from error


def message_to_json(message: Any) -> str:
    """A fact, command or event as compact JSON text with its ``type`` tag."""
    return JSON.encode(message_to_dict(message))


def message_from_json(text: str) -> Any:
    """The message :func:`message_to_json` wrote: an input, read strictly.

    Raises:
        InvalidFactError: the text is not JSON, or not a valid tagged message.
    """
    return message_from_dict(_json_object(text))


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = JSON.decode(text)
    except json.JSONDecodeError as error:
        raise InvalidFactError("message", "json", text[:80], f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise InvalidFactError("message", "json", text[:80], "a message is a JSON object")
    return data
