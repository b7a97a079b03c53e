"""The tier ladder's commands and events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar, Literal

import attrs

from membercore.checks import non_empty
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware
from membercore.messages import Command, KeylessCommand, MemberEvent

__all__ = [
    "ChangeReason",
    "ClearTierOverride",
    "Override",
    "Qualification",
    "ReviewTier",
    "SetTierOverride",
    "SpendBasis",
    "TierActivityRecorded",
    "TierBasisChanged",
    "TierChanged",
    "TierCommand",
    "TierEvent",
    "TierRecordsMerged",
    "TierReviewed",
]

ChangeReason = Literal[
    "upgrade", "downgrade", "override", "override_ended", "floor", "floor_ended", "merge"
]


@attrs.frozen(kw_only=True)
class SetTierOverride(Command):
    """Staff set a member's tier by hand until ``expires_at``.

    Attributes:
        key: idempotency key.
        member_id: the member.
        tier: the tier to hold.
        operator: who set it.
        reason: why (required).
        expires_at: when the override ends and the member's own tier returns.
    """

    TYPE: ClassVar[str] = "set_tier_override"

    tier: str = attrs.field(validator=non_empty)
    operator: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)
    expires_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class ClearTierOverride(Command):
    """Staff end an override before it expires."""

    TYPE: ClassVar[str] = "clear_tier_override"

    operator: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class ReviewTier(KeylessCommand):
    """The time-driven review: decides every review due (review date plus grace) by now.

    Each review is decided at the instant it fell due, in order, and an override that
    ended is ended at its expiry. Running it before then, or twice, changes nothing.
    """

    TYPE: ClassVar[str] = "review_tier"


TierCommand = SetTierOverride | ClearTierOverride | ReviewTier


@attrs.frozen(kw_only=True)
class Qualification:
    """What a member has done in the qualification window.

    Attributes:
        since: the window's start.
        points: qualifying points earned (less reversals).
        visits: completed visits.
        spend_fen: out-of-pocket spend, less refunds.
    """

    since: datetime
    points: int
    visits: int
    spend_fen: int


@attrs.frozen(kw_only=True)
class SpendBasis:
    """What a refund of a charge is reckoned on.

    Attributes:
        charge_fen: the charge total, whoever paid it (refunds are amounts out of it).
        paid_fen: the part the patient paid out of pocket.
        refunded_fen: refunded so far, out of the charge total.
    """

    charge_fen: int
    paid_fen: int
    refunded_fen: int = 0


@attrs.frozen(kw_only=True)
class TierActivityRecorded(MemberEvent):
    """A visit or a spend (a charge, or a refund as a negative amount) that can qualify.

    Attributes:
        member_id: the member.
        kind: ``visit`` or ``spend``.
        reference: the visit id or charge id.
        at: when it happened (a refund counts at its charge's instant).
        amount_fen: for spend, the out-of-pocket amount (negative for a refund).
        fact_id: the fact that reported it.
        charge_fen: for a charge, its total whoever paid it (``None`` in events recorded
            before charges kept it: a refund of such a charge is taken from the
            out-of-pocket spend fen for fen).
        refunded_fen: for a refund, the amount refunded out of the charge total.
        forgets_visits: visits let go with this record (by visit id): before the
            qualification window of every instant still to be decided
            (:mod:`membercore.tiers.forget`).
        forgets_spend: charges let go with it, the same way (by charge id).
    """

    TYPE: ClassVar[str] = "tier_activity_recorded"

    kind: Literal["visit", "spend"]
    reference: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    amount_fen: int = 0
    fact_id: str
    charge_fen: int | None = None
    refunded_fen: int | None = None
    forgets_visits: tuple[str, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})
    forgets_spend: tuple[str, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class Override:
    """A staff override in force."""

    tier: str
    expires_at: datetime
    operator: str
    reason: str


@attrs.frozen(kw_only=True)
class TierChanged(MemberEvent):
    """The member's tier changed (``from_tier`` and ``to_tier`` always differ).

    Attributes:
        member_id: the member.
        at: when.
        from_tier: the tier before.
        to_tier: the tier after (what the member has now).
        held: the ladder level held after the change (before floors and overrides).
        review_at: the next review date of the held level (``None`` at the lowest level).
        reason: upgrade, downgrade, override, override_ended, floor, floor_ended or merge.
        rule_version: ``tiers.version`` when decided.
        qualification: what the member had done in the window.
        override: the override set by this change, if any.
        trigger: the key of the staff command that caused it, if any.
        fingerprint: that command's digest (a reused key on another command is refused).
    """

    TYPE: ClassVar[str] = "tier_changed"

    at: datetime = attrs.field(converter=as_utc, validator=aware)
    from_tier: str
    to_tier: str
    held: str
    review_at: datetime | None
    reason: ChangeReason
    rule_version: int
    qualification: Qualification
    override: Override | None = None
    trigger: str | None = None
    fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class TierBasisChanged(MemberEvent):
    """What the member's tier rests on changed, but not the tier they have.

    The held level, its review date or a staff override changed while a floor or an
    override kept the tier the same: a review lowered the held level under a paid plan's
    floor, the held level rose under an override, an override was set to the tier the
    member already had, or one ended on the tier they hold anyway. A :class:`TierChanged`
    always changes the tier; this records the rest.

    Attributes:
        member_id: the member.
        at: when.
        tier: the tier the member has, before and after.
        held: the ladder level held after the change.
        review_at: the next review date of the held level (``None`` at the lowest level).
        reason: as for :class:`TierChanged`.
        rule_version: ``tiers.version`` when decided.
        qualification: what the member had done in the window.
        override: the override set by this change, if any.
        trigger: the key of the staff command that caused it, if any.
        fingerprint: that command's digest.
    """

    TYPE: ClassVar[str] = "tier_basis_changed"

    at: datetime = attrs.field(converter=as_utc, validator=aware)
    tier: str
    held: str
    review_at: datetime | None
    reason: ChangeReason
    rule_version: int
    qualification: Qualification
    override: Override | None = None
    trigger: str | None = None
    fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class TierReviewed(MemberEvent):
    """A review kept the held level; the next review is a year on."""

    TYPE: ClassVar[str] = "tier_reviewed"

    at: datetime = attrs.field(converter=as_utc, validator=aware)
    tier: str
    review_at: datetime
    rule_version: int
    qualification: Qualification


@attrs.frozen(kw_only=True)
class TierRecordsMerged(MemberEvent):
    """A second record of the same person was merged into this member's.

    Its visits and spend now count here; the higher of the two held levels is kept, with
    its review date (of two equal levels, the later review date).

    Attributes:
        member_id: the surviving record.
        duplicate_id: the record merged away.
        at: when.
        visits: the duplicate's visits by visit id.
        spend: the duplicate's out-of-pocket spend by charge id.
        spend_basis: what refunds of the duplicate's charges are reckoned on.
        held: the level held after the merge.
        review_at: its review date.
        key: the merge command's key.
        fingerprint: its digest.
    """

    TYPE: ClassVar[str] = "tier_records_merged"

    duplicate_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    visits: Mapping[str, datetime]
    spend: Mapping[str, tuple[datetime, int]]
    held: str
    review_at: datetime | None
    key: str
    fingerprint: str
    spend_basis: Mapping[str, SpendBasis] = attrs.field(factory=dict)


TierEvent = TierActivityRecorded | TierChanged | TierBasisChanged | TierReviewed | TierRecordsMerged
