"""How the ladder is read: the qualification window, earned levels, review dates."""

from __future__ import annotations

from datetime import datetime, timedelta

from membercore.config import ProgrammeConfig
from membercore.dates import add_months, local_date, local_month_start
from membercore.ledger import LedgerState, qualifying_points
from membercore.ledger.reports import qualification_window_start
from membercore.tiers import activity
from membercore.tiers.messages import Qualification
from membercore.tiers.state import TierState

__all__ = [
    "behind",
    "due_at",
    "earned_level",
    "next_review",
    "qualification",
    "review_due_at",
    "window_start",
]


def window_start(config: ProgrammeConfig, now: datetime) -> datetime:
    """The start of the qualification window that ends at ``now``.

    The ledger's balances count ``qualifying`` over the same window.
    """
    return qualification_window_start(config, now)


def qualification(
    state: TierState, ledger: LedgerState, config: ProgrammeConfig, now: datetime
) -> Qualification:
    """What the member has done in the window ending at ``now`` (inclusive)."""
    since, until = window_start(config, now), _just_after(now)
    return Qualification(
        since=since,
        points=qualifying_points(ledger, since, until),
        visits=activity.visits(state, since, until),
        spend_fen=activity.spend_fen(state, since, until),
    )


def earned_level(config: ProgrammeConfig, done: Qualification) -> str:
    """The highest ladder level whose criteria ``done`` meets."""
    earned = config.tiers.levels[0].key
    for level in config.tiers.levels:
        met = [done.points >= level.threshold]
        if level.min_visits is not None:
            met.append(done.visits >= level.min_visits)
        if level.min_spend_fen is not None:
            met.append(done.spend_fen >= level.min_spend_fen)
        if any(met) if level.qualify_on == "any" else all(met):
            earned = level.key
    return earned


def _just_after(now: datetime) -> datetime:
    return now + timedelta(microseconds=1)


def next_review(config: ProgrammeConfig, at: datetime) -> datetime:
    """The review date that follows a change at ``at``."""
    if config.tiers.review == "calendar_year":
        return local_month_start(local_date(at, config.tz).year + 1, 1, config.tz)
    return add_months(at, 12, config.tz)


def review_due_at(state: TierState, config: ProgrammeConfig) -> datetime | None:
    """When the held level's review falls due: its review date plus ``tiers.grace_days``.

    ``None`` when the held level has no review date (the lowest level).
    """
    if state.review_at is None:
        return None
    return state.review_at + timedelta(days=config.tiers.grace_days)


def due_at(state: TierState, config: ProgrammeConfig) -> datetime | None:
    """The next instant the passing of time changes something on the member's ladder.

    The earlier of the review falling due (:func:`review_due_at`) and the end of a staff
    override; ``None`` when neither is set.
    """
    instants = [review_due_at(state, config)]
    if state.override is not None:
        instants.append(state.override.expires_at)
    return min((at for at in instants if at is not None), default=None)


def behind(state: TierState, config: ProgrammeConfig, now: datetime, floor: str | None) -> bool:
    """Whether the tier as stored is no longer the member's at ``now``.

    A review or an override's end fell due, or the plan floor in force differs from the
    one the stored tier rests on: the tier must be settled again (``decide`` with no
    message) before anything reads it.
    """
    due = due_at(state, config)
    if due is not None and due <= now:
        return True
    if state.override is not None:
        return False
    ladder = config.tiers
    held = state.held or ladder.levels[0].key
    lifted = floor if floor is not None and ladder.rank(floor) > ladder.rank(held) else held
    return (state.tier or ladder.levels[0].key) != lifted
