"""Refusals of the points: the ledger, the tier ladder, the rewards catalogue and offers."""

from __future__ import annotations

import attrs

from membercore.errors.base import MembercoreError

__all__ = [
    "EarningTooOldError",
    "InsufficientPointsError",
    "InvalidAmountError",
    "LedgerError",
    "NotReversibleError",
    "OfferNotValidError",
    "OutOfStockError",
    "PerMemberLimitError",
    "ReferralRefusedError",
    "RewardError",
    "TierError",
    "TierTooLowError",
    "TransferNotAllowedError",
    "UnknownPostingError",
    "UnknownRedemptionError",
    "UnknownRewardError",
    "UnknownRuleError",
    "UnknownTierError",
    "YearlyValueCapError",
]


# --- the points ledger --------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class LedgerError(MembercoreError):
    """Root of the points ledger's refusals.

    Attributes:
        member_id: the member whose ledger refused.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class InvalidAmountError(LedgerError, ValueError):
    """A points amount is out of range (zero, negative where positive is required...).

    Attributes:
        amount: the amount given.
        problem: what is wrong with it.
    """

    amount: int
    problem: str

    def __str__(self) -> str:
        return f"member {self.member_id}: invalid amount {self.amount}: {self.problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class ReferralRefusedError(LedgerError):
    """A referral the programme does not reward.

    Attributes:
        referred_id: the patient said to be referred.
        problem: why (a self-referral, one already rewarded, no first visit known).
    """

    referred_id: str
    problem: str

    def __str__(self) -> str:
        return f"member {self.member_id}: referral of {self.referred_id} refused: {self.problem}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class InsufficientPointsError(LedgerError):
    """A debit asks for more points than the member has available.

    Attributes:
        requested: the points asked for.
        available: the points available at that instant.
    """

    requested: int
    available: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: insufficient points: requested {self.requested}, "
            f"available {self.available}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownPostingError(LedgerError, LookupError):
    """A command names a posting the member's ledger does not hold.

    Attributes:
        posting_id: the id that was not found.
    """

    posting_id: str

    def __str__(self) -> str:
        return f"member {self.member_id}: unknown posting {self.posting_id!r}"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class NotReversibleError(LedgerError):
    """A reversal names a posting that is not an earning.

    Attributes:
        posting_id: the posting named.
        kind: its kind.
    """

    posting_id: str
    kind: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: posting {self.posting_id!r} of kind {self.kind!r} "
            "cannot be reversed; only earnings can"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class EarningTooOldError(LedgerError):
    """A reversal names an earning of longer ago than ``ledger.reversible_months``.

    Also raised for any posting of the member's that the ledger has let go since (an
    old expiry, say): only earnings were ever reversed, and none that old.

    Attributes:
        posting_id: the posting named.
        months: the months an earning stays reversible.
    """

    posting_id: str
    months: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: posting {self.posting_id!r} is more than "
            f"{self.months} months old: earnings are reversed for {self.months} months "
            "(ledger.reversible_months); correct the points with an adjustment"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class TransferNotAllowedError(LedgerError):
    """A transfer between two members was refused.

    Attributes:
        target_id: the member who would have received the points.
        points: the points asked for.
        reason: why it was refused.
    """

    target_id: str
    points: int
    reason: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: transfer of {self.points} points to {self.target_id} "
            f"refused: {self.reason}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownRuleError(LedgerError, LookupError):
    """A command names an earning rule the programme does not define.

    Attributes:
        rule_id: the rule named.
        points: the points that were asked for.
    """

    rule_id: str
    points: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: no earning rule {self.rule_id!r} in the programme "
            f"(asked for {self.points} points)"
        )


# --- the tier ladder ----------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class TierError(MembercoreError):
    """Root of the tier ladder's refusals.

    Attributes:
        member_id: the member concerned.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownTierError(TierError, LookupError):
    """A command names a tier that is not on the programme's ladder.

    Attributes:
        tier: the tier named.
    """

    tier: str

    def __str__(self) -> str:
        return f"member {self.member_id}: no tier {self.tier!r} on the ladder"


# --- the rewards catalogue ----------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class RewardError(MembercoreError):
    """Root of the rewards catalogue's refusals.

    Attributes:
        member_id: the member whose redemption (or cancellation) was refused.
    """

    member_id: str


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownRewardError(RewardError, LookupError):
    """A redemption names a reward the catalogue does not hold.

    Attributes:
        reward_key: the key named.
    """

    reward_key: str

    def __str__(self) -> str:
        return f"member {self.member_id}: no reward {self.reward_key!r} in the catalogue"


@attrs.define(auto_exc=True, frozen=True, repr=False)
class OutOfStockError(RewardError):
    """A redemption asks for more of a reward than is left in stock.

    Attributes:
        reward_key: the reward.
        requested: the quantity asked for.
        left: the quantity left in stock.
    """

    reward_key: str
    requested: int
    left: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: reward {self.reward_key!r} is out of stock: requested "
            f"{self.requested}, left {self.left}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class PerMemberLimitError(RewardError):
    """A redemption would take a member past a reward's per-member limit.

    Attributes:
        reward_key: the reward.
        limit: how many one member may redeem in all.
        redeemed: how many the member has already redeemed (cancellations excluded).
        requested: the quantity asked for.
    """

    reward_key: str
    limit: int
    redeemed: int
    requested: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: reward {self.reward_key!r} is limited to {self.limit} "
            f"per member; already redeemed {self.redeemed}, requested {self.requested}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class TierTooLowError(RewardError):
    """A redemption asks for a reward reserved for higher tiers.

    Attributes:
        reward_key: the reward.
        tier: the member's tier.
        required: the lowest tier that may redeem it.
    """

    reward_key: str
    tier: str
    required: str

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: reward {self.reward_key!r} needs tier {self.required} "
            f"or higher; the member is {self.tier}"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class YearlyValueCapError(RewardError):
    """A redemption would take a member past the yearly cap on gift value.

    Attributes:
        reward_key: the reward.
        requested_fen: the value asked for, in fen.
        left_fen: the value the member may still receive this calendar year, in fen.
        cap_fen: the yearly cap, in fen.
    """

    reward_key: str
    requested_fen: int
    left_fen: int
    cap_fen: int

    def __str__(self) -> str:
        return (
            f"member {self.member_id}: reward {self.reward_key!r} worth {self.requested_fen} "
            f"fen exceeds the yearly gift value cap of {self.cap_fen} fen; {self.left_fen} fen "
            "left this year"
        )


@attrs.define(auto_exc=True, frozen=True, repr=False)
class UnknownRedemptionError(RewardError, LookupError):
    """A cancellation names a redemption the member's history does not hold.

    Attributes:
        redemption_id: the id named.
    """

    redemption_id: str

    def __str__(self) -> str:
        return f"member {self.member_id}: no redemption {self.redemption_id!r} to cancel"


# --- offers -------------------------------------------------------------------------------


@attrs.define(auto_exc=True, frozen=True, repr=False)
class OfferNotValidError(MembercoreError):
    """A redemption names an offer that cannot be taken up.

    Attributes:
        member_id: the member.
        code: the code given.
        problem: why (unknown, expired, already used).
    """

    member_id: str
    code: str
    problem: str

    def __str__(self) -> str:
        return f"member {self.member_id}: offer {self.code!r} cannot be taken up: {self.problem}"
