"""What a ledger may let go: empty lots no decision from now on reads.

A lot is read while it holds points (balances, spending, expiry), by the caps of its
rule in the local day and month it was earned, by the tier qualification window, and by
a reversal of its earning for ``ledger.reversible_months`` after it was earned. The
record's clock only moves forward, so a lot that is empty and older than all of those at
``now`` is never read again: it is let go, with its earning's key, the key of its expiry
and the kinds of those postings. The ``"<rule>:<reference>"`` references stay, so that
what is earned once per reference (a charge, a content, a referral) is never earned
twice. Lots go in batches of at least :data:`FORGET_AT_ONCE`, named on a posting the
ledger makes anyway (:attr:`~membercore.ledger.events.Posting.forgets`).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.ledger.events import Posting
from membercore.ledger.reports import qualification_window_start
from membercore.ledger.reversal import reversible_since
from membercore.ledger.state import LedgerState

__all__ = ["FORGET_AT_ONCE", "forgettable", "with_forgetting"]

#: The fewest lots let go at once.
FORGET_AT_ONCE = 32


def forgettable(state: LedgerState, config: ProgrammeConfig, now: datetime) -> tuple[str, ...]:
    """The ids of the lots no decision at ``now`` or later reads, in the order opened."""
    # Caps read the day and month of an earning: within both windows, each a month or more.
    horizon = min(qualification_window_start(config, now), reversible_since(config, now))
    return tuple(
        lot_id
        for lot_id, held in state.lots.items()
        if held.remaining == 0 and held.lot.earned_at < horizon
    )


def with_forgetting(
    postings: list[Posting], state: LedgerState, config: ProgrammeConfig, now: datetime
) -> list[Posting]:
    """``postings``, the last naming the lots to let go when there are enough of them.

    Asked when the postings open a lot and the lots held are a multiple of
    :data:`FORGET_AT_ONCE`, so that the search costs a decision little. ``state`` is
    the ledger before the postings.
    """
    opens = any(posting.lots for posting in postings)
    if not opens or not state.lots or len(state.lots) % FORGET_AT_ONCE:
        return postings
    ids = forgettable(state, config, now)
    if len(ids) < FORGET_AT_ONCE:
        return postings
    return [*postings[:-1], attrs.evolve(postings[-1], forgets=ids)]
