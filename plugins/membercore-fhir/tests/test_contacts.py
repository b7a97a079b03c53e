"""The patient's phone and e-mail from Patient.telecom, as the channels use them."""

from __future__ import annotations

import json
from typing import Any

from membercore.facts import PatientRegistered
from membercore.idempotency import fingerprint
from membercore.serialization import message_to_dict
from membercore.service.member import contact
from membercore_fhir import Entry, FhirFileSource, Read, translate

from .conftest import LOUIS, MAPPING, PATRIA, import_history, open_engine, resources_of

LOUIS_ID = "2e275d4b-855a-4eb2-9021-5410aa8acd4f"
PATRIA_ID = "d2f8f862-3856-490d-b56f-98e0ed984b1e"


def _patient(*telecom: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A Patient told on 2024-05-01, with ``telecom``."""
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"lastUpdated": "2024-05-01T08:00:00+08:00"},
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "ZY-001"}],
        "gender": "female",
        "birthDate": "1980-02-03",
        "telecom": list(telecom),
        **more,
    }


def _phone(value: str, use: str = "home", **more: Any) -> dict[str, Any]:
    return {"system": "phone", "value": value, "use": use, **more}


def _registrations(*resources: dict[str, Any]) -> list[PatientRegistered]:
    read = Read(tuple(Entry("b.json", n, r) for n, r in enumerate(resources, 1)))
    return [
        made
        for translated in translate(read, MAPPING)
        for made in translated.inputs
        if isinstance(made, PatientRegistered) and not made.known_only
    ]


def _registered(*telecom: dict[str, Any], **more: Any) -> PatientRegistered:
    (registered,) = _registrations(_patient(*telecom, **more))
    return registered


def test_the_synthea_patients_numbers_are_their_address_for_sms_and_calls() -> None:
    with open_engine() as engine:
        for path in (LOUIS, PATRIA):
            report = import_history(engine, FhirFileSource(path, MAPPING))
            assert report.rejected == 0, report.refusals
        louis, patria = engine.member(LOUIS_ID), engine.member(PATRIA_ID)
        # Home numbers, as written: the only ones they give.
        assert contact(louis, "sms") == contact(louis, "phone") == "555-683-3042"
        assert contact(patria, "sms") == "555-246-1499"
        assert contact(louis, "email") is None


def test_a_mobile_is_preferred_to_a_home_or_work_number_then_the_lower_rank() -> None:
    home, work = _phone("0571-88886666", rank=1), _phone("0571-87776666", "work", rank=1)
    assert _registered(home, work, _phone("13800138000", "mobile", rank=3)).phone == "13800138000"
    # A mainland mobile number is one whatever its use; so is a contact point for SMS.
    assert _registered(home, _phone("+86 139-0013-9000", rank=2)).phone == "+86 139-0013-9000"
    sms = {"system": "sms", "value": "13700137000"}
    assert _registered(home, sms).phone == "13700137000"
    ranked = [_phone("13800138000", "mobile", rank=2), _phone("13900139000", "mobile", rank=1)]
    assert _registered(_phone("13600136000", "mobile"), *ranked).phone == "13900139000"
    assert _registered(_phone("0571-1"), _phone("0571-2")).phone == "0571-1"


def test_a_work_number_is_taken_only_when_no_other_is_given() -> None:
    at_work = _phone("13800138000", "work", rank=1)
    assert _registered(at_work, _phone("0571-88886666", rank=2)).phone == "0571-88886666"
    assert _registered(at_work).phone == "13800138000"


def test_a_number_no_longer_in_use_or_out_of_its_period_when_told_is_passed_over() -> None:
    old = _phone("13800138000", "old")
    ended = _phone("13900139000", "mobile", period={"start": "2015", "end": "2024-04-30"})
    later = _phone("13700137000", "mobile", period={"start": "2024-05-02T00:00:00+08:00"})
    unreadable = _phone("13600136000", "mobile", period={"end": "2024-13-45"})
    assert _registered(old, ended, later, unreadable, _phone("0571-1")).phone == "0571-1"
    running = _phone("13500135000", "mobile", period={"start": "2015", "end": "2024-05-01"})
    assert _registered(ended, running, _phone("0571-1")).phone == "13500135000"


def test_a_period_is_judged_by_the_latest_fact_the_read_tells_when_the_patient_is_undated() -> None:
    def visit(number: str, day: str) -> dict[str, Any]:
        return {
            "resourceType": "Encounter",
            "id": f"v{number}",
            "status": "finished",
            "class": {"code": "AMB"},
            "identifier": [{"type": {"coding": [{"code": "VN"}]}, "value": f"MZ-{number}"}],
            "subject": {"reference": "Patient/p1"},
            "period": {"start": f"{day}T09:00:00+08:00", "end": f"{day}T10:00:00+08:00"},
        }

    ended = _phone("13900139000", "mobile", period={"end": "2020-12-31"})
    patient = _patient(ended, _phone("0571-1"))
    del patient["meta"]
    (registered,) = _registrations(patient, visit("1", "2015-03-02"), visit("2", "2024-05-02"))
    assert registered.occurred_at.year == 2015  # registered before the first visit
    assert registered.phone == "0571-1"  # though the mobile had ended by the last


def test_an_email_is_taken_as_written_and_a_placeholder_is_none() -> None:
    email = {"system": "email", "value": " wang@163.com ", "use": "home"}
    registered = _registered({"system": "email", "value": "N/A"}, email, _phone("13800138000"))
    assert (registered.phone, registered.email) == ("13800138000", "wang@163.com")
    ranked = {"system": "email", "value": "li@example.cn", "rank": 1}
    assert _registered(email, ranked).email == "li@example.cn"


def test_a_contact_point_without_a_system_is_read_by_its_value() -> None:
    registered = _registered({"value": "8885551212", "use": "home"}, {"value": "li@example.cn"})
    assert (registered.phone, registered.email) == ("8885551212", "li@example.cn")
    fax = {"system": "fax", "value": "0571-88886666"}
    pager = {"system": "pager", "value": "13800138000"}
    assert _registered(fax, pager, {"system": "url", "value": "https://x.cn"}).phone is None


def test_the_patients_contacts_and_related_persons_are_other_people() -> None:
    kin = [{"relationship": [{"text": "女儿"}], "telecom": [_phone("13800138000", "mobile")]}]
    assert _registered(contact=kin).phone is None
    related = {
        "resourceType": "RelatedPerson",
        "id": "r1",
        "meta": {"lastUpdated": "2024-05-01T08:00:00+08:00"},
        "patient": {"reference": "Patient/p1"},
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "ZY-002"}],
        "telecom": [_phone("13900139000", "mobile")],
    }
    registered = _registrations(_patient(), related)
    assert [r.relatives for r in registered] == [(), ("ZY-002",)]
    assert [r.phone for r in registered] == [None, None]


def test_a_registration_without_an_address_is_stored_and_named_as_before() -> None:
    (patient,) = [r for r in resources_of(LOUIS) if r["resourceType"] == "Patient"]
    patient = json.loads(json.dumps(patient))
    patient["telecom"] = [_phone("N/A"), {"system": "email", "value": " "}]
    (registered,) = _registrations(patient)
    assert (registered.phone, registered.email) == (None, None)
    assert not {"phone", "email"} & set(message_to_dict(registered))
    # The fact id and fingerprint of the same Patient before addresses were read.
    assert registered.fact_id.endswith(":registered:860fa5a5e073")
    assert fingerprint(registered) == "w1:99e81ea2d05459b05814"
