"""The paid plans' commands: what staff, the member app or a timer asks of a subscription.

Every command but :class:`AdvanceSubscriptions` carries ``key``, its idempotency key: the
same command twice decides nothing the second time, and the same key on a different
command is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty, positive
from membercore.dates import as_utc, aware
from membercore.errors import InvalidFactError
from membercore.messages import Command, KeylessCommand

__all__ = [
    "PLAN_COMMAND_TYPES",
    "AddCoveredDependent",
    "AdvanceSubscriptions",
    "Cancel",
    "ChangePlan",
    "PlanCommand",
    "RecordPayment",
    "RemoveCoveredDependent",
    "Renew",
    "Subscribe",
    "SubscriptionCommand",
    "ids",
]


def ids(value: Iterable[str]) -> tuple[str, ...]:
    """An attrs converter: a tuple of ids (a list from JSON is accepted)."""
    return tuple(value)


def _people(instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    tag = str(getattr(instance, "TYPE", type(instance).__name__))
    if any(not person.strip() for person in value):
        raise InvalidFactError(tag, attribute.name, value, "an id must not be empty")
    if len(set(value)) != len(value):
        raise InvalidFactError(tag, attribute.name, value, "an id appears twice")
    if instance.member_id in value:
        raise InvalidFactError(tag, attribute.name, value, "the member is not their own dependent")


@attrs.frozen(kw_only=True)
class SubscriptionCommand(Command):
    """Fields every subscription command has.

    Attributes:
        key: the idempotency key.
        member_id: the subscriber (the holder of the plan).
        subscription_id: the subscription the command acts on.
    """

    TYPE: ClassVar[str] = "subscription_command"

    subscription_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class Subscribe(SubscriptionCommand):
    """Ask for a new subscription to a plan; it waits for its first payment.

    Attributes:
        plan_key: the plan (``annual_599``, ``family_steward``...).
        dependents: relatives a family plan covers besides the holder.
        attributed_to: the staff member who made the sale, for incentives.
    """

    TYPE: ClassVar[str] = "subscribe"

    plan_key: str = attrs.field(validator=non_empty)
    dependents: tuple[str, ...] = attrs.field(default=(), converter=ids, validator=_people)
    attributed_to: str | None = None


@attrs.frozen(kw_only=True)
class RecordPayment(SubscriptionCommand):
    """Record the payment of what a subscription awaits (its first term or a renewal).

    Attributes:
        amount_fen: the amount paid, in fen; it must equal the amount due.
        paid_at: when it was paid; the payment takes effect at that instant.
    """

    TYPE: ClassVar[str] = "record_payment"

    amount_fen: int = attrs.field(validator=positive)
    paid_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class Renew(SubscriptionCommand):
    """Ask to renew a subscription for one more term; the renewal then awaits payment."""

    TYPE: ClassVar[str] = "renew_subscription"


@attrs.frozen(kw_only=True)
class Cancel(SubscriptionCommand):
    """End a subscription now, refunding its unused days if the plan's policy says so.

    Attributes:
        reason: why (kept on the event for the audit trail).
    """

    TYPE: ClassVar[str] = "cancel_subscription"

    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class ChangePlan(SubscriptionCommand):
    """Move an active subscription to another plan, crediting its unused days.

    A new subscription is requested for the amount left after the credit; the old one
    keeps running until that amount is paid, and only then ends as ``changed``.

    Attributes:
        plan_key: the plan to move to.
        new_subscription_id: the id of the new subscription.
        attributed_to: the staff member who made the sale, for incentives.
    """

    TYPE: ClassVar[str] = "change_plan"

    plan_key: str = attrs.field(validator=non_empty)
    new_subscription_id: str = attrs.field(validator=non_empty)
    attributed_to: str | None = None


@attrs.frozen(kw_only=True)
class AddCoveredDependent(SubscriptionCommand):
    """Cover one more relative under a family plan.

    Attributes:
        dependent_id: the relative's member id.
    """

    TYPE: ClassVar[str] = "add_covered_dependent"

    dependent_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class RemoveCoveredDependent(SubscriptionCommand):
    """Stop covering a relative under a family plan.

    Attributes:
        dependent_id: the relative's member id.
    """

    TYPE: ClassVar[str] = "remove_covered_dependent"

    dependent_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AdvanceSubscriptions(KeylessCommand):
    """Apply every transition whose instant has come (run it from a timer).

    Payment windows lapse, terms end (into grace, with a renewal due for auto-renew
    plans) and grace periods end. Each transition happens once, so running it any number
    of times is safe.

    Attributes:
        member_id: the subscriber.
    """

    TYPE: ClassVar[str] = "advance_subscriptions"


PlanCommand = (
    Subscribe
    | RecordPayment
    | Renew
    | Cancel
    | ChangePlan
    | AddCoveredDependent
    | RemoveCoveredDependent
    | AdvanceSubscriptions
)

PLAN_COMMAND_TYPES: tuple[type[Any], ...] = (
    Subscribe,
    RecordPayment,
    Renew,
    Cancel,
    ChangePlan,
    AddCoveredDependent,
    RemoveCoveredDependent,
    AdvanceSubscriptions,
)
"""Every plan command class, for a converter registering message tags."""
