"""Each message type and trigger as facts, the mapping's effect, and refusals naming the field.

Messages other than the samples' own triggers are the samples with another MSH-9 (an A01
sent as an A02, an S12 as an S13...), so that every trigger is read from real segments.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from membercore.facts import (
    AdmissionCancelled,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentRescheduled,
    ChargePaid,
    ChargePosted,
    DiagnosisRecorded,
    DischargeCancelled,
    Discharged,
    LabResultRecorded,
    PatientRegistered,
    RefundIssued,
    Transferred,
)
from membercore_hl7v2 import (
    HANDLED,
    Hl7Mapping,
    NotHl7Error,
    TranslationError,
    mapping_from_dict,
    translate,
)

from .conftest import MAPPING, sample


def _text(name: str) -> str:
    return sample(name).decode("utf-8-sig").replace("\n", "\r")


def _as(name: str, old: str, new: str) -> str:
    text = _text(name)
    assert old in text
    return text.replace(old, new, 1)


def _facts(text: str, mapping: Hl7Mapping = MAPPING) -> list[object]:
    return list(translate(text, mapping).inputs)


def _one(kind: type, facts: list[object]) -> object:
    (found,) = [f for f in facts if isinstance(f, kind)]
    return found


def test_every_trigger_the_connector_takes_is_translated() -> None:
    assert sorted(HANDLED) == sorted(
        [f"ADT^A{n}" for n in ("01", "02", "03", "04", "08", "11", "13", "28", "31", "40")]
        + ["ORU^R01"]
        + [f"SIU^S{n}" for n in (12, 13, 14, 15, 16, 17, 26)]
        + ["DFT^P03", "DFT^P11"]
    )


@pytest.mark.parametrize(
    ("trigger", "kind"),
    [("A02", Transferred), ("A11", AdmissionCancelled), ("A13", DischargeCancelled)],
)
def test_an_admission_can_be_transferred_and_cancelled(trigger: str, kind: type) -> None:
    text = _as("ADT01-23.hl7", "|ADT^A01|", f"|ADT^{trigger}|")
    fact = _one(kind, _facts(text))
    assert fact.visit_id == "40007716"  # type: ignore[attr-defined]
    assert fact.patient_id == "10006579"  # type: ignore[attr-defined]


def test_an_inpatient_discharge_is_a_discharge_with_its_instant() -> None:
    text = _as("ADT-A03-02.hl7", "PV1|1|P|", "PV1|1|I|")
    fact = _one(Discharged, _facts(text))
    assert fact.occurred_at == datetime(2015, 2, 9, 10, 24, 19, tzinfo=UTC)  # type: ignore[attr-defined]
    assert fact.department == "SUR"  # type: ignore[attr-defined]


@pytest.mark.parametrize("trigger", ["A28", "A31", "A04", "A08"])
def test_a_person_added_or_updated_is_a_registration_with_every_identifier(trigger: str) -> None:
    text = _as("ADT-A04-02.hl7", "|ADT^A04^ADT_A04|", f"|ADT^{trigger}^ADT_{trigger}|")
    registered = _one(PatientRegistered, _facts(text))
    assert registered.patient_id == "PATID1234"  # type: ignore[attr-defined]
    assert [(i.system, i.value) for i in registered.identifiers][:2] == [  # type: ignore[attr-defined]
        ("test1^MR", "PATID1234"),
        ("USSSA^SS", "123456789"),
    ]


def test_the_mapping_chooses_the_primary_identifier() -> None:
    mapping = mapping_from_dict({"hl7v2": {"currency": "USD", "patient": {"primary": ["SS"]}}})
    registered = _one(PatientRegistered, _facts(_text("ADT-A04-02.hl7"), mapping))
    assert registered.patient_id == "123456789"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("trigger", "status", "kind"),
    [
        ("S13", "Booked", AppointmentRescheduled),
        ("S14", "Booked", AppointmentRescheduled),
        ("S14", "Complete", AppointmentCompleted),
        ("S16", "Booked", AppointmentCancelled),
        ("S17", "Booked", AppointmentCancelled),
    ],
)
def test_an_appointment_is_moved_completed_or_cancelled(
    trigger: str, status: str, kind: type
) -> None:
    text = _as("SIU-S12-01.hl7", "|SIU^S12^SIU_S12|", f"|SIU^{trigger}^SIU_{trigger}|")
    text = text.replace("SCH|12345|36996||||Add|", "SCH|12345|36996||||Add|", 1)
    fields = text.split("\r")[1].split("|")
    fields += [""] * (26 - len(fields))
    fields[25] = status
    text = text.replace(text.split("\r")[1], "|".join(fields), 1)
    fact = _one(kind, _facts(text))
    assert fact.appointment_id == "36996"  # type: ignore[attr-defined]
    if kind is AppointmentRescheduled:
        assert fact.scheduled_at == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)  # type: ignore[attr-defined]


def test_a_diagnosis_in_another_code_system_is_mapped_to_icd10_or_kept_as_sent() -> None:
    (mapped,) = [f for f in _facts(_text("SIU-S12-01.hl7")) if isinstance(f, DiagnosisRecorded)]
    assert (mapped.icd10, mapped.coding.system, mapped.coding.code) == ("K51.9", "SCT", "64766004")  # type: ignore[union-attr]
    (kept,) = [f for f in _facts(_text("ADT01-23.hl7")) if isinstance(f, DiagnosisRecorded)]
    assert kept.icd10 is None
    assert kept.without_effect == "no ICD-10 code is mapped from I9 71596"


def test_a_diagnosis_sent_in_icd10_is_taken_as_it_is_and_a_deleted_one_is_in_error() -> None:
    text = _as(
        "ADT01-23.hl7",
        "DG1|1|I9|71596^OSTEOARTHROS NOS-L/LEG ^I9|",
        "DG1|1|I10|E11.900x001^2型糖尿病^I10|",
    )
    (diagnosis,) = [f for f in _facts(text) if isinstance(f, DiagnosisRecorded)]
    assert diagnosis.icd10 == "E11.900x001"
    deleted = text.replace("||A| ", "||A|" + "|" * 14 + "D", 1)
    (diagnosis,) = [f for f in _facts(deleted) if isinstance(f, DiagnosisRecorded)]
    assert diagnosis.status == "entered_in_error"


def test_a_result_is_named_by_the_mapping_and_its_id_is_the_results_own() -> None:
    (glucose,) = [
        f for f in _facts(_text("ORU-R01-RMGEAD.hl7")) if isinstance(f, LabResultRecorded)
    ]
    assert (glucose.test, glucose.value, glucose.status) == ("glucose", "182", "final")
    # The same final result in another message (another control id) is the same fact.
    again = _text("ORU-R01-RMGEAD.hl7").replace("|CNTRL-3456|", "|CNTRL-9999|")
    (resent,) = [f for f in _facts(again) if isinstance(f, LabResultRecorded)]
    assert resent.fact_id == glucose.fact_id
    corrected = _text("ORU-R01-RMGEAD.hl7").replace("|70_105|H|||F", "|70_105|H|||C")
    (correction,) = [f for f in _facts(corrected) if isinstance(f, LabResultRecorded)]
    assert correction.status == "corrected"
    assert correction.fact_id != glucose.fact_id


def test_charge_lines_make_a_charge_per_transaction_paid_or_posted_as_the_mapping_says() -> None:
    charges = [f for f in _facts(_text("DFT-P03-01.hl7")) if isinstance(f, ChargePaid)]
    read = [
        (c.charge_id, x.service_code, x.quantity, x.amount_fen, x.unit_price_fen, x.department)
        for c in charges
        for x in c.lines
    ]
    # The first line names its transaction (FT1-2); the second, none: the message's.
    assert read == [
        ("12345", "71045", 2, 10_000, 5_000, "RAD-1"),
        ("MSG00001", "626.2", 1, 12_000, None, "SUR"),
    ]
    posted = mapping_from_dict({"hl7v2": {"currency": "USD", "charges": "posted"}})
    facts = _facts(_text("DFT-P03-01.hl7"), posted)
    assert len([f for f in facts if isinstance(f, ChargePosted)]) == 2
    p11 = _as("DFT-P03-01.hl7", "|DFT^P03^DFT_P03|", "|DFT^P11^DFT_P11|")
    assert len([f for f in _facts(p11) if isinstance(f, ChargePaid)]) == 2


def test_a_unit_price_finer_than_a_fen_is_rounded_and_the_total_must_be_whole_fen() -> None:
    text = _text("DFT-P03-01.hl7").replace("|100&USD|50&USD|", "|0.25&USD|0.125&USD|")
    first = next(f for f in _facts(text) if isinstance(f, ChargePaid))
    assert (first.lines[0].amount_fen, first.lines[0].unit_price_fen) == (25, 13)
    no_total = _text("DFT-P03-01.hl7").replace("|100&USD|50&USD|", "||0.125&USD|")
    first = next(f for f in _facts(no_total) if isinstance(f, ChargePaid))
    assert first.lines[0].amount_fen == 25  # 2 x 0.125 yuan


def test_a_negative_amount_is_refused_as_a_translation_error_naming_the_value() -> None:
    text = _text("DFT-P03-01.hl7").replace("|100&USD|", "|-50.00&USD|")
    with pytest.raises(TranslationError, match="must not be negative"):
        translate(text, MAPPING)


def test_a_credit_line_refunds_the_charge_it_names() -> None:
    text = _text("DFT-P03-01.hl7").replace(
        "FT1|1|12345||20191122|20191122|CG|", "FT1|1|12345||20191122|20191122|CD|", 1
    )
    refund = _one(RefundIssued, _facts(text))
    assert (refund.charge_id, refund.amount_fen) == ("12345", 10_000)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("PID|1||10006579^^^1^MR^1||", "PID|1||||"), "PID-3"),
        (("|G|||20050110045502+0700|", "|G|||2005011X|"), "PV1-44"),
        (
            (
                "PV1|1|I|PREOP^101^1^1^^^S|3|||37^DISNEY^WALT^^^^^^AccMgr^^^^CI|||01|",
                "PV1|1|I||3|||37^DISNEY^WALT^^^^^^AccMgr^^^^CI||||",
            ),
            "department",
        ),
        (("|40007716^^^AccMgr^VN|", "||"), "PV1-19"),
        (("|ADT^A01|599102|", "|ADT^A01||"), "MSH-10"),
    ],
)
def test_a_message_missing_what_it_needs_is_refused_naming_the_field(
    change: tuple[str, str], named: str
) -> None:
    text = _as("ADT01-23.hl7", *change)
    without_default = mapping_from_dict({"hl7v2": {"currency": "USD"}})
    with pytest.raises(TranslationError, match=named):
        translate(text, without_default)


def test_an_amount_in_another_currency_or_finer_than_a_fen_is_refused() -> None:
    with pytest.raises(
        TranslationError, match=r"FT1-1[12] is in USD, the mapping's currency is CNY"
    ):
        translate(_text("DFT-P03-01.hl7"), Hl7Mapping())
    finer = _text("DFT-P03-01.hl7").replace("|100&USD|", "|100.005&USD|")
    with pytest.raises(TranslationError, match="finer than a fen"):
        translate(finer, MAPPING)


def test_text_that_is_not_hl7_is_told_apart_from_a_message_missing_a_field() -> None:
    with pytest.raises(NotHl7Error):
        translate("PID|1||123", MAPPING)
    with pytest.raises(NotHl7Error):
        translate("", MAPPING)


def test_a_message_type_the_programme_takes_nothing_from_translates_to_nothing() -> None:
    text = _as("ADT01-23.hl7", "|ADT^A01|", "|ADT^A05|")
    translated = translate(text, MAPPING)
    assert (translated.kind, translated.inputs) == ("ADT^A05", ())


def test_an_update_with_a_visit_carries_its_diagnoses_and_icd10_names_can_be_added() -> None:
    dg1 = "DG1|1|ICD10GJ|E11.900x001^2型糖尿病^ICD10GJ||20050110045502+0700|A|"
    sent = "DG1|1|I9|71596^OSTEOARTHROS NOS-L/LEG ^I9|OSTEOARTHROS NOS-L/LEG ||A| "
    text = _as("ADT01-23.hl7", sent, dg1).replace("|ADT^A01|", "|ADT^A08|")
    (unknown,) = [f for f in _facts(text) if isinstance(f, DiagnosisRecorded)]
    assert unknown.icd10 is None  # ICD10GJ is no name of ICD-10 the connector knows
    mapping = mapping_from_dict({"hl7v2": {"currency": "USD", "icd10_systems": ["ICD10GJ"]}})
    (known,) = [f for f in _facts(text, mapping) if isinstance(f, DiagnosisRecorded)]
    assert known.icd10 == "E11.900x001"


def test_a_fractional_quantity_is_kept_in_the_amount_and_rmb_is_the_yuan() -> None:
    text = _text("DFT-P03-01.hl7").replace("|2|100&USD|50&USD|", "|0.5|25.00&RMB|50&RMB|")
    cny = mapping_from_dict({"hl7v2": {"currency": "CNY"}})
    text = text.replace("|120&USD|", "|120&CNY|")
    first = next(f for f in _facts(text, cny) if isinstance(f, ChargePaid))
    assert (first.lines[0].amount_fen, first.lines[0].quantity) == (2_500, None)


def test_a_next_of_kin_identified_in_nk1_33_is_a_relative() -> None:
    kin = "NK1|2|DUCK^DEWEY|SO" + "|" * 30 + "10006580^^^1^MR"
    text = _as("ADT01-23.hl7", "\rPV1|", f"\r{kin}\rPV1|")
    registered = _one(PatientRegistered, _facts(text))
    assert registered.relatives == ("10006580",)  # type: ignore[attr-defined]
    qualified = mapping_from_dict({"hl7v2": {"currency": "USD", "patient": {"qualify": True}}})
    registered = _one(PatientRegistered, _facts(text, qualified))
    assert registered.relatives == ("1:10006580",)  # type: ignore[attr-defined]
