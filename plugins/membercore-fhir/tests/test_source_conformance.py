"""The FHIR file source passes membercore's source conformance suite (an NDJSON export)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from membercore.testing.sources import SourceContract
from membercore_fhir import FhirFileSource, mapping_from_dict

_MAPPING = mapping_from_dict({"fhir": {"departments": {"default": "internal"}}})
CARD = "urn:oid:2.16.156.10011.1.99"


class NdjsonExport:
    """An NDJSON file the suite appends Patients and finished outpatient Encounters to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"fhir:{path}"
        self.written = 0
        path.write_text("", encoding="utf-8")

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        self._append(
            {
                "resourceType": "Patient",
                "id": patient_id,
                "meta": {"lastUpdated": at.isoformat()},
                "identifier": [
                    {"type": {"coding": [{"code": "MR"}]}, "value": patient_id},
                    {"system": CARD, "value": card},
                ],
                "gender": "female",
            }
        )

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        self._append(_encounter(visit_id, {"identifier": {"system": CARD, "value": card}}, at))

    def untranslatable(self) -> str:
        self.written += 1
        broken = _encounter(f"broken-{self.written}", {"reference": "Patient/p-0"}, None)
        self._append(broken)
        return broken["id"]

    def source(self, after: str | None) -> FhirFileSource:
        return FhirFileSource(self.path, _MAPPING, after=after)

    def _append(self, resource: dict[str, object]) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(resource) + "\n")


def _encounter(visit_id: str, subject: dict[str, object], at: datetime | None) -> dict[str, object]:
    encounter: dict[str, object] = {
        "resourceType": "Encounter",
        "id": visit_id,
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": subject,
    }
    if at is not None:
        encounter["period"] = {"start": at.isoformat(), "end": at.isoformat()}
    return encounter


class TestFhirFileSource(SourceContract):
    @pytest.fixture
    def feed(self, tmp_path: Path) -> NdjsonExport:
        return NdjsonExport(tmp_path / "export.ndjson")
