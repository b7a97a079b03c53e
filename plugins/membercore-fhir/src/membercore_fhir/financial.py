"""ChargeItem, Claim, ExplanationOfBenefit and Invoice: charges posted, paid and refunded.

- A ChargeItem is one charge line: paid or posted as the mapping's ``charges`` says
  (``paid`` by default, as DFT charges are); ``entered-in-error`` after it was taken
  refunds it. Its amount is ``priceOverride``; its department its cost centre's
  identifier, else its encounter's.
- A Claim is a charge posted to the account (:class:`~membercore.facts.ChargePosted`): it
  earns nothing until it is paid.
- An ExplanationOfBenefit whose outcome is ``complete`` or ``partial`` is the claim paid
  (:class:`~membercore.facts.ChargePaid`, under the claim's id): its total (the
  ``submitted`` amount, else the items' net amounts), of which ``payment.amount`` was
  the insurer's (医保; never earns points).
- An Invoice ``balanced`` is paid, ``issued`` posted, ``cancelled`` after it was paid
  refunded; its lines are its line items' base prices (else its gross total).

Amounts are Money in the mapping's ``currency`` (another is refused), turned into fen
exactly (an amount finer than a fen is refused). A charge's service category is what
the mapping's ``[fhir.charge_categories]`` names its product or service codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from membercore.facts import ChargeLine, ChargePaid, ChargePosted, RefundIssued
from membercore_fhir.context import Context
from membercore_fhir.values import FhirError, Resource, codes, fen, instant, name_of, text

__all__ = ["charge_item", "claim", "explanation_of_benefit", "invoice"]


def charge_item(context: Context, resource: Resource) -> list[object]:
    """A charge line, paid or posted as mapped; refunded when entered in error."""
    name = name_of(resource)
    status = text(resource, "status")
    if status in ("not-billable", "aborted", "planned"):
        return []
    at = _at(context, resource, ("occurrenceDateTime", "enteredDate"), "occurrencePeriod")
    made: list[object] = []
    patient_id = context.patient_of(resource.get("subject"), f"{name}.subject", made, at)
    amount = _money(context, resource.get("priceOverride"), f"{name}.priceOverride")
    charge_id = _identifier(resource)
    if status == "entered-in-error":
        return [*made, *_refund(context, resource, patient_id, at, charge_id, amount)]
    service = [code for _, code, _ in codes(resource.get("code"))]
    quantity = (resource.get("quantity") or {}).get("value")
    line = ChargeLine(
        department=_department(context, resource, name),
        category=context.mapping.category(*service),
        amount_fen=amount,
        service_code=service[0] if service else None,
        quantity=int(quantity)
        if isinstance(quantity, int | float) and quantity >= 1 and quantity == int(quantity)
        else None,
    )
    kind = ChargePaid if context.mapping.charges == "paid" else ChargePosted
    made.append(_charge(kind, context, resource, kind.TYPE, patient_id, at, charge_id, (line,)))
    return made


def claim(context: Context, resource: Resource) -> list[object]:
    """A claim, posted to the account (its explanation of benefit pays it)."""
    name = name_of(resource)
    if text(resource, "status") not in ("active", "") or text(resource, "use") not in ("claim", ""):
        return []
    at = _at(context, resource, ("created",), "billablePeriod", end=True)
    made: list[object] = []
    patient_id = context.patient_of(resource.get("patient"), f"{name}.patient", made, at)
    lines = _lines(context, resource, name, resource.get("total"), 0)
    made.append(
        _charge(
            ChargePosted,
            context,
            resource,
            "posted",
            patient_id,
            at,
            str(resource.get("id", name)),
            lines,
        )
    )
    return made


def explanation_of_benefit(context: Context, resource: Resource) -> list[object]:
    """The claim paid: its total, of which the insurer paid ``payment.amount``."""
    name = name_of(resource)
    if (
        text(resource, "outcome") not in ("complete", "partial")
        or text(resource, "status") == "entered-in-error"
    ):
        return []
    at = _at(context, resource, ("created",), "billablePeriod", end=True)
    made: list[object] = []
    patient_id = context.patient_of(resource.get("patient"), f"{name}.patient", made, at)
    total = next(
        (
            t.get("amount")
            for t in resource.get("total") or []
            if "submitted" in {c for _, c, _ in codes(t.get("category"))}
        ),
        None,
    )
    payment = (resource.get("payment") or {}).get("amount")
    insured = _money(context, payment, f"{name}.payment.amount") if payment else 0
    lines = _lines(context, resource, name, total, insured)
    claimed = text(resource, "claim", "reference")
    charge_id = (
        context.name(claimed).rpartition("/")[2] if claimed else str(resource.get("id", name))
    )
    made.append(_charge(ChargePaid, context, resource, "paid", patient_id, at, charge_id, lines))
    return made


def invoice(context: Context, resource: Resource) -> list[object]:
    """An invoice: balanced is paid, issued posted, cancelled refunded."""
    name = name_of(resource)
    status = text(resource, "status")
    if status not in ("balanced", "issued", "cancelled"):
        return []
    at = _at(context, resource, ("date",), "")
    made: list[object] = []
    patient_id = context.patient_of(resource.get("subject"), f"{name}.subject", made, at)
    charge_id = _identifier(resource)
    if status == "cancelled":
        gross = resource.get("totalGross")
        amount = _money(context, gross, f"{name}.totalGross") if gross else 0
        return [*made, *_refund(context, resource, patient_id, at, charge_id, amount)]
    lines = []
    department = context.mapping.department() or "outpatient"
    for number, item in enumerate(resource.get("lineItem") or [], start=1):
        base = next(
            (p.get("amount") for p in item.get("priceComponent") or [] if p.get("type") == "base"),
            None,
        )
        if base is None:
            continue
        service = [c for _, c, _ in codes(item.get("chargeItemCodeableConcept"))]
        amount = _money(context, base, f"{name}.lineItem[{number}].priceComponent")
        lines.append(
            ChargeLine(
                department=department,
                category=context.mapping.category(*service),
                amount_fen=amount,
                service_code=service[0] if service else None,
            )
        )
    if not lines:
        lines = list(_lines(context, resource, name, resource.get("totalGross"), 0))
    kind = ChargePaid if status == "balanced" else ChargePosted
    made.append(
        _charge(kind, context, resource, kind.TYPE, patient_id, at, charge_id, tuple(lines))
    )
    return made


def _lines(
    context: Context, resource: Resource, name: str, total: object, insured: int
) -> tuple[ChargeLine, ...]:
    """One line of the total (else of the items' net amounts), in the first item's category."""
    items: list[dict[str, Any]] = resource.get("item") or []
    service = [c for item in items[:1] for _, c, _ in codes(item.get("productOrService"))]
    if total:
        amount = _money(context, total, f"{name}.total")
    else:
        nets = [item["net"] for item in items if item.get("net")]
        if not nets:
            raise FhirError(f"{name} has no total and its items no net amounts")
        amount = sum(_money(context, n, f"{name}.item.net") for n in nets)
    encounter = next((e for item in items for e in item.get("encounter") or []), None)
    visit = context.encounter(encounter) if encounter else None
    department = (
        (visit.department if visit else None) or context.mapping.department() or "outpatient"
    )
    return (
        ChargeLine(
            department=department,
            category=context.mapping.category(*service),
            amount_fen=amount,
            insurance_fen=min(insured, amount),
            service_code=service[0] if service else None,
        ),
    )


def _department(context: Context, resource: Resource, name: str) -> str:
    """A charge's department: its cost centre's identifier, else its encounter's."""
    centre = context.resource(text(resource, "costCenter", "reference"))
    sent = [text(i, "value") for i in (centre or {}).get("identifier") or [] if text(i, "value")]
    if sent:
        return context.mapping.department(sent[0]) or sent[0]
    visit = context.encounter(resource.get("context") or resource.get("encounter"))
    department = (visit.department if visit else None) or context.mapping.department()
    if department is None:
        raise FhirError(
            f"{name}: no department (no cost centre, no encounter's, no [fhir.departments] default)"
        )
    return department


def _charge(
    kind: type[ChargePaid | ChargePosted],
    context: Context,
    resource: Resource,
    part: str,
    patient_id: str,
    at: datetime,
    charge_id: str,
    lines: tuple[ChargeLine, ...],
) -> ChargePaid | ChargePosted:
    """A charge paid or posted, its fact id the resource's and ``part``."""
    return kind(
        fact_id=context.fact_id(resource, part),
        patient_id=patient_id,
        occurred_at=at,
        charge_id=charge_id,
        lines=lines,
    )


def _money(context: Context, money: object, where: str) -> int:
    """An amount in fen, in the mapping's currency and rounding."""
    return fen(money, context.mapping.currency, where, rounding=context.mapping.rounding)


def _refund(
    context: Context, resource: Resource, patient_id: str, at: datetime, charge_id: str, amount: int
) -> list[object]:
    """The refund of ``amount`` of a charge (none when there is nothing to refund)."""
    if not amount:
        return []
    refund = RefundIssued(
        fact_id=context.fact_id(resource, "refunded"),
        patient_id=patient_id,
        occurred_at=at,
        charge_id=charge_id,
        amount_fen=amount,
    )
    return [refund]


def _identifier(resource: Resource) -> str:
    sent = [text(i, "value") for i in resource.get("identifier") or [] if text(i, "value")]
    return sent[0] if sent else str(resource.get("id", name_of(resource)))


def _at(
    context: Context, resource: Resource, keys: tuple[str, ...], period: str, *, end: bool = False
) -> datetime:
    name, zone = name_of(resource), context.mapping.timezone
    for key in keys:
        if resource.get(key):
            return instant(resource[key], zone, f"{name}.{key}")
    span = resource.get(period) or {} if period else {}
    for key in ("end", "start") if end else ("start", "end"):
        if span.get(key):
            return instant(span[key], zone, f"{name}.{period}.{key}")
    told = context.when_told(resource)
    if told is None:
        raise FhirError(f"{name}: no instant ({', '.join(keys)} are empty)")
    return told
