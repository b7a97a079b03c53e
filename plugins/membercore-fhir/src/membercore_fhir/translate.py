"""The resources of one read as the facts and commands they tell, and what became of each.

:func:`translate` hands each resource to the translator of its type
(:data:`TRANSLATORS`): Patient, RelatedPerson and Linkage (:mod:`.patients`), Encounter
(:mod:`.encounters`), Condition, Observation and Procedure (:mod:`.clinical`),
Appointment (:mod:`.scheduling`), ChargeItem, Claim, ExplanationOfBenefit and Invoice
(:mod:`.financial`), Consent (:mod:`.consents`). Every other type — Organization,
Practitioner, Immunization, MedicationRequest, CarePlan... — is not used by the
programme, nor is a resource of a used type that tells nothing the programme acts on (a
vital sign, a planned encounter).
The Patients are translated last, so that each is registered as of the earliest
instant the read tells of them, and given first, so that their facts find them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import attrs

from membercore.errors import MembercoreError
from membercore.facts import Fact
from membercore_fhir import clinical, consents, encounters, financial, patients, scheduling
from membercore_fhir.context import Context
from membercore_fhir.mapping import FhirMapping
from membercore_fhir.reading import Entry, Read
from membercore_fhir.values import FhirError, Resource, instant, name_of

__all__ = ["TRANSLATORS", "Tally", "Translated", "translate", "translate_one"]

Translator = Callable[[Context, Resource], list[object]]

#: The resource types the programme takes facts from, each to its translator.
TRANSLATORS: dict[str, Translator] = {
    "Patient": patients.patient,
    "RelatedPerson": patients.related_person,
    "Linkage": patients.linkage,
    "Encounter": encounters.encounter,
    "Condition": clinical.condition,
    "Observation": clinical.observation,
    "Procedure": clinical.procedure,
    "Appointment": scheduling.appointment,
    "ChargeItem": financial.charge_item,
    "Claim": financial.claim,
    "ExplanationOfBenefit": financial.explanation_of_benefit,
    "Invoice": financial.invoice,
    "Consent": consents.consent,
}


@attrs.frozen
class Translated:
    """What one entry tells.

    Attributes:
        entry: the entry.
        inputs: its facts and commands (none: not used, or refused).
        refused: why it cannot become facts ('' when it could).
    """

    entry: Entry
    inputs: tuple[object, ...] = ()
    refused: str = ""

    @property
    def kind(self) -> str:
        """The resource's type (``unreadable`` for an entry that could not be read)."""
        return str(self.entry.resource.get("resourceType")) if self.entry.resource else "unreadable"


@attrs.define
class Tally:
    """Per resource type, how many resources became facts, were not used, or were refused."""

    used: Counter[str] = attrs.field(factory=Counter)
    unused: Counter[str] = attrs.field(factory=Counter)
    refused: Counter[str] = attrs.field(factory=Counter)

    def add(self, translated: Translated) -> None:
        """Count one entry."""
        kind = translated.kind
        if translated.refused:
            self.refused[kind] += 1
        elif translated.inputs:
            self.used[kind] += 1
        else:
            self.unused[kind] += 1

    def lines(self) -> list[str]:
        """The report, a line per resource type: ``Observation: 35 taken, 31 not used``."""
        kinds = sorted(set(self.used) | set(self.unused) | set(self.refused))
        report = []
        for kind in kinds:
            parts = [f"{self.used[kind]} taken"]
            if self.unused[kind]:
                parts.append(f"{self.unused[kind]} not used by the programme")
            if self.refused[kind]:
                parts.append(f"{self.refused[kind]} refused")
            report.append(f"{kind}: {', '.join(parts)}")
        return report


def translate(read: Read, mapping: FhirMapping) -> list[Translated]:
    """What each entry of ``read`` tells, Patients first (see the module's docstring)."""
    context = _context(read, mapping)
    done: dict[int, Translated] = {}
    order = sorted(range(len(read.entries)), key=lambda n: _is_patient(read.entries[n]))
    for number in order:
        done[number] = _one(context, read.entries[number])
    first = [n for n in range(len(read.entries)) if _is_patient(read.entries[n])]
    rest = [n for n in range(len(read.entries)) if not _is_patient(read.entries[n])]
    return [_dated(context, done[n]) for n in first + rest]


def translate_one(read: Read, entry: Entry, mapping: FhirMapping) -> Translated:
    """What one entry of ``read`` tells, the read's other resources there for it to refer to.

    A server's page is read so: each resource with the resources the search included.
    """
    context = _context(read, mapping)
    return _dated(context, _one(context, entry))


def _context(read: Read, mapping: FhirMapping) -> Context:
    told_at = None
    if read.timestamp:
        try:
            told_at = instant(read.timestamp, mapping.timezone, "Bundle.timestamp")
        except FhirError:
            told_at = None
    held = [(e.full_url, e.resource) for e in read.entries if e.resource is not None]
    return Context(mapping, held, told_at)


def _dated(context: Context, translated: Translated) -> Translated:
    """Registrations of a patient's name dated as of the read's earliest fact about them."""
    if not translated.inputs:
        return translated
    return attrs.evolve(translated, inputs=tuple(context.dated(i) for i in translated.inputs))


def _is_patient(entry: Entry) -> bool:
    return entry.resource is not None and entry.resource.get("resourceType") == "Patient"


def _one(context: Context, entry: Entry) -> Translated:
    resource = entry.resource
    if resource is None:
        return Translated(entry, refused=entry.reason)
    translator = TRANSLATORS.get(str(resource.get("resourceType")))
    if translator is None:
        return Translated(entry)
    try:
        inputs = translator(context, resource)
    except (FhirError, MembercoreError) as error:
        return Translated(entry, refused=f"{name_of(resource)}: {error}")
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        reason = f"{name_of(resource)}: an element is not of the shape FHIR R4 gives it ({error!r})"
        return Translated(entry, refused=reason)
    for made in inputs:
        if isinstance(made, Fact):
            context.note_instant(made.patient_id, made.occurred_at)
    return Translated(entry, tuple(inputs))
