"""What messages share: the bases facts, commands and events are built on.

A command on a member's record carries ``key``, its idempotency key (the same command
twice is decided once; the same key on a different command is refused), and
``member_id``, the record it acts on.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from membercore.checks import non_empty

__all__ = ["Command"]


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
