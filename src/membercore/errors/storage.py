"""Errors of the stores and of the engine over them."""

from __future__ import annotations

import attrs

from membercore.errors.base import MembercoreError

__all__ = [
    "EngineError",
    "GaveUpError",
    "MemberErasedError",
    "OutdatedSchemaError",
    "StorageError",
    "StoreUnavailableError",
    "UnknownMemberError",
    "UnknownMessageError",
    "UnknownStoreError",
    "VersionConflictError",
]


def _copy(conflicts: dict[str, int]) -> dict[str, int]:
    return dict(conflicts)


@attrs.define(auto_exc=True, frozen=True, repr=False)
class StorageError(MembercoreError):
    """A store failed or refused a read or a commit; nothing of the commit was kept.

    Attributes:
        store: the store's URL (without a password).
        problem: what went wrong.
    """

    store: str
    problem: str

    def __str__(self) -> str:
        return f"store {self.store}: {self.problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class VersionConflictError(StorageError):
    """A commit expected versions of member records that another writer moved on.

    Attributes:
        conflicts: each record key with the version the commit expected.
    """

    conflicts: dict[str, int] = attrs.field(converter=_copy)
    problem: str = attrs.field(init=False)

    @problem.default
    def _listed(self) -> str:
        listed = ", ".join(f"{key} (expected v{n})" for key, n in self.conflicts.items())
        return f"version conflict on {listed}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class OutdatedSchemaError(StorageError):
    """A store an earlier release wrote, opened where migrating it was not allowed.

    Nothing was changed. Migrating it is one-way: the earlier release's workers cannot
    use it afterwards.

    Attributes:
        found: the schema version the store is at.
        latest: the schema version this membercore writes.
    """

    found: int
    latest: int
    problem: str = attrs.field(init=False)

    @problem.default
    def _said(self) -> str:
        return (
            f"the store is at schema version {self.found} and this membercore writes "
            f"{self.latest}: migrating it was not asked for"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownMessageError(StorageError, LookupError):
    """No outbox message has the id named (in the record named, if any).

    It was never queued, or it was erased meanwhile (an erasure renames a person's
    messages, and may commit while one of them is being handed to its channel).

    Attributes:
        message_id: the message named.
    """

    store: str = attrs.field(alias="url")
    message_id: str
    problem: str = attrs.field(init=False)

    @problem.default
    def _no_message(self) -> str:
        return f"no outbox message {self.message_id!r}"


class StoreUnavailableError(StorageError):
    """The store could not be opened or reached (a missing directory, a server down)."""


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownStoreError(StorageError, LookupError):
    """No installed plugin provides a store for the URL's scheme.

    Attributes:
        scheme: the URL scheme.
        known: the schemes that are provided.
    """

    store: str = attrs.field(alias="url")
    scheme: str
    known: tuple[str, ...]
    problem: str = attrs.field(init=False)

    @problem.default
    def _no_store(self) -> str:
        installed = ", ".join(self.known) or "none"
        return f"no store for scheme {self.scheme!r} (installed: {installed})"


class EngineError(MembercoreError):
    """The engine could not carry out a call."""


@attrs.define(auto_exc=True, frozen=True, repr=False)
class GaveUpError(EngineError):
    """A unit of work met a version conflict on every attempt (other workers kept winning).

    Attributes:
        what: the call (the command with its member and key, the batch, the tick).
        attempts: how many times it was tried.
        conflicts: each record another worker changed first, with how many times.
    """

    what: str
    attempts: int
    conflicts: dict[str, int] = attrs.field(converter=_copy)

    def __str__(self) -> str:
        listed = ", ".join(f"{key} ({n}×)" for key, n in sorted(self.conflicts.items()))
        return f"gave up {self.what} after {self.attempts} version conflicts in a row, on {listed}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownMemberError(EngineError, LookupError):
    """A call names a member the store holds nothing about.

    Attributes:
        member_id: the member named.
        identifier_of: the members whose identifier ``member_id`` is (an old medical
            record number, the number a merge retired), when it is one: the caller
            names the member by the id the store knows them by.
    """

    member_id: str
    identifier_of: tuple[str, ...] = ()

    def __str__(self) -> str:
        said = f"member {self.member_id!r} is not known"
        if self.identifier_of:
            owners = ", ".join(repr(owner) for owner in self.identifier_of)
            said += f"; it is an identifier of member {owners}"
        return said


@attrs.define(auto_exc=True, frozen=True, repr=False)
class MemberErasedError(UnknownMemberError):
    """A call names a person whose data was erased, or the pseudonymous record left of one.

    Attributes:
        member_id: the member named.
        erased_on: the day their data was erased (ISO); empty when ``member_id`` is the
            pseudonym of an erased person's record.
        reason: why, as the erasure recorded it.
    """

    erased_on: str = ""
    reason: str = ""

    def __str__(self) -> str:
        if not self.erased_on:
            return (
                f"member {self.member_id!r} is the pseudonymous record of a person whose "
                "data was erased: there is nothing of theirs left to erase"
            )
        return (
            f"member {self.member_id!r}: their data was erased on {self.erased_on} ({self.reason})"
        )
