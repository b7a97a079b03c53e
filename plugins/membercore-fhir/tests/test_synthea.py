"""Two Synthea patients' histories, imported as a hospital would: every resource accounted for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from membercore_fhir import FhirFileSource

from .conftest import LOUIS, MAPPING, PATRIA, SYNTHEA, import_history, open_engine, resources_of

LOUIS_ID = "2e275d4b-855a-4eb2-9021-5410aa8acd4f"
PATRIA_ID = "d2f8f862-3856-490d-b56f-98e0ed984b1e"


@pytest.mark.parametrize("path", SYNTHEA, ids=lambda p: p.name.split("_")[0])
def test_every_resource_becomes_facts_or_is_counted_as_not_used(path: Path) -> None:
    source = FhirFileSource(path, MAPPING)
    with open_engine() as engine:
        report = import_history(engine, source)
        assert report.rejected == 0, report.refusals
        assert not list(engine.store.dead_letters())
    kinds = [r["resourceType"] for r in resources_of(path)]
    tally = source.tally
    assert not tally.refused
    for kind in set(kinds):
        assert tally.used[kind] + tally.unused[kind] == kinds.count(kind), kind
    for used in ("Patient", "Encounter", "Condition", "Observation", "Claim"):
        assert tally.used[used] > 0, used
    assert tally.used["ExplanationOfBenefit"] == kinds.count("ExplanationOfBenefit")
    for unused in ("Organization", "Practitioner", "Immunization", "CarePlan"):
        assert tally.used[unused] == 0
    lines = source.report()
    assert f"Encounter: {kinds.count('Encounter')} taken" in lines


def test_rule_a_enrols_the_diabetic_patients_at_the_instant_of_the_diagnosis() -> None:
    with open_engine() as engine:
        for path in SYNTHEA:
            assert import_history(engine, FhirFileSource(path, MAPPING)).rejected == 0
        for patient, diagnosed in (
            (LOUIS_ID, datetime(2020, 1, 31, 19, 28, 31, tzinfo=UTC)),
            (PATRIA_ID, datetime(2019, 6, 25, 4, 22, 4, tzinfo=UTC)),
        ):
            member = engine.member(patient)
            started = [j for j in member.journeys.instances.values() if j.journey == "diabetes"]
            assert [j.started_at for j in started] == [diagnosed]
            assert [d.at for d in member.profile.diagnoses.values() if d.icd10 == "E11.9"] == [
                diagnosed
            ]


def test_the_patient_is_found_by_any_identifier_the_patient_resource_lists() -> None:
    with open_engine() as engine:
        import_history(engine, FhirFileSource(LOUIS, MAPPING))
        assert engine.identified("http://hl7.org/fhir/sid/us-ssn", "999-55-5167") == LOUIS_ID
        own = "Patient/bae2bf00-eca1-47fb-bb43-272f8de1449c"
        assert engine.identified("fhir:synthea", own) == LOUIS_ID


def test_importing_the_same_history_again_changes_nothing() -> None:
    with open_engine() as engine:
        first = import_history(engine, FhirFileSource(PATRIA, MAPPING))
        before = len(engine.store.events(f"member:{PATRIA_ID}"))
        again = import_history(engine, FhirFileSource(PATRIA, MAPPING))
        assert (again.applied, again.duplicates, again.rejected) == (0, first.applied, 0)
        assert len(engine.store.events(f"member:{PATRIA_ID}")) == before


def test_hba1c_results_are_laboratory_results_with_their_values_and_units() -> None:
    results = [
        p.raw
        for p in FhirFileSource(LOUIS, MAPPING).read()
        if getattr(p.raw, "test", None) == "hba1c"
    ]
    assert [(r.occurred_at.date().isoformat(), r.unit) for r in results] == [
        ("2020-01-31", "%"),
        ("2020-10-09", "%"),
    ]
    assert all(float(r.value) > 6.4 for r in results)
    assert {r.coding.code for r in results} == {"4548-4"}
