"""What the translators of a read share: its resources by reference, patients and encounters.

A read is what one source reads at once: a bundle, an NDJSON export, a page of a search.
References are resolved within it first (``urn:uuid:`` full URLs of a transaction
bundle, ``Patient/p1``, absolute URLs), so that a Condition finds the visit number of
its Encounter and every resource the patient id of its Patient.

A resource's facts name the patient as the resource does — by the reference,
``Patient/p1``, or by an identifier (a logical reference, ``{"identifier": {"system":
..., "value": ...}}``) — whether or not the read holds the Patient (an Observation
polled after its Patient was taken, or read in a bundle beside it: the same facts
either way): the read begins the patient's facts with a registration of that name
(:meth:`Context.patient_of`), which the identity index routes to the patient whose
registration listed it, so that the facts reach them. The registration only names (it
is ``known_only``): one naming a patient nobody registered is refused, with the facts
after it, never a new member; read again once the Patient is taken, they are taken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime

import attrs

from membercore.facts import Identifier, PatientRegistered
from membercore_fhir.mapping import FhirMapping
from membercore_fhir.values import FhirError, Resource, codes, instant, name_of, reference, text

__all__ = ["Context", "Encounter", "digest", "resource_system"]


def resource_system(mapping: FhirMapping) -> str:
    """The identifier system of the server's own resource ids (``fhir:his``)."""
    return f"fhir:{mapping.sender}"


def digest(*parts: object) -> str:
    """A short digest of ``parts`` (what a fact id says of a version's content)."""
    data = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.blake2b(data, digest_size=6).hexdigest()


@attrs.frozen
class Encounter:
    """What a fact made at an encounter takes from it."""

    visit_id: str
    department: str | None
    start: datetime | None


class Context:
    """The resources of one read, by every name they are referred to by."""

    def __init__(
        self,
        mapping: FhirMapping,
        resources: Iterable[tuple[str, Resource]],
        told_at: datetime | None = None,
    ) -> None:
        self.mapping = mapping
        #: When the read was told (a bundle's ``timestamp``): for resources that say
        #: nothing of when they happened.
        self.told_at = told_at
        self._by_name: dict[str, Resource] = {}
        self._alias: dict[str, str] = {}
        for full_url, resource in resources:
            name = name_of(resource)
            self._by_name[name] = resource
            if full_url:
                self._alias[full_url] = name
        self._patients: dict[str, str] = {}
        self._named: set[str] = set()
        self._encounters: dict[str, Encounter] = {}
        self._instants: dict[str, list[datetime]] = {}
        self._reports: dict[str, Resource] | None = None

    # -- references -------------------------------------------------------------------

    def name(self, ref: str) -> str:
        """``Type/id`` of a reference (a full URL, ``urn:uuid:``, a version) as sent."""
        if ref in self._alias:
            return self._alias[ref]
        parts = ref.split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        return "/".join(parts[-2:]) if len(parts) >= 2 else ref

    def resource(self, ref: str) -> Resource | None:
        """The resource a reference names, when the read holds it."""
        return self._by_name.get(self.name(ref))

    def of_kind(self, kind: str) -> list[Resource]:
        """The read's resources of one type."""
        return [r for n, r in self._by_name.items() if n.partition("/")[0] == kind]

    def report_of(self, observation: Resource) -> Resource | None:
        """The DiagnosticReport of the read that lists ``observation`` among its results."""
        if self._reports is None:
            self._reports = {
                self.name(reference(result)): report
                for report in self.of_kind("DiagnosticReport")
                for result in report.get("result") or []
            }
        return self._reports.get(name_of(observation))

    def fact_id(self, resource: Resource, part: str) -> str:
        """The id of a fact a resource tells: ``fhir:<sender>:<Type>/<id>:<part>``."""
        return f"fhir:{self.mapping.sender}:{name_of(resource)}:{part}"

    def when_told(self, resource: Resource) -> datetime | None:
        """When a resource was told: its ``meta.lastUpdated``, else the read's timestamp."""
        sent = text(resource, "meta", "lastUpdated")
        if sent:
            return instant(sent, self.mapping.timezone, f"{name_of(resource)}.meta.lastUpdated")
        return self.told_at

    # -- patients ---------------------------------------------------------------------

    def primary_id(self, patient: Resource) -> str:
        """The patient id a Patient resource gives (see :class:`~.mapping.FhirMapping`)."""
        cached = self._patients.get(name_of(patient))
        if cached is not None:
            return cached
        sent = [i for i in patient.get("identifier") or [] if text(i, "value")]
        chosen = None
        for wanted in self.mapping.primary:
            chosen = next((i for i in sent if wanted in _kinds(i)), None)
            if chosen is not None:
                break
        chosen = chosen or (sent[0] if sent else None)
        named = text(chosen, "value") if chosen else name_of(patient)
        self._patients[name_of(patient)] = named
        return named

    def patient_of(self, ref: object, where: str, made: list[object], at: datetime) -> str:
        """The name a subject reference gives the patient, registered as theirs.

        A resource's facts name the patient as the resource does (``Patient/p1``, or an
        identifier), whatever else was read with it: read in a bundle with its Patient or
        alone from a server, the facts are the same facts.

        Raises:
            FhirError: the reference is missing or names no Patient.
        """
        sent = reference(ref)
        if not sent:
            return self._by_identifier(ref, where, made, at)
        name = self.name(sent)
        if not name.startswith("Patient/"):
            raise FhirError(f"{where} {sent!r} is not a Patient")
        return self._named_by(resource_system(self.mapping), name, made, at)

    def _by_identifier(self, ref: object, where: str, made: list[object], at: datetime) -> str:
        """The patient a logical reference (``{"identifier": {...}}``) names by identifier."""
        identifier = ref.get("identifier") if isinstance(ref, dict) else None
        value, system = text(identifier, "value"), text(identifier, "system")
        if not value or not system:
            raise FhirError(f"{where} is empty: the resource names no patient")
        return self._named_by(self.mapping.systems.get(system, system), value, made, at)

    def _named_by(self, system: str, value: str, made: list[object], at: datetime) -> str:
        """The name ``system|value``, registered once per read as another of whoever it names.

        The name is never a patient id (the index routes it to the patient the identifier
        belongs to). The registration is dated when first made; :meth:`dated` dates it
        again, as of the earliest instant the read tells of the patient, once the read is
        translated.
        """
        named = Identifier(system=system, value=value)
        if named.name not in self._named:
            self._named.add(named.name)
            made.append(
                PatientRegistered(
                    fact_id=f"fhir:{self.mapping.sender}:{named.name}:named",
                    patient_id=named.name,
                    occurred_at=at,
                    identifiers=(named,),
                    known_only=True,
                )
            )
        return named.name

    def dated(self, made: object) -> object:
        """A registration of a name (see :meth:`patient_of`) as of the read's earliest fact.

        Its id names that instant: a later read telling of the patient earlier registers
        the name again, before those facts.
        """
        if not isinstance(made, PatientRegistered) or not made.fact_id.endswith(":named"):
            return made
        at = min(made.occurred_at, self.earliest(made.patient_id) or made.occurred_at)
        return attrs.evolve(made, fact_id=f"{made.fact_id}@{at.isoformat()}", occurred_at=at)

    def note_instant(self, patient: str, at: datetime) -> None:
        """Note that the read tells of ``patient`` at ``at`` (their registration precedes it)."""
        self._instants.setdefault(patient, []).append(at)

    def earliest(self, patient_id: str) -> datetime | None:
        """The earliest instant the read tells of the patient at, if any."""
        found = self._instants.get(patient_id)
        return min(found) if found else None

    def latest(self, patient_id: str) -> datetime | None:
        """The latest instant the read tells of the patient at, if any."""
        found = self._instants.get(patient_id)
        return max(found) if found else None

    # -- encounters -------------------------------------------------------------------

    def encounter(self, ref: object) -> Encounter | None:
        """What an encounter reference gives a fact: the visit number, department, start.

        Without a reference, the read's one Encounter (a message bundle's), if it holds
        exactly one; an encounter the read does not hold is named by its id.
        """
        sent = reference(ref)
        if not sent:
            held = self.of_kind("Encounter")
            return self.encounter_of(held[0]) if len(held) == 1 else None
        resource = self.resource(sent)
        if resource is None:
            return Encounter(self.name(sent).rpartition("/")[2], None, None)
        return self.encounter_of(resource)

    def encounter_of(self, resource: Resource) -> Encounter:
        """What an Encounter resource gives the facts made at it."""
        name = name_of(resource)
        if name not in self._encounters:
            period = resource.get("period") or {}
            start = period.get("start")
            at = instant(start, self.mapping.timezone, f"{name}.period.start") if start else None
            self._encounters[name] = Encounter(_visit_id(resource), self.department(resource), at)
        return self._encounters[name]

    def department(self, resource: Resource) -> str | None:
        """The department an Encounter's or Appointment's location or codes name, as mapped.

        The location first (an Appointment's participant Location, by its identifier or
        name), then the service type, specialty, type and appointment type codes.
        """
        found = self._locations(resource)
        found += [
            code
            for key in ("serviceType", "specialty", "type", "appointmentType")
            for concept in _listed(resource.get(key))
            for _, code, _ in codes(concept)
        ]
        return self.mapping.department(*found)

    def _locations(self, resource: Resource) -> list[str]:
        """What names the locations an Appointment's participants are."""
        named: list[str] = []
        for participant in resource.get("participant") or []:
            ref = reference(participant.get("actor"))
            location = self.resource(ref) if self.name(ref).startswith("Location/") else None
            if location is not None:
                sent = [text(i, "value") for i in location.get("identifier") or []]
                named += [v for v in sent if v] or [text(location, "name")]
        return [n for n in named if n]


def _kinds(identifier: Resource) -> set[str]:
    """What an identifier is, by its type codes and its system."""
    return {code for _, code, _ in codes(identifier.get("type"))} | {text(identifier, "system")}


def _visit_id(encounter: Resource) -> str:
    """The visit number: the identifier of type VN, else the first, else the resource id."""
    sent = [i for i in encounter.get("identifier") or [] if text(i, "value")]
    for identifier in sent:
        if "VN" in _kinds(identifier):
            return text(identifier, "value")
    return text(sent[0], "value") if sent else str(encounter.get("id", ""))


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value] if value else []
