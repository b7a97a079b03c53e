"""Identity facts: a patient registered (建档) or updated their record, and a patient's death."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty
from membercore.converters import OMIT_AT_DEFAULT
from membercore.errors import InvalidFactError
from membercore.facts.base import Fact, one_of
from membercore.messages import CHANNELS, Channel

# New fields are written only when they hold something: what earlier releases wrote
# and digested stays as it was.
_OMIT = {OMIT_AT_DEFAULT: True}

__all__ = ["CONTACT_FIELDS", "Identifier", "PatientDied", "PatientRegistered", "Sex"]


Sex = Literal["female", "male"]


def _as_ids(value: Any) -> Any:
    # One id given as text is refused by the validator, not split into characters.
    return value if isinstance(value, str) else tuple(value)


def _ids(instance: PatientRegistered, attribute: Any, value: Any) -> None:
    if not isinstance(value, tuple):
        raise InvalidFactError(instance.TYPE, attribute.name, value, "is not a list of ids")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise InvalidFactError(instance.TYPE, attribute.name, value, "names an empty id")


@attrs.frozen(kw_only=True)
class Identifier:
    """One of a patient's identifiers: a medical record number, an ID card, an insurance card.

    Attributes:
        system: who issued it, as the source names the issuer and type (``MR``,
            ``GHH^MR``, ``urn:oid:2.16.840.1.113883.4.1``); one value may be issued by
            several systems, each naming its own patient.
        value: the identifier.
    """

    TYPE: ClassVar[str] = "identifier"

    system: str = attrs.field(validator=non_empty)
    value: str = attrs.field(validator=non_empty)

    @property
    def name(self) -> str:
        """The identifier as one text, ``system|value``.

        How errors name it, and the name a source gives a patient it knows only by it
        (the patient id of a ``known_only`` registration).
        """
        return f"{self.system}|{self.value}"


def _as_identifiers(value: Any) -> Any:
    return value if isinstance(value, (str, Identifier)) else tuple(value)


def _identifiers(instance: PatientRegistered, attribute: Any, value: Any) -> None:
    if not isinstance(value, tuple) or not all(isinstance(item, Identifier) for item in value):
        raise InvalidFactError(instance.TYPE, attribute.name, value, "is not a list of identifiers")


@attrs.frozen(kw_only=True)
class PatientRegistered(Fact):
    """The patient registered (建档) or updated their record.

    A later registration updates what it states; what it leaves out (``None``) is kept
    from earlier ones.

    Attributes:
        birth_date: the date of birth, when known.
        sex: ``female`` or ``male``, when known.
        preferred_channel: the channel the patient asked to be reached by (it wins over
            the channels they are seen using).
        language: the patient's language (``zh-CN``...), when known.
        name: how messages address the patient (``王女士``), when known.
        relatives: the patient ids of relatives the HIS links to the patient: next of
            kin (an HL7 v2 NK1, a FHIR ``RelatedPerson``) it has seen as patients
            themselves. A relative once seen stays seen: a later registration adds to
            them, never takes them back.
        identifiers: the patient's identifiers (``patient_id`` is the primary one, as
            the source names the patient). Any of them finds the
            patient again: a registration under another patient id whose identifiers
            name one known patient is that patient's (the new id is added to theirs,
            and the facts sent under it reach them), never a second member.
        phone: the patient's mobile number (``+8613800138000``), for SMS and calls,
            when known: as the source writes it, a HIS connector's first choice among
            the patient's numbers (another number when the source gives no mobile).
        email: the patient's e-mail address, when known, as the source writes it.
        wecom: the patient's WeCom external contact id (``wmXXXX``: 企业微信客户联系), once a
            staff member has them as a contact.
        source: how the patient first came to the hospital (来源渠道), as the HIS records
            it: ``walk_in``, ``online``, ``referral``, ``corporate``, ``checkup``... The
            first registration that states one is the patient's acquisition channel, by
            which lifetime value is measured.
        known_only: the registration only names a known patient by another of their
            identifiers (a row or a resource that names the patient by a card number):
            it never makes a member, and one whose identifiers name no known patient is
            refused — with the facts that follow it under that id.
    """

    TYPE: ClassVar[str] = "patient_registered"

    birth_date: date | None = None
    sex: Sex | None = attrs.field(default=None, validator=one_of(*get_args(Sex)))
    preferred_channel: Channel | None = attrs.field(default=None, validator=one_of(*CHANNELS))
    language: str | None = None
    name: str | None = None
    # Out of the repr: release 0.1.0 digested registrations' repr, and one it took must
    # still be known when the HIS sends it again (docs/stored-data.md, fingerprints).
    relatives: tuple[str, ...] = attrs.field(
        default=(), converter=_as_ids, validator=_ids, repr=False
    )
    identifiers: tuple[Identifier, ...] = attrs.field(
        default=(), converter=_as_identifiers, validator=_identifiers, repr=False, metadata=_OMIT
    )
    known_only: bool = attrs.field(default=False, repr=False, metadata=_OMIT)
    phone: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    email: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    wecom: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    source: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)


#: Which of a registration's fields is a member's address on each channel.
CONTACT_FIELDS: dict[str, str] = {
    "sms": "phone",
    "phone": "phone",
    "email": "email",
    "wecom": "wecom",
}


@attrs.frozen(kw_only=True)
class PatientDied(Fact):
    """The HIS recorded the patient's death: every journey ends, nothing more is sent."""

    TYPE: ClassVar[str] = "patient_died"
