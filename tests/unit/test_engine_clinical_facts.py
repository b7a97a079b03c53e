"""The clinical fact model through the engine: what acts on the programme and what is kept.

A preliminary result is recorded without effect and a final one acts; a diagnosis sent
in a code system no mapping reaches is recorded with the reason, never dropped; a
diagnosis entered in error acts on nothing.
"""

from __future__ import annotations

from datetime import timedelta

from tests.unit.conftest import MONDAY

from membercore.facts import Coding, DiagnosisRecorded, LabResultRecorded, PatientRegistered
from membercore.identity import FactSetAside
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key

ME = "p-wang"


def _registered() -> PatientRegistered:
    return PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=MONDAY)


def _diagnosis(fact_id: str, **fields: object) -> DiagnosisRecorded:
    return DiagnosisRecorded(
        fact_id=fact_id,
        patient_id=ME,
        occurred_at=MONDAY + timedelta(minutes=1),
        visit_id="v-1",
        **fields,  # type: ignore[arg-type]
    )


def _hba1c(fact_id: str, status: str, value: str = "6.5") -> LabResultRecorded:
    return LabResultRecorded(
        fact_id=fact_id,
        patient_id=ME,
        occurred_at=MONDAY + timedelta(days=100),
        test="hba1c",
        value=value,
        coding=Coding(system="LN", code="4548-4"),
        unit="%",
        status=status,  # type: ignore[arg-type]
    )


def _set_aside(engine: Engine) -> list[tuple[str, str]]:
    events = [message_from_json(e.payload) for e in engine.store.events(member_key(ME))]
    return [(e.fact_id, e.reason) for e in events if isinstance(e, FactSetAside)]


def _diabetes_state(engine: Engine) -> str | None:
    journeys = engine.member(ME).journeys.instances.values()
    return next((i.state for i in journeys if i.journey == "diabetes"), None)


def test_a_preliminary_result_is_kept_without_effect_and_the_final_one_acts(
    engine: Engine,
) -> None:
    engine.ingest([_registered(), _diagnosis("dx", icd10="E11.9")])
    engine.clock.advance(timedelta(days=100, hours=1))  # type: ignore[attr-defined]
    assert _diabetes_state(engine) == "monitoring"
    engine.ingest([_hba1c("lab-p", "preliminary")])
    assert _diabetes_state(engine) == "monitoring"
    assert _set_aside(engine) == [("lab-p", "a preliminary result")]
    engine.ingest([_hba1c("lab-f", "final")])
    assert _diabetes_state(engine) == "at_target"
    assert len(_set_aside(engine)) == 1


def test_a_diagnosis_no_mapping_reaches_is_kept_with_the_code_it_was_sent_in(
    engine: Engine,
) -> None:
    sent = Coding(system="I9", code="71596", display="OSTEOARTHROS NOS-L/LEG")
    report = engine.ingest([_registered(), _diagnosis("dx-i9", coding=sent)])
    assert (report.applied, report.rejected) == (2, 0)
    assert _set_aside(engine) == [("dx-i9", "no ICD-10 code is mapped from I9 71596")]
    assert engine.member(ME).profile.diagnoses == {}


def test_a_diagnosis_entered_in_error_starts_nothing(engine: Engine) -> None:
    engine.ingest([_registered(), _diagnosis("dx", icd10="E11.9", status="entered_in_error")])
    assert _diabetes_state(engine) is None
    assert _set_aside(engine) == [("dx", "a diagnosis entered in error")]
