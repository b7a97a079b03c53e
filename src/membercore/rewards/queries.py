"""What a member can redeem now, and why not."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    OutOfStockError,
    PerMemberLimitError,
    RewardError,
    TierTooLowError,
    YearlyValueCapError,
)
from membercore.rewards.rules import (
    first_refusal,
)
from membercore.rewards.state import (
    RewardHistory,
    StockState,
)

UnavailableReason = Literal[
    "tier_too_low", "out_of_stock", "limit_reached", "yearly_cap", "insufficient_points"
]

REASON_LABELS: Mapping[UnavailableReason, str] = {
    "tier_too_low": "会员等级不足",
    "out_of_stock": "已兑完",
    "limit_reached": "已达兑换上限",
    "yearly_cap": "已达年度礼品价值上限",
    "insufficient_points": "积分不足",
}
"""What to show a member for each reason a reward is out of reach (zh-CN)."""


@attrs.frozen(kw_only=True)
class RewardOption:
    """A gift of the catalogue as one member sees it now.

    Attributes:
        reward_key: the gift.
        label: its name, shown to people.
        points: what one costs.
        value_fen: the value of one.
        left: how many are left in stock; ``None`` is unlimited.
        reason: why the member cannot redeem one now; ``None`` when they can (see
            :data:`REASON_LABELS` for what to show).
    """

    reward_key: str
    label: str
    points: int
    value_fen: int
    left: int | None
    reason: UnavailableReason | None

    @property
    def redeemable(self) -> bool:
        """Whether the member can redeem one now."""
        return self.reason is None


def available_rewards(
    history: RewardHistory,
    stock: StockState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    tier: str,
    points_available: int,
) -> tuple[RewardOption, ...]:
    """Every gift of the catalogue, in catalogue order, with why not for those out of reach.

    The checks are those of :func:`decide_redemption` for a quantity of one, in the same
    order, so the reason given is the error a redemption would raise.

    Args:
        history: the member's reward history.
        stock: the catalogue's stock.
        config: the programme.
        now: the instant (timezone-aware).
        tier: the member's tier key.
        points_available: the member's available points (``balances(...).available``).

    Raises:
        ConfigError: ``tier`` is not on the ladder.
        NaiveInstantError: ``now`` is naive.
    """
    now = require_aware("now", now)
    options = []
    for reward in config.rewards.rewards:
        refusal = first_refusal(
            reward, 1, history=history, stock=stock, config=config, now=now, tier=tier
        )
        reason: UnavailableReason | None = None
        if refusal is not None:
            reason = _REASONS[type(refusal)]
        elif reward.points > points_available:
            reason = "insufficient_points"
        options.append(
            RewardOption(
                reward_key=reward.key,
                label=reward.label,
                points=reward.points,
                value_fen=reward.value_fen,
                left=stock.left(reward),
                reason=reason,
            )
        )
    return tuple(options)


_REASONS: Mapping[type[RewardError], UnavailableReason] = {
    TierTooLowError: "tier_too_low",
    OutOfStockError: "out_of_stock",
    PerMemberLimitError: "limit_reached",
    YearlyValueCapError: "yearly_cap",
}
