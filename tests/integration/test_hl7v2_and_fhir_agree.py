"""The HL7 v2 samples and the FHIR a converter made of each become the same facts.

Each message is read by membercore-hl7v2 and the converter's bundle of it by
membercore-fhir, each through its own mapping of the one hospital's codes. The facts are
compared in the programme's terms: their type, patient, instant, and what they say
(visit, department, class, codes and their displays, values, amounts, statuses). Set
apart, because each source names them its own way: fact ids, the systems identifiers
and codes are named under (``test1^MR`` in HL7, a URI in FHIR), who a merge was made by,
and the instant a registration is dated (each source registers the patient as of the
earliest instant it tells of them).

Where the two still differ, the FHIR says more or less than the message, and the test
lists each difference with why (:data:`DIFFERENCES`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from membercore.facts import Coding, PatientRegistered
from membercore_fhir import FhirFileSource, mapping_from_dict
from membercore_hl7v2 import mapping_from_dict as hl7_mapping
from membercore_hl7v2 import receive

SAMPLES = Path(__file__).parents[2] / "plugins" / "membercore-hl7v2" / "tests" / "samples"
MESSAGES = sorted((SAMPLES / "messages").glob("*.hl7"))
CONVERTER = "http://example.com/v2-to-fhir-converter"
#: One hospital's codes, as each source's mapping says them.
HL7 = hl7_mapping(
    {
        "hl7v2": {
            "currency": "USD",
            "departments": {"default": "outpatient"},
            "lab_tests": {"1554-5": "glucose"},
            "diagnoses": {"SCT": {"64766004": "K51.9"}},
        }
    }
)
FHIR = mapping_from_dict(
    {
        "fhir": {
            "currency": "USD",
            # The converter names the GHH samples' PID-3.4 "test1" as the system ".../HCD".
            "patient": {"primary": [f"{CONVERTER}/Identifier/HCD", "MR"]},
            "departments": {"default": "outpatient"},
            "lab_tests": {"1554-5": "glucose"},
            "conditions": {"http://snomed.info/sct": {"64766004": "K51.9"}},
        }
    }
)
#: Per sample, the facts only one side tells, by type, and why.
DIFFERENCES: dict[str, tuple[Counter[str], Counter[str]]] = {
    # The A40's bundle is a Linkage of two identifiers: it restates no patient, while the
    # message's PID registers the survivor.
    "ADT-A40-01.hl7": (Counter({"PatientRegistered": 1}), Counter()),
    # The DFT's bundle holds the stay (an Encounter in progress: an admission), the
    # OBX as an Observation made for the order, and its two Conditions without a time
    # (dated by the encounter's start; the message dates its DG1 by EVN-2). The second
    # charge line sends no transaction id (FT1-2): HL7 names it by the message, FHIR by
    # the ChargeItem's id.
    "DFT-P03-01.hl7": (
        Counter({"DiagnosisRecorded": 2, "ChargePaid": 1}),
        Counter({"Admitted": 1, "LabResultRecorded": 1, "DiagnosisRecorded": 2, "ChargePaid": 1}),
    ),
}


def _said(fact: object) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """What a fact says in the programme's terms (see the module's docstring)."""
    fields = attrs.asdict(fact, recurse=False)  # type: ignore[arg-type]
    for apart in ("fact_id", "key", "operator", "reason"):
        fields.pop(apart, None)
    if isinstance(fact, PatientRegistered):
        fields.pop("occurred_at")
        fields["identifiers"] = sorted(
            i.value for i in fact.identifiers if not i.system.startswith("fhir:")
        )
    if isinstance(fields.get("coding"), Coding):
        fields["coding"] = (fields["coding"].code, fields["coding"].display)
    return type(fact).__name__, tuple(sorted((k, repr(v)) for k, v in fields.items()))


def _as_routed(facts: list[object]) -> list[object]:
    """The FHIR's facts as the identity index routes them: under the patient's id.

    A resource's facts name the patient as the resource does (``Patient/<id>``), after a
    registration of that name, which the index routes to the patient whose registration
    lists it; the message's name the patient by PID-3.
    """
    named = {
        f"{i.system}|{i.value}": fact.patient_id
        for fact in facts
        if isinstance(fact, PatientRegistered) and not fact.known_only
        for i in fact.identifiers
        if i.system.startswith("fhir:")
    }
    routed = []
    for fact in facts:
        if isinstance(fact, PatientRegistered) and fact.known_only:
            assert fact.patient_id in named, f"{fact.patient_id} names no patient of the bundle"
            continue
        patient = getattr(fact, "patient_id", None)
        routed.append(attrs.evolve(fact, patient_id=named[patient]) if patient in named else fact)
    return routed


@pytest.mark.parametrize("message", MESSAGES, ids=lambda p: p.name)
def test_the_message_and_its_fhir_become_the_same_facts(message: Path) -> None:
    told = [p.raw for p in receive(message.read_bytes(), HL7, where="message").inputs]
    bundle = SAMPLES / "expected-fhir" / message.name.replace(".hl7", "-expected.json")
    source = FhirFileSource(bundle, FHIR)
    converted = _as_routed([p.raw for p in source.read()])
    assert not source.tally.refused, source.report()
    hl7 = Counter(_said(f) for f in told)
    fhir = Counter(_said(f) for f in converted)
    only_hl7 = Counter(kind for kind, _ in (hl7 - fhir).elements())
    only_fhir = Counter(kind for kind, _ in (fhir - hl7).elements())
    expected = DIFFERENCES.get(message.name, (Counter(), Counter()))
    assert (only_hl7, only_fhir) == expected, {
        "hl7 only": sorted((hl7 - fhir).elements()),
        "fhir only": sorted((fhir - hl7).elements()),
    }
    assert sum((hl7 & fhir).values()) >= 1
