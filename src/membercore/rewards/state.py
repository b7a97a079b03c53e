"""What members have received, and the stock left."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

import attrs

from membercore.config import Reward
from membercore.errors import (
    MemberMismatchError,
    UnknownRedemptionError,
)
from membercore.rewards.messages import (
    HistoryMergeEvent,
    RedemptionCancelled,
    RedemptionRecord,
    RewardEvent,
    RewardHistoryMerged,
    RewardRedeemed,
)


@attrs.frozen(kw_only=True)
class RewardHistory:
    """What one member has redeemed. Immutable: :func:`evolve_history` returns a new one.

    Attributes:
        member_id: the member.
        redemptions: every redemption, cancelled ones included, in order.
        keys: idempotency keys seen, with the fingerprint of the command that used each.
    """

    member_id: str
    redemptions: tuple[RedemptionRecord, ...] = ()
    keys: Mapping[str, str] = attrs.field(factory=dict)

    def redemption(self, redemption_id: str) -> RedemptionRecord | None:
        """The redemption called ``redemption_id``, if there is one."""
        return next((r for r in self.redemptions if r.redemption_id == redemption_id), None)

    def redeemed(self, reward_key: str) -> int:
        """How many of a gift the member holds: redeemed and not cancelled."""
        return sum(
            r.quantity
            for r in self.redemptions
            if r.reward_key == reward_key and r.cancelled_at is None
        )

    def value_in_year(self, year: int, tz: ZoneInfo) -> int:
        """The value (fen) of the gifts received in calendar ``year`` of ``tz``, not cancelled."""
        return sum(
            r.value_fen
            for r in self.redemptions
            if r.cancelled_at is None and r.at.astimezone(tz).year == year
        )

    def next_redemption_id(self) -> str:
        """The id the next redemption will have."""
        return f"{self.member_id}/reward/{len(self.redemptions) + 1}"


@attrs.frozen(kw_only=True)
class StockState:
    """The catalogue's stock, shared by every member. Immutable: see :func:`evolve_stock`.

    The catalogue says how many of a gift there are; this says how many were handed out.

    Attributes:
        issued: by reward key, how many are out (redeemed and not cancelled).
        keys: the events applied (``<event type>:<redemption id>``), so that applying an
            event twice counts it once.
    """

    issued: Mapping[str, int] = attrs.field(factory=dict)
    keys: frozenset[str] = frozenset()

    def left(self, reward: Reward) -> int | None:
        """How many of ``reward`` are left; ``None`` when its stock is unlimited."""
        if reward.stock is None:
            return None
        # A catalogue edit may lower the stock below what is already out: none is left.
        return max(0, reward.stock - self.issued.get(reward.key, 0))


def evolve_history(history: RewardHistory, event: RewardEvent | HistoryMergeEvent) -> RewardHistory:
    """Apply one reward event to a member's history (an event applied twice counts once).

    Raises:
        MemberMismatchError: the event belongs to another member.
        UnknownRedemptionError: a cancellation names a redemption the history lacks.
    """
    if event.member_id != history.member_id:
        raise MemberMismatchError(history.member_id, event.member_id)
    if history.keys.get(event.idempotency_key) == event.fingerprint:
        return history
    keys = {**history.keys, event.idempotency_key: event.fingerprint}
    if isinstance(event, RewardHistoryMerged):
        return attrs.evolve(
            history, redemptions=(*history.redemptions, *event.redemptions), keys=keys
        )
    if not isinstance(event, RewardRedeemed | RedemptionCancelled):
        return attrs.evolve(history, redemptions=(), keys=keys)  # merged away
    if isinstance(event, RewardRedeemed):
        record = RedemptionRecord(
            redemption_id=event.redemption_id,
            reward_key=event.reward_key,
            quantity=event.quantity,
            value_fen=event.value_fen,
            points=event.points,
            at=event.at,
        )
        return attrs.evolve(history, redemptions=(*history.redemptions, record), keys=keys)
    if history.redemption(event.redemption_id) is None:
        raise UnknownRedemptionError(history.member_id, event.redemption_id)
    redemptions = tuple(
        attrs.evolve(r, cancelled_at=event.at)
        if r.redemption_id == event.redemption_id and r.cancelled_at is None
        else r
        for r in history.redemptions
    )
    return attrs.evolve(history, redemptions=redemptions, keys=keys)


def evolve_stock(stock: StockState, event: RewardEvent) -> StockState:
    """Apply one reward event to the stock (an event applied twice counts once)."""
    applied = f"{event.TYPE}:{event.redemption_id}"
    if applied in stock.keys:
        return stock
    out = stock.issued.get(event.reward_key, 0)
    if isinstance(event, RewardRedeemed):
        out += event.quantity
    else:
        # Stock tracked from a later start may not have seen the redemption: never below 0.
        out = max(0, out - event.quantity)
    issued = {**stock.issued, event.reward_key: out}
    return StockState(issued=issued, keys=stock.keys | {applied})


def replay_history(member_id: str, events: Iterable[RewardEvent]) -> RewardHistory:
    """Rebuild a member's history from their reward events, in order."""
    history = RewardHistory(member_id=member_id)
    for event in events:
        history = evolve_history(history, event)
    return history


def replay_stock(events: Iterable[RewardEvent]) -> StockState:
    """Rebuild the stock from every member's reward events."""
    stock = StockState()
    for event in events:
        stock = evolve_stock(stock, event)
    return stock
