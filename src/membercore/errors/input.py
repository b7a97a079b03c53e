"""Errors of the input: facts, commands and stored data that cannot be taken as they are."""

from __future__ import annotations

import attrs

from membercore.errors.base import MembercoreError
from membercore.text import brief

__all__ = [
    "IdempotencyConflictError",
    "ImplausibleError",
    "InvalidFactError",
    "MemberMismatchError",
    "NaiveInstantError",
    "SchemaVersionError",
    "UnreadableError",
]


@attrs.define(auto_exc=True, frozen=True, repr=False)
class NaiveInstantError(MembercoreError, ValueError):
    """An instant without a timezone was given where an aware one is required.

    Attributes:
        field: the name of the field or argument.
        value: the naive datetime.
    """

    field: str
    value: object

    def __str__(self) -> str:
        return f"{self.field} must be timezone-aware, got naive {brief(self.value)}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class InvalidFactError(MembercoreError, ValueError):
    """A fact or command was built with a value out of range.

    Attributes:
        message_type: the type of the fact or command (e.g. ``charge_paid``).
        field: the offending field.
        value: its value.
        problem: what is wrong with it.
    """

    message_type: str
    field: str
    value: object
    problem: str

    def __str__(self) -> str:
        return f"{self.message_type}.{self.field} = {brief(self.value)}: {self.problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnreadableError(MembercoreError, ValueError):
    """An input its source could not read as text (bytes that are not UTF-8, a line too long).

    Attributes:
        reason: what the source said was wrong.
    """

    reason: str

    def __str__(self) -> str:
        return self.reason


@attrs.define(auto_exc=True, frozen=True, repr=False)
class IdentityConflictError(InvalidFactError):
    """A registration's identifiers say it is another patient than the one it names.

    The facts sent with it about the patient it names are refused too: they may be
    another person's.
    """


@attrs.define(auto_exc=True, frozen=True, repr=False)
class ImplausibleError(InvalidFactError):
    """A fact or command is outside the programme's plausibility bounds.

    Attributes:
        message_type: the type of the fact or command.
        field: the offending field.
        value: its value.
        problem: the bound it is past (naming the configuration key).
    """

    # ``problem`` is given as the bound alone (so ``args`` holds it as given) and reads
    # ``implausible: <bound>``.
    _bound: str = attrs.field(alias="problem")
    problem: str = attrs.field(init=False)

    @problem.default
    def _implausible(self) -> str:
        return f"implausible: {self._bound}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class SchemaVersionError(MembercoreError, ValueError):
    """Stored data's schema version cannot be brought up to date, or is declared wrong.

    Attributes:
        kind: the message's ``TYPE`` tag or the record's name (a class's name when the
            class declares its version wrong).
        version: the offending version.
        problem: what is wrong with it.
    """

    kind: str
    version: object
    problem: str

    def __str__(self) -> str:
        return f"{self.kind} schema version {self.version!r}: {self.problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class IdempotencyConflictError(MembercoreError):
    """An idempotency key was reused for a different fact or command.

    Attributes:
        member_id: whose keys (a member, or a household).
        key: the reused key.
    """

    member_id: str
    key: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: idempotency key {self.key!r} was already used by a "
            "different command"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class MemberMismatchError(MembercoreError):
    """A message for one member was applied to another member's state.

    Attributes:
        member_id: the member the state belongs to.
        given: the member the message names.
    """

    member_id: str
    given: str

    def __str__(self) -> str:
        return f"state of member {self.member_id} cannot take a message for member {self.given}"
