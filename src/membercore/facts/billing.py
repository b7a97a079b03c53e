"""Billing facts: charges paid (收费) and refunds, line by line, in fen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import attrs

from membercore.checks import non_empty, non_negative, positive
from membercore.converters import OMIT_AT_DEFAULT
from membercore.errors import InvalidFactError
from membercore.facts.base import Fact

# New fields are written only when they hold something: what earlier releases wrote
# and digested stays as it was.
_OMIT = {OMIT_AT_DEFAULT: True}

__all__ = ["ChargeLine", "ChargePaid", "ChargePosted", "RefundIssued"]


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
        service_code: the HIS's code of the item charged (a charge item, a drug), when
            sent.
        quantity: how many were charged, when sent.
        unit_price_fen: the price of one, in fen, when sent.
    """

    TYPE: ClassVar[str] = "charge_line"

    department: str = attrs.field(validator=non_empty)
    category: str = attrs.field(validator=non_empty)
    amount_fen: int = attrs.field(validator=non_negative)
    insurance_fen: int = attrs.field(default=0, validator=[non_negative, _insurance_within_amount])
    service_code: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    quantity: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive), repr=False, metadata=_OMIT
    )
    unit_price_fen: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(non_negative), repr=False, metadata=_OMIT
    )

    @property
    def self_paid_fen(self) -> int:
        """The part of the line the patient paid."""
        return self.amount_fen - self.insurance_fen


def _as_lines(lines: Iterable[ChargeLine]) -> tuple[ChargeLine, ...]:
    return tuple(lines)


def _at_least_one_line(
    instance: ChargePaid | ChargePosted, _attribute: object, value: tuple[ChargeLine, ...]
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
class ChargePosted(Fact):
    """A charge was posted to the patient's account (记账), not yet paid: it earns nothing.

    A HIS that posts charges as they are ordered and settles them later sends the
    settlement as :class:`ChargePaid`; points follow payment only.

    Attributes:
        charge_id: the HIS charge number.
        lines: the charged items.
    """

    TYPE: ClassVar[str] = "charge_posted"

    charge_id: str = attrs.field(validator=non_empty)
    lines: tuple[ChargeLine, ...] = attrs.field(converter=_as_lines, validator=_at_least_one_line)


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
