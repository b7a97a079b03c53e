"""What every translator of a message type reads: the message, the mapping, the patient, ids.

Fact ids are made of the sender, the control id, the message's time and type, and the
patient (:class:`Ids`): control ids repeat across senders (and within one, day after
day), so none alone is unique.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.facts import EncounterClass, Fact
from membercore_hl7v2.fields import Message, MissingFieldError
from membercore_hl7v2.mapping import Hl7Mapping
from membercore_hl7v2.patients import Patient

__all__ = ["Context", "Ids"]


@attrs.frozen
class Ids:
    """The fact ids of one message: ``hl7v2:<sender>:<control id>@<MSH-7>:<type>:<patient>:<part>``.

    The message's time (MSH-7) and its type and trigger are part of it: a sender that
    reuses control ids (from 1 again each day, or for messages of other types) still
    names its facts apart, while a message sent again is the same message.
    """

    sender: str
    control_id: str
    patient_id: str
    kind: str = ""
    sent_at: str = ""

    def of(self, part: str) -> str:
        """The id of one fact the message tells of (``registered``, ``dg1-2``...)."""
        control = f"{self.control_id}@{self.sent_at}" if self.sent_at else self.control_id
        return f"hl7v2:{self.sender}:{control}:{self.kind}:{self.patient_id}:{part}"

    def of_patient(self, part: str) -> str:
        """An id of the patient's own, whatever message tells it (a death)."""
        return f"hl7v2:{self.sender}:{self.patient_id}:{part}"


@attrs.frozen
class Context:
    """What every translator reads: the message, the mapping, its patient and ids."""

    message: Message
    mapping: Hl7Mapping
    patient: Patient
    ids: Ids
    trigger: str

    def event_instant(self) -> datetime:
        """When the event happened: EVN-6, else EVN-2, else the message's time (MSH-7).

        Raises:
            TranslationError: none of them is sent.
        """
        evn = self.message.first("EVN")
        for at in (evn.instant(6) if evn else None, evn.instant(2) if evn else None):
            if at is not None:
                return at
        sent = self.message.msh.instant(7)
        if sent is None:
            raise MissingFieldError("no instant: EVN-6, EVN-2 and MSH-7 are empty")
        return sent

    def registration(self, told: list[object]) -> list[Fact]:
        """The patient's registration and death, as the PID tells them.

        The registration comes first: at the earliest instant of the event, the death
        and the facts the message tells (``told``), so that the patient is known by then.
        """
        instants = [fact.occurred_at for fact in told if isinstance(fact, Fact)]
        if self.patient.died_at is not None:
            instants.append(self.patient.died_at)
        at = min([self.event_instant(), *instants])
        facts: list[Fact] = [self.patient.registered(self.ids.of("registered"), at)]
        died = self.patient.died(self.ids.of_patient(f"died:{self.patient.died_at}"))
        if died is not None:
            facts.append(died)
        return facts

    # -- the visit (PV1) -----------------------------------------------------------------

    def visit_id(self) -> str:
        """The visit number (PV1-19).

        Raises:
            TranslationError: PV1 or PV1-19 is missing.
        """
        pv1 = self.message.first("PV1")
        visit = pv1.get(19) if pv1 else ""
        if not visit:
            raise MissingFieldError("PV1-19 (the visit number) is empty")
        return visit

    def department(self, *first: str) -> str:
        """The department: the codes given first, else PV1-10, else PV1-3.1, as mapped.

        Raises:
            TranslationError: no code is sent and the mapping has no default department.
        """
        pv1 = self.message.first("PV1")
        codes = [*first, pv1.get(10) if pv1 else "", pv1.get(3) if pv1 else ""]
        department = self.mapping.department(*codes)
        if department is None:
            raise MissingFieldError(
                "no department: PV1-10 and PV1-3 are empty and the mapping has no "
                "[hl7v2.departments] default"
            )
        return department

    def encounter_class(self) -> EncounterClass | None:
        """The encounter's class (PV1-2, as mapped), when sent and known."""
        pv1 = self.message.first("PV1")
        return self.mapping.encounter_classes.get(pv1.get(2).upper()) if pv1 else None
