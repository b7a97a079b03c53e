"""The commands and events of a member's profile: tags, segment and what they rest on."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty, non_negative
from membercore.consent import Channel
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware
from membercore.facts import DeliveryMode, Sex
from membercore.messages import Command, KeylessCommand, MemberEvent

__all__ = [
    "AddTag",
    "CategoryCharged",
    "ChargeNoted",
    "DeliveryNoted",
    "DiagnosisNoted",
    "Explanation",
    "FactNoted",
    "FamilyStatus",
    "FamilyStatusNoted",
    "InteractionNoted",
    "NotesForgotten",
    "ProfileCommand",
    "ProfileEvent",
    "RefreshProfile",
    "RefundNoted",
    "RegistrationNoted",
    "RehabPlanNoted",
    "RemoveTag",
    "SegmentAssigned",
    "Tag",
    "TagAdded",
    "TagEvidenceChanged",
    "TagRemoved",
    "VisitNoted",
]


# --- values ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FamilyStatus:
    """A member's place in a household, as the households part knows it.

    Attributes:
        has_dependents: heads a household with at least one dependent.
        is_dependent: is a dependent in someone's household.
    """

    has_dependents: bool = False
    is_dependent: bool = False


@attrs.frozen(kw_only=True)
class Tag:
    """A tag a member holds, and why.

    Attributes:
        reason: a short explanation, for people.
        fact_ids: the facts it rests on (the ten latest), oldest first; none for a tag
            set by a command or from the family status.
        key: for a tag set by a command (:class:`AddTag`), the command's key.
    """

    reason: str
    fact_ids: tuple[str, ...] = ()
    key: str | None = None


@attrs.frozen(kw_only=True)
class Explanation:
    """Why a member is in their segment.

    Attributes:
        rule: the segment and criterion that decided (``A.maternity``), or
            ``<segment>.default``.
        detail: what held, for people (``tag stage:pregnant``).
        fact_ids: the facts it rests on (the ten latest), oldest first.
    """

    rule: str
    detail: str
    fact_ids: tuple[str, ...] = ()


# --- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AddTag(Command):
    """A journey or staff member tags a member (``winback``, ``diabetes_programme``...).

    Tags in the derived namespaces (``condition:``, ``stage:``, ``spend:``, ``channel:``,
    ``family:``, ``care:``) follow from facts only and are refused here.

    Attributes:
        key: idempotency key.
        member_id: the member.
        tag: the tag.
        reason: why, for people.
    """

    TYPE: ClassVar[str] = "add_tag"

    tag: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class RemoveTag(Command):
    """A journey or staff member takes a tag of their own off a member.

    Attributes:
        key: idempotency key.
        member_id: the member.
        tag: the tag.
        reason: why, for people.
    """

    TYPE: ClassVar[str] = "remove_tag"

    tag: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class RefreshProfile(KeylessCommand):
    """The time-driven refresh: re-derive tags and segment as of now (run it daily).

    Stages, spending bands and time-bound conditions follow the calendar; running the
    refresh twice on a day changes nothing the second time.
    """

    TYPE: ClassVar[str] = "refresh_profile"


ProfileCommand = AddTag | RemoveTag | RefreshProfile


# --- events: what the facts contributed ------------------------------------------------


@attrs.frozen(kw_only=True)
class FactNoted(MemberEvent):
    """Fields every event that notes a fact has.

    Attributes:
        member_id: the member.
        fact_id: the fact's id (its idempotency key).
        fingerprint: the fact's digest, to tell a replay from a reused id.
        at: when the fact occurred.
    """

    TYPE: ClassVar[str] = "profile_fact_noted"

    fact_id: str
    fingerprint: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class RegistrationNoted(FactNoted):
    """A registration, with what it states.

    Attributes:
        relatives: the patient ids of relatives the HIS links to the patient (next of
            kin it has seen as patients); none in a registration noted before they were.
        phone: the mobile number it gives, if any.
        email: the e-mail address it gives, if any.
        wecom: the WeCom external contact id it gives, if any.
        source: how the patient first came to the hospital, as it states, if it does.
    """

    TYPE: ClassVar[str] = "profile_registration_noted"

    birth_date: date | None = None
    sex: Sex | None = None
    preferred_channel: Channel | None = None
    language: str | None = None
    name: str | None = None
    relatives: tuple[str, ...] = ()
    phone: str | None = attrs.field(default=None, metadata={OMIT_AT_DEFAULT: True})
    email: str | None = attrs.field(default=None, metadata={OMIT_AT_DEFAULT: True})
    wecom: str | None = attrs.field(default=None, metadata={OMIT_AT_DEFAULT: True})
    source: str | None = attrs.field(default=None, metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class VisitNoted(FactNoted):
    """A completed visit: counts for frequency and recency; its department is seen."""

    TYPE: ClassVar[str] = "profile_visit_noted"

    visit_id: str
    department: str


@attrs.frozen(kw_only=True)
class CategoryCharged:
    """What the lines of one category of a charge came to, whoever paid them.

    Attributes:
        category: the lines' category (``implant``, ``exam``...).
        amount_fen: their total in fen.
    """

    category: str
    amount_fen: int = attrs.field(validator=non_negative)


@attrs.frozen(kw_only=True)
class ChargeNoted(FactNoted):
    """A paid charge: its out-of-pocket part counts as spend; its departments are seen.

    Attributes:
        categories: the charge's total per line category, in category order (a
            high-value treatment is told by them); a charge noted before they were
            kept has none.
    """

    TYPE: ClassVar[str] = "profile_charge_noted"

    charge_id: str
    self_paid_fen: int = attrs.field(validator=non_negative)
    departments: tuple[str, ...]
    total_fen: int | None = None
    categories: tuple[CategoryCharged, ...] = ()


@attrs.frozen(kw_only=True)
class RefundNoted(FactNoted):
    """A refund: taken off the out-of-pocket spend of its charge (never below zero)."""

    TYPE: ClassVar[str] = "profile_refund_noted"

    charge_id: str
    amount_fen: int = attrs.field(validator=non_negative)


@attrs.frozen(kw_only=True)
class DiagnosisNoted(FactNoted):
    """A diagnosis, with the conditions its code made when it was noted (maybe none)."""

    TYPE: ClassVar[str] = "profile_diagnosis_noted"

    icd10: str
    visit_id: str
    conditions: tuple[str, ...]


@attrs.frozen(kw_only=True)
class DeliveryNoted(FactNoted):
    """A delivery: the ``condition:delivery`` tag and the post-partum stage."""

    TYPE: ClassVar[str] = "profile_delivery_noted"

    visit_id: str
    mode: DeliveryMode | None = None


@attrs.frozen(kw_only=True)
class InteractionNoted(FactNoted):
    """An interaction through a channel (a check-in, a share).

    Attributes:
        channel: the channel as the fact named it (``app``, ``wechat``).
        counted_as: the outreach channel it counts for, if any.
    """

    TYPE: ClassVar[str] = "profile_interaction_noted"

    channel: str
    counted_as: Channel | None


@attrs.frozen(kw_only=True)
class RehabPlanNoted(FactNoted):
    """The member joined a rehabilitation plan."""

    TYPE: ClassVar[str] = "profile_rehab_plan_noted"

    plan_id: str


# --- events: what was decided -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class FamilyStatusNoted(MemberEvent):
    """The member's family status changed (as the households part reported it)."""

    TYPE: ClassVar[str] = "profile_family_status_noted"

    status: FamilyStatus
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class TagAdded(MemberEvent):
    """The member now holds a tag they did not hold.

    Attributes:
        member_id: the member.
        tag: the tag.
        reason: why, for people.
        fact_ids: the facts it rests on (none for a command's tag).
        at: when it was decided.
        key: the :class:`AddTag` command's key, for a tag set by hand.
        fingerprint: that command's digest.
    """

    TYPE: ClassVar[str] = "tag_added"

    tag: str
    reason: str
    fact_ids: tuple[str, ...] = ()
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str | None = None
    fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class TagEvidenceChanged(MemberEvent):
    """A tag the member keeps now rests on other facts, or reads differently.

    Kept apart from :class:`TagAdded` so that what starts on a new tag (a journey) does
    not start again when, say, one more charge supports a spending band.
    """

    TYPE: ClassVar[str] = "tag_evidence_changed"

    tag: str
    reason: str
    fact_ids: tuple[str, ...] = ()
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class TagRemoved(MemberEvent):
    """The member no longer holds a tag.

    Attributes:
        member_id: the member.
        tag: the tag.
        reason: why, for people.
        at: when it was decided.
        key: the :class:`RemoveTag` command's key, for a tag removed by hand.
        fingerprint: that command's digest.
    """

    TYPE: ClassVar[str] = "tag_removed"

    tag: str
    reason: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str | None = None
    fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class SegmentAssigned(MemberEvent):
    """A segment decision: the member's segment and why.

    Decided again whenever the explanation changes; ``previous`` tells a move between
    segments (:attr:`changed`) from a new reason to stay.

    Attributes:
        member_id: the member.
        segment: the segment now.
        previous: the segment before (``None`` for the first decision).
        explanation: which rule, on which facts.
        version: the version of the segment rules that decided.
        at: when it was decided.
    """

    TYPE: ClassVar[str] = "segment_assigned"

    segment: str
    previous: str | None
    explanation: Explanation
    version: int
    at: datetime = attrs.field(converter=as_utc, validator=aware)

    @property
    def changed(self) -> bool:
        """Whether the member moved to another segment."""
        return self.segment != self.previous


@attrs.frozen(kw_only=True)
class NotesForgotten(MemberEvent):
    """Noted facts the profile lets go: no reading from ``at`` on can use them.

    The record's clock only moves forward, so a fact outside every window at ``at`` (and
    not among the latest a tag names) stays outside; :mod:`membercore.segments.forget`
    says which. The facts stay in the journal; a fact id forgotten is no longer known
    to the profile, and the engine's inbox still tells a fact sent again.

    Attributes:
        member_id: the member.
        fact_ids: the facts let go, oldest first.
        at: when it was decided.
    """

    TYPE: ClassVar[str] = "profile_notes_forgotten"

    fact_ids: tuple[str, ...]
    at: datetime = attrs.field(converter=as_utc, validator=aware)


ProfileEvent = (
    RegistrationNoted
    | VisitNoted
    | ChargeNoted
    | RefundNoted
    | DiagnosisNoted
    | DeliveryNoted
    | InteractionNoted
    | RehabPlanNoted
    | FamilyStatusNoted
    | TagAdded
    | TagEvidenceChanged
    | TagRemoved
    | SegmentAssigned
    | NotesForgotten
)
