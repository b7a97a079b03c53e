"""Schema versions of stored data, and the upcasters that bring old shapes up to date.

What membercore stores lasts longer than a release: a member's events and snapshots
written years ago are read by today's code. Each stored shape has a *kind* — a message's
``TYPE`` tag (``charge_paid``, ``points_posted``...) or a record's name (``member``,
``household``, ``ledger``) — and a schema version: the class-level ``SCHEMA_VERSION`` of
its class, 1 when the class declares none. Data is written with its version under the
key ``"v"``, left out at version 1, so data without one is version 1 (everything
membercore 0.1.0 wrote).

When a release changes a stored shape in a way old data does not fit (a field renamed,
split, given another unit; not a new optional field with a default, which old data
simply lacks), it raises the class's ``SCHEMA_VERSION`` by one and adds an *upcaster*:
a function turning the plain data of version ``n`` into that of version ``n + 1``. The
convention is the eventsourcing library's ``upcast_v1_v2``::

    def charge_paid_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        data["paid_at"] = data.pop("occurred_at")
        return data

    UPCASTERS = Upcasters().add("charge_paid", 1, charge_paid_v1_v2)

Reading applies the steps from the data's version up to the class's, in order, before
the data is structured (:mod:`membercore.serialization`). An upcaster gets a dict of its
own (it may change it and return it) without the ``type`` tag and the version, and never
sees data of another kind. Steps are never removed: data of every version ever written
must stay readable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from membercore.errors import SchemaVersionError

__all__ = ["UPCASTERS", "VERSION_KEY", "Upcaster", "Upcasters", "schema_version"]

#: The key under which stored data carries its schema version (absent at version 1).
VERSION_KEY = "v"

#: Turns the plain data of one version of a kind into that of the next version.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def schema_version(cls: type[Any]) -> int:
    """The schema version a class writes: its ``SCHEMA_VERSION``, 1 when it declares none."""
    version = getattr(cls, "SCHEMA_VERSION", 1)
    if type(version) is not int or version < 1:
        raise SchemaVersionError(cls.__name__, version, "SCHEMA_VERSION must be an int >= 1")
    return version


def _frozen(steps: Mapping[str, tuple[Upcaster, ...]]) -> Mapping[str, tuple[Upcaster, ...]]:
    return MappingProxyType(dict(steps))


@attrs.frozen
class Upcasters:
    """Upcasters by kind: a registry that is never changed, only extended into a new one.

    Attributes:
        steps: per kind, the upcasters in order: ``steps[kind][n - 1]`` turns version
            ``n`` into version ``n + 1``.
    """

    steps: Mapping[str, tuple[Upcaster, ...]] = attrs.field(factory=dict, converter=_frozen)

    def add(self, kind: str, version: int, upcaster: Upcaster) -> Upcasters:
        """This registry with one more step for ``kind``.

        Args:
            kind: a message's ``TYPE`` tag or a record's name.
            version: the version ``upcaster`` reads; it writes ``version + 1``. Steps
                are added in order: the first reads version 1, the next version 2...
            upcaster: the function turning the data of ``version`` into the next.

        Raises:
            SchemaVersionError: ``version`` is not the next one ``kind`` needs.
        """
        held = self.steps.get(kind, ())
        if version != len(held) + 1:
            raise SchemaVersionError(
                kind, version, f"the next upcaster of {kind!r} reads version {len(held) + 1}"
            )
        return Upcasters({**self.steps, kind: (*held, upcaster)})

    def latest(self, kind: str) -> int:
        """The version ``kind``'s upcasters bring data up to (1 when it has none)."""
        return len(self.steps.get(kind, ())) + 1

    def upcast(self, kind: str, data: dict[str, Any], version: object, to: int) -> dict[str, Any]:
        """``data`` of ``kind`` at ``version`` brought up to version ``to``.

        Data at ``to`` or later is returned as it is.

        Raises:
            SchemaVersionError: a step between ``version`` and ``to`` is missing, or an
                upcaster failed or returned something other than a dict.
        """
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SchemaVersionError(kind, version, "a schema version is an int >= 1")
        held = self.steps.get(kind, ())
        for step in range(version, to):
            if step > len(held):
                raise SchemaVersionError(kind, step, f"no upcaster to version {step + 1}")
            try:
                data = held[step - 1](data)
            except Exception as error:
                raise SchemaVersionError(
                    kind, step, f"its upcaster to version {step + 1} failed: {error!r}"
                ) from error
            if not isinstance(data, dict):
                raise SchemaVersionError(
                    kind, step, f"its upcaster to version {step + 1} returned {type(data)!r}"
                )
        return data


#: membercore's own upcasters. No stored shape has changed since 0.1.0: a release that
#: changes one raises its class's ``SCHEMA_VERSION`` and adds the step here.
UPCASTERS = Upcasters()
