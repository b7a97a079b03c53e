"""Five-level tiers (五级会员): who holds which level, and why.

A member *holds* the highest level of the ladder whose criteria they have met in the
qualification window: qualifying points (from the ledger) and, optionally, visits and
out-of-pocket spend, combined with ``any`` or ``all``. Upgrades happen at once; a
downgrade happens only at the member's review date (after the grace period), by one
level at most. The tier a member *has* is the held level, raised to the floor of an
active paid plan, unless staff set an override (with a reason and an expiry).

Decider style: :func:`decide` turns a fact or tier command into events, :func:`evolve`
applies them. Every change of the tier is a :class:`TierChanged` with its reason; a
change of the held level, review date or override that leaves the tier as it was is a
:class:`TierBasisChanged`.
"""

from __future__ import annotations

from typing import Any

from membercore.tiers.decide import decide, decide_merge
from membercore.tiers.messages import (
    ClearTierOverride,
    Override,
    Qualification,
    ReviewTier,
    SetTierOverride,
    SpendBasis,
    TierActivityRecorded,
    TierBasisChanged,
    TierChanged,
    TierCommand,
    TierEvent,
    TierRecordsMerged,
    TierReviewed,
)
from membercore.tiers.rules import (
    behind,
    due_at,
    earned_level,
    next_review,
    qualification,
    review_due_at,
    window_start,
)
from membercore.tiers.state import TierState, evolve, history, replay, tier_of

#: Every tier message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    SetTierOverride,
    ClearTierOverride,
    ReviewTier,
    TierActivityRecorded,
    TierChanged,
    TierBasisChanged,
    TierReviewed,
    TierRecordsMerged,
)

__all__ = [
    "MESSAGE_TYPES",
    "ClearTierOverride",
    "Override",
    "Qualification",
    "ReviewTier",
    "SetTierOverride",
    "SpendBasis",
    "TierActivityRecorded",
    "TierBasisChanged",
    "TierChanged",
    "TierCommand",
    "TierEvent",
    "TierRecordsMerged",
    "TierReviewed",
    "TierState",
    "behind",
    "decide",
    "decide_merge",
    "due_at",
    "earned_level",
    "evolve",
    "history",
    "next_review",
    "qualification",
    "replay",
    "review_due_at",
    "tier_of",
    "window_start",
]
