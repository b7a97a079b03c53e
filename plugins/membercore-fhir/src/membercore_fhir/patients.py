"""Patient, RelatedPerson and Linkage: registrations, identifiers, deaths, relatives, merges.

A Patient is a registration under the patient id its primary identifier gives (the
mapping's ``[fhir.patient] primary``, ``MR`` by default), listing every identifier it
sends — each under its system as the mapping's ``[fhir.systems]`` names it, else the
system's URI, else ``^`` and its type — and the server's own name of it
(``Patient/p1`` under ``fhir:<sender>``), so that any of them finds the patient again.
A driver's licence (type ``DL``) is not listed, as HL7 v2 sends it apart (PID-20).
It is registered as of the earliest instant the read tells of the patient (so that it
comes before their facts), else as of its ``meta.lastUpdated``, else their birth date.
``deceasedDateTime`` (or ``deceasedBoolean`` with ``meta.lastUpdated``) is a death.
``Patient.link`` of type ``replaced-by`` merges the patient into the one it names.

The patient's addresses come from ``Patient.telecom``, as each value is written, among
the contact points in force when the resource was told (``period`` running then; not
``use`` ``old``). ``phone`` is the first number (system ``phone`` or ``sms``): a mobile
(``use`` ``mobile``, system ``sms``, or a mainland mobile number) first, then by
``rank`` (lower first), then as listed; a ``work`` number only when no other is given.
``email`` is the first e-mail address (system ``email``) by the same order. A contact
point sent without a system is read by its value: an e-mail address, else a number.
The patient's contacts (``Patient.contact``) and RelatedPersons are other people.

A RelatedPerson whose identifier names a patient (by the primary types) is a relative
of the patient it belongs to. A Linkage (as converters make of an ADT^A40) merges each
``historical`` item's patient into the ``source`` item's.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

from membercore.facts import Identifier, PatientDied, PatientRegistered, Sex
from membercore.facts.contacts import is_mainland_mobile, written_email, written_phone
from membercore.identity import MergeMembers
from membercore_fhir.context import Context, digest, resource_system
from membercore_fhir.values import FhirError, Resource, codes, day, instant, name_of, text

__all__ = ["linkage", "patient", "related_person"]

_SEX: dict[str, Sex] = {"female": "female", "male": "male"}
_TITLE: dict[Sex, str] = {"female": "女士", "male": "先生"}


def patient(context: Context, resource: Resource) -> list[object]:
    """The registration a Patient states, and the death it reports."""
    name = name_of(resource)
    patient_id = context.primary_id(resource)
    born = day(resource["birthDate"], f"{name}.birthDate") if "birthDate" in resource else None
    died = _died_at(context, resource)
    at = _registered_at(context, resource, patient_id, born)
    if died is not None:
        at = min(at, died)
    sex = _SEX.get(text(resource, "gender"))
    fields: dict[str, object] = {"birth_date": born, "sex": sex}
    family = next((text(n, "family") for n in resource.get("name") or [] if text(n, "family")), "")
    if family and sex is not None:
        fields["name"] = f"{family}{_TITLE[sex]}"
    fields.update(_addresses(context, resource, _told_on(context, resource, patient_id, at)))
    identifiers = _identifiers(context, resource)
    version = text(resource, "meta", "versionId") or digest(identifiers, fields, at)
    made: list[object] = [
        PatientRegistered(
            fact_id=context.fact_id(resource, f"registered:{version}"),
            patient_id=patient_id,
            occurred_at=at,
            identifiers=identifiers,
            **fields,  # type: ignore[arg-type]
        )
    ]
    if died is not None:
        made.append(
            PatientDied(
                fact_id=context.fact_id(resource, "died"), patient_id=patient_id, occurred_at=died
            )
        )
    for link in resource.get("link") or []:
        if text(link, "type") == "replaced-by":
            survivor = context.patient_of(link.get("other"), f"{name}.link.other", made, at)
            made.append(_merge(context, resource, survivor, patient_id))
    return made


def related_person(context: Context, resource: Resource) -> list[object]:
    """A relative of the patient, when the RelatedPerson's identifier names a patient."""
    name = name_of(resource)
    named = [
        text(i, "value")
        for wanted in context.mapping.primary
        for i in resource.get("identifier") or []
        if text(i, "value") and wanted in {c for _, c, _ in codes(i.get("type"))}
    ]
    if not named:
        return []
    at = context.when_told(resource) or _anchor(context, resource)
    made: list[object] = []
    patient_id = context.patient_of(resource.get("patient"), f"{name}.patient", made, at)
    made.append(
        PatientRegistered(
            fact_id=context.fact_id(resource, f"relative:{named[0]}"),
            patient_id=patient_id,
            occurred_at=at,
            relatives=(named[0],),
        )
    )
    return made


def linkage(context: Context, resource: Resource) -> list[object]:
    """Each ``historical`` item's patient merged into the ``source`` item's."""
    name = name_of(resource)
    by_type: dict[str, list[str]] = {}
    for item in resource.get("item") or []:
        value = text(item, "resource", "identifier", "value")
        if value:
            by_type.setdefault(text(item, "type"), []).append(value)
    if not by_type.get("source") or not by_type.get("historical"):
        raise FhirError(f"{name}.item names no source and historical patient to merge")
    survivor = by_type["source"][0]
    return [_merge(context, resource, survivor, merged) for merged in by_type["historical"]]


def _merge(context: Context, resource: Resource, survivor: str, merged: str) -> MergeMembers:
    return MergeMembers(
        key=context.fact_id(resource, f"merge-{merged}"),
        member_id=survivor,
        duplicate_id=merged,
        operator=context.mapping.sender,
        reason=f"{name_of(resource)} from {context.mapping.sender}",
        retire_unknown=True,
    )


def _identifiers(context: Context, resource: Resource) -> tuple[Identifier, ...]:
    """Every identifier sent that says who issued it, and the server's name of the patient."""
    found: list[Identifier] = []
    for sent in resource.get("identifier") or []:
        value = text(sent, "value")
        system = text(sent, "system")
        kind = next((code for _, code, _ in codes(sent.get("type"))), "")
        if kind == "DL":
            continue  # a driver's licence names a licence, not the patient's record
        named = context.mapping.systems.get(system) or system or (f"^{kind}" if kind else "")
        if value and named:
            identifier = Identifier(system=named, value=value)
            if identifier not in found:
                found.append(identifier)
    found.append(Identifier(system=resource_system(context.mapping), value=name_of(resource)))
    return tuple(found)


def _registered_at(
    context: Context, resource: Resource, patient_id: str, born: date | None
) -> datetime:
    """The earliest instant the read tells of the patient, else the last update, else birth."""
    # As its facts name the patient: by the server's own name of them.
    name = Identifier(system=resource_system(context.mapping), value=name_of(resource)).name
    named = [context.earliest(patient_id), context.earliest(name)]
    told = min((at for at in named if at is not None), default=None)
    if told is not None:
        return told
    updated = context.when_told(resource)
    if updated is not None:
        return updated
    if born is not None:
        return datetime.combine(born, time(), tzinfo=context.mapping.timezone)
    raise FhirError(
        f"{name_of(resource)}: no instant to register the patient at (no fact of the read, "
        "no meta.lastUpdated, no birthDate)"
    )


def _addresses(context: Context, resource: Resource, today: date) -> dict[str, object]:
    """The ``phone`` and ``email`` a Patient's telecom gives, each only when it gives one."""
    phones: list[tuple[tuple[bool, bool, float, int], str]] = []
    emails: list[tuple[tuple[bool, float, int], str]] = []
    for n, point in enumerate(resource.get("telecom") or []):
        if not isinstance(point, dict) or text(point, "use") == "old":
            continue
        if not _in_force(context, point.get("period"), today):
            continue
        system, use, value = text(point, "system"), text(point, "use"), text(point, "value")
        rank = point.get("rank")
        order = rank if type(rank) is int else math.inf
        if system == "email" or (not system and written_email(value)):
            email = written_email(value)
            if email is not None:
                emails.append(((use == "work", order, n), email))
        elif system in ("phone", "sms", ""):
            number = written_phone(value)
            if number is not None:
                mobile = use == "mobile" or system == "sms" or is_mainland_mobile(number)
                phones.append(((use == "work", not mobile, order, n), number))
    found: dict[str, object] = {}
    if phones:
        found["phone"] = min(phones)[1]
    if emails:
        found["email"] = min(emails)[1]
    return found


def _in_force(context: Context, period: object, today: date) -> bool:
    """Whether a contact point's period runs on ``today`` (its end day included).

    A period whose dates cannot be read leaves the contact point out: it may have ended.
    """
    if not isinstance(period, dict):
        return True
    zone = context.mapping.timezone
    try:
        days = {
            key: instant(period[key], zone, key).astimezone(zone).date()
            for key in ("start", "end")
            if period.get(key)
        }
    except FhirError:
        return False
    return days.get("start", today) <= today <= days.get("end", today)


def _told_on(context: Context, resource: Resource, patient_id: str, at: datetime) -> date:
    """The day the Patient says what it says of the patient.

    When it was told (``meta.lastUpdated``, the bundle's ``timestamp``), else the latest
    instant the read tells of the patient at, else the instant it is registered at.
    """
    name = Identifier(system=resource_system(context.mapping), value=name_of(resource)).name
    try:
        told = context.when_told(resource)
    except FhirError:  # an unreadable lastUpdated: the other instants say when
        told = None
    if told is None:
        told = max((t for t in (context.latest(patient_id), context.latest(name)) if t), default=at)
    return told.astimezone(context.mapping.timezone).date()


def _died_at(context: Context, resource: Resource) -> datetime | None:
    if "deceasedDateTime" in resource:
        where = f"{name_of(resource)}.deceasedDateTime"
        return instant(resource["deceasedDateTime"], context.mapping.timezone, where)
    if resource.get("deceasedBoolean") is True:
        return context.when_told(resource) or context.earliest(context.primary_id(resource))
    return None


def _anchor(context: Context, resource: Resource) -> datetime:
    """When a resource with no instant of its own is told: its patient's earliest fact."""
    held = context.resource(text(resource, "patient", "reference"))
    if held is not None:
        told = context.earliest(context.primary_id(held))
        if told is not None:
            return told
    raise FhirError(
        f"{name_of(resource)}: no instant (no meta.lastUpdated, no fact of its patient)"
    )
