"""Condition, Observation and Procedure: diagnoses, laboratory results, operations.

- A Condition is a :class:`~membercore.facts.DiagnosisRecorded`: its ICD-10 code is the
  coding in an ICD-10 system, else the first the mapping's ``[fhir.conditions.<system>]``
  tables map (SNOMED CT ``44054006`` to ``E11.9``), else none (the code is kept, and the
  member's record says why it has no effect). Its status: ``entered-in-error``
  verification is a diagnosis entered in error, an ``inactive``, ``remission`` or
  ``resolved`` clinical status a resolved one, else active. It happened at its onset,
  else when recorded, else at its encounter's start. Its visit is its encounter's.
- An Observation in the ``laboratory`` category — or, sent without a category, made
  for an order (``basedOn``) or listed in a DiagnosticReport — or whose code the
  mapping's ``[fhir.lab_tests]`` names, is a :class:`~membercore.facts.LabResultRecorded`
  (vital signs, surveys and the like are not used): value, unit, reference range,
  interpretation (anything but ``N`` is abnormal), status, and the order it answers (its
  filler's number). It happened when it was effective, else when its DiagnosticReport
  was, else when the bundle was made.
- A completed Procedure whose code ``[fhir.procedures]`` names is a
  :class:`~membercore.facts.SurgeryCompleted`; others are not used.

A fact's id is the resource's and its status (``Observation/o1:final``): the final
result after the preliminary one is news, the final one sent again is not; a corrected
or amended result is news for each version.
"""

from __future__ import annotations

from datetime import datetime

from membercore.facts import (
    Coding,
    DiagnosisRecorded,
    LabResultRecorded,
    ResultStatus,
    SurgeryCompleted,
)
from membercore.facts.clinical import DiagnosisStatus
from membercore_fhir.context import Context, digest
from membercore_fhir.values import FhirError, Resource, codes, instant, name_of, text

__all__ = ["condition", "observation", "procedure"]

_RESOLVED = {"inactive", "remission", "resolved"}
#: Observation.status to a result's status.
STATUSES: dict[str, ResultStatus] = {
    "final": "final",
    "corrected": "corrected",
    "amended": "corrected",
    "preliminary": "preliminary",
    "registered": "preliminary",
    "unknown": "preliminary",
    "cancelled": "cancelled",
    "entered-in-error": "entered_in_error",
}
_NORMAL = {"", "N"}


def condition(context: Context, resource: Resource) -> list[object]:
    """The diagnosis a Condition records."""
    name = name_of(resource)
    sent = codes(resource.get("code"))
    if not sent:
        return []  # a problem named in words alone: nothing the programme can act on
    mapped = [
        (context.mapping.icd10(system, code), system, code, shown) for system, code, shown in sent
    ]
    icd10, system, code, shown = next((m for m in mapped if m[0] is not None), mapped[0])
    status = _diagnosis_status(resource)
    visit = context.encounter(resource.get("encounter"))
    at = _when(context, resource, ("onsetDateTime", "recordedDate"), visit.start if visit else None)
    made: list[object] = []
    patient_id = context.patient_of(resource.get("subject"), f"{name}.subject", made, at)
    made.append(
        DiagnosisRecorded(
            fact_id=context.fact_id(resource, f"diagnosis:{status}"),
            patient_id=patient_id,
            occurred_at=at,
            icd10=icd10,
            visit_id=visit.visit_id if visit else name,
            coding=Coding(system=system or "local", code=code, display=shown or None),
            status=status,
        )
    )
    return made


def observation(context: Context, resource: Resource) -> list[object]:
    """The laboratory result an Observation reports (other observations are not used)."""
    name = name_of(resource)
    sent = codes(resource.get("code"))
    if not sent:
        raise FhirError(f"{name}.code has no coding: the observation names no test")
    categories = {code for c in resource.get("category") or [] for _, code, _ in codes(c)}
    tests = context.mapping.lab_tests
    chosen = next((s for s in sent if s[1] in tests), sent[0])
    if not _laboratory(context, resource, categories) and chosen[1] not in tests:
        return []
    system, code, shown = chosen
    status = STATUSES.get(text(resource, "status"))
    if status is None:
        raise FhirError(f"{name}.status {text(resource, 'status')!r} is not a result status")
    report = context.report_of(resource)
    reported = None
    if report is not None and (report.get("effectiveDateTime") or report.get("effectivePeriod")):
        reported = _when(context, report, ("effectiveDateTime",), None, period="effectivePeriod")
    keys = ("effectiveDateTime", "effectiveInstant")
    at = _when(context, resource, keys, reported, period="effectivePeriod")
    made: list[object] = []
    patient_id = context.patient_of(resource.get("subject"), f"{name}.subject", made, at)
    value, unit = _value(resource)
    part = f"result:{status}"
    if status == "corrected":  # each correction is news of its own
        part += f":{text(resource, 'meta', 'versionId') or digest(value, unit, at)}"
    made.append(
        LabResultRecorded(
            fact_id=context.fact_id(resource, part),
            patient_id=patient_id,
            occurred_at=at,
            test=tests.get(code, code),
            value=value,
            abnormal=bool(_interpretation(resource) - _NORMAL),
            coding=Coding(system=system or "local", code=code, display=shown or None),
            unit=unit,
            reference_range=_range(resource),
            status=status,
            order_id=_order(context, resource),
        )
    )
    return made


def procedure(context: Context, resource: Resource) -> list[object]:
    """The operation a completed Procedure records, when the mapping names its code."""
    name = name_of(resource)
    if text(resource, "status") != "completed":
        return []
    named = next(
        (
            context.mapping.procedures[c]
            for _, c, _ in codes(resource.get("code"))
            if c in context.mapping.procedures
        ),
        None,
    )
    if named is None:
        return []
    visit = context.encounter(resource.get("encounter"))
    at = _when(context, resource, ("performedDateTime",), None, period="performedPeriod", end=True)
    made: list[object] = []
    patient_id = context.patient_of(resource.get("subject"), f"{name}.subject", made, at)
    department = (visit.department if visit else None) or context.mapping.department()
    if department is None:
        raise FhirError(
            f"{name}: no department (its encounter names none, no [fhir.departments] default)"
        )
    made.append(
        SurgeryCompleted(
            fact_id=context.fact_id(resource, "completed"),
            patient_id=patient_id,
            occurred_at=at,
            visit_id=visit.visit_id if visit else name,
            department=department,
            procedure=named,
        )
    )
    return made


def _laboratory(context: Context, resource: Resource, categories: set[str]) -> bool:
    """Whether an observation is a laboratory result: by its category, else its order."""
    if categories:
        return "laboratory" in categories
    return bool(resource.get("basedOn")) or context.report_of(resource) is not None


def _diagnosis_status(resource: Resource) -> DiagnosisStatus:
    verification = {c for _, c, _ in codes(resource.get("verificationStatus"))}
    if "entered-in-error" in verification:
        return "entered_in_error"
    clinical = {c for _, c, _ in codes(resource.get("clinicalStatus"))}
    return "resolved" if clinical & _RESOLVED else "active"


def _when(
    context: Context,
    resource: Resource,
    keys: tuple[str, ...],
    fallback: datetime | None,
    *,
    period: str = "onsetPeriod",
    end: bool = False,
) -> datetime:
    """The first of ``keys`` sent, else the period's start (end), else ``fallback``."""
    name, zone = name_of(resource), context.mapping.timezone
    for key in keys:
        if resource.get(key):
            return instant(resource[key], zone, f"{name}.{key}")
    span = resource.get(period) or {}
    for key in ("end", "start") if end else ("start", "end"):
        if span.get(key):
            return instant(span[key], zone, f"{name}.{period}.{key}")
    told = fallback or context.when_told(resource)
    if told is not None:
        return told
    raise FhirError(f"{name}: no instant ({', '.join(keys)} and {period} are empty)")


def _value(resource: Resource) -> tuple[str | None, str | None]:
    """The value as text, and its unit."""
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        unit = text(quantity, "unit") or text(quantity, "code") or None
        return f"{text(quantity, 'comparator')}{quantity['value']}", unit
    for key in ("valueString", "valueInteger", "valueBoolean", "valueDateTime"):
        if key in resource:
            return str(resource[key]), None
    concept = resource.get("valueCodeableConcept")
    if isinstance(concept, dict):
        shown = text(concept, "text") or next((d or c for _, c, d in codes(concept)), "")
        return shown or None, None
    return None, None


def _range(resource: Resource) -> str | None:
    ranges = resource.get("referenceRange") or []
    if not ranges:
        return None
    first = ranges[0]
    if text(first, "text"):
        return text(first, "text")
    low, high = first.get("low") or {}, first.get("high") or {}
    if "value" in low or "value" in high:
        return f"{low.get('value', '')}-{high.get('value', '')}"
    return None


def _interpretation(resource: Resource) -> set[str]:
    return {c for concept in resource.get("interpretation") or [] for _, c, _ in codes(concept)}


def _order(context: Context, resource: Resource) -> str | None:
    """The order a result answers: its filler's number, else its placer's, else its id."""
    for based in resource.get("basedOn") or []:
        value = text(based, "identifier", "value")
        if value:
            return value
        ref = text(based, "reference")
        order = context.resource(ref) if ref else None
        if order is not None:
            return _filler(order) or context.name(ref).rpartition("/")[2]
        if ref:
            return context.name(ref).rpartition("/")[2]
    return None


def _filler(order: Resource) -> str:
    sent = [i for i in order.get("identifier") or [] if text(i, "value")]
    for wanted in ("FILL", "PLAC"):
        for identifier in sent:
            if wanted in {c for _, c, _ in codes(identifier.get("type"))}:
                return text(identifier, "value")
    return text(sent[0], "value") if sent else ""
