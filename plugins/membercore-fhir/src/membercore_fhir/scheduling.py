"""Appointment: booked, rescheduled, cancelled, missed and completed appointments.

An Appointment's status says what it tells: ``booked`` (or ``pending``) is a booking —
its first version (``meta.versionId`` 1 or none) a
:class:`~membercore.facts.AppointmentBooked`, a later one a
:class:`~membercore.facts.AppointmentRescheduled` when it moves the start —
``cancelled`` a cancellation, ``noshow`` a missed appointment, ``fulfilled`` a completed
one; ``proposed``, ``arrived``, ``checked-in`` and ``waitlist`` tell nothing yet. The
appointment's id is its first identifier (a filler's or placer's number), else the
resource id; the department is what its service type, specialty or appointment type
codes name. It was told at ``created``, else ``meta.lastUpdated``, else the bundle's
timestamp.
"""

from __future__ import annotations

from typing import NoReturn

from membercore.facts import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
)
from membercore_fhir.context import Context
from membercore_fhir.values import FhirError, Resource, instant, name_of, reference, text

__all__ = ["appointment"]

_ENDED = {
    "cancelled": AppointmentCancelled,
    "noshow": AppointmentMissed,
    "fulfilled": AppointmentCompleted,
}


def appointment(context: Context, resource: Resource) -> list[object]:
    """What an Appointment's status tells."""
    name = name_of(resource)
    status = text(resource, "status")
    if status not in {"booked", "pending", *_ENDED}:
        return []
    zone = context.mapping.timezone
    told = (
        instant(resource["created"], zone, f"{name}.created")
        if resource.get("created")
        else context.when_told(resource)
    )
    if told is None:
        raise FhirError(
            f"{name}: no instant (created, meta.lastUpdated and the bundle's timestamp are empty)"
        )
    made: list[object] = []
    patient_id = context.patient_of(_patient(context, resource), f"{name}.participant", made, told)
    department = context.department(resource) or _no_department(name)
    common = {
        "patient_id": patient_id,
        "appointment_id": _appointment_id(resource),
        "department": department,
    }
    if status in _ENDED:
        kind = _ENDED[status]
        made.append(kind(fact_id=context.fact_id(resource, status), occurred_at=told, **common))
        return made
    if not resource.get("start"):
        raise FhirError(f"{name}.start is empty: a booked appointment has a time")
    start = instant(resource["start"], zone, f"{name}.start")
    version = text(resource, "meta", "versionId")
    if version in ("", "1"):
        made.append(
            AppointmentBooked(
                fact_id=context.fact_id(resource, "booked"),
                occurred_at=told,
                scheduled_at=start,
                **common,
            )
        )
    else:
        made.append(
            AppointmentRescheduled(
                fact_id=context.fact_id(resource, f"scheduled:{start.isoformat()}"),
                occurred_at=told,
                scheduled_at=start,
                **common,
            )
        )
    return made


def _patient(context: Context, resource: Resource) -> object:
    """The participant that is a Patient."""
    for participant in resource.get("participant") or []:
        actor = participant.get("actor")
        if context.name(reference(actor)).startswith("Patient/"):
            return actor
    return None


def _appointment_id(resource: Resource) -> str:
    sent = [text(i, "value") for i in resource.get("identifier") or [] if text(i, "value")]
    filler = [
        text(i, "value")
        for i in resource.get("identifier") or []
        if any(c.get("code") == "FILL" for c in (i.get("type") or {}).get("coding") or [])
    ]
    return (filler or sent or [str(resource.get("id", ""))])[0]


def _no_department(name: str) -> NoReturn:
    raise FhirError(
        f"{name}: no department (no serviceType, specialty or appointmentType code, and the "
        "mapping has no [fhir.departments] default)"
    )
