"""The deciders: a redemption or a cancellation in, ledger postings and reward events out."""

from __future__ import annotations

from datetime import datetime

from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    MemberMismatchError,
    UnknownRedemptionError,
    UnknownRewardError,
)
from membercore.idempotency import fingerprint
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState, decide
from membercore.ledger.commands import AdjustPoints, Redeem
from membercore.rewards.messages import (
    CancelRedemption,
    HistoryMergeEvent,
    RedeemReward,
    Redemption,
    RedemptionCancelled,
    RewardHistoryMerged,
    RewardHistoryMergedAway,
    RewardRedeemed,
)
from membercore.rewards.rules import (
    already_done,
    check_key_free,
    check_member,
    first_refusal,
)
from membercore.rewards.state import (
    RewardHistory,
    StockState,
)

OPERATOR = "rewards"
"""The operator named on the ledger adjustment that gives a cancelled redemption's points back."""


def decide_redemption(
    command: RedeemReward,
    ledger_state: LedgerState,
    history: RewardHistory,
    stock: StockState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    tier: str,
) -> Redemption:
    """Everything a redemption makes, after every check; nothing if any check fails.

    Args:
        command: the redemption.
        ledger_state: the member's ledger.
        history: the member's reward history.
        stock: the catalogue's stock.
        config: the programme (its ``rewards`` catalogue and its timezone).
        now: the instant of the decision (timezone-aware).
        tier: the member's tier key.

    Returns:
        The ledger postings (expiries due, then the redemption) and one
        :class:`RewardRedeemed`; empty when the command was already carried out.

    Raises:
        UnknownRewardError: the catalogue has no such gift.
        TierTooLowError: the gift is reserved for higher tiers.
        OutOfStockError: fewer are left than asked for.
        PerMemberLimitError: the member would hold more than the per-member limit.
        YearlyValueCapError: the member would receive more gift value this year than the cap.
        InsufficientPointsError: the member has fewer points available than it costs.
        IdempotencyConflictError: the key was used by a different command.
        MemberMismatchError: a state belongs to another member.
        ConfigError: ``tier`` is not on the ladder.
        NaiveInstantError: ``now`` is naive.
    """
    now = require_aware("now", now)
    check_member(ledger_state, history, command.member_id)
    digest = fingerprint(command)
    if already_done(history, command.key, command):
        return Redemption()
    check_key_free(ledger_state, command.key)
    reward = config.rewards.reward(command.reward_key)
    if reward is None:
        raise UnknownRewardError(command.member_id, command.reward_key)
    refusal = first_refusal(
        reward, command.quantity, history=history, stock=stock, config=config, now=now, tier=tier
    )
    if refusal is not None:
        raise refusal
    points = reward.points * command.quantity
    redeem = Redeem(
        key=command.key, member_id=command.member_id, points=points, reference=reward.key
    )
    postings = decide(redeem, ledger_state, config, now, tier=tier)
    event = RewardRedeemed(
        redemption_id=history.next_redemption_id(),
        member_id=command.member_id,
        reward_key=reward.key,
        quantity=command.quantity,
        points=points,
        value_fen=reward.value_fen * command.quantity,
        at=now,
        catalogue_version=config.rewards.version,
        posting_id=postings[-1].posting_id,
        idempotency_key=command.key,
        fingerprint=digest,
    )
    return Redemption(postings=tuple(postings), events=(event,))


def decide_merge(
    command: MergeMembers, survivor: RewardHistory, duplicate: RewardHistory, now: datetime
) -> list[HistoryMergeEvent]:
    """Move a merged record's gifts to the survivor, so limits and the yearly cap see both.

    Returns one event for each record; none on a replay.

    Raises:
        MemberMismatchError: the histories are not those the command names.
        IdempotencyConflictError: the key was used by another command.
    """
    now = require_aware("now", now)
    if (survivor.member_id, duplicate.member_id) != (command.member_id, command.duplicate_id):
        raise MemberMismatchError(survivor.member_id, command.member_id)
    digest = fingerprint(command)
    if already_done(survivor, command.key, command):
        return []
    return [
        RewardHistoryMergedAway(
            member_id=duplicate.member_id,
            survivor_id=survivor.member_id,
            at=now,
            idempotency_key=command.key,
            fingerprint=digest,
        ),
        RewardHistoryMerged(
            member_id=survivor.member_id,
            duplicate_id=duplicate.member_id,
            redemptions=duplicate.redemptions,
            at=now,
            idempotency_key=command.key,
            fingerprint=digest,
        ),
    ]


def decide_cancellation(
    command: CancelRedemption,
    ledger_state: LedgerState,
    history: RewardHistory,
    config: ProgrammeConfig,
    now: datetime,
) -> Redemption:
    """Everything a cancellation makes: the points back, the gift back in stock.

    The points come back as a ledger adjustment by operator ``rewards``: a new,
    non-qualifying lot that expires under the programme's policy from ``now`` (the lots
    originally drawn may have expired since).

    Args:
        command: the cancellation.
        ledger_state: the member's ledger.
        history: the member's reward history.
        config: the programme.
        now: the instant of the decision (timezone-aware).

    Returns:
        The ledger postings (expiries due, then the adjustment) and one
        :class:`RedemptionCancelled`; empty when the command was already carried out or
        the redemption was already cancelled.

    Raises:
        UnknownRedemptionError: the member has no such redemption.
        IdempotencyConflictError: the key was used by a different command.
        MemberMismatchError: a state belongs to another member.
        NaiveInstantError: ``now`` is naive.
    """
    now = require_aware("now", now)
    check_member(ledger_state, history, command.member_id)
    digest = fingerprint(command)
    if already_done(history, command.key, command):
        return Redemption()
    record = history.redemption(command.redemption_id)
    if record is None:
        raise UnknownRedemptionError(command.member_id, command.redemption_id)
    if record.cancelled_at is not None:
        return Redemption()
    check_key_free(ledger_state, command.key)
    adjust = AdjustPoints(
        key=command.key,
        member_id=command.member_id,
        points=record.points,
        operator=OPERATOR,
        reason=command.reason,
    )
    postings = decide(adjust, ledger_state, config, now)
    event = RedemptionCancelled(
        redemption_id=record.redemption_id,
        member_id=command.member_id,
        reward_key=record.reward_key,
        quantity=record.quantity,
        points=record.points,
        value_fen=record.value_fen,
        at=now,
        reason=command.reason,
        posting_id=postings[-1].posting_id,
        idempotency_key=command.key,
        fingerprint=digest,
    )
    return Redemption(postings=tuple(postings), events=(event,))
