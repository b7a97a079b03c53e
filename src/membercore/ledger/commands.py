"""Commands: what staff, the member app or a journey asks the programme to do.

Every command that changes points carries ``key``, its idempotency key: the same command
twice yields the same postings once; the same key on a different command is refused.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.errors import InvalidAmountError
from membercore.identity import MergeMembers
from membercore.messages import Command, KeylessCommand

__all__ = [
    "COMMAND_TYPES",
    "AdjustPoints",
    "AwardBonus",
    "Command",
    "ExpireDue",
    "LedgerCommand",
    "MergeMembers",
    "Redeem",
    "ReversePosting",
    "TransferPoints",
]


def _positive_points(instance: Any, _attribute: Any, value: int) -> None:
    if type(value) is not int:
        raise InvalidAmountError(instance.member_id, value, "points are a whole number")
    if value <= 0:
        raise InvalidAmountError(instance.member_id, value, "must be a positive number of points")


def _non_zero_points(instance: Any, _attribute: Any, value: int) -> None:
    if type(value) is not int:
        raise InvalidAmountError(instance.member_id, value, "points are a whole number")
    if value == 0:
        raise InvalidAmountError(instance.member_id, value, "an adjustment cannot be zero")


@attrs.frozen(kw_only=True)
class Redeem(Command):
    """Spend available points (on a gift, a service...).

    Attributes:
        points: how many.
        reference: what they were spent on (a catalogue item, an order).
    """

    TYPE: ClassVar[str] = "redeem"

    points: int = attrs.field(validator=_positive_points)
    reference: str | None = None


@attrs.frozen(kw_only=True)
class AdjustPoints(Command):
    """A manual correction by staff, up or down.

    Attributes:
        points: the signed change.
        operator: who made it.
        reason: why.
        qualifying: whether added points count toward tiers.
    """

    TYPE: ClassVar[str] = "adjust_points"

    points: int = attrs.field(validator=_non_zero_points)
    operator: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)
    qualifying: bool = False


@attrs.frozen(kw_only=True)
class AwardBonus(Command):
    """Award a promotional bonus defined in ``earning.bonuses``.

    Attributes:
        rule_id: the bonus's name in the config (e.g. ``welcome``).
        points: how many.
        reason: shown on the member's statement.
    """

    TYPE: ClassVar[str] = "award_bonus"

    rule_id: str = attrs.field(validator=non_empty)
    points: int = attrs.field(validator=_positive_points)
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ReversePosting(Command):
    """Reverse what remains of an earning (a fraudulent referral, a charge voided by staff).

    Attributes:
        posting_id: the earning posting.
        operator: who asked for it.
        reason: why.
    """

    TYPE: ClassVar[str] = "reverse_posting"

    posting_id: str = attrs.field(validator=non_empty)
    operator: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class TransferPoints(Command):
    """Move available points to another member of the same household.

    ``member_id`` gives the points; ``target_id`` receives them.

    Attributes:
        target_id: the receiving member.
        points: how many.
        reason: e.g. ``pooled to the head of household``.
    """

    TYPE: ClassVar[str] = "transfer_points"

    target_id: str = attrs.field(validator=non_empty)
    points: int = attrs.field(validator=_positive_points)
    reason: str | None = None


@attrs.frozen(kw_only=True)
class ExpireDue(KeylessCommand):
    """Expire what is left of every lot whose expiry instant has come.

    Each expiry posting is keyed by its lot, so running this any number of times expires
    each lot once.
    """

    TYPE: ClassVar[str] = "expire_due"


LedgerCommand = (
    Redeem | AdjustPoints | AwardBonus | ReversePosting | TransferPoints | MergeMembers | ExpireDue
)

COMMAND_TYPES: tuple[type[Any], ...] = (
    Redeem,
    AdjustPoints,
    AwardBonus,
    ReversePosting,
    TransferPoints,
    MergeMembers,
    ExpireDue,
)
