"""Reading a resource's values: instants, dates, codings, references and amounts.

A resource is JSON as the server sent it (a dict). Each reader takes the element's path
for its error (``Encounter/e1.period.end``), so that a refused resource says what was
wrong and where. FHIR dates may be partial (``2020``, ``2020-01``): they are read as the
first day, at midnight in the hospital's zone, as a date without a time is.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "FhirError",
    "Resource",
    "codes",
    "day",
    "fen",
    "first_code",
    "instant",
    "name_of",
    "reference",
    "text",
]

Resource = dict[str, Any]

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


class FhirError(ValueError):
    """A resource that cannot become facts: what is wrong and in which element."""


def name_of(resource: Resource) -> str:
    """``Type/id`` (``Encounter/e1``), or the type alone for a resource without an id."""
    kind = resource.get("resourceType", "?")
    return f"{kind}/{resource['id']}" if resource.get("id") else str(kind)


def text(resource: object, *path: str) -> str:
    """The text at ``path`` in a resource or element ('' when absent)."""
    value: Any = resource
    for step in path:
        try:
            value = value.get(step)
        except AttributeError:  # not an element: nothing there
            return ""
    return value.strip() if type(value) is str else ""


def instant(value: object, zone: ZoneInfo, where: str) -> datetime:
    """A FHIR ``dateTime`` or ``instant`` (a date alone is midnight in ``zone``).

    Raises:
        FhirError: not a FHIR date or time, naming ``where``.
    """
    if not isinstance(value, str) or not value:
        raise FhirError(f"{where} is empty")
    partial = _PARTIAL.match(value)
    if partial:
        year, month, day_ = (int(part or 1) for part in partial.groups())
        try:
            return datetime.combine(date(year, month, day_), time(), tzinfo=zone)
        except ValueError:
            raise FhirError(f"{where} {value!r} is not a date") from None
    try:
        read = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(f"{where} {value!r} is not a FHIR dateTime") from None
    if read.tzinfo is None:  # FHIR requires an offset with a time; a HIS may forget it
        read = read.replace(tzinfo=zone)
    return read


def day(value: object, where: str) -> date:
    """A FHIR ``date`` (a partial one is its first day).

    Raises:
        FhirError: not a date, naming ``where``.
    """
    if not isinstance(value, str) or not _PARTIAL.match(value):
        raise FhirError(f"{where} {value!r} is not a FHIR date")
    year, month, day_ = (int(part or 1) for part in _PARTIAL.match(value).groups())  # type: ignore[union-attr]
    try:
        return date(year, month, day_)
    except ValueError:
        raise FhirError(f"{where} {value!r} is not a date") from None


def codes(concept: object) -> list[tuple[str, str, str]]:
    """A CodeableConcept's codings as (system, code, display), those without a code left out."""
    if not isinstance(concept, dict):
        return []
    found = []
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and text(coding, "code"):
            found.append((text(coding, "system"), text(coding, "code"), text(coding, "display")))
    return found


def first_code(*concepts: object) -> str:
    """The first code of the first concept that has one ('' when none has)."""
    for concept in concepts:
        for concept_ in concept if isinstance(concept, list) else [concept]:
            found = codes(concept_)
            if found:
                return found[0][1]
    return ""


def reference(value: object) -> str:
    """A Reference's ``reference`` ('' when absent): ``Patient/p1``, ``urn:uuid:...``, a URL."""
    return text(value, "reference") if isinstance(value, dict) else ""


def fen(money: object, currency: str, where: str, *, rounding: str = "half_up") -> int:
    """A Money amount in fen (cents): ``{"value": 100.5, "currency": "CNY"}`` is 10050.

    An amount finer than a fen (an insurer's computed share, ``112.41600000000001``) is
    rounded half up (四舍五入) unless ``rounding`` is ``refuse``.

    Raises:
        FhirError: the amount is missing or negative, in another currency than
            ``currency``, or finer than a fen while ``rounding`` is ``refuse``.
    """
    if not isinstance(money, dict) or "value" not in money:
        raise FhirError(f"{where} has no value")
    sent = money.get("currency")
    if sent and sent != currency:
        raise FhirError(f"{where} is in {sent}, not {currency} (the mapping's fhir.currency)")
    try:
        amount = Decimal(str(money["value"])) * 100
    except InvalidOperation:
        raise FhirError(f"{where} {money['value']!r} is not an amount") from None
    if not amount.is_finite():
        raise FhirError(f"{where} {money['value']!r} is not an amount")
    if amount < 0:
        raise FhirError(f"{where} {money['value']!r} is negative")
    if amount != amount.to_integral_value():
        if rounding == "refuse":
            raise FhirError(f"{where} {money['value']!r} is finer than a fen")
        amount = amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(amount)
