"""The one error hierarchy of membercore.

Every error says what was wrong and with which input, and keeps the offending values as
attributes so that callers (and the dead-letter record) can act on them without parsing
the message.
"""

from __future__ import annotations

from membercore.text import brief

__all__ = [
    "BenefitError",
    "ConfigError",
    "ConsentError",
    "DependentNotCoveredError",
    "EngineError",
    "GaveUpError",
    "GuardianConsentRequiredError",
    "GuardianRequiredError",
    "HouseholdError",
    "HouseholdMembershipError",
    "IdempotencyConflictError",
    "ImplausibleError",
    "InsufficientPointsError",
    "InvalidAmountError",
    "InvalidCodeError",
    "InvalidFactError",
    "JourneyDefinitionError",
    "JourneyError",
    "LedgerError",
    "MemberMismatchError",
    "MembercoreError",
    "NaiveInstantError",
    "NoStaffError",
    "NotEntitledError",
    "NotReversibleError",
    "OfferNotValidError",
    "OutOfStockError",
    "PerMemberLimitError",
    "PlanChangeNotAllowedError",
    "PlanError",
    "PluginError",
    "QuotaExhaustedError",
    "QuotaHolderError",
    "QuotaKeyConflictError",
    "ReservationExistsError",
    "ReservedTagError",
    "RewardError",
    "SchemaVersionError",
    "SegmentError",
    "StorageError",
    "StoreUnavailableError",
    "SubscriptionExistsError",
    "SubscriptionTransitionError",
    "TierError",
    "TierTooLowError",
    "TooManyDependentsError",
    "TransferNotAllowedError",
    "UnknownMemberError",
    "UnknownPlanError",
    "UnknownPostingError",
    "UnknownRedemptionError",
    "UnknownReservationError",
    "UnknownRewardError",
    "UnknownRuleError",
    "UnknownStoreError",
    "UnknownSubscriptionError",
    "UnknownTaskError",
    "UnknownTierError",
    "UnreadableError",
    "VersionConflictError",
    "WorkError",
    "WrongPaymentAmountError",
    "YearlyValueCapError",
]


class MembercoreError(Exception):
    """Root of every error membercore raises on purpose."""


class NaiveInstantError(MembercoreError, ValueError):
    """An instant without a timezone was given where an aware one is required.

    Attributes:
        field: the name of the field or argument.
        value: the naive datetime.
    """

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} must be timezone-aware, got naive {brief(value)}")


class InvalidFactError(MembercoreError, ValueError):
    """A fact or command was built with a value out of range.

    Attributes:
        message_type: the type of the fact or command (e.g. ``charge_paid``).
        field: the offending field.
        value: its value.
        problem: what is wrong with it.
    """

    def __init__(self, message_type: str, field: str, value: object, problem: str) -> None:
        self.message_type = message_type
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{message_type}.{field} = {brief(value)}: {problem}")


class UnreadableError(MembercoreError, ValueError):
    """An input its source could not read as text (bytes that are not UTF-8, a line too long).

    Attributes:
        reason: what the source said was wrong.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ImplausibleError(InvalidFactError):
    """A fact or command is outside the programme's plausibility bounds.

    Attributes:
        message_type: the type of the fact or command.
        field: the offending field.
        value: its value.
        problem: the bound it is past (naming the configuration key).
    """

    def __init__(self, message_type: str, field: str, value: object, problem: str) -> None:
        super().__init__(message_type, field, value, f"implausible: {problem}")


class SchemaVersionError(MembercoreError, ValueError):
    """Stored data's schema version cannot be brought up to date, or is declared wrong.

    Attributes:
        kind: the message's ``TYPE`` tag or the record's name (a class's name when the
            class declares its version wrong).
        version: the offending version.
        problem: what is wrong with it.
    """

    def __init__(self, kind: str, version: object, problem: str) -> None:
        self.kind = kind
        self.version = version
        self.problem = problem
        super().__init__(f"{kind} schema version {version!r}: {problem}")


class ConfigError(MembercoreError, ValueError):
    """The programme configuration is invalid.

    Attributes:
        key: the dotted path of the offending key (e.g. ``earning.spending.rate.points``).
        problem: what is wrong with it.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config key {key!r}: {problem}")


class LedgerError(MembercoreError):
    """Root of the points ledger's refusals.

    Attributes:
        member_id: the member whose ledger refused.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class InvalidAmountError(LedgerError, ValueError):
    """A points amount is out of range (zero, negative where positive is required...).

    Attributes:
        amount: the amount given.
        problem: what is wrong with it.
    """

    def __init__(self, member_id: str, amount: int, problem: str) -> None:
        self.amount = amount
        self.problem = problem
        super().__init__(member_id, f"member {member_id}: invalid amount {amount}: {problem}")


class InsufficientPointsError(LedgerError):
    """A debit asks for more points than the member has available.

    Attributes:
        requested: the points asked for.
        available: the points available at that instant.
    """

    def __init__(self, member_id: str, requested: int, available: int) -> None:
        self.requested = requested
        self.available = available
        super().__init__(
            member_id,
            f"member {member_id}: insufficient points: requested {requested}, "
            f"available {available}",
        )


class UnknownPostingError(LedgerError, LookupError):
    """A command names a posting the member's ledger does not hold.

    Attributes:
        posting_id: the id that was not found.
    """

    def __init__(self, member_id: str, posting_id: str) -> None:
        self.posting_id = posting_id
        super().__init__(member_id, f"member {member_id}: unknown posting {posting_id!r}")


class NotReversibleError(LedgerError):
    """A reversal names a posting that is not an earning.

    Attributes:
        posting_id: the posting named.
        kind: its kind.
    """

    def __init__(self, member_id: str, posting_id: str, kind: str) -> None:
        self.posting_id = posting_id
        self.kind = kind
        super().__init__(
            member_id,
            f"member {member_id}: posting {posting_id!r} of kind {kind!r} cannot be "
            "reversed; only earnings can",
        )


class IdempotencyConflictError(MembercoreError):
    """An idempotency key was reused for a different fact or command.

    Attributes:
        member_id: whose keys (a member, or a household).
        key: the reused key.
    """

    def __init__(self, member_id: str, key: str) -> None:
        self.member_id = member_id
        self.key = key
        super().__init__(
            f"member {member_id}: idempotency key {key!r} was already used by a different command"
        )


class TransferNotAllowedError(LedgerError):
    """A transfer between two members was refused.

    Attributes:
        target_id: the member who would have received the points.
        points: the points asked for.
        reason: why it was refused.
    """

    def __init__(self, member_id: str, target_id: str, points: int, reason: str) -> None:
        self.target_id = target_id
        self.points = points
        self.reason = reason
        super().__init__(
            member_id,
            f"member {member_id}: transfer of {points} points to {target_id} refused: {reason}",
        )


class UnknownRuleError(LedgerError, LookupError):
    """A command names an earning rule the programme does not define.

    Attributes:
        rule_id: the rule named.
        points: the points that were asked for.
    """

    def __init__(self, member_id: str, rule_id: str, points: int) -> None:
        self.rule_id = rule_id
        self.points = points
        super().__init__(
            member_id,
            f"member {member_id}: no earning rule {rule_id!r} in the programme "
            f"(asked for {points} points)",
        )


class MemberMismatchError(MembercoreError):
    """A message for one member was applied to another member's state.

    Attributes:
        member_id: the member the state belongs to.
        given: the member the message names.
    """

    def __init__(self, member_id: str, given: str) -> None:
        self.member_id = member_id
        self.given = given
        super().__init__(f"state of member {member_id} cannot take a message for member {given}")


class TierError(MembercoreError):
    """Root of the tier ladder's refusals.

    Attributes:
        member_id: the member concerned.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class UnknownTierError(TierError, LookupError):
    """A command names a tier that is not on the programme's ladder.

    Attributes:
        tier: the tier named.
    """

    def __init__(self, member_id: str, tier: str) -> None:
        self.tier = tier
        super().__init__(member_id, f"member {member_id}: no tier {tier!r} on the ladder")


# --- the rewards catalogue ----------------------------------------------------------------


class RewardError(MembercoreError):
    """Root of the rewards catalogue's refusals.

    Attributes:
        member_id: the member whose redemption (or cancellation) was refused.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class UnknownRewardError(RewardError, LookupError):
    """A redemption names a reward the catalogue does not hold.

    Attributes:
        reward_key: the key named.
    """

    def __init__(self, member_id: str, reward_key: str) -> None:
        self.reward_key = reward_key
        super().__init__(
            member_id, f"member {member_id}: no reward {reward_key!r} in the catalogue"
        )


class OutOfStockError(RewardError):
    """A redemption asks for more of a reward than is left in stock.

    Attributes:
        reward_key: the reward.
        requested: the quantity asked for.
        left: the quantity left in stock.
    """

    def __init__(self, member_id: str, reward_key: str, requested: int, left: int) -> None:
        self.reward_key = reward_key
        self.requested = requested
        self.left = left
        super().__init__(
            member_id,
            f"member {member_id}: reward {reward_key!r} is out of stock: requested "
            f"{requested}, left {left}",
        )


class PerMemberLimitError(RewardError):
    """A redemption would take a member past a reward's per-member limit.

    Attributes:
        reward_key: the reward.
        limit: how many one member may redeem in all.
        redeemed: how many the member has already redeemed (cancellations excluded).
        requested: the quantity asked for.
    """

    def __init__(
        self, member_id: str, reward_key: str, limit: int, redeemed: int, requested: int
    ) -> None:
        self.reward_key = reward_key
        self.limit = limit
        self.redeemed = redeemed
        self.requested = requested
        super().__init__(
            member_id,
            f"member {member_id}: reward {reward_key!r} is limited to {limit} per member; "
            f"already redeemed {redeemed}, requested {requested}",
        )


class TierTooLowError(RewardError):
    """A redemption asks for a reward reserved for higher tiers.

    Attributes:
        reward_key: the reward.
        tier: the member's tier.
        required: the lowest tier that may redeem it.
    """

    def __init__(self, member_id: str, reward_key: str, tier: str, required: str) -> None:
        self.reward_key = reward_key
        self.tier = tier
        self.required = required
        super().__init__(
            member_id,
            f"member {member_id}: reward {reward_key!r} needs tier {required} or higher; "
            f"the member is {tier}",
        )


class YearlyValueCapError(RewardError):
    """A redemption would take a member past the yearly cap on gift value.

    Attributes:
        reward_key: the reward.
        requested_fen: the value asked for, in fen.
        left_fen: the value the member may still receive this calendar year, in fen.
        cap_fen: the yearly cap, in fen.
    """

    def __init__(
        self, member_id: str, reward_key: str, requested_fen: int, left_fen: int, cap_fen: int
    ) -> None:
        self.reward_key = reward_key
        self.requested_fen = requested_fen
        self.left_fen = left_fen
        self.cap_fen = cap_fen
        super().__init__(
            member_id,
            f"member {member_id}: reward {reward_key!r} worth {requested_fen} fen exceeds the "
            f"yearly gift value cap of {cap_fen} fen; {left_fen} fen left this year",
        )


class UnknownRedemptionError(RewardError, LookupError):
    """A cancellation names a redemption the member's history does not hold.

    Attributes:
        redemption_id: the id named.
    """

    def __init__(self, member_id: str, redemption_id: str) -> None:
        self.redemption_id = redemption_id
        super().__init__(
            member_id, f"member {member_id}: no redemption {redemption_id!r} to cancel"
        )


# --- benefits and quotas ------------------------------------------------------------------


class BenefitError(MembercoreError):
    """Root of the benefits' refusals (entitlements, quotas).

    Attributes:
        member_id: the member whose use of a benefit was refused.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class NotEntitledError(BenefitError):
    """A member asked to use a benefit they are not entitled to now.

    Attributes:
        benefit_key: the benefit asked for.
        reason: why it cannot be used (no package grants it, not a quota, no plan term...).
    """

    def __init__(self, member_id: str, benefit_key: str, reason: str) -> None:
        self.benefit_key = benefit_key
        self.reason = reason
        super().__init__(
            member_id, f"member {member_id}: not entitled to {benefit_key!r}: {reason}"
        )


class QuotaExhaustedError(BenefitError):
    """A reservation or use asks for more uses of a quota than remain in its period.

    Attributes:
        holder_id: who holds the quota (the member, or the household for a shared quota).
        benefit_key: the quota's benefit.
        requested: the uses asked for.
        remaining: the uses left in the period.
        period: the period's key (e.g. ``year:2026``).
    """

    def __init__(
        self,
        member_id: str,
        holder_id: str,
        benefit_key: str,
        requested: int,
        remaining: int,
        *,
        period: str,
    ) -> None:
        self.holder_id = holder_id
        self.benefit_key = benefit_key
        self.requested = requested
        self.remaining = remaining
        self.period = period
        super().__init__(
            member_id,
            f"member {member_id}: quota {benefit_key!r} of holder {holder_id} is exhausted "
            f"for {period}: requested {requested}, remaining {remaining}",
        )


class UnknownReservationError(BenefitError, LookupError):
    """A consumption or release names no open reservation of the member.

    Attributes:
        holder_id: the holder whose quotas were searched.
        appointment_id: the appointment named.
    """

    def __init__(self, member_id: str, holder_id: str, appointment_id: str) -> None:
        self.holder_id = holder_id
        self.appointment_id = appointment_id
        super().__init__(
            member_id,
            f"member {member_id}: no open reservation for appointment {appointment_id!r} "
            f"in the quotas of holder {holder_id}",
        )


class ReservationExistsError(BenefitError):
    """A reservation names an appointment that already holds an open reservation.

    Attributes:
        holder_id: the holder of the quotas.
        appointment_id: the appointment named.
        benefit_key: the quota of the reservation already open.
    """

    def __init__(
        self, member_id: str, holder_id: str, appointment_id: str, benefit_key: str
    ) -> None:
        self.holder_id = holder_id
        self.appointment_id = appointment_id
        self.benefit_key = benefit_key
        super().__init__(
            member_id,
            f"member {member_id}: appointment {appointment_id!r} already holds a reservation "
            f"of {benefit_key!r} in the quotas of holder {holder_id}",
        )


class QuotaKeyConflictError(BenefitError):
    """An idempotency key was reused for a different quota command.

    Attributes:
        holder_id: the holder of the quotas.
        key: the reused key.
    """

    def __init__(self, member_id: str, holder_id: str, key: str) -> None:
        self.holder_id = holder_id
        self.key = key
        super().__init__(
            member_id,
            f"member {member_id}: idempotency key {key!r} was already used by a different "
            f"command on the quotas of holder {holder_id}",
        )


class QuotaHolderError(BenefitError):
    """A quota command or event was applied to the wrong holder's quotas.

    Attributes:
        holder_id: the holder of the quota state it was applied to.
        problem: what does not match.
    """

    def __init__(self, member_id: str, holder_id: str, problem: str) -> None:
        self.holder_id = holder_id
        self.problem = problem
        super().__init__(member_id, f"member {member_id}: quotas of holder {holder_id}: {problem}")


class HouseholdError(MembercoreError):
    """Root of the household's refusals.

    Attributes:
        household_id: the household concerned.
        member_id: the member concerned.
    """

    def __init__(self, household_id: str, member_id: str, message: str) -> None:
        self.household_id = household_id
        self.member_id = member_id
        super().__init__(message)


class HouseholdMembershipError(HouseholdError):
    """A household command does not fit who is in the household.

    Attributes:
        problem: what does not fit.
    """

    def __init__(self, household_id: str, member_id: str, problem: str) -> None:
        self.problem = problem
        super().__init__(
            household_id, member_id, f"household {household_id}, member {member_id}: {problem}"
        )


class GuardianRequiredError(HouseholdError):
    """A minor would be in the household without an adult guardian of it.

    Either the minor was added without one, or their guardian was to leave the household
    while they stay (``member_id`` is the minor in both cases).

    Attributes:
        guardian_id: the guardian named, if any.
        leaving: the guardian was to leave the household.
    """

    def __init__(
        self,
        household_id: str,
        member_id: str,
        guardian_id: str | None,
        *,
        leaving: bool = False,
    ) -> None:
        self.guardian_id = guardian_id
        self.leaving = leaving
        if leaving:
            named = (
                f"{guardian_id}, their guardian, cannot leave while they stay: remove "
                f"{member_id} first, or add them again with another guardian"
            )
        elif guardian_id:
            named = f"{guardian_id} is not an adult of the household"
        else:
            named = "none named"
        super().__init__(
            household_id,
            member_id,
            f"household {household_id}: minor {member_id} needs an adult guardian ({named})",
        )


# --- paid plans ---------------------------------------------------------------------------


class PlanError(MembercoreError):
    """Root of the paid plans' refusals.

    Attributes:
        member_id: the subscriber whose command was refused.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class UnknownPlanError(PlanError, LookupError):
    """A command or subscription names a plan the programme does not offer.

    Attributes:
        plan_key: the plan named.
    """

    def __init__(self, member_id: str, plan_key: str) -> None:
        self.plan_key = plan_key
        super().__init__(member_id, f"member {member_id}: no plan {plan_key!r} in the programme")


class UnknownSubscriptionError(PlanError, LookupError):
    """A command names a subscription the member does not hold.

    Attributes:
        subscription_id: the id that was not found.
    """

    def __init__(self, member_id: str, subscription_id: str) -> None:
        self.subscription_id = subscription_id
        super().__init__(member_id, f"member {member_id}: no subscription {subscription_id!r}")


class SubscriptionTransitionError(PlanError):
    """A subscription cannot do what was asked in its current status.

    Attributes:
        subscription_id: the subscription.
        status: its status (``pending_payment``, ``active``, ``grace``, ``expired``...).
        action: what was attempted (``renew``, ``cancel``, ``record_payment``...).
        detail: why not, when the status alone does not say.
    """

    def __init__(
        self,
        member_id: str,
        subscription_id: str,
        status: str,
        action: str,
        detail: str | None = None,
    ) -> None:
        self.subscription_id = subscription_id
        self.status = status
        self.action = action
        self.detail = detail
        suffix = f": {detail}" if detail else ""
        super().__init__(
            member_id,
            f"member {member_id}: subscription {subscription_id!r} is {status}; "
            f"cannot {action}{suffix}",
        )


class WrongPaymentAmountError(PlanError, ValueError):
    """A payment does not match the amount the subscription awaits.

    Attributes:
        subscription_id: the subscription.
        expected_fen: the amount due, in fen.
        given_fen: the amount paid, in fen.
    """

    def __init__(
        self, member_id: str, subscription_id: str, expected_fen: int, given_fen: int
    ) -> None:
        self.subscription_id = subscription_id
        self.expected_fen = expected_fen
        self.given_fen = given_fen
        super().__init__(
            member_id,
            f"member {member_id}: subscription {subscription_id!r} awaits {expected_fen} fen, "
            f"given {given_fen} fen",
        )


class TooManyDependentsError(PlanError):
    """A plan would cover more relatives than it allows.

    Attributes:
        subscription_id: the subscription.
        plan_key: its plan.
        limit: the plan's ``max_dependents``.
        requested: the number of relatives it would cover.
    """

    def __init__(
        self, member_id: str, subscription_id: str, plan_key: str, limit: int, requested: int
    ) -> None:
        self.subscription_id = subscription_id
        self.plan_key = plan_key
        self.limit = limit
        self.requested = requested
        super().__init__(
            member_id,
            f"member {member_id}: subscription {subscription_id!r} to {plan_key!r} covers at "
            f"most {limit} dependents, asked for {requested}",
        )


class DependentNotCoveredError(PlanError, LookupError):
    """A relative to uncover is not covered by the subscription.

    Attributes:
        subscription_id: the subscription.
        dependent_id: the relative named.
    """

    def __init__(self, member_id: str, subscription_id: str, dependent_id: str) -> None:
        self.subscription_id = subscription_id
        self.dependent_id = dependent_id
        super().__init__(
            member_id,
            f"member {member_id}: subscription {subscription_id!r} does not cover {dependent_id}",
        )


class SubscriptionExistsError(PlanError):
    """A new subscription's id is taken, or the member already holds the plan.

    Attributes:
        subscription_id: the new subscription's id.
        plan_key: the plan asked for.
        existing_id: the subscription in the way (the same id, or the one holding the plan).
    """

    def __init__(
        self, member_id: str, subscription_id: str, plan_key: str, existing_id: str
    ) -> None:
        self.subscription_id = subscription_id
        self.plan_key = plan_key
        self.existing_id = existing_id
        if existing_id == subscription_id:
            problem = f"subscription id {subscription_id!r} is already used"
        else:
            problem = (
                f"already holds {plan_key!r} through subscription {existing_id!r}; "
                "renew that one instead"
            )
        super().__init__(member_id, f"member {member_id}: {problem}")


class PlanChangeNotAllowedError(PlanError):
    """A subscription cannot move to the plan asked for.

    Attributes:
        subscription_id: the subscription to change.
        from_plan: its plan.
        to_plan: the plan asked for.
        reason: why not.
    """

    def __init__(
        self, member_id: str, subscription_id: str, from_plan: str, to_plan: str, reason: str
    ) -> None:
        self.subscription_id = subscription_id
        self.from_plan = from_plan
        self.to_plan = to_plan
        self.reason = reason
        super().__init__(
            member_id,
            f"member {member_id}: subscription {subscription_id!r} cannot change from "
            f"{from_plan!r} to {to_plan!r}: {reason}",
        )


class ConsentError(MembercoreError):
    """Root of consent's refusals.

    Attributes:
        member_id: the member concerned.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class GuardianConsentRequiredError(ConsentError):
    """Consent for a minor under 14 came from someone who is not their guardian.

    Attributes:
        given_by: who tried to give it.
        age: the member's age, when known.
    """

    def __init__(self, member_id: str, given_by: str, age: int | None) -> None:
        self.given_by = given_by
        self.age = age
        aged = f"aged {age}" if age is not None else "of unknown age"
        super().__init__(
            member_id,
            f"member {member_id} ({aged}): consent given by {given_by} needs a guardian of "
            "the member's household",
        )


class JourneyError(MembercoreError):
    """Root of the journeys' errors."""


class JourneyDefinitionError(JourneyError, ValueError):
    """A journey definition does not hold together.

    Attributes:
        journey: the journey's key.
        problems: every problem found.
    """

    def __init__(self, journey: str, problems: tuple[str, ...]) -> None:
        self.journey = journey
        self.problems = problems
        super().__init__(f"journey {journey!r}: " + "; ".join(problems))


# --- segments and tags --------------------------------------------------------------------


class SegmentError(MembercoreError):
    """Root of the segments' and tags' refusals."""


class InvalidCodeError(SegmentError, ValueError):
    """Text that is not an ICD-10 code.

    Attributes:
        code: the text given.
    """

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"{code!r} is not an ICD-10 code (a letter, a digit, a digit or letter, then an "
            "optional subcode: E11, E11.9, E119)"
        )


class ReservedTagError(SegmentError, ValueError):
    """A command tried to add or remove a tag that only facts may set.

    Tags in the derived namespaces (``condition:``, ``stage:``, ``spend:``, ``channel:``,
    ``family:``, ``care:``) follow from facts; journeys and staff use tags of their own.

    Attributes:
        member_id: the member.
        tag: the tag named.
    """

    def __init__(self, member_id: str, tag: str) -> None:
        self.member_id = member_id
        self.tag = tag
        super().__init__(
            f"member {member_id}: tag {tag!r} is derived from facts and cannot be set by hand"
        )


class WorkError(MembercoreError):
    """Root of the refusals of staff work.

    Attributes:
        member_id: the member concerned.
    """

    def __init__(self, member_id: str, message: str) -> None:
        self.member_id = member_id
        super().__init__(message)


class UnknownTaskError(WorkError, LookupError):
    """A command names a task the member has no open task for.

    Attributes:
        task_key: the task named.
    """

    def __init__(self, member_id: str, task_key: str) -> None:
        self.task_key = task_key
        super().__init__(member_id, f"member {member_id}: no open task {task_key!r}")


class NoStaffError(WorkError):
    """Nobody on the roster has the role the work needs.

    Attributes:
        role: the role.
    """

    def __init__(self, member_id: str, role: str) -> None:
        self.role = role
        super().__init__(member_id, f"member {member_id}: nobody on the staff roster is a {role}")


class OfferNotValidError(MembercoreError):
    """A redemption names an offer that cannot be taken up.

    Attributes:
        member_id: the member.
        code: the code given.
        problem: why (unknown, expired, already used).
    """

    def __init__(self, member_id: str, code: str, problem: str) -> None:
        self.member_id = member_id
        self.code = code
        self.problem = problem
        super().__init__(f"member {member_id}: offer {code!r} cannot be taken up: {problem}")


class StorageError(MembercoreError):
    """A store failed or refused a read or a commit; nothing of the commit was kept.

    Attributes:
        store: the store's URL (without a password).
        problem: what went wrong.
    """

    def __init__(self, store: str, problem: str) -> None:
        self.store = store
        self.problem = problem
        super().__init__(f"store {store}: {problem}")


class VersionConflictError(StorageError):
    """A commit expected versions of member records that another writer moved on.

    Attributes:
        conflicts: each record key with the version the commit expected.
    """

    def __init__(self, store: str, conflicts: dict[str, int]) -> None:
        self.conflicts = dict(conflicts)
        listed = ", ".join(f"{key} (expected v{version})" for key, version in conflicts.items())
        super().__init__(store, f"version conflict on {listed}")


class StoreUnavailableError(StorageError):
    """The store could not be opened or reached (a missing directory, a server down)."""


class UnknownStoreError(StorageError, LookupError):
    """No installed plugin provides a store for the URL's scheme.

    Attributes:
        scheme: the URL scheme.
        known: the schemes that are provided.
    """

    def __init__(self, url: str, scheme: str, known: tuple[str, ...]) -> None:
        self.scheme = scheme
        self.known = known
        super().__init__(
            url, f"no store for scheme {scheme!r} (installed: {', '.join(known) or 'none'})"
        )


class PluginError(MembercoreError):
    """A plugin failed or contributed something invalid.

    Attributes:
        plugin: the plugin's name (its entry-point name or registered name).
        problem: what went wrong.
    """

    def __init__(self, plugin: str, problem: str) -> None:
        self.plugin = plugin
        self.problem = problem
        super().__init__(f"plugin {plugin!r}: {problem}")


class EngineError(MembercoreError):
    """The engine could not carry out a call."""


class GaveUpError(EngineError):
    """A unit of work met a version conflict on every attempt (other workers kept winning).

    Attributes:
        what: the call (the command with its member and key, the batch, the tick).
        attempts: how many times it was tried.
        conflicts: each record another worker changed first, with how many times.
    """

    def __init__(self, what: str, attempts: int, conflicts: dict[str, int]) -> None:
        self.what = what
        self.attempts = attempts
        self.conflicts = dict(conflicts)
        listed = ", ".join(f"{key} ({n}×)" for key, n in sorted(conflicts.items()))
        super().__init__(f"gave up {what} after {attempts} version conflicts in a row, on {listed}")


class UnknownMemberError(EngineError, LookupError):
    """A call names a member the store holds nothing about.

    Attributes:
        member_id: the member named.
    """

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        super().__init__(f"member {member_id!r} is not known")
