"""Importing FHIR bundles: facts per second, and what the source adds to the engine's time.

Run: ``.venv/bin/python benchmarks/fhir.py [--facts 50000] [--store sqlite]``. The two
Synthea patients' bundles (``plugins/membercore-fhir/tests/samples/synthea``) are copied
with fresh ids (every resource id and reference, and the patients' identifiers) until
the copies make about ``--facts`` facts, written as a folder of bundle files, and
imported as ``membercore import --source fhir FOLDER`` does: the source reads and
translates the folder, and the engine decides the facts in time order (a history
import). The source's own time — reading the JSON and translating the resources — is
measured apart, on the same folder, and set against the engine's.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import uuid
from datetime import datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

from membercore import Engine, reference_config
from membercore.facts import Fact
from membercore.service.history import in_time_order
from membercore.testing.clock import ManualClock
from membercore_fhir import FhirFileSource, mapping_from_dict

SAMPLES = Path(__file__).resolve().parent.parent / "plugins/membercore-fhir/tests/samples/synthea"
MAPPING = mapping_from_dict(
    {
        "fhir": {
            "sender": "synthea",
            "currency": "USD",
            "departments": {"default": "outpatient"},
            "lab_tests": {"4548-4": "hba1c"},
            "conditions": {"http://snomed.info/sct": {"44054006": "E11.9"}},
        }
    }
)
NOW = datetime(2030, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
#: The reference programme, taking the 60 years of history Synthea's patients have.
PROGRAMME = attrs.evolve(
    reference_config(),
    plausibility=attrs.evolve(reference_config().plausibility, history_days=60 * 366),
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def copies(folder: Path, facts: int) -> int:
    """Write copies of the samples with fresh ids into ``folder``; how many facts they make."""
    samples = sorted(SAMPLES.glob("*.json"))
    texts = [path.read_text(encoding="utf-8") for path in samples]
    per_round = sum(_facts(path) for path in samples)
    rounds = max(1, round(facts / per_round))
    for number in range(rounds):
        for index, text in enumerate(texts):
            fresh = _UUID.sub(partial(_fresh, number), text)
            bundle = json.loads(fresh)
            for entry in bundle["entry"]:
                if entry["resource"]["resourceType"] == "Patient":
                    for identifier in entry["resource"].get("identifier", []):
                        identifier["value"] = f"{identifier['value']}-{number}"
            (folder / f"{number:05d}-{index}.json").write_text(json.dumps(bundle), encoding="utf-8")
    return rounds * per_round


def _fresh(number: int, found: re.Match[str]) -> str:
    """A fresh id for the ``number``-th copy's ``found`` id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{number}:{found[0]}"))


def _facts(path: Path) -> int:
    """How many facts a bundle makes."""
    return sum(1 for p in FhirFileSource(path, MAPPING).read() if isinstance(p.raw, Fact))


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "export"
        folder.mkdir()
        copies(folder, args.facts)
        started = time.perf_counter()
        inputs = list(FhirFileSource(folder, MAPPING).read())
        source = time.perf_counter() - started
        facts = sum(1 for p in inputs if isinstance(p.raw, Fact))
        resources = sum(1 for _ in folder.iterdir())
        url = f"sqlite:///{scratch}/m.db"
        with Engine.open(url, config=PROGRAMME, clock=ManualClock(NOW)) as engine:
            started = time.perf_counter()
            report = engine.ingest(in_time_order(inputs), history=True, cutoff=NOW)
            decided = time.perf_counter() - started
    print(
        f"{resources} bundles, {facts} facts: {report.applied} applied, {report.rejected} refused"
    )
    for what, seconds in (
        ("source (read, translate)", source),
        ("engine (history, SQLite)", decided),
    ):
        print(f"{what}: {seconds:.2f} s, {seconds / facts * 1e6:.0f} µs a fact")
    added = source / decided
    print(f"together: {facts / (source + decided):.0f} facts/s; the source adds {added:.1%}")


if __name__ == "__main__":
    main()
