"""When a part of a member's record asks what it may let go, and what is worth saying so.

The profile, the ledger and the tier state each know what no decision of theirs from
now on reads (:mod:`membercore.segments.forget`, :mod:`membercore.ledger.forget`,
:mod:`membercore.tiers.forget`). They share the rhythm: the search is made each time the
things a part holds reach a multiple of :data:`FORGET_AT_ONCE`, so that it costs a
decision little, and what it finds is let go only when there are at least that many, so
that the event naming them is rare.
"""

from __future__ import annotations

__all__ = ["FORGET_AT_ONCE", "enough", "worth_asking"]

#: The fewest things let go at once, and the rhythm of the search.
FORGET_AT_ONCE = 32


def worth_asking(held: int) -> bool:
    """Whether a part holding ``held`` things searches what it may let go now."""
    return held > 0 and held % FORGET_AT_ONCE == 0


def enough(found: int) -> bool:
    """Whether ``found`` things are enough to let go at once."""
    return found >= FORGET_AT_ONCE
