"""ADT messages: registrations, admissions, transfers, discharges, their cancellations, merges.

======= ==========================================================================
A01     admitted (PV1-44, else the event's instant), and its diagnoses (DG1)
A02     transferred to PV1-10 from PV1-6
A03     discharged (PV1-45): an inpatient stay's discharge, another class's visit
        completed; and its diagnoses
A04     registered (an outpatient's arrival); A08, A28, A31 the patient's details; with
        the diagnoses (DG1) of the visit PV1-19 names, when sent
A11     admission cancelled (sent in error)
A13     discharge cancelled (the patient is still in)
A40     the record of MRG-1 merged into the PID's (one pair after another); an MRG-1
        the programme never saw is retired into the PID's patient
======= ==========================================================================

Every ADT message first registers its patient from the PID (and records a death the
PID reports).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from membercore.facts import (
    AdmissionCancelled,
    Admitted,
    DischargeCancelled,
    Discharged,
    Transferred,
    VisitCompleted,
)
from membercore.identity import MergeMembers
from membercore_hl7v2.context import Context
from membercore_hl7v2.diagnoses import diagnoses
from membercore_hl7v2.fields import MissingFieldError, MissingSegmentError
from membercore_hl7v2.patients import named_by, patient_of, system_of

__all__ = ["HANDLERS"]


def _pv1_instant(context: Context, field: int) -> datetime:
    pv1 = context.message.first("PV1")
    return (pv1.instant(field) if pv1 else None) or context.event_instant()


def admitted(context: Context) -> list[object]:
    """A01: the admission, and the diagnoses made at it."""
    visit = context.visit_id()
    admission = Admitted(
        fact_id=context.ids.of("admitted"),
        patient_id=context.patient.patient_id,
        occurred_at=_pv1_instant(context, 44),
        visit_id=visit,
        department=context.department(),
        encounter_class=context.encounter_class() or "inpatient",
    )
    return [admission, *diagnoses(context, visit)]


def transferred(context: Context) -> list[object]:
    """A02: the patient moved to another department."""
    pv1 = context.message.first("PV1")
    before = context.mapping.department(pv1.get(6)) if pv1 and pv1.get(6) else None
    return [
        Transferred(
            fact_id=context.ids.of("transferred"),
            patient_id=context.patient.patient_id,
            occurred_at=context.event_instant(),
            visit_id=context.visit_id(),
            department=context.department(),
            from_department=before,
        )
    ]


def discharged(context: Context) -> list[object]:
    """A03: an inpatient stay discharged, another encounter's visit completed."""
    visit = context.visit_id()
    at = _pv1_instant(context, 45)
    kind = context.encounter_class()
    common = {
        "patient_id": context.patient.patient_id,
        "occurred_at": at,
        "visit_id": visit,
        "department": context.department(),
    }
    end: object
    if kind == "inpatient":
        end = Discharged(fact_id=context.ids.of("discharged"), **common)  # type: ignore[arg-type]
    else:
        end = VisitCompleted(
            fact_id=context.ids.of("visit_completed"),
            encounter_class=kind,
            **common,  # type: ignore[arg-type]
        )
    return [*diagnoses(context, visit), end]


def registered(context: Context) -> list[object]:
    """A04, A08, A28, A31: the registration (made for every ADT message) and diagnoses.

    The diagnoses (DG1) are those of the visit PV1-19 names, when the message sends both.
    """
    pv1 = context.message.first("PV1")
    if not context.message.segments("DG1") or pv1 is None or not pv1.get(19):
        return []
    return diagnoses(context, context.visit_id())


def admission_cancelled(context: Context) -> list[object]:
    """A11: the admission was sent in error."""
    return [_withdrawal(AdmissionCancelled, context)]


def discharge_cancelled(context: Context) -> list[object]:
    """A13: the discharge was sent in error."""
    return [_withdrawal(DischargeCancelled, context)]


def _withdrawal(
    kind: type[AdmissionCancelled | DischargeCancelled], context: Context
) -> AdmissionCancelled | DischargeCancelled:
    return kind(
        fact_id=context.ids.of(kind.TYPE),
        patient_id=context.patient.patient_id,
        occurred_at=context.event_instant(),
        visit_id=context.visit_id(),
    )


def merged(context: Context) -> list[object]:
    """A40: each MRG's record merged into the PID before it (the survivor)."""
    message = context.message
    commands: list[object] = []
    segments = list(message.all())
    evn = message.first("EVN")
    operator = (evn.get(5, 1) if evn else "") or context.ids.sender
    for number, segment in enumerate(segments):
        if segment.name != "MRG":
            continue
        pid = next((s for s in reversed(segments[:number]) if s.name == "PID"), None)
        survivor = patient_of(message, context.mapping, pid).patient_id
        merged = segment.repetitions(1)
        if not merged or not merged[0].get(1):
            raise MissingFieldError("MRG-1 (the record merged away) is empty")
        system = system_of(merged[0], context.mapping.authority)
        duplicate = named_by(system, merged[0].get(1), context.mapping, "MRG-1")
        commands.append(
            MergeMembers(
                key=context.ids.of(f"merge-{duplicate}"),
                member_id=survivor,
                duplicate_id=duplicate,
                operator=operator,
                reason=f"ADT^A40 {context.ids.control_id} from {context.ids.sender}",
                retire_unknown=True,
            )
        )
    if not commands:
        raise MissingSegmentError("an A40 without an MRG segment names no record to merge")
    return commands


#: The ADT triggers translated.
HANDLERS: dict[str, Callable[[Context], list[object]]] = {
    "ADT^A01": admitted,
    "ADT^A02": transferred,
    "ADT^A03": discharged,
    "ADT^A04": registered,
    "ADT^A08": registered,
    "ADT^A11": admission_cancelled,
    "ADT^A13": discharge_cancelled,
    "ADT^A28": registered,
    "ADT^A31": registered,
    "ADT^A40": merged,
}
