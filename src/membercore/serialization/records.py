"""Records (a member, a household, the reward stock) and ledger snapshots as stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from membercore import upcasting
from membercore.converters import JSON, converter, stored_converter
from membercore.households import HouseholdState
from membercore.ledger.state import LedgerState
from membercore.service.member import Member
from membercore.upcasting import VERSION_KEY, Upcasters, schema_version

__all__ = ["record_from_json", "record_to_json", "snapshot_from_dict", "snapshot_to_dict"]


T = TypeVar("T")


#: Records' names as their upcasters know them.
_RECORD_KINDS: dict[type[Any], str] = {
    Member: "member",
    HouseholdState: "household",
    LedgerState: "ledger",
}


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


def record_to_json(state: Any) -> str:
    """A record's state (a member, a household, the reward stock) as compact JSON text.

    A record whose class is at a schema version above 1 carries it under ``"v"``.
    """
    data = converter().unstructure(state)
    return JSON.encode(_versioned(type(state), data))


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
    data = JSON.decode(text)
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
    return (upcasters or upcasting.UPCASTERS).upcast(kind, data, version, current)
