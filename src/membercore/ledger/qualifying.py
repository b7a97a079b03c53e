"""The qualifying points a ledger holds, by when they were earned.

The tier ladder asks on every decision how many qualifying points the member earned in
the window ending then. The answer is read from a :class:`~membercore.timeline.Timeline`
of the qualifying lots (their points less what was reversed of them), kept for each
ledger state while it lives and carried by :func:`carry` to the state a posting makes of
it, so that neither reading nor carrying scans every lot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from membercore.ledger.events import LotState, Posting, PostingKind
from membercore.memo import KEPT_FROM, WhileAlive
from membercore.timeline import Timeline

if TYPE_CHECKING:
    from membercore.ledger.state import LedgerState

__all__ = ["carry", "qualifying_points", "timeline"]

#: The timeline of each ledger state asked about, while the state lives.
_KEPT: WhileAlive[Timeline] = WhileAlive()


def qualifying_points(state: LedgerState, since: datetime, until: datetime) -> int:
    """Qualifying points earned in ``[since, until)``, less what was reversed of them.

    A ledger of a few lots is read directly: a timeline costs more than it saves.
    """
    if len(state.lots) < KEPT_FROM:
        return sum(points for at, _, points in _entries(state.lots.values()) if since <= at < until)
    return timeline(state).total(since, until)


def carry(before: LedgerState, after: LedgerState, posting: Posting) -> None:
    """Keep for ``after`` the timeline of ``before`` brought up to date by ``posting``.

    Nothing is done unless ``before``'s timeline is kept; a merged record's ledger (its
    lots gone) is worked out again if it is ever asked about.
    """
    _KEPT.carry(before, after, lambda _, held: _brought(held, before, after, posting))


def _brought(
    held: Timeline, before: LedgerState, after: LedgerState, posting: Posting
) -> Timeline | None:
    if posting.merged_into is not None:
        return None
    touched = [lot.lot_id for lot in posting.lots]
    touched += (carried.lot.lot_id for carried in posting.carried)
    if posting.kind is PostingKind.REVERSE and posting.reverses is not None:
        touched.append(posting.reverses)
    if not (touched or posting.forgets):
        return held
    old = {
        key: lot.lot.earned_at
        for key in (*touched, *posting.forgets)
        if (lot := before.lots.get(key)) is not None
    }
    now = (lot for key in touched if (lot := after.lots.get(key)) is not None)
    return held.replaced(old, _entries(now))


def timeline(state: LedgerState) -> Timeline:
    """The timeline of the qualifying lots ``state`` holds (kept while ``state`` lives)."""
    return _KEPT.get(state, (), lambda: Timeline(_entries(state.lots.values())))


def _entries(lots: Iterable[LotState]) -> Iterator[tuple[datetime, str, int]]:
    for held in lots:
        if held.lot.qualifying:
            yield held.lot.earned_at, held.lot.lot_id, held.lot.points - held.reversed
