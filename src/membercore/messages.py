"""What messages share: the bases facts, commands and events are built on.

The vocabulary of outreach is here too: the purposes a member consents to
(:data:`Purpose`) and the channels that reach them (:data:`Channel`).

A command on a member's record carries ``key``, its idempotency key (the same command
twice is decided once; the same key on a different command is refused), and
``member_id``, the record it acts on.
"""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty

__all__ = ["CHANNELS", "PURPOSES", "Channel", "Command", "Purpose"]

#: Why the programme may reach a member: care reminders, marketing offers, research.
Purpose = Literal["care", "marketing", "research"]
#: How the programme reaches a member.
Channel = Literal["wecom", "sms", "email", "phone"]
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
CHANNELS: tuple[Channel, ...] = get_args(Channel)


@attrs.frozen(kw_only=True)
class Command:
    """Fields every ledger command has.

    Attributes:
        key: the idempotency key.
        member_id: the member whose points change.
    """

    TYPE: ClassVar[str] = "command"

    key: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
