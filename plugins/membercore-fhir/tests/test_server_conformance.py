"""The FHIR server source passes membercore's source conformance suite, over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from membercore.ports import HisSource
from membercore.testing.sources import SourceContract
from membercore_fhir import mapping_from_dict
from membercore_fhir.server.config import ServerConfig
from membercore_fhir.server.polling import FhirServerSource

from .fhirserver import FhirServer

_MAPPING = mapping_from_dict({"fhir": {"departments": {"default": "internal"}}})
CARD = "urn:oid:2.16.156.10011.1.99"


class ServerFeed:
    """A FHIR server the suite stores Patients and finished outpatient Encounters on.

    The server stores each when it happens (its clock is the entry's instant), as a
    HIS that writes its FHIR server as it goes does.
    """

    name = "fhir-server"

    def __init__(self, server: FhirServer) -> None:
        self.server = server
        self.written = 0
        self.config = ServerConfig(
            base_url=server.base_url, types=("Patient", "Encounter"), page_size=2
        )

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        identifiers = [
            {"type": {"coding": [{"code": "MR"}]}, "value": patient_id},
            {"system": CARD, "value": card},
        ]
        self._put({"resourceType": "Patient", "id": patient_id, "identifier": identifiers}, at)

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        self._put(
            {
                "resourceType": "Encounter",
                "id": visit_id,
                "identifier": [{"type": {"coding": [{"code": "VN"}]}, "value": visit_id}],
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"identifier": {"system": CARD, "value": card}},
                "period": {"start": at.isoformat(), "end": at.isoformat()},
            },
            at,
        )

    def untranslatable(self) -> str:
        ident = f"no-period-{self.written}"
        resource = {
            "resourceType": "Encounter",
            "id": ident,
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"identifier": {"system": CARD, "value": "card-0"}},
        }
        self._put(resource, self.server.now + timedelta(seconds=1))
        return ident

    def source(self, after: str | None) -> HisSource:
        return FhirServerSource(self.config, _MAPPING, after=after)

    def _put(self, resource: dict[str, object], at: datetime) -> None:
        self.written += 1
        self.server.put(resource, max(at, self.server.now + timedelta(milliseconds=1)))


class TestFhirServerSource(SourceContract):
    @pytest.fixture
    def feed(self) -> Iterator[ServerFeed]:
        with FhirServer(now=datetime(2025, 3, 1, tzinfo=UTC)) as server:
            yield ServerFeed(server)
