"""What the FHIR server tests share: resources made to order, settings, an engine over a poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from membercore import Engine, IngestReport, reference_config
from membercore.plugins import make_plugin_manager
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite
from membercore_fhir import mapping_from_dict
from membercore_fhir.server.config import ServerConfig
from membercore_fhir.server.polling import FhirServerSource

from .fhirserver import FhirServer

#: When the visits happen: the server stores them afterwards.
VISITED = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)
#: When the engines learn of them: after the server's clock (2026-02-01) and the visits.
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
CARD = "urn:oid:1.2.156.112604.1.2.1"
MAPPING = mapping_from_dict({"fhir": {"sender": "his", "departments": {"default": "outpatient"}}})


def settings(server: FhirServer, **changes: Any) -> ServerConfig:
    """Settings polling ``server``: Patient then Encounter, pages of 3, short back-offs."""
    fields: dict[str, Any] = {
        "base_url": server.base_url,
        "types": ("Patient", "Encounter"),
        "page_size": 3,
        "backoff": 0.001,
        "max_backoff": 0.01,
        "retries": 3,
    }
    return ServerConfig(**{**fields, **changes})


def open_engine(url: str = "memory://") -> Engine:
    """An engine on the reference programme, with the first-party stores only."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    return Engine.open(
        url, config=reference_config(), clock=ManualClock(NOW), plugin_manager=manager
    )


def poll(engine: Engine, config: ServerConfig, **options: Any) -> IngestReport:
    """One poll, as the worker does it: from the committed position, committing it."""
    source = FhirServerSource(config, MAPPING, after=engine.position("fhir-server"), **options)
    return engine.ingest(source.read(), source="fhir-server")


def patient(number: int) -> dict[str, Any]:
    """Patient ``p<n>``, medical record number ``MR<n>`` and a clinic card ``C<n>``."""
    return {
        "resourceType": "Patient",
        "id": f"p{number}",
        "identifier": [
            {"type": {"coding": [{"code": "MR"}]}, "value": f"MR{number}"},
            {"system": CARD, "value": f"C{number}"},
        ],
        "gender": "female",
        "birthDate": "1980-01-01",
    }


def visit(
    number: int, patient_number: int, *, status: str = "finished", klass: str = "AMB"
) -> dict[str, Any]:
    """Encounter ``e<n>`` of patient ``p<patient>``, visit number ``V<n>``, an hour long."""
    start = VISITED + timedelta(hours=number)
    return {
        "resourceType": "Encounter",
        "id": f"e{number}",
        "identifier": [{"type": {"coding": [{"code": "VN"}]}, "value": f"V{number}"}],
        "status": status,
        "class": {"code": klass},
        "subject": {"reference": f"Patient/p{patient_number}"},
        "period": {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
    }


def visits(engine: Engine, patient_id: str) -> set[str]:
    """The visits a member's record took."""
    return {v.visit_id for v in engine.member(patient_id).profile.visits.values()}


def without(resource: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``resource`` less ``keys``."""
    return {k: v for k, v in resource.items() if k not in keys}


def evolve(config: ServerConfig, **changes: Any) -> ServerConfig:
    """``config`` with ``changes``."""
    return attrs.evolve(config, **changes)
