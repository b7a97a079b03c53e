"""SIU messages: appointments booked, moved, cancelled, missed and completed.

======= =============================================================================
S12     booked
S13     rescheduled (the new start)
S14     modified: completed when SCH-25 says ``Complete``, else rescheduled
S15     cancelled; S16 discontinued and S17 deleted are cancellations too
S26     the patient did not come (no-show)
======= =============================================================================

The appointment is SCH-2 (the filler's id), else SCH-1 (the placer's); it starts at
AIS-4, else TQ1-7, else SCH-11.4; its department is the mapped location (AIL-3.1),
else the service (AIS-3.1), else the visit's (PV1-10, PV1-3.1). Diagnoses sent with it
(DG1) are recorded at the visit PV1-19 names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from membercore.facts import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
)
from membercore_hl7v2.context import Context
from membercore_hl7v2.diagnoses import diagnoses
from membercore_hl7v2.fields import MissingFieldError, MissingSegmentError

__all__ = ["HANDLERS"]


def _appointment(context: Context) -> tuple[str, str, datetime | None]:
    """The appointment's id, department and start."""
    message = context.message
    sch = message.first("SCH")
    if sch is None:
        raise MissingSegmentError("SCH is missing: the message names no appointment")
    appointment = sch.get(2) or sch.get(1)
    if not appointment:
        raise MissingFieldError("SCH-2 and SCH-1 (the appointment's ids) are empty")
    ail, ais, tq1 = message.first("AIL"), message.first("AIS"), message.first("TQ1")
    department = context.department(ail.get(3) if ail else "", ais.get(3) if ais else "")
    starts = (
        (ais.instant(4) if ais else None) or (tq1.instant(7) if tq1 else None) or sch.instant(11, 4)
    )
    return appointment, department, starts


def _start(starts: datetime | None) -> datetime:
    if starts is None:
        raise MissingFieldError("no start: AIS-4, TQ1-7 and SCH-11.4 are empty")
    return starts


def _visit_diagnoses(context: Context) -> list[object]:
    if not context.message.segments("DG1"):
        return []
    return diagnoses(context, context.visit_id())


_Ended = type[AppointmentMissed | AppointmentCancelled | AppointmentCompleted]
_ENDED: dict[str, tuple[_Ended, str]] = {
    "S15": (AppointmentCancelled, "cancelled"),
    "S16": (AppointmentCancelled, "cancelled"),
    "S17": (AppointmentCancelled, "cancelled"),
    "S26": (AppointmentMissed, "missed"),
}


def appointment(context: Context) -> list[object]:
    """The appointment's news, as its trigger says."""
    appointment_id, department, starts = _appointment(context)
    patient, at = context.patient.patient_id, context.event_instant()
    ids = context.ids
    trigger = context.trigger
    sch = context.message.first("SCH")
    status = sch.get(25).upper() if sch else ""
    made: object
    if trigger == "S12":
        made = AppointmentBooked(
            fact_id=ids.of("booked"),
            patient_id=patient,
            occurred_at=at,
            appointment_id=appointment_id,
            department=department,
            scheduled_at=_start(starts),
        )
    elif trigger in ("S13", "S14") and not status.startswith("COMPLETE"):
        made = AppointmentRescheduled(
            fact_id=ids.of("rescheduled"),
            patient_id=patient,
            occurred_at=at,
            appointment_id=appointment_id,
            department=department,
            scheduled_at=_start(starts),
        )
    else:
        kind: _Ended
        kind, part = _ENDED.get(trigger, (AppointmentCompleted, "completed"))
        made = kind(
            fact_id=ids.of(part),
            patient_id=patient,
            occurred_at=at,
            appointment_id=appointment_id,
            department=department,
        )
    return [*_visit_diagnoses(context), made]


#: The SIU triggers translated.
HANDLERS: dict[str, Callable[[Context], list[object]]] = {
    f"SIU^{trigger}": appointment for trigger in ("S12", "S13", "S14", "S15", "S16", "S17", "S26")
}
