"""Patient identity: the patient a fact is about, as the identifier index names them.

A source names a patient by its own id; a registration lists the patient's identifiers
(a medical record number, an ID card, an insurance card). The store keeps every
identifier with the patient it first named (:class:`~membercore.ports.IdentityStore`),
so that:

- a registration under a patient id never seen, whose identifiers name one known
  patient, is that patient's: the new id becomes one of theirs (system ``""``), and
  every fact sent under it reaches them, never a second member;
- a fact (or a consent a source sends) under an id that became another patient's
  reaches that patient;
- identifiers naming two known patients refuse the registration (their records are one
  person's: merge them first), naming both; so does an identifier of another patient's
  record in a registration of a known patient (naming the identifier and its patient);
- a patient merged away keeps their identifiers: the facts reach them, and the merge
  takes them on to the survivor.

The index is read once per batch (:func:`route`); what a registration adds is written
with the batch's commit (:func:`learn`), after it was decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from membercore.consent import GrantConsent, WithdrawConsent
from membercore.errors import IdentityConflictError
from membercore.facts import Fact, PatientRegistered
from membercore.ports import IdentifierLink

if TYPE_CHECKING:
    from membercore.ports import IdentityStore
    from membercore.service.inputs import Read
    from membercore.service.unit_of_work import UnitOfWork

__all__ = ["ANOTHER_ID", "Index", "learn", "read_index", "refuse", "route"]

#: The system of a patient id a source used for a patient known under another.
ANOTHER_ID = ""


@attrs.define
class Index:
    """The identifiers a batch names, each with the patient it names, as far as known."""

    named: dict[tuple[str, str], str] = attrs.field(factory=dict)
    #: Those the store holds (what a commit need not write again).
    stored: set[tuple[str, str]] = attrs.field(factory=set)
    #: The patient ids whose registration was refused for its identifiers, with why:
    #: the facts about them that follow are refused too (they may be another person's),
    #: until a registration of that id is taken.
    refused: dict[str, str] = attrs.field(factory=dict)

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
        elif isinstance(message, GrantConsent | WithdrawConsent):
            values.add(message.member_id)
        if isinstance(message, PatientRegistered):
            values.update(identifier.value for identifier in message.identifiers)
    index = Index()
    if values:
        for link in store.identified(values):
            index.add(link.system, link.value, link.patient_id)
        index.stored.update(index.named)
    return index


def route(index: Index, message: object, record_of: Callable[[str], str | None]) -> object:
    """``message`` about the patient the index names (unchanged when it names its own).

    Args:
        index: the batch's identifiers (:func:`learn` adds a decided registration's).
        message: a fact, or any other input (returned as it is).
        record_of: the record that stands for a patient id now — its own, or the one
            it was merged into — or None when it has none (stored or made so far).

    Raises:
        InvalidFactError: a registration's identifiers name two known patients, or
            name another patient than the one it registers.
    """
    if not isinstance(message, Fact):
        return _member_routed(index, message)
    named = message.patient_id
    if named in index.refused and not isinstance(message, PatientRegistered):
        raise IdentityConflictError(
            message.TYPE,
            "patient_id",
            named,
            f"the patient's registration with it was refused: {index.refused[named]}",
        )
    if isinstance(message, PatientRegistered) and message.known_only:
        return attrs.evolve(message, patient_id=_known(index, message, record_of))
    patient = index.patient(ANOTHER_ID, named) or named
    if isinstance(message, PatientRegistered):
        if patient == named and record_of(named) is None:
            patient = _found(index, message, record_of) or named
        _check_owned(index, message, record_of(patient) or patient, record_of)
        _check_issuer(index, message)
    if patient != named:
        return attrs.evolve(message, patient_id=patient)
    return message


def _known(
    index: Index, registration: PatientRegistered, record_of: Callable[[str], str | None]
) -> str:
    """The one known patient a ``known_only`` registration's identifiers name.

    Only its identifiers count: its own id (a name such as ``HZ01^CARD|C-777``) is never
    taken for a record's, nor made one.

    Raises:
        IdentityConflictError: the identifiers name no known patient, or two.
    """
    found = _found(index, registration, record_of)
    if found is None:
        raise IdentityConflictError(
            registration.TYPE,
            "identifiers",
            [i.name for i in registration.identifiers],
            "name no known patient: a patient is registered by the HIS before a record "
            "names them by another identifier (a card number)",
        )
    return found


def _member_routed(index: Index, command: object) -> object:
    """A consent a source sends under a name of a patient (a FHIR Consent's): theirs.

    Only the consents a source translates are routed so; a command staff issue names the
    member by their id.
    """
    if not isinstance(command, GrantConsent | WithdrawConsent):
        return command
    named = command.member_id
    patient = index.patient(ANOTHER_ID, named)
    if patient is None:
        return command
    if isinstance(command, GrantConsent) and command.given_by == named:  # by themself
        return attrs.evolve(command, member_id=patient, given_by=patient)
    return attrs.evolve(command, member_id=patient)


def _owners(
    index: Index, registration: PatientRegistered, record_of: Callable[[str], str | None]
) -> dict[str, str]:
    """Each identifier of ``registration`` the index knows, and the record that holds it."""
    owners = {}
    for identifier in registration.identifiers:
        patient = index.patient(identifier.system, identifier.value)
        if patient is not None:
            owners[f"{identifier.system}|{identifier.value}"] = record_of(patient) or patient
    return owners


def _found(
    index: Index, registration: PatientRegistered, record_of: Callable[[str], str | None]
) -> str | None:
    """The one known patient a new registration's identifiers name, if any."""
    found = set(_owners(index, registration, record_of).values())
    if len(found) > 1:
        named = ", ".join(sorted(found))
        raise IdentityConflictError(
            registration.TYPE,
            "identifiers",
            [i.name for i in registration.identifiers],
            f"name the patients {named}: their records are one person's, merge them first",
        )
    return found.pop() if found else None


def _check_owned(
    index: Index,
    registration: PatientRegistered,
    record: str,
    record_of: Callable[[str], str | None],
) -> None:
    """Refuse a registration listing an identifier that names another patient's record."""
    others = {
        named: owner
        for named, owner in _owners(index, registration, record_of).items()
        if owner != record
    }
    if others:
        named, owner = sorted(others.items())[0]
        raise IdentityConflictError(
            registration.TYPE,
            "identifiers",
            [i.name for i in registration.identifiers],
            f"{named} names patient {owner}, not {registration.patient_id}: one person's "
            "records are merged first, another's identifier is corrected in the HIS",
        )


def _check_issuer(index: Index, registration: PatientRegistered) -> None:
    """Refuse a patient id listed under another system than the one that issued it.

    Two campuses (or two HIS) that number patients alike send one id for two people:
    the registration's own id, listed under a system that never issued it while another
    did, is refused rather than making the two one member.
    """
    named = registration.patient_id
    for identifier in registration.identifiers:
        if identifier.value != named or index.patient(identifier.system, named) is not None:
            continue
        issuers = sorted(
            system
            for (system, value) in index.named
            if value == named and system not in (ANOTHER_ID, identifier.system)
        )
        if issuers:
            raise IdentityConflictError(
                registration.TYPE,
                "identifiers",
                [i.name for i in registration.identifiers],
                f"patient id {named!r} was issued by {issuers[0]}, not {identifier.system}: "
                "two systems number patients alike (a source can name its patients by "
                "issuer and id)",
            )


def refuse(index: Index, message: object, error: Exception) -> None:
    """Note a registration refused for its identifiers: what follows about it is refused."""
    if isinstance(error, IdentityConflictError) and isinstance(message, PatientRegistered):
        index.refused.setdefault(message.patient_id, error.problem)


def learn(uow: UnitOfWork, index: Index, received: object, decided: object) -> None:
    """Write what a decided registration adds to the index: its identifiers, its id.

    What the store holds already is not written again (a registration from every
    message lists the same identifiers each time).

    Args:
        uow: the unit of work that decided it.
        index: the batch's identifiers, with those the store holds.
        received: the fact as it came.
        decided: the fact as :func:`route` gave it (about the patient the index names).
    """
    if not isinstance(received, Fact) or not isinstance(decided, Fact):
        return
    if isinstance(received, PatientRegistered):
        index.refused.pop(received.patient_id, None)  # registered again, as it should be
    patient = decided.patient_id
    named = [(i.system, i.value) for i in getattr(decided, "identifiers", ())]
    if received.patient_id != patient:
        named.append((ANOTHER_ID, received.patient_id))
    for system, value in named:
        index.add(system, value, patient)  # what follows in the batch finds the patient
        if (system, value) not in index.stored:
            uow.identifiers.append(IdentifierLink(system=system, value=value, patient_id=patient))
            index.stored.add((system, value))
