"""What the FHIR sources log of a read: counts, positions and refusals, no patient's details."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from membercore.ports import Positioned, Unreadable
from membercore_fhir import FhirFileSource
from membercore_fhir.server.polling import FhirServerSource

from .conftest import MAPPING, bundle, write_json
from .fhirserver import FhirServer
from .serverkit import MAPPING as SERVER_MAPPING
from .serverkit import patient, settings, visit, without

PATIENT_DATA = ("王秀英", "赵敏", "13800138000", "13912345678")


def _person(number: int, name: str, phone: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"p{number}",
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": f"MR{number}"}],
        "name": [{"text": name}],
        "telecom": [{"system": "phone", "value": phone}],
        "gender": "female",
        **more,
    }


def _logged(caplog: pytest.LogCaptureFixture, name: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name and r.levelno == level]


def _no_patient_data(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records
    for record in caplog.records:
        for private in PATIENT_DATA:
            assert private not in record.getMessage(), (record.name, record.getMessage())


def _refused(read: list[Any]) -> list[Unreadable]:
    found = [item[1] if isinstance(item, tuple) else item for item in read]
    return [p.raw for p in found if isinstance(p, Positioned) and isinstance(p.raw, Unreadable)]


def test_a_file_read_says_what_it_read_and_names_each_refused_entry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    path = write_json(
        tmp_path / "bundle.json",
        bundle(
            _person(1, "王秀英", "13800138000", birthDate="1980-01-01"),
            # The birth date's element holds the name.
            _person(2, "赵敏", "13912345678", birthDate="赵敏"),
        ),
    )
    read = list(FhirFileSource(path, MAPPING).read())
    refused = _refused(read)
    assert len(refused) == 1
    assert "赵敏" in refused[0].raw
    (done,) = _logged(caplog, "membercore.source.fhir", logging.INFO)
    assert done.startswith(f"read {len(read)} inputs (1 refused) from {path}, after the start, ")
    # Patients come first, positioned where the read began (their facts find them).
    assert "to bundle.json entry 0, in " in done
    (refusal,) = _logged(caplog, "membercore.source.fhir", logging.DEBUG)
    assert refusal.startswith("bundle.json entry 0 refused: Patient/p2")
    assert "'…'" in refusal
    _no_patient_data(caplog)


def test_a_server_read_says_what_it_read_from_where_to_where(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with FhirServer() as server:
        server.put(_person(0, "王秀英", "13800138000", birthDate="1980-01-01"))
        server.put(patient(1))
        server.put(visit(0, 0))
        server.put(without(visit(1, 1), "subject"))  # names no patient: refused
        config = settings(server)
        source = FhirServerSource(config, SERVER_MAPPING)
        read = list(source.read())
        assert len(_refused(read)) == 1
        (done,) = _logged(caplog, "membercore.source.fhir-server", logging.INFO)
        assert done.startswith(f"read {len(read)} inputs (1 refused) from {server.base_url}, ")
        assert "after the start, to " in done
        (refusal,) = _logged(caplog, "membercore.source.fhir-server", logging.DEBUG)
        assert "Encounter/e1" in refusal
    _no_patient_data(caplog)
