"""Reversal and clawback: taking back what an earning gave.

A reversal of ``n`` points of an earning takes them, in order, from what is left of the
earning's own lot, from points of that lot that already expired (they need not be taken
twice), from the member's other available lots and then their pending lots (earliest-
expiring first). What still cannot be recovered becomes debt under the ``debt`` policy
(later credits repay it first) or is written off under the ``cap`` policy.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import add_months
from membercore.ledger.events import Posting, PostingKind
from membercore.ledger.lots import Origin, debit, plan_draws, spending_order
from membercore.ledger.state import LedgerState, LotState

__all__ = ["refund_points", "reverse_earning", "reversible_since"]


def reverse_earning(
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    origin: Origin,
    *,
    lot_id: str,
    points: int,
    refunded_fen: int = 0,
    operator: str | None = None,
    reason: str | None = None,
) -> Posting:
    """Reverse ``points`` of the earning that opened ``lot_id``."""
    own = state.lots[lot_id]
    own_draws, left = plan_draws([own], points)
    offset = min(left, own.expired - own.offset_by_expiry)
    left -= offset
    others = [
        held
        for vested in (True, False)
        for held in spending_order(state, config, now, vested=vested)
        if held.lot.lot_id != lot_id
    ]
    other_draws, left = plan_draws(others, left)
    debt = left if config.ledger.clawback == "debt" else 0
    posting = debit(
        state,
        origin,
        kind=PostingKind.REVERSE,
        draws=own_draws + other_draws,
        at=now,
        debt_change=debt,
        operator=operator,
        reason=reason,
    )
    return attrs.evolve(
        posting,
        reverses=lot_id,
        refunded_fen=refunded_fen,
        offset_by_expiry=offset,
        written_off=left - debt,
    )


def refund_points(held: LotState, refunded_fen: int) -> int:
    """Points to reverse when ``refunded_fen`` more of the charge behind ``held`` is refunded.

    Reckoned on the cumulative refund, so that partial refunds adding up to the whole
    charge reverse exactly the points it earned.
    """
    basis = held.lot.basis_fen or 0
    if basis <= 0:
        return held.lot.points - held.reversed
    refunded = min(held.refunded_fen + refunded_fen, basis)
    return max(0, held.lot.points * refunded // basis - held.reversed)


def reversible_since(config: ProgrammeConfig, now: datetime) -> datetime:
    """The earliest instant an earning reversed at ``now`` may have been earned at.

    An earning of before it stands (``ledger.reversible_months``): a refund of its charge
    takes nothing back, and a :class:`~membercore.ledger.ReversePosting` of it is refused.
    """
    return add_months(now, -config.ledger.reversible_months, config.tz)
