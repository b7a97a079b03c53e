"""What messages share: the bases facts, commands and events are built on.

The vocabulary of outreach is here too: the purposes a member consents to
(:data:`Purpose`) and the channels that reach them (:data:`Channel`).

Facts have their own base (:class:`membercore.facts.Fact`). A command on a member's
record carries ``key``, its idempotency key (the same command
twice is decided once; the same key on a different command is refused), and
``member_id``, the record it acts on.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty
from membercore.errors import InvalidFactError

__all__ = [
    "CHANNELS",
    "PURPOSES",
    "Channel",
    "Command",
    "KeylessCommand",
    "MemberEvent",
    "ParamValue",
    "Purpose",
    "check_purpose",
]

#: A parameter of a journey's guard or action: text, a whole number or yes/no.
ParamValue = str | int | bool

#: Why the programme may reach a member: care reminders, marketing offers, research.
Purpose = Literal["care", "marketing", "research"]
#: How the programme reaches a member.
Channel = Literal["wecom", "sms", "email", "phone"]
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
CHANNELS: tuple[Channel, ...] = get_args(Channel)


@attrs.frozen(kw_only=True)
class Command:
    """Fields every command on a member's record has (points, consent, plans, tasks...).

    Attributes:
        key: the idempotency key.
        member_id: the record it acts on.
    """

    TYPE: ClassVar[str] = "command"

    key: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class KeylessCommand:
    """Fields every command without a key has: what time asks of a member's record.

    Such a command (expire what is due, review the tier) is decided once per instant
    whoever sends it, so it needs no idempotency key.

    Attributes:
        member_id: the record it acts on.
    """

    TYPE: ClassVar[str] = "keyless_command"

    member_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class MemberEvent:
    """Fields every event of a member's record starts with.

    Events are what membercore decided and stored itself; they are read back as stored,
    so their fields carry no checks.

    Attributes:
        member_id: the record the event belongs to.
    """

    TYPE: ClassVar[str] = "member_event"

    member_id: str


def check_purpose(instance: Any, attribute: Any, value: str) -> None:
    """Attrs validator: ``value`` is one of :data:`PURPOSES`."""
    if value not in PURPOSES:
        raise InvalidFactError(instance.TYPE, attribute.name, value, f"purposes are {PURPOSES}")
