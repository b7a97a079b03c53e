"""What the passing of time does to a tier: overrides that end, reviews that fall due."""

from __future__ import annotations

from datetime import datetime, timedelta

from membercore.config import ProgrammeConfig
from membercore.ledger import LedgerState
from membercore.tiers.messages import Qualification, TierEvent, TierReviewed
from membercore.tiers.rules import earned_level, next_review, qualification, review_due_at
from membercore.tiers.settle import change
from membercore.tiers.state import TierState, evolve

__all__ = ["catch_up"]


def catch_up(
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    floor: str | None,
) -> list[TierEvent]:
    """What the passing of time did by ``now``, each change at its own instant.

    Overrides that ended and reviews that fell due (the review date plus the grace) are
    decided in the order of their instants, each on what the member had done by then, so
    that however seldom the reviews run the member's history is the same. A plan's floor
    is taken as it was last decided (a change of floor is decided at ``now``, after).
    """
    floor = _last_floor(state, config, floor)
    events: list[TierEvent] = []
    while True:
        review = review_due_at(state, config)
        ending = state.override.expires_at if state.override is not None else None
        due = [at for at in (ending, review) if at is not None and at <= now]
        if not due:
            return events
        at = min(due)
        if at == ending:
            event = _override_ended(state, ledger, config, at, floor=floor)
        else:
            event = _review(state, ledger, config, at, floor=floor)
        events.append(event)
        state = evolve(state, event)


def _last_floor(state: TierState, config: ProgrammeConfig, floor: str | None) -> str | None:
    """The floor the member's tier was last decided with (under an override: ``floor``)."""
    if state.override is not None:
        return floor
    rules = config.tiers
    held = state.held or rules.levels[0].key
    if state.tier is not None and rules.rank(state.tier) > rules.rank(held):
        return state.tier
    return None


def _override_ended(
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    at: datetime,
    *,
    floor: str | None,
) -> TierEvent:
    held = state.held or config.tiers.levels[0].key
    done = qualification(state, ledger, config, at)
    return change(
        state,
        config,
        at,
        held=held,
        review_at=state.review_at,
        reason="override_ended",
        done=done,
        floor=floor,
        override=None,
    )


def _reviewed(
    state: TierState, ledger: LedgerState, config: ProgrammeConfig, at: datetime
) -> Qualification:
    """What a review judges: the window ending when the review falls due (after the grace).

    For a calendar-year window, the better of that and the year that ended at the review
    date: a review on 1 January would otherwise judge the new, empty year, while the
    grace still lets a member qualify again before it ends.
    """
    done = qualification(state, ledger, config, at)
    if state.review_at is None or config.tiers.window != "calendar_year":
        return done  # a rolling window ending when the review falls due judges the year
    ended = qualification(state, ledger, config, state.review_at - timedelta(microseconds=1))
    rank = config.tiers.rank
    better = rank(earned_level(config, ended)) > rank(earned_level(config, done))
    return ended if better else done


def _review(
    state: TierState,
    ledger: LedgerState,
    config: ProgrammeConfig,
    at: datetime,
    *,
    floor: str | None,
) -> TierEvent:
    rules = config.tiers
    lowest = rules.levels[0].key
    held = state.held or lowest
    done = _reviewed(state, ledger, config, at)
    if rules.rank(earned_level(config, done)) < rules.rank(held):
        below = rules.levels[rules.rank(held) - 1].key
        return change(
            state,
            config,
            at,
            held=below,
            review_at=None if below == lowest else next_review(config, at),
            reason="downgrade",
            done=done,
            floor=floor,
            override=state.override,
        )
    assert state.review_at is not None  # only a held level with a review date falls due
    return TierReviewed(
        member_id=state.member_id,
        at=at,
        tier=held,
        review_at=next_review(config, state.review_at),
        rule_version=rules.version,
        qualification=done,
    )
