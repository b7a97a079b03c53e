"""What a tier state may let go: visits and spend before every window still to be read.

The ladder reads the visits and out-of-pocket spend of the qualification window ending
at the instant it decides on (:func:`membercore.tiers.rules.qualification`). Those
instants only move forward: the decision at hand, and before it the reviews and the end
of an override that fell due since the last one (a review reads the window ending at
its review date too, whose grace may not be over). A visit or a charge from before the
window of the earliest of them is never read again and is let go, named on the activity
record the decision makes anyway, in batches of at least :data:`FORGET_AT_ONCE`. A visit
or charge sent again after it was let go counts again only where it always counted: at
its own instant, outside every window from then on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from membercore.config import ProgrammeConfig
from membercore.forgetting import FORGET_AT_ONCE, enough, worth_asking
from membercore.tiers.messages import TierActivityRecorded, TierEvent
from membercore.tiers.rules import review_due_at, window_start
from membercore.tiers.state import TierState

__all__ = ["FORGET_AT_ONCE", "forgettable", "with_forgetting"]

_INSTANT = timedelta(microseconds=1)


def forgettable(
    state: TierState, config: ProgrammeConfig, now: datetime
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The visits and charges no decision at ``now`` or after it reads."""
    pending = [review_due_at(state, config), now]
    if state.review_at is not None:  # a review also reads the window ending at its date
        pending.append(state.review_at - _INSTANT)
    if state.override is not None:
        pending.append(state.override.expires_at)
    since = window_start(config, min(at for at in pending if at is not None))
    visits = tuple(key for key, at in state.visits.items() if at < since)
    charges = tuple(key for key, (at, _) in state.spend.items() if at < since)
    return visits, charges


def with_forgetting(
    events: list[TierEvent], state: TierState, config: ProgrammeConfig, now: datetime
) -> list[TierEvent]:
    """``events``, the first activity record naming what to let go when it is enough.

    Asked when the visits and charges held reach a multiple of
    :func:`~membercore.forgetting.rhythm`;
    ``state`` is the tier state before ``events``.
    """
    first = next((e for e in events if isinstance(e, TierActivityRecorded)), None)
    if first is None or not worth_asking(len(state.visits) + len(state.spend)):
        return events
    visits, charges = forgettable(state, config, now)
    if not enough(len(visits) + len(charges)):
        return events
    named = attrs.evolve(first, forgets_visits=visits, forgets_spend=charges)
    return [named if event is first else event for event in events]
