"""Patient identity: the patient a fact is about, as the identifier index names them.

A source names a patient by its own id; a registration lists the patient's identifiers
(a medical record number, an ID card, an insurance card). The store keeps every
identifier with the patient it first named (:class:`~membercore.ports.IdentityStore`),
so that:

- a registration under a patient id never seen, whose identifiers name one known
  patient, is that patient's: the new id becomes one of theirs (system ``""``), and
  every fact sent under it reaches them, never a second member;
- a fact under an id that became another patient's reaches that patient;
- identifiers naming two known patients refuse the registration (their records are one
  person's: merge them first), naming both;
- a patient merged away keeps their identifiers: the facts reach them, and the merge
  takes them on to the survivor.

The index is read once per batch (:func:`route`); what a registration adds is written
with the batch's commit (:func:`learn`), after it was decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from membercore.errors import InvalidFactError
from membercore.facts import Fact, PatientRegistered
from membercore.ports import IdentifierLink
from membercore.service.inputs import Read

if TYPE_CHECKING:
    from membercore.ports import IdentityStore
    from membercore.service.unit_of_work import UnitOfWork

__all__ = ["ANOTHER_ID", "Index", "learn", "read_index", "route"]

#: The system of a patient id a source used for a patient known under another.
ANOTHER_ID = ""


@attrs.define
class Index:
    """The identifiers a batch names, each with the patient it names, as far as known."""

    named: dict[tuple[str, str], str] = attrs.field(factory=dict)

    def patient(self, system: str, value: str) -> str | None:
        """The patient an identifier names, if known."""
        return self.named.get((system, value))

    def add(self, system: str, value: str, patient_id: str) -> bool:
        """Note an identifier of ``patient_id``; whether it was new."""
        if (system, value) in self.named:
            return False
        self.named[system, value] = patient_id
        return True


def read_index(store: IdentityStore, reads: Iterable[Read]) -> Index:
    """The identifiers stored for the facts of ``reads``: their patient ids, and those listed."""
    values: set[str] = set()
    for item in reads:
        message = item.message
        if isinstance(message, Fact):
            values.add(message.patient_id)
        if isinstance(message, PatientRegistered):
            values.update(identifier.value for identifier in message.identifiers)
    index = Index()
    if values:
        for link in store.identified(values):
            index.add(link.system, link.value, link.patient_id)
    return index


def route(index: Index, message: object, known: Callable[[str], bool]) -> object:
    """``message`` about the patient the index names (unchanged when it names its own).

    Args:
        index: the batch's identifiers, to which a registration's are added.
        message: a fact, or any other input (returned as it is).
        known: whether a patient id has a record, stored or made so far.

    Raises:
        InvalidFactError: a registration's identifiers name two known patients.
    """
    if not isinstance(message, Fact):
        return message
    named = message.patient_id
    patient = index.patient(ANOTHER_ID, named) or named
    if isinstance(message, PatientRegistered) and patient == named and not known(named):
        patient = _found(index, message) or named
    for identifier in getattr(message, "identifiers", ()):
        index.add(identifier.system, identifier.value, patient)
    if patient != named:
        index.add(ANOTHER_ID, named, patient)
        return attrs.evolve(message, patient_id=patient)
    return message


def _found(index: Index, registration: PatientRegistered) -> str | None:
    """The one known patient a new registration's identifiers name, if any."""
    found = {
        patient
        for identifier in registration.identifiers
        if (patient := index.patient(identifier.system, identifier.value)) is not None
    }
    if len(found) > 1:
        named = ", ".join(sorted(found))
        raise InvalidFactError(
            registration.TYPE,
            "identifiers",
            [f"{i.system}|{i.value}" for i in registration.identifiers],
            f"name the patients {named}: their records are one person's, merge them first",
        )
    return found.pop() if found else None


def learn(uow: UnitOfWork, received: object, decided: object) -> None:
    """Write what a decided registration adds to the index: its identifiers, its id.

    Args:
        uow: the unit of work that decided it.
        received: the fact as it came.
        decided: the fact as :func:`route` gave it (about the patient the index names).
    """
    if not isinstance(received, Fact) or not isinstance(decided, Fact):
        return
    patient = decided.patient_id
    links = [
        IdentifierLink(system=identifier.system, value=identifier.value, patient_id=patient)
        for identifier in getattr(decided, "identifiers", ())
    ]
    if received.patient_id != patient:
        links.append(
            IdentifierLink(system=ANOTHER_ID, value=received.patient_id, patient_id=patient)
        )
    uow.identifiers.extend(links)
