"""The converter's FHIR of a sample, read as the oracle of the facts made of the message.

Instants are compared as instants: the bundles restate them in other UTC offsets.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from membercore.facts import (
    Admitted,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentMissed,
    ChargePaid,
    DiagnosisRecorded,
    LabResultRecorded,
    PatientDied,
    PatientRegistered,
    VisitCompleted,
)
from membercore.identity import MergeMembers

from .conftest import EXPECTED

Resource = dict[str, Any]

#: FHIR Observation.status to the status of the result made of the OBX.
_RESULT_STATUS = {
    "final": "final",
    "corrected": "corrected",
    "amended": "corrected",
    "preliminary": "preliminary",
    "registered": "preliminary",
    "unknown": "preliminary",
    "cancelled": "cancelled",
    "entered-in-error": "entered_in_error",
}
_APPOINTMENT_STATUS = {
    AppointmentBooked: "booked",
    AppointmentCancelled: "cancelled",
    AppointmentMissed: "noshow",
}
_CLASS = {"IMP": "inpatient", "AMB": "outpatient", "EMER": "emergency", "PRENC": "outpatient"}


def resources(sample: str, kind: str) -> list[Resource]:
    """The resources of one type in the converter's bundle of ``sample``."""
    bundle = json.loads((EXPECTED / sample.replace(".hl7", "-expected.json")).read_text())
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def instant(text: str) -> datetime:
    """A FHIR instant."""
    return datetime.fromisoformat(text)


def check(sample: str, facts: list[object]) -> int:
    """Assert that the facts of ``sample`` say what its FHIR says; how many were checked."""
    checked = 0
    for fact in facts:
        checker = _CHECKS.get(type(fact))
        if checker is not None:
            checker(sample, fact)
            checked += 1
    return checked


def _registered(sample: str, fact: Any) -> None:
    patients = resources(sample, "Patient")
    if not patients:  # the A40's bundle links records; it restates no patient
        assert sample == "ADT-A40-01.hl7"
        return
    (patient,) = patients
    sent = [
        i
        for i in patient.get("identifier", [])
        if i.get("type", {}).get("coding", [{}])[0].get("code") != "DL"
    ]
    # One sent with neither an issuer nor a type may name the patient; it finds no one.
    issued = {i["value"] for i in sent if "system" in i or "type" in i}
    assert {i.value for i in fact.identifiers} == issued
    assert fact.patient_id in {i["value"] for i in sent}
    if "birthDate" in patient:
        assert fact.birth_date == date.fromisoformat(patient["birthDate"])
    if "gender" in patient:
        assert fact.sex == patient["gender"]


def _died(sample: str, fact: Any) -> None:
    (patient,) = resources(sample, "Patient")
    assert fact.occurred_at == instant(patient["deceasedDateTime"])


def _encounter(sample: str, visit_id: str) -> Resource:
    found = [
        e
        for e in resources(sample, "Encounter")
        if any(i.get("value") == visit_id for i in e.get("identifier", []))
    ]
    assert found, f"no Encounter of visit {visit_id}"
    return found[0]


def _admitted(sample: str, fact: Any) -> None:
    encounter = _encounter(sample, fact.visit_id)
    assert fact.occurred_at == instant(encounter["period"]["start"])
    assert fact.encounter_class == _CLASS[encounter["class"]["code"]]


def _visit_completed(sample: str, fact: Any) -> None:
    encounter = _encounter(sample, fact.visit_id)
    assert encounter["status"] == "finished"
    assert fact.occurred_at == instant(encounter["period"]["end"])
    assert fact.encounter_class == _CLASS[encounter["class"]["code"]]


def _diagnosis(sample: str, fact: Any) -> None:
    codes = {
        c["code"].strip(): c
        for r in resources(sample, "Condition")
        for c in r.get("code", {}).get("coding", [])
    }
    sent = codes[fact.coding.code]
    assert (fact.coding.display or "").strip() == sent.get("display", "").strip()


def _result(sample: str, fact: Any) -> None:
    observations = resources(sample, "Observation")
    (observation,) = [o for o in observations if o["code"]["coding"][0]["code"] == fact.coding.code]
    assert fact.status == _RESULT_STATUS[observation["status"]]
    quantity = observation.get("valueQuantity")
    if quantity is None:
        assert fact.value is None
    else:
        assert float(fact.value) == quantity["value"]
        assert fact.unit == quantity["unit"]
    if "referenceRange" in observation:
        assert fact.reference_range == observation["referenceRange"][0]["text"]
    flagged = {c["code"] for i in observation.get("interpretation", []) for c in i["coding"]}
    assert fact.abnormal == bool(flagged - {"N"})
    if "effectiveDateTime" in observation:
        assert fact.occurred_at == instant(observation["effectiveDateTime"])


def _appointment(sample: str, fact: Any) -> None:
    (appointment,) = resources(sample, "Appointment")
    assert fact.appointment_id in {i["value"] for i in appointment["identifier"]}
    assert appointment["status"] == _APPOINTMENT_STATUS[type(fact)]
    if isinstance(fact, AppointmentBooked):
        assert fact.scheduled_at == instant(appointment["start"])


def _charge(sample: str, fact: Any) -> None:
    items = {i["code"]["coding"][0]["code"]: i for i in resources(sample, "ChargeItem")}
    for line in fact.lines:
        item = items[line.service_code]
        assert line.quantity == item["quantity"]["value"]
        assert line.amount_fen == round(item["priceOverride"]["value"] * 100)
        named = {i["value"] for i in item.get("identifier", [])}
        assert fact.charge_id in named or not named


def _merge(sample: str, fact: Any) -> None:
    (linkage,) = resources(sample, "Linkage")
    by_type = {i["type"]: i["resource"]["identifier"]["value"] for i in linkage["item"]}
    assert (fact.member_id, fact.duplicate_id) == (by_type["source"], by_type["historical"])


_CHECKS = {
    PatientRegistered: _registered,
    PatientDied: _died,
    Admitted: _admitted,
    VisitCompleted: _visit_completed,
    DiagnosisRecorded: _diagnosis,
    LabResultRecorded: _result,
    AppointmentBooked: _appointment,
    AppointmentCancelled: _appointment,
    AppointmentMissed: _appointment,
    ChargePaid: _charge,
    MergeMembers: _merge,
}
