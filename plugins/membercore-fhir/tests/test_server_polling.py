"""Polling a FHIR server on loopback: pages, shared instants, restarts, late resources, outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import pytest

from membercore.errors import ConfigError
from membercore.service.recording import member_key
from membercore_fhir import FhirFileSource
from membercore_fhir.server.config import settings_from_dict
from membercore_fhir.server.polling import FhirServerSource

from .fhirserver import FhirServer, outcome
from .serverkit import (
    MAPPING,
    evolve,
    open_engine,
    patient,
    poll,
    settings,
    visit,
    visits,
    without,
)


def test_every_page_is_read_and_each_visit_reaches_its_patient() -> None:
    with FhirServer() as server, open_engine() as engine:
        for number in range(2):
            server.put(patient(number))
        for number in range(8):
            server.put(visit(number, number % 2))
        report = poll(engine, settings(server))
        assert report.rejected == 0, report.refusals
        assert visits(engine, "MR0") == {"V0", "V2", "V4", "V6"}
        assert visits(engine, "MR1") == {"V1", "V3", "V5", "V7"}
        searched = server.searches("Encounter")
        assert len(searched) == 3  # 8 visits, 3 a page
        first = searched[0].params
        assert first["_sort"] == ["_lastUpdated"]
        assert first["_count"] == ["3"]
        assert "_lastUpdated" not in first  # nothing read yet: everything


def test_a_second_poll_asks_only_for_what_changed_since_the_last_resource_taken() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        config = settings(server, overlap=timedelta(0))
        poll(engine, config)
        last = server.resources["Encounter"]["e0"]["meta"]["lastUpdated"]
        again = poll(engine, config)
        assert (again.applied, again.rejected) == (0, 0)
        assert server.searches("Encounter")[-1].params["_lastUpdated"] == [f"ge{last}"]
        server.put(visit(1, 0))
        later = poll(engine, config)
        assert (later.applied, later.rejected) == (2, 0)  # the visit, its patient's name
        assert visits(engine, "MR0") == {"V0", "V1"}


def test_resources_sharing_an_instant_across_a_page_boundary_are_each_taken_once() -> None:
    with FhirServer() as server:
        server.put(patient(0))
        instant = server.now + timedelta(seconds=1)
        for number in range(7):
            server.put(visit(number, 0), at=instant)
        config = settings(server, page_size=2)
        inputs = list(FhirServerSource(config, MAPPING).read())
        for cut in range(1, len(inputs)):
            with open_engine() as engine:
                source = FhirServerSource(config, MAPPING)
                engine.ingest(islice(source.read(), cut), source="fhir-server")
                rest = poll(engine, config)
                assert rest.rejected == 0
                assert visits(engine, "MR0") == {f"V{n}" for n in range(7)}, cut
                assert rest.duplicates <= 1, f"cut after {cut}: read again {rest.duplicates}"


def test_a_restart_resumes_from_the_committed_position_nothing_missed_nothing_twice() -> None:
    with FhirServer() as server:
        for number in range(3):
            server.put(patient(number))
        for number in range(9):
            server.put(visit(number, number % 3))
        config = settings(server)
        with open_engine() as straight:
            whole = poll(straight, config)
            journals = {p: len(straight.store.events(member_key(p))) for p in ("MR0", "MR1", "MR2")}
        with open_engine("sqlite:///:memory:") as engine:
            source = FhirServerSource(config, MAPPING)
            first = engine.ingest(islice(source.read(), 7), source="fhir-server")
            assert engine.position("fhir-server") is not None
            second = poll(engine, config)
            assert first.applied + second.applied == whole.applied
            assert second.duplicates <= 1
            for member, length in journals.items():
                assert len(engine.store.events(member_key(member))) == length


def test_a_resource_made_visible_late_within_the_overlap_is_taken() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        server.put(visit(1, 0))
        config = settings(server, overlap=timedelta(seconds=30))
        poll(engine, config)
        # A transaction that began before visit 1 was stored commits only now.
        late = server.resources["Encounter"]["e1"]["meta"]["lastUpdated"]
        server.put(visit(2, 0), at=server.now - timedelta(seconds=10))
        assert server.resources["Encounter"]["e2"]["meta"]["lastUpdated"] < late
        report = poll(engine, config)
        assert report.rejected == 0
        assert visits(engine, "MR0") == {"V0", "V1", "V2"}
        again = poll(engine, config)
        assert (again.applied, again.rejected) == (0, 0)


def test_without_an_overlap_a_resource_stamped_before_the_position_is_missed() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        config = settings(server, overlap=timedelta(0))
        poll(engine, config)
        server.put(visit(2, 0), at=server.now - timedelta(seconds=10))
        assert poll(engine, config).applied == 0  # what the overlap is for


def test_an_encounter_updated_from_in_progress_to_finished_tells_the_discharge() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0, status="in-progress", klass="IMP"))
        config = settings(server)
        poll(engine, config)
        server.put(visit(0, 0, status="finished", klass="IMP"))
        assert server.resources["Encounter"]["e0"]["meta"]["versionId"] == "2"
        source = FhirServerSource(config, MAPPING, after=engine.position("fhir-server"))
        inputs = list(source.read())
        told = [p.raw.TYPE for p in inputs if p.raw.TYPE != "patient_registered"]  # type: ignore[attr-defined]
        assert told == ["admitted", "discharged"]  # the admission again: a duplicate
        report = engine.ingest(inputs, source="fhir-server")
        assert (report.duplicates, report.rejected) == (2, 0)  # with its registration
        assert [j.journey for j in engine.journeys("MR0")].count("post_discharge") == 1


def test_a_resource_that_cannot_be_translated_is_a_dead_letter_and_the_rest_is_taken() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        server.put(without(visit(1, 0), "period"))
        server.put(visit(2, 0))
        report = poll(engine, settings(server))
        assert report.rejected == 1
        (letter,) = engine.store.dead_letters()
        assert '"id": "e1"' in letter.payload
        assert "Encounter/e1.period has neither a start nor an end" in letter.reason
        assert letter.reason.startswith("Encounter page 1 entry 2: Encounter/e1 ")
        assert visits(engine, "MR0") == {"V0", "V2"}
        assert poll(engine, settings(server)).rejected == 0  # not refused again


def test_a_search_the_server_refuses_is_a_dead_letter_with_its_operation_outcome() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        config = settings(server, search={"Encounter": {"location": ("ward-3",)}})
        report = poll(engine, config)
        assert report.rejected == 1
        (letter,) = engine.store.dead_letters()
        assert letter.reason.startswith("GET ")  # the search, not the resource read before it
        assert "/Encounter?" in letter.reason.split(": ")[0]
        assert "the server refused the search (400)" in letter.reason
        assert "Unknown search parameter 'location' for Encounter" in letter.reason
        assert json.loads(letter.payload)["resourceType"] == "OperationOutcome"
        assert engine.member("MR0")  # the patients were taken


def test_an_operation_outcome_in_a_page_is_a_dead_letter_with_its_issues() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        server.remarks["Encounter"] = outcome("Encounter/e9 could not be read from the HIS")
        report = poll(engine, settings(server))
        assert report.rejected == 1
        (letter,) = engine.store.dead_letters()
        assert (
            "the server's OperationOutcome: error (invalid): Encounter/e9 could not"
            in letter.reason
        )
        assert visits(engine, "MR0") == {"V0"}


def test_a_warning_in_a_page_is_no_dead_letter() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.remarks["Patient"] = outcome("results may be incomplete", "informational", "warning")
        assert poll(engine, settings(server)).rejected == 0


def test_included_encounters_give_a_condition_its_visit_number() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        condition = {
            "resourceType": "Condition",
            "id": "c0",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]},
            "subject": {"reference": "Patient/p0"},
            "encounter": {"reference": "Encounter/e0"},
            "onsetDateTime": "2026-02-02T10:00:00+08:00",
        }
        server.put(condition)
        config = settings(server, types=("Patient", "Encounter", "Condition"))
        report = poll(engine, config)
        assert report.rejected == 0, report.refusals
        assert server.searches("Condition")[0].params["_include"] == ["Condition:encounter"]
        (diagnosis,) = engine.member("MR0").profile.diagnoses.values()
        assert diagnosis.icd10 == "E11.9"
        assert "condition:type2_diabetes" in engine.tags("MR0")
        source = FhirServerSource(config, MAPPING)
        facts = [p.raw for p in source.read() if getattr(p.raw, "TYPE", "") == "diagnosis_recorded"]
        assert [f.visit_id for f in facts] == ["V0"]  # the VN identifier, not the resource id


def test_a_position_that_is_not_a_fhir_server_position_is_refused_naming_it() -> None:
    with FhirServer() as server, pytest.raises(ConfigError, match="not a FHIR server position"):
        FhirServerSource(settings(server), MAPPING, after="byte 12 of 512")


def test_the_report_counts_each_type() -> None:
    with FhirServer() as server:
        server.put(patient(0))
        server.put(visit(0, 0))
        server.put(without(visit(1, 0), "period"))
        source = FhirServerSource(settings(server), MAPPING)
        list(source.read())
        assert source.report() == ["Encounter: 1 taken, 1 refused", "Patient: 1 taken"]


def test_a_server_that_does_not_sort_is_refused_with_a_clear_error() -> None:
    with FhirServer() as server:
        server.put(patient(0))
        server.put(visit(0, 0))
        server.put(visit(1, 0))
        server.unsorted = True
        with pytest.raises(OSError, match="does not sort by _lastUpdated"):
            list(FhirServerSource(evolve(settings(server), page_size=5), MAPPING).read())


def test_resources_the_programme_does_not_use_at_the_end_of_a_read_are_not_read_again() -> None:
    vital = {
        "resourceType": "Observation",
        "id": "bp-1",
        "status": "final",
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": "Patient/p0"},
        "effectiveDateTime": "2025-03-01T09:00:00+08:00",
    }
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))
        server.put(vital)
        config = settings(
            server, types=("Patient", "Encounter", "Observation"), overlap=timedelta(0)
        )
        poll(engine, config)
        position = engine.position("fhir-server")
        assert position is not None
        assert "Observation/bp-1" in position
        source = FhirServerSource(config, MAPPING, after=position)
        list(source.read())
        assert source.report() == []  # nothing read again, not even the vital sign


def test_a_result_polled_is_the_same_fact_as_in_the_bundle_it_was_exported_in(
    tmp_path: Path,
) -> None:
    order = {
        "resourceType": "ServiceRequest",
        "id": "sr-1",
        "identifier": [{"type": {"coding": [{"code": "FILL"}]}, "value": "LIS-778"}],
        "subject": {"reference": "Patient/p0"},
    }
    result = {
        "resourceType": "Observation",
        "id": "glu-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1554-5"}]},
        "subject": {"reference": "Patient/p0"},
        "basedOn": [{"reference": "ServiceRequest/sr-1"}],
        "valueQuantity": {"value": 7.8, "unit": "mmol/L"},
    }
    report = {
        "resourceType": "DiagnosticReport",
        "id": "dr-1",
        "status": "final",
        "code": {"coding": [{"code": "GLU"}]},
        "subject": {"reference": "Patient/p0"},
        "effectiveDateTime": "2025-03-01T08:30:00+08:00",
        "result": [{"reference": "Observation/glu-1"}],
    }
    exported = [patient(0), order, result, report]
    for resource in exported:
        resource.setdefault("meta", {"lastUpdated": "2025-03-01T01:00:00Z"})
    path = tmp_path / "export.json"
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in exported]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    with FhirServer() as server, open_engine() as engine:
        for resource in exported:
            server.put(resource)
        assert engine.ingest(FhirFileSource(path, MAPPING).read()).rejected == 0
        config = settings(server, types=("Patient", "Observation"))
        polled = poll(engine, config)
        assert polled.rejected == 0, polled.refusals  # the same facts: duplicates
        [taken] = [
            p.raw
            for p in FhirFileSource(path, MAPPING).read()
            if p.raw.TYPE == "lab_result_recorded"
        ]
        assert taken.order_id == "LIS-778"
        assert taken.occurred_at.isoformat() == "2025-03-01T00:30:00+00:00"


def test_the_first_poll_after_a_history_import_asks_only_since_the_export() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0), at=datetime(2024, 6, 1, tzinfo=UTC))
        server.put(patient(1), at=datetime(2026, 2, 1, tzinfo=UTC))
        config = evolve(settings(server), since=datetime(2025, 1, 1, tzinfo=UTC))
        poll(engine, config)
        assert server.searches("Patient")[0].params["_lastUpdated"] == ["ge2025-01-01T00:00:00Z"]
        assert not engine.store.load(["member:MR0"])
        assert engine.store.load(["member:MR1"])


def test_since_is_an_instant_with_its_offset() -> None:
    with pytest.raises(ConfigError, match=r"fhir_server\.since"):
        settings_from_dict({"fhir_server": {"base_url": "https://his/fhir", "since": "2025-01-01"}})
