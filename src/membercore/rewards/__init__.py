"""The rewards catalogue (积分兑礼): gifts members redeem with points.

A redemption touches three aggregates and is decided as one: the member's points ledger
(the points are drawn, earliest-expiring lots first), the member's
:class:`RewardHistory` (per-member limits and the yearly gift value cap) and the
:class:`StockState` shared by every member. :func:`decide_redemption` runs every check
first and returns everything to apply together, or raises and returns nothing::

    decision = decide_redemption(command, ledger_state, history, stock, config, now, tier=tier)
    for posting in decision.postings:
        ledger_state = membercore.ledger.evolve(ledger_state, posting)
    for event in decision.events:
        history = evolve_history(history, event)
        stock = evolve_stock(stock, event)

The application service commits the postings, the reward events and both states in one
transaction, with a version check on the stock: two members racing for the last gift
must not both get it.

The yearly value cap is an inducement guard: Chinese regulation frowns on hospitals
inducing patients with gifts, so the catalogue can cap the value (in fen, not points) of
the gifts one member receives in a calendar year of the programme's timezone.
"""

from __future__ import annotations

from membercore.config.rewards import Reward, RewardCatalogue
from membercore.rewards.decide import (
    OPERATOR,
    decide_cancellation,
    decide_merge,
    decide_redemption,
)
from membercore.rewards.messages import (
    MESSAGE_TYPES,
    CancelRedemption,
    HistoryMergeEvent,
    RedeemReward,
    Redemption,
    RedemptionCancelled,
    RedemptionRecord,
    RewardCommand,
    RewardEvent,
    RewardHistoryMerged,
    RewardHistoryMergedAway,
    RewardRedeemed,
)
from membercore.rewards.queries import (
    REASON_LABELS,
    RewardOption,
    UnavailableReason,
    available_rewards,
)
from membercore.rewards.state import (
    RewardHistory,
    StockState,
    evolve_history,
    evolve_stock,
    replay_history,
    replay_stock,
)

__all__ = [
    "MESSAGE_TYPES",
    "OPERATOR",
    "REASON_LABELS",
    "CancelRedemption",
    "HistoryMergeEvent",
    "RedeemReward",
    "Redemption",
    "RedemptionCancelled",
    "RedemptionRecord",
    "Reward",
    "RewardCatalogue",
    "RewardCommand",
    "RewardEvent",
    "RewardHistory",
    "RewardHistoryMerged",
    "RewardHistoryMergedAway",
    "RewardOption",
    "RewardRedeemed",
    "StockState",
    "UnavailableReason",
    "available_rewards",
    "decide_cancellation",
    "decide_merge",
    "decide_redemption",
    "evolve_history",
    "evolve_stock",
    "replay_history",
    "replay_stock",
]
