"""The use cases of the reward stock: a gift redeemed or its redemption cancelled.

A gift with a limited stock has a record of its own (``stock:<gift>``), decided with the
member's record in one unit of work under the same version check, so that two members
never take the last one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from membercore import rewards
from membercore.service import pipeline
from membercore.service.handling import give
from membercore.service.member import Member, standing
from membercore.service.recording import Working
from membercore.service.unit_of_work import UnitOfWork

__all__ = ["cancel_redemption", "redeem_reward"]


def redeem_reward(
    uow: UnitOfWork, ctx: pipeline.Context, command: rewards.RedeemReward, at: datetime
) -> tuple[object, ...]:
    """A gift for points: the member's ledger and history, and the gift's stock record."""
    held = uow.require_member(command.member_id)
    member: Member = held.state
    limited = _limited(ctx, command.reward_key)
    stock = uow.stock(command.reward_key) if limited else None
    redemption = rewards.decide_redemption(
        command,
        member.ledger,
        member.rewards,
        stock.state if stock is not None else rewards.StockState(),
        ctx.config,
        at,
        tier=standing(member, ctx.config, at).tier,
    )
    _to_stock(stock, redemption.events)
    return give(uow, ctx, held, [*redemption.postings, *redemption.events], at)


def cancel_redemption(
    uow: UnitOfWork, ctx: pipeline.Context, command: rewards.CancelRedemption, at: datetime
) -> tuple[object, ...]:
    """A gift given back: the points return, the gift goes back into stock."""
    held = uow.require_member(command.member_id)
    member: Member = held.state
    found = member.rewards.redemption(command.redemption_id)
    stock = uow.stock(found.reward_key) if found and _limited(ctx, found.reward_key) else None
    redemption = rewards.decide_cancellation(command, member.ledger, member.rewards, ctx.config, at)
    _to_stock(stock, redemption.events)
    return give(uow, ctx, held, [*redemption.postings, *redemption.events], at)


def _limited(ctx: pipeline.Context, reward_key: str) -> bool:
    reward = ctx.config.rewards.reward(reward_key)
    return reward is not None and reward.stock is not None


def _to_stock(stock: Working | None, events: Iterable[Any]) -> None:
    if stock is None:
        return
    for event in events:
        stock.take(rewards.evolve_stock(stock.state, event), [event])
