"""Bundles, NDJSON exports and folders of them, through the engine and the CLI."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from membercore.consent.state import allows
from membercore.errors import ConfigError
from membercore.facts import AdmissionCancelled, Admitted, Discharged, LabResultRecorded
from membercore_adapters.cli import main
from membercore_fhir import (
    Entry,
    FhirError,
    FhirFileSource,
    Read,
    load_mapping,
    mapping_from_dict,
    translate,
)
from membercore_fhir.values import fen

from .conftest import (
    LOUIS,
    MAPPING,
    MAPPING_TOML,
    bundle,
    import_history,
    open_engine,
    resources_of,
    write_json,
)

LOUIS_ID = "2e275d4b-855a-4eb2-9021-5410aa8acd4f"


def _bulk_export(folder: Path, resources: list[dict[str, Any]]) -> Path:
    """``resources`` as a bulk export writes them: one NDJSON file per type, plain references."""
    folder.mkdir()
    by_type: dict[str, list[str]] = defaultdict(list)
    for resource in resources:
        text = json.dumps(resource).replace('"urn:uuid:', '"__REF__')
        for kind_resource in resources:
            text = text.replace(
                f'"__REF__{kind_resource["id"]}"',
                f'"{kind_resource["resourceType"]}/{kind_resource["id"]}"',
            )
        by_type[resource["resourceType"]].append(text)
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _taken(engine: Any, patient: str) -> list[str]:
    return sorted(engine.member(patient).profile.facts)


def test_a_bulk_export_folder_becomes_the_same_facts_as_the_bundle(tmp_path: Path) -> None:
    folder = _bulk_export(tmp_path / "export", list(resources_of(LOUIS)))
    with open_engine() as from_bundle, open_engine() as from_export:
        assert import_history(from_bundle, FhirFileSource(LOUIS, MAPPING)).rejected == 0
        report = import_history(from_export, FhirFileSource(folder, MAPPING))
        assert report.rejected == 0, report.refusals
        assert _taken(from_export, LOUIS_ID) == _taken(from_bundle, LOUIS_ID)
        journeys = from_export.member(LOUIS_ID).journeys.instances
        assert any(j.journey == "diabetes" for j in journeys.values())


def test_resources_read_after_their_patient_reach_the_patient(tmp_path: Path) -> None:
    resources = list(resources_of(LOUIS))
    folder = _bulk_export(tmp_path / "export", resources)
    patients, later = tmp_path / "patients", tmp_path / "later"
    patients.mkdir()
    later.mkdir()
    for file in folder.iterdir():
        file.rename((patients if file.name == "Patient.ndjson" else later) / file.name)
    with open_engine() as engine:
        assert import_history(engine, FhirFileSource(patients, MAPPING)).applied == 1
        report = import_history(engine, FhirFileSource(later, MAPPING))
        assert report.rejected == 0, report.refusals
        assert len(engine.member(LOUIS_ID).profile.visits) == 13
        assert not engine.store.load(["member:Patient/bae2bf00-eca1-47fb-bb43-272f8de1449c"])


def test_a_logical_reference_names_the_patient_by_an_identifier(tmp_path: Path) -> None:
    ssn = {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-55-5167"}
    encounter = {
        "resourceType": "Encounter",
        "id": "walk-in",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"identifier": ssn},
        "period": {"start": "2021-03-01T09:00:00+08:00", "end": "2021-03-01T09:30:00+08:00"},
    }
    path = write_json(tmp_path / "walk-in.json", bundle(encounter))
    with open_engine() as engine:
        import_history(engine, FhirFileSource(LOUIS, MAPPING))
        assert import_history(engine, FhirFileSource(path, MAPPING)).rejected == 0
        visits = engine.member(LOUIS_ID).profile.visits.values()
        assert "walk-in" in {v.visit_id for v in visits}
        assert not engine.store.load(["member:999-55-5167"])


def _patient(version: str = "1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"versionId": version, "lastUpdated": "2024-05-01T08:00:00+08:00"},
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "ZY-001"}],
        "gender": "female",
        "birthDate": "1980-02-03",
        "name": [{"family": "王", "given": ["秀英"]}],
    }


def _stay(status: str, version: str, **period: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "stay-1",
        "meta": {"versionId": version},
        "status": status,
        "class": {"code": "IMP"},
        "identifier": [{"type": {"coding": [{"code": "VN"}]}, "value": "ZY-2024-77"}],
        "serviceType": {"coding": [{"code": "GK"}]},
        "subject": {"reference": "Patient/p1"},
        "period": period,
    }


def test_each_version_of_a_stay_tells_what_is_new(tmp_path: Path) -> None:
    admitted = {"start": "2024-05-02T10:00:00+08:00"}
    versions = [
        bundle(_patient(), _stay("in-progress", "1", **admitted)),
        bundle(_patient(), _stay("in-progress", "2", **admitted)),
        bundle(_patient(), _stay("finished", "3", **admitted, end="2024-05-09T10:00:00+08:00")),
    ]
    mapping = mapping_from_dict({"fhir": {"departments": {"GK": "orthopaedics"}}})
    told, applied = [], []
    with open_engine() as engine:
        for number, version in enumerate(versions):
            source = FhirFileSource(write_json(tmp_path / f"v{number}.json", version), mapping)
            inputs = [p.raw for p in source.read()]
            told.append([type(i).__name__ for i in inputs])
            report = engine.ingest(inputs)
            assert report.rejected == 0
            applied.append(report.applied)
    # The patient's registration, the stay's name for them, the admission.
    assert told[0] == ["PatientRegistered", "PatientRegistered", "Admitted"]
    assert told[2] == ["PatientRegistered", "PatientRegistered", "Admitted", "Discharged"]
    # The second version tells nothing new; the third, the discharge alone.
    assert applied == [3, 0, 1]


def test_a_stay_entered_in_error_withdraws_the_admission() -> None:
    stay = _stay("entered-in-error", "2", start="2024-05-02T10:00:00+08:00")
    read = Read((Entry("b.json", 1, _patient()), Entry("b.json", 2, stay)))
    made = [i for t in translate(read, MAPPING) for i in t.inputs]
    assert [type(m) for m in made[2:]] == [AdmissionCancelled]
    assert not any(isinstance(m, Admitted | Discharged) for m in made)


def _result(status: str, version: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "hba1c-1",
        "meta": {"versionId": version},
        "status": status,
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-05-03T08:00:00+08:00",
        "valueQuantity": {"value": value, "unit": "%"},
    }


def test_a_preliminary_then_final_then_amended_result_is_three_facts_each_taken_once(
    tmp_path: Path,
) -> None:
    versions = [("preliminary", "1", 7.1), ("final", "2", 7.1), ("final", "2", 7.1)]
    versions += [("amended", "3", 6.9)]
    applied = []
    with open_engine() as engine:
        for number, (status, version, value) in enumerate(versions):
            path = write_json(
                tmp_path / f"r{number}.json", bundle(_patient(), _result(status, version, value))
            )
            results = [p.raw for p in FhirFileSource(path, MAPPING).read()]
            report = engine.ingest(results)
            assert report.rejected == 0
            applied.append(
                sum(1 for r in results if isinstance(r, LabResultRecorded)) and report.applied
            )
    assert applied[2] == 0  # the same final result read again
    statuses = [r.status for r in results if isinstance(r, LabResultRecorded)]
    assert statuses == ["corrected"]


def test_a_resource_that_cannot_be_read_is_a_dead_letter_naming_the_element(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c-bad",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2024-13-45",
    }
    path = write_json(
        tmp_path / "b.json",
        bundle(_patient(), condition, _stay("in-progress", "1", start="2024-05-02T10:00:00+08:00")),
    )
    mapping = tmp_path / "his.toml"
    mapping.write_text(MAPPING_TOML, encoding="utf-8")
    store = f"sqlite:///{tmp_path}/m.db"
    arguments = ["--source", "fhir", "--mapping", str(mapping), "--store", store]
    assert main(["ingest", str(path), *arguments]) == 1
    printed = capsys.readouterr().out
    assert "  Condition: 0 taken, 1 refused" in printed
    assert "  Encounter: 1 taken" in printed
    with open_engine(store) as engine:
        [letter] = engine.store.dead_letters()
        assert "Condition/c-bad.onsetDateTime '2024-13-45' is not a date" in letter.reason
        assert json.loads(letter.payload)["id"] == "c-bad"
        assert engine.member("ZY-001").profile.registrations


def test_import_reads_a_bulk_export_s_folder_patients_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    stay = _stay(
        "finished", "1", start="2024-05-02T10:00:00+08:00", end="2024-05-02T11:00:00+08:00"
    )
    # Read in name order, the encounters would come before the patient they are of.
    (export / "Encounter.ndjson").write_text(json.dumps(stay) + "\n", encoding="utf-8")
    (export / "Patient.ndjson").write_text(json.dumps(_patient()) + "\n", encoding="utf-8")
    mapping = tmp_path / "his.toml"
    mapping.write_text(MAPPING_TOML, encoding="utf-8")
    store = f"sqlite:///{tmp_path}/m.db"
    arguments = ["--source", "fhir", "--mapping", str(mapping), "--store", store]
    assert main(["import", f"{export}/", *arguments]) == 0
    printed = capsys.readouterr().out
    assert "  Encounter: 1 taken" in printed
    with open_engine(store) as engine:
        assert engine.member("ZY-001").profile.registrations
        assert not list(engine.store.dead_letters())


def test_ingest_resume_reads_only_what_was_added_to_an_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "Encounter.ndjson"
    stays = [
        _stay("in-progress", "1", start=f"2024-05-0{n}T10:00:00+08:00") | {"id": f"s{n}"}
        for n in (1, 2)
    ]
    export.write_text(json.dumps(_patient()) + "\n" + json.dumps(stays[0]) + "\n", encoding="utf-8")
    store = f"sqlite:///{tmp_path}/m.db"
    arguments = ["--source", "fhir", "--store", store, "--resume"]
    assert main(["ingest", str(export), *arguments]) == 0
    with export.open("a", encoding="utf-8") as file:
        file.write(json.dumps(stays[1]) + "\n")
    capsys.readouterr()
    assert main(["ingest", str(export), *arguments]) == 0
    printed = capsys.readouterr().out
    assert "1 条已应用，0 条重复" in printed  # the new stay alone


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[fhir]\ncolour = "red"', "fhir.colour"),
        ('[fhir]\ntimezone = "Mars/Olympus"', "fhir.timezone"),
        ('[fhir]\ncharges = "free"', "fhir.charges"),
        ('[fhir.encounter_classes]\nAMB = "walk-in"', "fhir.encounter_classes.AMB"),
        ('[fhir.conditions."http://snomed.info/sct"]\n"44054006" = "diabetes"', "44054006"),
        ("[fhir.patient]\nprimary = []", "fhir.patient.primary"),
    ],
)
def test_a_mapping_error_names_its_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "his.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_mapping(path)


def _consent(status: str, version: str, provision: str = "permit") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": "consent-1",
        "meta": {"versionId": version},
        "status": status,
        "scope": {"coding": [{"code": "patient-privacy"}]},
        "category": [{"coding": [{"code": "hospital-marketing"}]}],
        "patient": {"reference": "Patient/p1"},
        "dateTime": "2024-05-01T09:00:00+08:00",
        "provision": {"type": provision},
    }


def test_a_consent_the_mapping_names_is_given_then_withdrawn(tmp_path: Path) -> None:
    mapping = mapping_from_dict(
        {
            "fhir": {
                "consents": {"hospital-marketing": {"purpose": "marketing", "channels": ["sms"]}}
            }
        }
    )
    with open_engine() as engine:
        given = write_json(tmp_path / "given.json", bundle(_patient(), _consent("active", "1")))
        assert engine.ingest(FhirFileSource(given, mapping).read()).rejected == 0
        assert allows(engine.member("ZY-001").consent, "marketing", "sms")
        withdrawn = bundle(_patient(), _consent("active", "2", provision="deny"))
        path = write_json(tmp_path / "withdrawn.json", withdrawn)
        assert engine.ingest(FhirFileSource(path, mapping).read()).rejected == 0
        assert not allows(engine.member("ZY-001").consent, "marketing", "sms")
    unnamed = FhirFileSource(given, MAPPING)
    assert [type(p.raw).__name__ for p in unnamed.read()] == ["PatientRegistered"]
    assert "Consent: 0 taken, 1 not used by the programme" in unnamed.report()


def test_the_same_resources_read_in_other_groupings_are_the_same_facts(tmp_path: Path) -> None:
    resources = list(resources_of(LOUIS))
    folder = _bulk_export(tmp_path / "export", resources)
    alone = tmp_path / "alone"
    alone.mkdir()
    for file in folder.iterdir():
        if file.name != "Patient.ndjson":
            file.rename(alone / file.name)
    with open_engine() as engine:
        assert import_history(engine, FhirFileSource(LOUIS, MAPPING)).rejected == 0
        before = len(engine.store.events(f"member:{LOUIS_ID}"))
        # Everything but the Patient, as a server's pages would give it: no conflict.
        again = import_history(engine, FhirFileSource(alone, MAPPING))
        assert again.rejected == 0, again.refusals[:3]
        added = engine.store.events(f"member:{LOUIS_ID}")[before:]
        assert {e.type for e in added} <= {"profile_registration_noted"}


def test_a_consent_read_without_its_patient_reaches_the_patient(tmp_path: Path) -> None:
    mapping = mapping_from_dict(
        {
            "fhir": {
                "consents": {"hospital-marketing": {"purpose": "marketing", "channels": ["sms"]}}
            }
        }
    )
    with open_engine() as engine:
        patient = write_json(tmp_path / "patient.json", bundle(_patient()))
        assert engine.ingest(FhirFileSource(patient, mapping).read()).rejected == 0
        consent = write_json(tmp_path / "consent.json", bundle(_consent("active", "1")))
        report = engine.ingest(FhirFileSource(consent, mapping).read())
        assert report.rejected == 0, report.refusals
        assert allows(engine.member("ZY-001").consent, "marketing", "sms")
        withdrawn = bundle(_consent("inactive", "2"))
        path = write_json(tmp_path / "withdrawn.json", withdrawn)
        assert engine.ingest(FhirFileSource(path, mapping).read()).rejected == 0
        assert not allows(engine.member("ZY-001").consent, "marketing", "sms")


def test_an_amount_that_is_no_number_is_refused_naming_the_element() -> None:
    # A server's page read by the standard JSON parser may hold NaN or Infinity.
    for value in (float("nan"), float("inf")):
        with pytest.raises(FhirError, match=r"ChargeItem/ci-1\.priceOverride .* is not an amount"):
            fen({"value": value, "currency": "CNY"}, "CNY", "ChargeItem/ci-1.priceOverride")
