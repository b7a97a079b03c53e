"""Refusals of the paid plans and of the benefits (entitlements, quotas) members hold."""

from __future__ import annotations

import attrs

from membercore.errors.base import MembercoreError

__all__ = [
    "BenefitError",
    "DependentNotCoveredError",
    "NotEntitledError",
    "PlanChangeNotAllowedError",
    "PlanError",
    "QuotaExhaustedError",
    "QuotaHolderError",
    "QuotaKeyConflictError",
    "ReservationExistsError",
    "SubscriptionExistsError",
    "SubscriptionTransitionError",
    "TooManyDependentsError",
    "UnknownPlanError",
    "UnknownReservationError",
    "UnknownSubscriptionError",
    "WrongPaymentAmountError",
]


# --- benefits and quotas ------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class BenefitError(MembercoreError):
    """Root of the benefits' refusals (entitlements, quotas).

    Attributes:
        member_id: the member whose use of a benefit was refused.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class NotEntitledError(BenefitError):
    """A member asked to use a benefit they are not entitled to now.

    Attributes:
        benefit_key: the benefit asked for.
        reason: why it cannot be used (no package grants it, not a quota, no plan term...).
    """

    benefit_key: str
    reason: str

    def __str__(self) -> str:
        return f"member {self.member_id}: not entitled to {self.benefit_key!r}: {self.reason}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class QuotaExhaustedError(BenefitError):
    """A reservation or use asks for more uses of a quota than remain in its period.

    Attributes:
        holder_id: who holds the quota (the member, or the household for a shared quota).
        benefit_key: the quota's benefit.
        requested: the uses asked for.
        remaining: the uses left in the period.
        period: the period's key (e.g. ``year:2026``).
    """

    holder_id: str
    benefit_key: str
    requested: int
    remaining: int
    period: str = attrs.field(kw_only=True)

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: quota {self.benefit_key!r} of holder {self.holder_id} "
            f"is exhausted for {self.period}: requested {self.requested}, "
            f"remaining {self.remaining}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownReservationError(BenefitError, LookupError):
    """A consumption or release names no open reservation of the member.

    Attributes:
        holder_id: the holder whose quotas were searched.
        appointment_id: the appointment named.
    """

    holder_id: str
    appointment_id: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: no open reservation for appointment "
            f"{self.appointment_id!r} in the quotas of holder {self.holder_id}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class ReservationExistsError(BenefitError):
    """A reservation names an appointment that already holds an open reservation.

    Attributes:
        holder_id: the holder of the quotas.
        appointment_id: the appointment named.
        benefit_key: the quota of the reservation already open.
    """

    holder_id: str
    appointment_id: str
    benefit_key: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: appointment {self.appointment_id!r} already holds a "
            f"reservation of {self.benefit_key!r} in the quotas of holder {self.holder_id}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class QuotaKeyConflictError(BenefitError):
    """An idempotency key was reused for a different quota command.

    Attributes:
        holder_id: the holder of the quotas.
        key: the reused key.
    """

    holder_id: str
    key: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: idempotency key {self.key!r} was already used by a "
            f"different command on the quotas of holder {self.holder_id}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class QuotaHolderError(BenefitError):
    """A quota command or event was applied to the wrong holder's quotas.

    Attributes:
        holder_id: the holder of the quota state it was applied to.
        problem: what does not match.
    """

    holder_id: str
    problem: str

    def __str__(self) -> str:
        return f"member {self.member_id}: quotas of holder {self.holder_id}: {self.problem}"


# --- paid plans ---------------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class PlanError(MembercoreError):
    """Root of the paid plans' refusals.

    Attributes:
        member_id: the subscriber whose command was refused.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownPlanError(PlanError, LookupError):
    """A command or subscription names a plan the programme does not offer.

    Attributes:
        plan_key: the plan named.
    """

    plan_key: str

    def __str__(self) -> str:
        return f"member {self.member_id}: no plan {self.plan_key!r} in the programme"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownSubscriptionError(PlanError, LookupError):
    """A command names a subscription the member does not hold.

    Attributes:
        subscription_id: the id that was not found.
    """

    subscription_id: str

    def __str__(self) -> str:
        return f"member {self.member_id}: no subscription {self.subscription_id!r}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class SubscriptionTransitionError(PlanError):
    """A subscription cannot do what was asked in its current status.

    Attributes:
        subscription_id: the subscription.
        status: its status (``pending_payment``, ``active``, ``grace``, ``expired``...).
        action: what was attempted (``renew``, ``cancel``, ``record_payment``...).
        detail: why not, when the status alone does not say.
    """

    subscription_id: str
    status: str
    action: str
    detail: str | None = None

    def __str__(self) -> str:
        suffix = f": {self.detail}" if self.detail else ""
        return (
            f"member {self.member_id}: subscription {self.subscription_id!r} is {self.status}; "
            f"cannot {self.action}{suffix}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class WrongPaymentAmountError(PlanError, ValueError):
    """A payment does not match the amount the subscription awaits.

    Attributes:
        subscription_id: the subscription.
        expected_fen: the amount due, in fen.
        given_fen: the amount paid, in fen.
    """

    subscription_id: str
    expected_fen: int
    given_fen: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: subscription {self.subscription_id!r} awaits "
            f"{self.expected_fen} fen, given {self.given_fen} fen"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class TooManyDependentsError(PlanError):
    """A plan would cover more relatives than it allows.

    Attributes:
        subscription_id: the subscription.
        plan_key: its plan.
        limit: the plan's ``max_dependents``.
        requested: the number of relatives it would cover.
    """

    subscription_id: str
    plan_key: str
    limit: int
    requested: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: subscription {self.subscription_id!r} to "
            f"{self.plan_key!r} covers at most {self.limit} dependents, "
            f"asked for {self.requested}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class DependentNotCoveredError(PlanError, LookupError):
    """A relative to uncover is not covered by the subscription.

    Attributes:
        subscription_id: the subscription.
        dependent_id: the relative named.
    """

    subscription_id: str
    dependent_id: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: subscription {self.subscription_id!r} does not cover "
            f"{self.dependent_id}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class SubscriptionExistsError(PlanError):
    """A new subscription's id is taken, or the member already holds the plan.

    Attributes:
        subscription_id: the new subscription's id.
        plan_key: the plan asked for.
        existing_id: the subscription in the way (the same id, or the one holding the plan).
    """

    subscription_id: str
    plan_key: str
    existing_id: str

    def __str__(self) -> str:
        if self.existing_id == self.subscription_id:
            problem = f"subscription id {self.subscription_id!r} is already used"
        else:
            problem = (
                f"already holds {self.plan_key!r} through subscription {self.existing_id!r}; "
                "renew that one instead"
            )
        return f"member {self.member_id}: {problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class PlanChangeNotAllowedError(PlanError):
    """A subscription cannot move to the plan asked for.

    Attributes:
        subscription_id: the subscription to change.
        from_plan: its plan.
        to_plan: the plan asked for.
        reason: why not.
    """

    subscription_id: str
    from_plan: str
    to_plan: str
    reason: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: subscription {self.subscription_id!r} cannot change "
            f"from {self.from_plan!r} to {self.to_plan!r}: {self.reason}"
        )
