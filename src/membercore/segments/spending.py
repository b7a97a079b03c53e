"""Spending, visits and recency: out-of-pocket spend, the spending band and RFM scores."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.config.segments import HIGH_VALUE_TAG, SegmentRules, SpendingBand
from membercore.segments.day import Day, day_of, evidence, order, window_start, yuan
from membercore.segments.messages import ChargeNoted, FactNoted, RefundNoted, Tag
from membercore.segments.state import ProfileState

__all__ = [
    "Rfm",
    "band",
    "high_value_treatment",
    "out_of_pocket_fen",
    "rfm",
    "spend",
    "spending_band",
]


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


def _charges(state: ProfileState) -> dict[str, ChargeNoted]:
    """Each charge once, by charge id: the latest note of a charge sent again."""
    current: dict[str, ChargeNoted] = {}
    for note in state.charges.values():  # a charge sent again under a new fact id counts once
        kept = current.get(note.charge_id)
        if kept is None or order(note) > order(kept):
            current[note.charge_id] = note
    return current


def _refunds(state: ProfileState) -> dict[str, list[RefundNoted]]:
    refunds: dict[str, list[RefundNoted]] = defaultdict(list)
    for refund in state.refunds.values():
        refunds[refund.charge_id].append(refund)
    return refunds


def spend(state: ProfileState, since: datetime) -> tuple[int, tuple[FactNoted, ...]]:
    """Net out-of-pocket spend of the charges in the window, and the facts it rests on."""
    current = _charges(state)
    refunds = _refunds(state)
    total = 0
    evidence: list[FactNoted] = []
    for charge in current.values():
        if charge.at >= since:
            taken = sum(refund.amount_fen for refund in refunds[charge.charge_id])
            total += max(0, charge.self_paid_fen - taken)
            evidence += [charge, *refunds[charge.charge_id]]
    return total, tuple(evidence)


def high_value_treatment(state: ProfileState, day: Day) -> Tag | None:
    """The tag ``care:high_value_treatment``, if a charge of the tag's days makes it.

    A charge makes it when its lines of the high-value categories come to at least the
    rule's amount, less what was refunded of the charge.
    """
    rule = day.rules.high_value_treatment
    wanted = set(rule.categories)
    days = day.rules.tag_days.get(HIGH_VALUE_TAG)
    refunds = _refunds(state)
    found: list[tuple[ChargeNoted, int]] = []
    for charge in _charges(state).values():
        if not day.within(charge, days):
            continue
        high = sum(c.amount_fen for c in charge.categories if c.category in wanted)
        net = high - sum(refund.amount_fen for refund in refunds[charge.charge_id])
        if high and net >= rule.min_fen:
            found.append((charge, net))
    if not found:
        return None
    latest, net = max(found, key=lambda item: order(item[0]))
    named = ", ".join(c.category for c in latest.categories if c.category in wanted)
    reason = f"{yuan(net)} of {named} paid on {day.date_of(latest)}"
    return Tag(reason=reason, fact_ids=evidence(charge for charge, _ in found))


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
