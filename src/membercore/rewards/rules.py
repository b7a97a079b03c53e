"""The catalogue's rules, checked in one place for redemptions and for listings."""

from __future__ import annotations

from datetime import datetime

from membercore.config import ProgrammeConfig, Reward
from membercore.errors import (
    IdempotencyConflictError,
    MemberMismatchError,
    OutOfStockError,
    PerMemberLimitError,
    RewardError,
    TierTooLowError,
    YearlyValueCapError,
)
from membercore.idempotency import replayed
from membercore.ledger import LedgerState
from membercore.rewards.state import (
    RewardHistory,
    StockState,
)


def first_refusal(
    reward: Reward,
    quantity: int,
    *,
    history: RewardHistory,
    stock: StockState,
    config: ProgrammeConfig,
    now: datetime,
    tier: str,
) -> RewardError | None:
    """The first catalogue rule a redemption breaks, as the error to raise; or ``None``."""
    member_id = history.member_id
    # Ranking the member's tier first refuses a misspelled tier even for open gifts.
    rank = config.tiers.rank(tier)
    if reward.min_tier is not None and rank < config.tiers.rank(reward.min_tier):
        return TierTooLowError(member_id, reward.key, tier, reward.min_tier)
    left = stock.left(reward)
    if left is not None and quantity > left:
        return OutOfStockError(member_id, reward.key, quantity, left)
    limit = reward.per_member_limit
    held = history.redeemed(reward.key)
    if limit is not None and held + quantity > limit:
        return PerMemberLimitError(member_id, reward.key, limit, held, quantity)
    cap = config.rewards.yearly_value_cap_fen
    if cap is not None:
        tz = config.tz
        received = history.value_in_year(now.astimezone(tz).year, tz)
        asked = reward.value_fen * quantity
        if received + asked > cap:
            return YearlyValueCapError(member_id, reward.key, asked, max(0, cap - received), cap)
    return None


def check_member(ledger_state: LedgerState, history: RewardHistory, member_id: str) -> None:
    """Refuse states of another member than the command's."""
    if ledger_state.member_id != member_id:
        raise MemberMismatchError(ledger_state.member_id, member_id)
    if history.member_id != member_id:
        raise MemberMismatchError(history.member_id, member_id)


def already_done(history: RewardHistory, key: str, command: object) -> bool:
    """Whether the command was carried out; refuse a key reused for another command."""
    return replayed(history.keys, key, command, owner=history.member_id)


def check_key_free(ledger_state: LedgerState, key: str) -> None:
    """Refuse a key the member's ledger already used for another command."""
    # The ledger posting carries the command's key. A key the ledger already knows but the
    # history does not was used by another ledger command: the ledger would call this a
    # replay and post nothing, and the gift would go out unpaid.
    if key in ledger_state.keys:
        raise IdempotencyConflictError(ledger_state.member_id, key)
