"""When a part of a member's record asks what it may let go, and what is worth saying so.

The profile, the ledger and the tier state each know what no decision of theirs from
now on reads (:mod:`membercore.segments.forget`, :mod:`membercore.ledger.forget`,
:mod:`membercore.tiers.forget`). They share the rhythm: the search reads everything a part
holds, so it is made each time the things held reach a multiple of :func:`rhythm` (every
:data:`FORGET_AT_ONCE` while a part holds a few hundred, every eighth to sixteenth of
what it holds past that), which costs a decision the same little whatever the member's
history; and what it finds is let go only when there are at least
:data:`FORGET_AT_ONCE`, so that the event naming them is rare.
"""

from __future__ import annotations

__all__ = ["FORGET_AT_ONCE", "enough", "rhythm", "worth_asking"]

#: The fewest things let go at once, and the rhythm of the search.
FORGET_AT_ONCE = 32


def rhythm(held: int) -> int:
    """How many things apart a part holding ``held`` searches what it may let go.

    :data:`FORGET_AT_ONCE` up to 511 things; past that, the power of two between a
    sixteenth and an eighth of ``held``: a search costs what it reads, so asking that
    much less often keeps its share of each decision the same as a part grows, while a
    part never holds more than about an eighth beyond what its decisions read.
    """
    return max(FORGET_AT_ONCE, 1 << max(held.bit_length() - 4, 0))


def worth_asking(held: int) -> bool:
    """Whether a part holding ``held`` things searches what it may let go now."""
    return held > 0 and held % rhythm(held) == 0


def enough(found: int) -> bool:
    """Whether ``found`` things are enough to let go at once."""
    return found >= FORGET_AT_ONCE
