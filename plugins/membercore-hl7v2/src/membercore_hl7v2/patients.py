"""The patient a message is about: PID as a registration, its identifiers, a death, relatives.

The patient id is the value of the PID-3 identifier whose type (PID-3.5) comes first in
the mapping's ``primary`` list (``MR`` by default), else of the first PID-3 identifier.
Every identifier the PID carries — PID-3's repetitions, PID-2, PID-4 and PID-19 — and
those of the patient's insurance (IN2's card and member numbers) are listed in the
registration, each under a system named by its assigning authority and
type (``GHH^MR``, ``USSSA^SS``), so that any of them finds the patient again. A PID
saying the patient died (PID-30 ``Y``, the instant in PID-29) is a death. A next of kin
(NK1) whose identifiers (NK1-33) name a patient is a relative.

The patient's addresses come from their telecommunication fields (XTN): PID-13 (home),
PID-40 (v2.7's list, each repetition's use code saying home or work) and PID-14
(business), as the number is written. ``phone`` is the first of the numbers in force
when the message was sent: a mobile (equipment type ``CP``, or a mainland mobile number)
first, then the others, each by its preference order (XTN-18); a work number only when
no other is sent. ``email`` is the first network address (use code ``NET``, equipment
type ``Internet`` or ``X.400``) that is an e-mail address. A fax, a pager, a text
telephone, an answering service and an emergency number are no address of the
patient's.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import attrs

from membercore.facts import Identifier, PatientDied, PatientRegistered, Sex
from membercore.facts.contacts import is_mainland_mobile, written_email, written_phone
from membercore_hl7v2.fields import (
    Message,
    MissingFieldError,
    MissingSegmentError,
    Repetition,
    Segment,
    TranslationError,
)
from membercore_hl7v2.mapping import Hl7Mapping

__all__ = ["Patient", "named_by", "patient_of", "system_of"]

_SEX: dict[str, Sex] = {"F": "female", "M": "male"}
_TITLE: dict[Sex, str] = {"female": "女士", "male": "先生"}


def system_of(identifier: Repetition, authority: str = "") -> str:
    """The system an identifier (CX) is issued in: ``authority^type`` (``^MR``, ``HZ01^``).

    ``authority`` stands for an assigning authority the identifier does not send; ''
    when it sends neither an authority nor a type (it says nothing of who issued it).
    """
    issuer, kind = identifier.get(4, 1) or identifier.get(4, 2) or authority, identifier.get(5)
    return f"{issuer}^{kind}" if issuer or kind else ""


def named_by(system: str, value: str, mapping: Hl7Mapping, field: str) -> str:
    """The patient id an identifier gives: its value, or issuer and value (``qualify``).

    Raises:
        TranslationError: patients are named by issuer, and the identifier has none.
    """
    if not mapping.qualify:
        return value
    issuer = system.partition("^")[0]
    if not issuer:
        raise MissingFieldError(
            f"{field} {value!r} names no assigning authority, and patients are named by "
            "issuer: set [hl7v2.patient] authority for the sender that leaves it out"
        )
    return f"{issuer}:{value}"


@attrs.frozen
class Patient:
    """What a PID says of the patient.

    Attributes:
        patient_id: the primary identifier's value.
        identifiers: every identifier sent, primary first.
        fields: what the registration states (birth date, sex, how to address them).
        died_at: when the patient died, if the PID says so.
        relatives: patient ids of next of kin the NK1 segments identify.
    """

    patient_id: str
    identifiers: tuple[Identifier, ...]
    fields: dict[str, object]
    died_at: datetime | None
    relatives: tuple[str, ...]

    def registered(self, fact_id: str, at: datetime) -> PatientRegistered:
        """The patient's registration, as of ``at``."""
        return PatientRegistered(
            fact_id=fact_id,
            patient_id=self.patient_id,
            occurred_at=at,
            identifiers=self.identifiers,
            relatives=self.relatives,
            **self.fields,  # type: ignore[arg-type]
        )

    def died(self, fact_id: str) -> PatientDied | None:
        """The patient's death, if the PID reports one."""
        if self.died_at is None:
            return None
        return PatientDied(fact_id=fact_id, patient_id=self.patient_id, occurred_at=self.died_at)


def patient_of(message: Message, mapping: Hl7Mapping, pid: Segment | None = None) -> Patient:
    """The patient of ``message`` (its first PID unless another is given).

    Raises:
        TranslationError: the message has no PID, or the PID names no identifier.
    """
    pid = pid or message.first("PID")
    if pid is None:
        raise MissingSegmentError("PID is missing: the message names no patient")
    if not any(r.get(1) for field in (3, 2) for r in pid.repetitions(field)):
        raise MissingFieldError("PID-3 is empty: the message names no patient")
    candidates = _identifiers(pid, mapping)
    # One that names no issuer may name the patient; it finds no one.
    identifiers = [Identifier(system=system, value=value) for system, value in candidates if system]
    identifiers += [i for i in _insured(message, mapping) if i not in identifiers]
    sex = _SEX.get(pid.get(8).upper())
    fields: dict[str, object] = {"birth_date": pid.day(7), "sex": sex}
    family = pid.get(5, 1, 1)
    if family and sex is not None:
        fields["name"] = f"{family}{_TITLE[sex]}"
    fields.update(_addresses(pid, _sent_on(message)))
    died_at = pid.instant(29) if pid.get(30).upper() == "Y" else None
    relatives = _relatives(message, mapping)
    patient_id = named_by(*candidates[0], mapping, "PID-3")
    return Patient(patient_id, tuple(identifiers), fields, died_at, relatives)


def _identifiers(pid: Segment, mapping: Hl7Mapping) -> list[tuple[str, str]]:
    """Every identifier of the PID as (system, value), the primary one first.

    The primary one is PID-3's (PID-2's in messages before v2.3.1 that send none there);
    the others follow in the order sent. One that names neither an authority nor a type
    has the system ''.
    """
    primary = mapping.primary
    listed: list[tuple[str, str]] = []
    rank: list[int] = []
    for field in (3, 2, 4, 19):
        for repetition in pid.repetitions(field):
            value = repetition.get(1)
            if not value:
                continue
            system = "SS" if field == 19 else system_of(repetition, mapping.authority)
            system = mapping.systems.get(system, system)
            if system.endswith("^NNCHN"):
                value = value.upper()  # a resident ID card's check digit: x is X
            if (system, value) in listed:
                continue
            kind = repetition.get(5)
            wanted = primary.index(kind) if field == 3 and kind in primary else len(primary)
            listed.append((system, value))
            rank.append(wanted if field == 3 else len(primary) + (1 if field == 2 else 2))
    order = sorted(range(len(listed)), key=lambda n: (rank[n], n))
    return [listed[n] for n in order]


#: The patient's identifiers an IN2 carries: the Medicare card (IN2-6), the Medicaid case
#: (IN2-8), the military id (IN2-10), and the member number (IN2-61, with its system).
_INSURED = {6: "MC", 8: "MA", 10: "MI"}


def _insured(message: Message, mapping: Hl7Mapping) -> list[Identifier]:
    """The identifiers of the patient's insurance (IN2): any of them finds the patient too."""
    found: list[Identifier] = []
    for in2 in message.segments("IN2"):
        for field, system in _INSURED.items():
            if value := in2.get(field):
                found.append(Identifier(system=system, value=value))
        for repetition in in2.repetitions(61):
            if value := repetition.get(1):
                system = system_of(repetition, mapping.authority)
                if system:
                    found.append(Identifier(system=system, value=value))
    return found


def _relatives(message: Message, mapping: Hl7Mapping) -> tuple[str, ...]:
    """The patient ids NK1-33 gives the next of kin (named as patients are).

    A next of kin whose identifier says nothing of its issuer, while patients are named
    by issuer, is left out: it could be anyone's.
    """
    primary = mapping.primary
    found: list[str] = []
    for nk1 in message.segments("NK1"):
        sent = [r for r in nk1.repetitions(33) if r.get(1)]
        sent.sort(key=lambda r: primary.index(r.get(5)) if r.get(5) in primary else len(primary))
        if not sent:
            continue
        try:
            named = named_by(
                system_of(sent[0], mapping.authority), sent[0].get(1), mapping, "NK1-33"
            )
        except TranslationError:
            continue
        if named not in found:
            found.append(named)
    return tuple(found)


#: The telecommunication fields, in the order their numbers are taken, each with whether
#: it is a work number: PID-13 home, PID-40 (as its use codes say), PID-14 business.
_TELECOM = ((13, False), (40, False), (14, True))
#: Equipment types (XTN-3) of network addresses: e-mail.
_NETWORK = frozenset({"INTERNET", "X.400"})
#: Equipment types that take neither a call nor a text message: a fax, a modem, a
#: pager, a text telephone for the deaf.
_NOT_PHONES = frozenset({"FX", "MD", "BP", "TDD", "TTY"})
#: Use codes (XTN-2) of numbers that are not the patient's own line: an answering
#: service, a pager, an emergency number (someone to call for them).
_NOT_THEIRS = frozenset({"ASN", "BPN", "EMR"})


def _addresses(pid: Segment, today: date | None) -> dict[str, object]:
    """The ``phone`` and ``email`` the PID gives, each only when it gives one.

    ``today`` is the day the message was sent: a number that expired before it, or is
    in force only after it, is passed over (None: every number is taken as in force).
    """
    phones: list[tuple[tuple[bool, bool, float, int], str]] = []
    emails: list[tuple[tuple[bool, float, int], str]] = []
    for field, work in _TELECOM:
        for repetition in pid.repetitions(field):
            if not _in_force(repetition, today):
                continue
            use, kind = repetition.get(2).upper(), repetition.get(3).upper()
            at_work = work or use == "WPN"
            order = _preference(repetition)
            seen = len(phones) + len(emails)
            written = repetition.get(1)
            if use == "NET" or kind in _NETWORK or written_email(written):
                email = written_email(repetition.get(4) or written)
                if email is not None:
                    emails.append(((at_work, order, seen), email))
            elif use not in _NOT_THEIRS and kind not in _NOT_PHONES:
                number = written_phone(_number(repetition))
                if number is not None:
                    mobile = kind == "CP" or is_mainland_mobile(number)
                    phones.append(((at_work, not mobile, order, seen), number))
    found: dict[str, object] = {}
    if phones:
        found["phone"] = min(phones)[1]
    if emails:
        found["email"] = min(emails)[1]
    return found


def _number(repetition: Repetition) -> str:
    """The number an XTN writes, '' when none.

    XTN-1 as written, else the country code, area code and local number (XTN-5, 6, 7:
    ``+86 13800138000``), else the unformatted number (XTN-12).
    """
    if written := repetition.get(1):
        return written
    country, area, local = repetition.get(5), repetition.get(6), repetition.get(7)
    if local:
        if country and not country.startswith(("+", "00")):
            country = f"+{country}"
        return " ".join(part for part in (country, area, local) if part)
    return repetition.get(12)


def _preference(repetition: Repetition) -> float:
    """The XTN's preference order (XTN-18: lower first); one not sent comes after."""
    sent = repetition.get(18)
    return int(sent) if sent.isdigit() else math.inf


def _in_force(repetition: Repetition, today: date | None) -> bool:
    """Whether the number is in force on ``today``: from XTN-13, until XTN-14.

    A date that cannot be read leaves the number out: it may have expired.
    """
    if today is None:
        return True
    start, end = repetition.get(13), repetition.get(14)
    try:
        begins = _day(start) if start else None
        ends = _day(end) if end else None
    except ValueError:
        return False
    return (begins is None or begins <= today) and (ends is None or today <= ends)


def _day(text: str) -> date:
    return datetime.strptime(text[:8], "%Y%m%d").date()  # noqa: DTZ007 - a date only


def _sent_on(message: Message) -> date | None:
    """The day the message was sent (MSH-7, in the hospital's zone); None if unreadable."""
    try:
        sent = message.msh.instant(7)
    except TranslationError:
        return None
    return sent.astimezone(message.zone).date() if sent is not None else None
