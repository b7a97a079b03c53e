"""Encounter: admissions, discharges, completed visits and admissions sent in error.

An Encounter's class (``Encounter.class``, as the mapping's ``[fhir.encounter_classes]``
names it) says what its status means:

- an inpatient stay is an admission (:class:`~membercore.facts.Admitted`, at
  ``period.start``) once it is ``in-progress`` (or ``arrived``, ``triaged``,
  ``onleave``), and a discharge (:class:`~membercore.facts.Discharged`, at
  ``period.end``) once ``finished``; ``cancelled`` or ``entered-in-error`` after an
  admission withdraws it (:class:`~membercore.facts.AdmissionCancelled`);
- any other encounter is a completed visit (:class:`~membercore.facts.VisitCompleted`)
  once ``finished``, at ``period.end`` (else its start).

Each fact's id is the encounter's and what it tells (``Encounter/e1:admitted``): every
version of the encounter that tells the same is a duplicate, and one that moves it on
tells something new. The visit number is the identifier of type ``VN``, else the first
identifier, else the resource id; the department is what its service type, type or
specialty codes name (``[fhir.departments]``).
"""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from membercore.facts import (
    AdmissionCancelled,
    Admitted,
    Discharged,
    EncounterClass,
    VisitCompleted,
)
from membercore_fhir.context import Context
from membercore_fhir.values import FhirError, Resource, instant, name_of, text

__all__ = ["encounter"]

_UNDER_WAY = {"in-progress", "arrived", "triaged", "onleave"}
_WITHDRAWN = {"cancelled", "entered-in-error"}


def encounter(context: Context, resource: Resource) -> list[object]:
    """The facts an Encounter's status tells."""
    name = name_of(resource)
    status = text(resource, "status")
    inpatient = _class(context, resource) == "inpatient"
    if status != "finished" and not (inpatient and status in _UNDER_WAY | _WITHDRAWN):
        return []
    visit = context.encounter_of(resource)
    period = resource.get("period") or {}
    end = None
    if period.get("end"):
        end = instant(period["end"], context.mapping.timezone, f"{name}.period.end")
    first = visit.start or end
    if first is None:
        raise FhirError(f"{name}.period has neither a start nor an end")
    made: list[object] = []
    patient_id = context.patient_of(resource.get("subject"), f"{name}.subject", made, first)
    if inpatient and status in _WITHDRAWN:
        withdrawn = AdmissionCancelled(
            fact_id=context.fact_id(resource, "admission_cancelled"),
            patient_id=patient_id,
            occurred_at=end or first,
            visit_id=visit.visit_id,
        )
        return [*made, withdrawn]
    department = visit.department or _no_department(name)
    if inpatient and visit.start is not None:
        made.append(
            Admitted(
                fact_id=context.fact_id(resource, "admitted"),
                patient_id=patient_id,
                occurred_at=visit.start,
                visit_id=visit.visit_id,
                department=department,
                encounter_class="inpatient",
            )
        )
    if status == "finished":
        made.append(_ended(context, resource, patient_id, end or first, department))
    return made


def _ended(
    context: Context, resource: Resource, patient_id: str, at: datetime, department: str
) -> Discharged | VisitCompleted:
    """A finished encounter: a discharge from an inpatient stay, else a completed visit."""
    visit_id = context.encounter_of(resource).visit_id
    kind = _class(context, resource)
    if kind == "inpatient":
        return Discharged(
            fact_id=context.fact_id(resource, "discharged"),
            patient_id=patient_id,
            occurred_at=at,
            visit_id=visit_id,
            department=department,
        )
    return VisitCompleted(
        fact_id=context.fact_id(resource, "visit_completed"),
        patient_id=patient_id,
        occurred_at=at,
        visit_id=visit_id,
        department=department,
        encounter_class=kind,
    )


def _class(context: Context, resource: Resource) -> EncounterClass | None:
    sent = resource.get("class")
    code = text(sent, "code") if isinstance(sent, dict) else ""
    return context.mapping.encounter_classes.get(code)


def _no_department(name: str) -> NoReturn:
    raise FhirError(
        f"{name}: no department (no serviceType, type or specialty code, and the mapping "
        "has no [fhir.departments] default)"
    )
