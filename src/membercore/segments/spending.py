"""Spending, visits and recency: out-of-pocket spend, the spending band and RFM scores."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.config.segments import SegmentRules, SpendingBand
from membercore.segments.day import day_of, order, window_start
from membercore.segments.messages import ChargeNoted, FactNoted, RefundNoted
from membercore.segments.state import ProfileState

__all__ = ["Rfm", "band", "out_of_pocket_fen", "rfm", "spend", "spending_band"]


@attrs.frozen(kw_only=True)
class Rfm:
    """Recency, frequency and monetary value, with their scores from 1 to 5.

    Attributes:
        recency_days: days since the last visit or charge (``None``: never).
        visits: visits in the window.
        spend_fen: out-of-pocket spend in the window, in fen.
        recency: the recency score.
        frequency: the frequency score.
        monetary: the monetary score.
    """

    recency_days: int | None
    visits: int
    spend_fen: int
    recency: int
    frequency: int
    monetary: int

    @property
    def code(self) -> str:
        """The three scores as one code, ``R F M``: ``"545"``."""
        return f"{self.recency}{self.frequency}{self.monetary}"


def spend(state: ProfileState, since: datetime) -> tuple[int, list[FactNoted]]:
    """Net out-of-pocket spend of the charges in the window, and the facts it rests on."""
    current: dict[str, ChargeNoted] = {}
    for note in state.charges.values():  # a charge sent again under a new fact id counts once
        kept = current.get(note.charge_id)
        if kept is None or order(note) > order(kept):
            current[note.charge_id] = note
    refunds: dict[str, list[RefundNoted]] = defaultdict(list)
    for refund in state.refunds.values():
        refunds[refund.charge_id].append(refund)
    total = 0
    evidence: list[FactNoted] = []
    for charge in current.values():
        if charge.at >= since:
            taken = sum(refund.amount_fen for refund in refunds[charge.charge_id])
            total += max(0, charge.self_paid_fen - taken)
            evidence += [charge, *refunds[charge.charge_id]]
    return total, evidence


def out_of_pocket_fen(state: ProfileState, config: ProgrammeConfig, now: datetime) -> int:
    """Out-of-pocket spend in the window, net of refunds, in fen."""
    return spend(state, window_start(config.segments, now, config.tz))[0]


def band(rules: SegmentRules, fen: int) -> SpendingBand:
    """The highest spending band whose start ``fen`` reaches."""
    return [each for each in rules.spending_bands if each.min_fen <= fen][-1]


def spending_band(state: ProfileState, config: ProgrammeConfig, now: datetime) -> SpendingBand:
    """The member's spending-power band: the highest whose start their spend reaches."""
    return band(config.segments, out_of_pocket_fen(state, config, now))


def _score_up(value: int, breakpoints: tuple[int, ...]) -> int:
    return 1 + sum(value >= point for point in breakpoints)


def rfm(state: ProfileState, config: ProgrammeConfig, now: datetime) -> Rfm:
    """The member's RFM scores at ``now``.

    Recency counts local days from the last visit or charge to today; frequency counts
    distinct visits in the window; monetary is the out-of-pocket spend in the window.
    """
    day = day_of(config.segments, now, config.tz)
    breakpoints = config.segments.rfm
    activity = [*state.visits.values(), *state.charges.values()]
    last = max((day.date_of(note) for note in activity), default=None)
    days = None if last is None else max(0, (day.today - last).days)
    visits = len({note.visit_id for note in state.visits.values() if note.at >= day.since})
    spent = spend(state, day.since)[0]
    recency = 1 if days is None else 5 - sum(days > point for point in breakpoints.recency_days)
    return Rfm(
        recency_days=days,
        visits=visits,
        spend_fen=spent,
        recency=recency,
        frequency=_score_up(visits, breakpoints.frequency),
        monetary=_score_up(spent, breakpoints.monetary_fen),
    )
