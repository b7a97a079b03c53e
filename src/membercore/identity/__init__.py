"""What a member's record knows of itself: the commands it took, and a merge into another.

The engine remembers every command key a member's record has taken, whatever the
command changed (a once-per-member bonus already given posts nothing, yet its key is
spent): the same command again is a replay, the key on another command is refused. A
record merged into another keeps pointing at the survivor, so that facts and commands
that still name it act on the survivor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware
from membercore.messages import Command, MemberEvent

__all__ = [
    "CommandTaken",
    "IdentityEvent",
    "IdentityState",
    "MergeMembers",
    "MergedInto",
    "evolve",
]


@attrs.frozen(kw_only=True)
class MergeMembers(Command):
    """Merge two records of one person (the HIS registered them twice).

    ``member_id`` is the record that survives; everything of ``duplicate_id`` moves to it.

    Attributes:
        duplicate_id: the record that is merged away.
        operator: who confirmed that both records are one person.
        reason: how it was established (e.g. same ID card number).
    """

    TYPE: ClassVar[str] = "merge_members"

    duplicate_id: str = attrs.field(validator=non_empty)
    operator: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class CommandTaken(MemberEvent):
    """A command was carried out on the member's record (its key is now spent).

    Attributes:
        member_id: the record.
        key: the command's idempotency key.
        command: the command's type tag.
        fingerprint: the command's digest.
        at: when.
    """

    TYPE: ClassVar[str] = "command_taken"

    key: str
    command: str
    fingerprint: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class MergedInto(MemberEvent):
    """The record was merged into another, which now stands for the same person.

    Attributes:
        member_id: the record merged away.
        survivor_id: the record that stands for the person now.
        at: when.
        key: the merge command's key.
    """

    TYPE: ClassVar[str] = "merged_into"

    survivor_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str


IdentityEvent = CommandTaken | MergedInto


@attrs.frozen(kw_only=True)
class IdentityState:
    """The record's own history.

    Attributes:
        commands: every command key taken, with its fingerprint.
        merged_into: the survivor, once the record is merged away.
    """

    commands: Mapping[str, str] = attrs.field(factory=dict)
    merged_into: str | None = None


def evolve(state: IdentityState, event: IdentityEvent) -> IdentityState:
    """Apply one event of the record's own history."""
    if isinstance(event, CommandTaken):
        return attrs.evolve(state, commands={**state.commands, event.key: event.fingerprint})
    return attrs.evolve(state, merged_into=event.survivor_id)
