"""The visits and spend a member's ladder holds, by instant.

Every decision on the ladder counts the visits and spend of the qualification window
ending then. They are read from two :class:`~membercore.timeline.Timeline` (a visit
counts one, a charge its out-of-pocket fen after refunds), kept for each tier state
while it lives and carried by :func:`carry` to the state an event makes of it, so that
neither reading nor carrying scans every visit and charge.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from membercore.memo import KEPT_FROM, WhileAlive
from membercore.tiers.messages import TierActivityRecorded, TierEvent, TierRecordsMerged
from membercore.timeline import Timeline

if TYPE_CHECKING:
    from membercore.tiers.state import TierState

__all__ = ["carry", "spend_fen", "timelines", "visits"]

#: The visits' and the spend's timelines of each tier state asked about, while it lives.
_KEPT: WhileAlive[tuple[Timeline, Timeline]] = WhileAlive()


def visits(state: TierState, since: datetime, until: datetime) -> int:
    """The visits completed in ``[since, until)``."""
    if _few(state):
        return sum(1 for at in state.visits.values() if since <= at < until)
    return timelines(state)[0].total(since, until)


def spend_fen(state: TierState, since: datetime, until: datetime) -> int:
    """The out-of-pocket spend, after refunds, of the charges made in ``[since, until)``."""
    if _few(state):
        return sum(fen for at, fen in state.spend.values() if since <= at < until)
    return timelines(state)[1].total(since, until)


def _few(state: TierState) -> bool:
    """Whether the state is read directly: for a few entries a timeline costs more."""
    return len(state.visits) + len(state.spend) < KEPT_FROM


def carry(before: TierState, after: TierState, event: TierEvent) -> None:
    """Keep for ``after`` the timelines of ``before`` brought up to date by ``event``.

    Nothing is done unless ``before``'s are kept; a merge's are worked out again if
    they are ever asked about.
    """
    _KEPT.carry(before, after, lambda _, held: _brought(held, before, after, event))


def _brought(
    held: tuple[Timeline, Timeline], before: TierState, after: TierState, event: TierEvent
) -> tuple[Timeline, Timeline] | None:
    if isinstance(event, TierRecordsMerged):
        return None
    if isinstance(event, TierActivityRecorded):
        return _recorded(held, before, after, event)
    return held


def _recorded(
    held: tuple[Timeline, Timeline],
    before: TierState,
    after: TierState,
    event: TierActivityRecorded,
) -> tuple[Timeline, Timeline]:
    seen, spent = held
    gone_visits = {*event.forgets_visits, *((event.reference,) if event.kind == "visit" else ())}
    if gone_visits:
        old = {key: before.visits[key] for key in gone_visits if key in before.visits}
        new = [(after.visits[key], key, 1) for key in gone_visits if key in after.visits]
        seen = seen.replaced(old, new)
    gone_spend = {*event.forgets_spend, *((event.reference,) if event.kind == "spend" else ())}
    if gone_spend:
        old = {key: before.spend[key][0] for key in gone_spend if key in before.spend}
        now = {key: after.spend[key] for key in gone_spend if key in after.spend}
        spent = spent.replaced(old, [(at, key, fen) for key, (at, fen) in now.items()])
    return seen, spent


def timelines(state: TierState) -> tuple[Timeline, Timeline]:
    """The timelines of the visits and the spend ``state`` holds (kept while it lives)."""
    return _KEPT.get(
        state,
        (),
        lambda: (
            Timeline((at, key, 1) for key, at in state.visits.items()),
            Timeline((at, key, fen) for key, (at, fen) in state.spend.items()),
        ),
    )
