"""The paid plans' events: every transition of a subscription, as it was decided.

Events carry the key and a digest of the command that caused them (``None`` for the
transitions the clock makes), so that replaying the journal rebuilds the idempotency keys
too.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty, non_negative, positive
from membercore.dates import as_utc, aware
from membercore.plans.commands import ids
from membercore.plans.records import SubscriptionState

__all__ = [
    "PLAN_EVENT_TYPES",
    "DependentCovered",
    "DependentUncovered",
    "RenewalDue",
    "SubscriptionActivated",
    "SubscriptionCancelled",
    "SubscriptionChanged",
    "SubscriptionEnteredGrace",
    "SubscriptionEvent",
    "SubscriptionExpired",
    "SubscriptionLapsed",
    "SubscriptionMovedIn",
    "SubscriptionMovedOut",
    "SubscriptionRenewed",
    "SubscriptionRequested",
]


@attrs.frozen(kw_only=True)
class SubscriptionEvent:
    """Fields every subscription event has.

    Attributes:
        subscription_id: the subscription.
        member_id: the subscriber.
        at: the instant the transition took effect (a payment's ``paid_at``, a term's
            end...), which may be earlier than the instant it was decided.
        plan_key: the subscription's plan.
        plan_version: the plan's version when the subscription was last bought or renewed.
        key: the idempotency key of the command that caused it; ``None`` for the
            transitions the clock makes.
        fingerprint: that command's digest.
    """

    TYPE: ClassVar[str] = "subscription_event"

    subscription_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    plan_key: str = attrs.field(validator=non_empty)
    plan_version: int = attrs.field(validator=positive)
    key: str | None = None
    fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class SubscriptionRequested(SubscriptionEvent):
    """A subscription was asked for and awaits its first payment.

    Attributes:
        due_fen: the amount to pay: the plan's price less ``credit_fen``.
        pay_by: the end of the payment window; unpaid by then, the subscription lapses.
        credit_fen: for a plan change, the value of the old subscription's unused days.
        replaces: for a plan change, the old subscription.
        dependents: relatives covered from the start.
        attributed_to: the staff member who made the sale.
    """

    TYPE: ClassVar[str] = "subscription_requested"

    due_fen: int = attrs.field(validator=non_negative)
    pay_by: datetime = attrs.field(converter=as_utc, validator=aware)
    credit_fen: int = attrs.field(default=0, validator=non_negative)
    replaces: str | None = None
    dependents: tuple[str, ...] = attrs.field(default=(), converter=ids)
    attributed_to: str | None = None


@attrs.frozen(kw_only=True)
class SubscriptionActivated(SubscriptionEvent):
    """The first payment arrived: the first term runs.

    Attributes:
        term_start: the start of the term (the payment instant).
        term_end: its end, ``term_months`` calendar months later in the programme's
            timezone; the term covers ``[term_start, term_end)``.
        grace_ends_at: the end of the grace period after the term.
        term_months: the months the term bought.
        paid_fen: the money paid.
        credit_fen: the credit from a replaced subscription; the term is worth
            ``paid_fen + credit_fen``.
    """

    TYPE: ClassVar[str] = "subscription_activated"

    term_start: datetime = attrs.field(converter=as_utc, validator=aware)
    term_end: datetime = attrs.field(converter=as_utc, validator=aware)
    grace_ends_at: datetime = attrs.field(converter=as_utc, validator=aware)
    term_months: int = attrs.field(validator=positive)
    paid_fen: int = attrs.field(validator=non_negative)
    credit_fen: int = attrs.field(default=0, validator=non_negative)


@attrs.frozen(kw_only=True)
class RenewalDue(SubscriptionEvent):
    """A renewal was asked for (by the member, or by an auto-renew plan at term end).

    Attributes:
        due_fen: the price of the next term.
        pay_by: paid before this instant (the end of grace), the next term follows the
            current one without a gap.
    """

    TYPE: ClassVar[str] = "renewal_due"

    due_fen: int = attrs.field(validator=non_negative)
    pay_by: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class SubscriptionRenewed(SubscriptionEvent):
    """A renewal was paid: one more term, starting where the paid period ends.

    Attributes:
        term_start: the end of the paid period before the renewal.
        term_end: the new end of the paid period.
        grace_ends_at: the end of the grace period after it.
        term_months: the months the renewal bought.
        paid_fen: the money paid.
    """

    TYPE: ClassVar[str] = "subscription_renewed"

    term_start: datetime = attrs.field(converter=as_utc, validator=aware)
    term_end: datetime = attrs.field(converter=as_utc, validator=aware)
    grace_ends_at: datetime = attrs.field(converter=as_utc, validator=aware)
    term_months: int = attrs.field(validator=positive)
    paid_fen: int = attrs.field(validator=non_negative)


@attrs.frozen(kw_only=True)
class SubscriptionEnteredGrace(SubscriptionEvent):
    """The paid period ended unrenewed; benefits continue until ``grace_ends_at``.

    Attributes:
        grace_ends_at: the subscription expires at this instant unless renewed.
    """

    TYPE: ClassVar[str] = "subscription_entered_grace"

    grace_ends_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class SubscriptionExpired(SubscriptionEvent):
    """Grace ended without a renewal; the subscription is over."""

    TYPE: ClassVar[str] = "subscription_expired"


@attrs.frozen(kw_only=True)
class SubscriptionLapsed(SubscriptionEvent):
    """The first payment never arrived within the payment window."""

    TYPE: ClassVar[str] = "subscription_lapsed"


@attrs.frozen(kw_only=True)
class SubscriptionCancelled(SubscriptionEvent):
    """The subscription was cancelled and ended at once.

    Attributes:
        reason: why.
        paid_fen: what all its terms were worth (money paid plus any credit received).
        unused_days: whole days of paid terms not yet begun at cancellation.
        refund_fen: what is refunded: the value of ``unused_days`` under the ``pro_rata``
            policy, nothing under ``none``.
    """

    TYPE: ClassVar[str] = "subscription_cancelled"

    reason: str
    paid_fen: int = attrs.field(validator=non_negative)
    unused_days: int = attrs.field(validator=non_negative)
    refund_fen: int = attrs.field(validator=non_negative)

    @property
    def used_fen(self) -> int:
        """The value kept by the hospital: ``paid_fen - refund_fen``, exactly."""
        return self.paid_fen - self.refund_fen


@attrs.frozen(kw_only=True)
class SubscriptionChanged(SubscriptionEvent):
    """The subscription was replaced by one on another plan, which was paid for.

    Attributes:
        to_plan_key: the new plan.
        to_subscription_id: the new subscription.
        paid_fen: what this subscription's terms were worth.
        unused_days: whole days not yet begun when the change was asked for.
        credit_fen: their value, credited against the new plan's price.
    """

    TYPE: ClassVar[str] = "subscription_changed"

    to_plan_key: str = attrs.field(validator=non_empty)
    to_subscription_id: str = attrs.field(validator=non_empty)
    paid_fen: int = attrs.field(validator=non_negative)
    unused_days: int = attrs.field(validator=non_negative)
    credit_fen: int = attrs.field(validator=non_negative)


@attrs.frozen(kw_only=True)
class DependentCovered(SubscriptionEvent):
    """A relative is now covered by the (family) subscription.

    Attributes:
        dependent_id: the relative.
    """

    TYPE: ClassVar[str] = "dependent_covered"

    dependent_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class DependentUncovered(SubscriptionEvent):
    """A relative is no longer covered by the subscription.

    Attributes:
        dependent_id: the relative.
    """

    TYPE: ClassVar[str] = "dependent_uncovered"

    dependent_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class SubscriptionMovedIn(SubscriptionEvent):
    """A subscription of a merged record now belongs to this member, as it stood.

    Attributes:
        from_member_id: the record merged away.
        subscription: the subscription's record, whole.
    """

    TYPE: ClassVar[str] = "subscription_moved_in"

    from_member_id: str = attrs.field(validator=non_empty)
    subscription: SubscriptionState


@attrs.frozen(kw_only=True)
class SubscriptionMovedOut(SubscriptionEvent):
    """A subscription left a record merged into another.

    Attributes:
        to_member_id: the surviving record.
    """

    TYPE: ClassVar[str] = "subscription_moved_out"

    to_member_id: str = attrs.field(validator=non_empty)


PLAN_EVENT_TYPES: tuple[type[SubscriptionEvent], ...] = (
    SubscriptionRequested,
    SubscriptionActivated,
    RenewalDue,
    SubscriptionRenewed,
    SubscriptionEnteredGrace,
    SubscriptionExpired,
    SubscriptionLapsed,
    SubscriptionCancelled,
    SubscriptionChanged,
    DependentCovered,
    DependentUncovered,
    SubscriptionMovedIn,
    SubscriptionMovedOut,
)
"""Every plan event class, for a converter registering message tags."""
