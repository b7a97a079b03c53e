"""Billing facts: charges paid (收费) and refunds, line by line, in fen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import attrs

from membercore.checks import non_empty, non_negative, positive
from membercore.errors import InvalidFactError
from membercore.facts.base import Fact

__all__ = ["ChargeLine", "ChargePaid", "RefundIssued"]


def _insurance_within_amount(instance: ChargeLine, _attribute: object, value: int) -> None:
    if value > instance.amount_fen:
        raise InvalidFactError(
            "charge_line",
            "insurance_fen",
            value,
            f"exceeds the line amount of {instance.amount_fen} fen",
        )


@attrs.frozen(kw_only=True)
class ChargeLine:
    """One line of a charge.

    Attributes:
        department: the department code (e.g. ``dental``).
        category: the service category (e.g. ``exam``, ``drug``, ``treatment``).
        amount_fen: the line total in fen, whoever pays it.
        insurance_fen: the part paid by medical insurance (医保); never earns points.
    """

    TYPE: ClassVar[str] = "charge_line"

    department: str = attrs.field(validator=non_empty)
    category: str = attrs.field(validator=non_empty)
    amount_fen: int = attrs.field(validator=non_negative)
    insurance_fen: int = attrs.field(default=0, validator=[non_negative, _insurance_within_amount])

    @property
    def self_paid_fen(self) -> int:
        """The part of the line the patient paid."""
        return self.amount_fen - self.insurance_fen


def _as_lines(lines: Iterable[ChargeLine]) -> tuple[ChargeLine, ...]:
    return tuple(lines)


def _at_least_one_line(
    instance: ChargePaid, _attribute: object, value: tuple[ChargeLine, ...]
) -> None:
    if not value:
        raise InvalidFactError(instance.TYPE, "lines", value, "a charge needs at least one line")


@attrs.frozen(kw_only=True)
class ChargePaid(Fact):
    """A charge (收费) was paid.

    Attributes:
        charge_id: the HIS charge number; refunds refer to it.
        lines: the charged items.
    """

    TYPE: ClassVar[str] = "charge_paid"

    charge_id: str = attrs.field(validator=non_empty)
    lines: tuple[ChargeLine, ...] = attrs.field(converter=_as_lines, validator=_at_least_one_line)

    @property
    def amount_fen(self) -> int:
        """The charge total in fen."""
        return sum(line.amount_fen for line in self.lines)


@attrs.frozen(kw_only=True)
class RefundIssued(Fact):
    """Part or all of a charge was refunded.

    Attributes:
        charge_id: the charge refunded.
        amount_fen: the amount refunded, in fen, out of the charge total.
    """

    TYPE: ClassVar[str] = "refund_issued"

    charge_id: str = attrs.field(validator=non_empty)
    amount_fen: int = attrs.field(validator=positive)
