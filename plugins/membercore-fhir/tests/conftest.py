"""What the plugin's tests share: the samples, the mapping, engines, bundles made to order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from membercore import Engine, IngestReport, reference_config
from membercore.plugins import make_plugin_manager
from membercore.ports import HisSource
from membercore.service.history import in_time_order
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite
from membercore_fhir import mapping_from_dict

SAMPLES = Path(__file__).parent / "samples"
SYNTHEA = sorted((SAMPLES / "synthea").glob("*.json"))
LOUIS, PATRIA = SYNTHEA
#: After every instant the samples name.
NOW = datetime(2030, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
#: The Synthea hospital's mapping: amounts in US dollars, SNOMED CT to ICD-10.
MAPPING_TOML = """
[fhir]
sender = "synthea"
currency = "USD"

[fhir.departments]
default = "outpatient"

[fhir.lab_tests]
"4548-4" = "hba1c"

[fhir.conditions."http://snomed.info/sct"]
"44054006" = "E11.9"
"15777000" = "R73.03"
"""
MAPPING = mapping_from_dict(__import__("tomllib").loads(MAPPING_TOML))


#: The reference programme, taking 60 years of history (Synthea's start at birth).
PROGRAMME = attrs.evolve(
    reference_config(),
    plausibility=attrs.evolve(reference_config().plausibility, history_days=60 * 366),
)


def open_engine(url: str = "memory://", clock: ManualClock | None = None) -> Engine:
    """An engine on the reference programme, with the first-party stores only."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    return Engine.open(
        url, config=PROGRAMME, clock=clock or ManualClock(NOW), plugin_manager=manager
    )


def import_history(engine: Engine, source: HisSource) -> IngestReport:
    """What ``membercore import`` does: the source's inputs decided in time order."""
    return engine.ingest(in_time_order(source.read()), history=True, cutoff=NOW)


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    """A bundle of ``resources``, each with its ``Type/id`` as its full URL."""
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def write_json(path: Path, data: object) -> Path:
    """``data`` as a JSON file."""
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def resources_of(path: Path) -> Iterator[dict[str, Any]]:
    """The resources of a bundle file."""
    for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
        yield entry["resource"]
