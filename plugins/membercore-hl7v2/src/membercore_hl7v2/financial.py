"""DFT^P03 and DFT^P11: charges, line by line, and credits.

The FT1 lines of type ``CG`` (charges) make a charge per transaction id (FT1-2; lines
without one make the message's charge, named by its control id): paid when the mapping
says DFT charges are paid (``charges = "paid"``, as a HIS that sends them on
settlement), else posted to the account (they earn nothing until paid). Each line: the
department (FT1-13, else the visit's), the category the mapping gives the charge code
(FT1-7), the amount (FT1-11, else FT1-12 times FT1-10, rounded to the fen) in fen, the
quantity (a fraction, as grams of herbs, is kept in the amount) and the unit price
(rounded to the fen: a drug's unit price may be finer). A
``CD`` line (a credit) refunds the charge its FT1-2 names. Payments (``PY``) and
adjustments (``AJ``) change nothing the programme counts. An amount in another currency
than the mapping's, or a line's total finer than a fen, is refused naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from membercore.facts import ChargeLine, ChargePaid, ChargePosted, RefundIssued
from membercore_hl7v2.context import Context
from membercore_hl7v2.diagnoses import diagnoses
from membercore_hl7v2.fields import FieldValueError, MissingFieldError, Segment, TableValueError

__all__ = ["HANDLERS"]


def transactions(context: Context) -> list[object]:
    """The charges the CG lines make, the refunds the CD lines make, and the diagnoses."""
    charges: dict[str, tuple[Segment, list[ChargeLine]]] = {}
    refunds: list[object] = []
    for number, ft1 in enumerate(context.message.segments("FT1"), start=1):
        kind = ft1.get(6).upper()
        if kind == "CG":
            charge_id = ft1.get(2) or context.ids.control_id
            first, lines = charges.setdefault(charge_id, (ft1, []))
            lines.append(_line(context, ft1, number))
        elif kind == "CD":
            refunds.append(_refund(context, ft1, number))
    made: list[object] = []
    pv1 = context.message.first("PV1")
    if context.message.segments("DG1") and pv1 is not None and pv1.get(19):
        made += diagnoses(context, context.visit_id())
    charged = ChargePaid if context.mapping.charges == "paid" else ChargePosted
    for charge_id, (first, lines) in charges.items():
        made.append(
            charged(
                fact_id=context.ids.of(f"charge:{charge_id}"),
                patient_id=context.patient.patient_id,
                occurred_at=_when(context, first),
                charge_id=charge_id,
                lines=tuple(lines),
            )
        )
    return made + refunds


def _line(context: Context, ft1: Segment, number: int) -> ChargeLine:
    code = ft1.get(7)
    quantity = _quantity(ft1, number)
    unit = _money(context, ft1, 12, number)
    amount = _fen(context, ft1, 11, number)
    if amount is None:
        if unit is None:
            raise MissingFieldError(f"FT1 {number}: FT1-11 and FT1-12 (the amounts) are empty")
        amount = _whole_fen(unit * (quantity or 1))
    whole = quantity is not None and quantity == quantity.to_integral_value()
    return ChargeLine(
        department=context.department(ft1.get(13)),
        category=context.mapping.category(code),
        amount_fen=amount,
        service_code=code or None,
        quantity=int(quantity) if whole and quantity is not None else None,
        unit_price_fen=None if unit is None else _whole_fen(unit),
    )


def _refund(context: Context, ft1: Segment, number: int) -> object:
    charge = ft1.get(2)
    if not charge:
        raise MissingFieldError(f"FT1 {number}: a credit (CD) names no charge in FT1-2")
    amount = _fen(context, ft1, 11, number) or _fen(context, ft1, 12, number)
    if not amount:
        raise MissingFieldError(f"FT1 {number}: a credit (CD) without an amount in FT1-11")
    return RefundIssued(
        fact_id=context.ids.of(f"ft1-{ft1.get(1) or number}"),
        patient_id=context.patient.patient_id,
        occurred_at=_when(context, ft1),
        charge_id=charge,
        amount_fen=abs(amount),
    )


def _when(context: Context, ft1: Segment) -> datetime:
    """The transaction's instant (FT1-4; a date alone is its midnight), else the event's."""
    text = ft1.get(4)
    if len(text) == 8:
        day = ft1.day(4)
        assert day is not None
        return datetime.combine(day, time(), tzinfo=context.mapping.timezone)
    return ft1.instant(4) or context.event_instant()


def _quantity(ft1: Segment, number: int) -> Decimal | None:
    """FT1-10: how many (a fraction too: grams of herbs, half a tablet)."""
    text = ft1.get(10)
    if not text:
        return None
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise FieldValueError(f"FT1 {number}: FT1-10 {text!r} is not a quantity") from None
    if not quantity > 0:
        raise FieldValueError(f"FT1 {number}: FT1-10 {text!r} is not a positive quantity")
    return quantity


def _money(context: Context, ft1: Segment, field: int, number: int) -> Decimal | None:
    """An amount (CP: MO ``100.50&CNY``) in fen, exact, checked against the mapping's currency."""
    text, currency = ft1.get(field, 1, 1), ft1.get(field, 1, 2)
    if not text:
        return None
    if currency and _currency(currency) != _currency(context.mapping.currency):
        raise TableValueError(
            f"FT1 {number}: FT1-{field} is in {currency}, the mapping's currency is "
            f"{context.mapping.currency}"
        )
    try:
        return Decimal(text) * 100
    except InvalidOperation:
        raise FieldValueError(f"FT1 {number}: FT1-{field} {text!r} is not an amount") from None


def _currency(code: str) -> str:
    """A currency's ISO 4217 code (``RMB``, as many HIS write the yuan, is ``CNY``)."""
    code = code.strip().upper()
    return "CNY" if code == "RMB" else code


def _fen(context: Context, ft1: Segment, field: int, number: int) -> int | None:
    """An amount that is whole fen (a line's total): one finer is refused, naming it."""
    fen = _money(context, ft1, field, number)
    if fen is None:
        return None
    if fen != fen.to_integral_value():
        text = ft1.get(field, 1, 1)
        raise FieldValueError(f"FT1 {number}: FT1-{field} {text!r} is finer than a fen")
    return int(fen)


def _whole_fen(fen: Decimal) -> int:
    """Fen rounded half up (a unit price may be finer: 0.125 yuan a tablet)."""
    return int(fen.quantize(Decimal(1), rounding=ROUND_HALF_UP))


#: The DFT triggers translated.
HANDLERS: dict[str, Callable[[Context], list[object]]] = {
    "DFT^P03": transactions,
    "DFT^P11": transactions,
}
