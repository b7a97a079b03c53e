"""What a ledger may let go: empty lots no decision from now on reads.

A lot is read while it holds points (balances, spending, expiry), by the caps of its
rule in the local day and month it was earned, by the tier qualification window, and by
a reversal of its earning for ``ledger.reversible_months`` after it was earned. The
record's clock only moves forward, so a lot that is empty and older than all of those at
``now`` is never read again: it is let go, with the kinds of its postings and the key of
its expiry; the key of the fact or command that earned it stays (without its postings),
so that the same command sent again is still a replay. The ``"<rule>:<reference>"``
references stay, so that what is earned once per reference (a charge, a content, a
referral) is never earned twice. Lots go in batches of at least
:data:`FORGET_AT_ONCE`, named on a posting the ledger makes anyway
(:attr:`~membercore.ledger.events.Posting.forgets`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from membercore.config import ProgrammeConfig
from membercore.forgetting import FORGET_AT_ONCE, enough, worth_asking
from membercore.ledger.events import Posting
from membercore.ledger.reports import qualification_window_start
from membercore.ledger.reversal import reversible_since
from membercore.ledger.state import LedgerState

__all__ = ["FORGET_AT_ONCE", "forgettable", "horizon", "with_forgetting"]

_INSTANT = timedelta(microseconds=1)


def horizon(config: ProgrammeConfig, now: datetime) -> datetime:
    """An empty lot earned before this instant is read by no decision at ``now`` or later.

    The earlier of the start of the reversible months and the start of the oldest
    qualification window a tier review may still read: one that fell due by ``now``
    reads the window ending at its review date, up to ``tiers.grace_days`` before.
    """
    grace = timedelta(days=config.tiers.grace_days)
    read = qualification_window_start(config, now - grace - _INSTANT)
    return min(read, reversible_since(config, now))


def forgettable(state: LedgerState, config: ProgrammeConfig, now: datetime) -> tuple[str, ...]:
    """The ids of the lots no decision at ``now`` or later reads, in the order opened.

    Caps read the lots of an earning's own day and month: an earning dated in a day (or
    capped month) that begins before :func:`horizon` is not reckoned against a cap, it
    earns nothing (:func:`membercore.ledger.earning.cap_room`). A tier review reads the
    qualifying points of its window: bring the tier up to date before each decision of
    the ledger, as the engine does, so that no review is still to run on a window let go.
    """
    before = horizon(config, now)
    return tuple(
        lot_id
        for lot_id, held in state.lots.items()
        if held.remaining == 0 and held.lot.earned_at < before
    )


def with_forgetting(
    postings: list[Posting], state: LedgerState, config: ProgrammeConfig, now: datetime
) -> list[Posting]:
    """``postings``, the last naming the lots to let go when there are enough of them.

    Asked when the postings open a lot and the lots held are a multiple of
    :func:`~membercore.forgetting.rhythm`, so that the search costs a decision little.
    ``state`` is the ledger before the postings.
    """
    opens = any(posting.lots for posting in postings)
    if not opens or not worth_asking(len(state.lots)):
        return postings
    ids = forgettable(state, config, now)
    if not enough(len(ids)):
        return postings
    return [*postings[:-1], attrs.evolve(postings[-1], forgets=ids)]
