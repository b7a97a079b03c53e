"""Channel preference: the channel the member declared, else the one they use most."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from membercore.config import ProgrammeConfig
from membercore.consent import CHANNELS, Channel
from membercore.segments.day import Day, day_of, evidence, order
from membercore.segments.messages import Tag
from membercore.segments.state import ProfileState

__all__ = ["channel", "preferred_channel"]


def channel(state: ProfileState, day: Day) -> tuple[Channel, Tag] | None:
    """The preferred channel on ``day``, with its tag."""
    declared = [
        (order(n), n.preferred_channel, n.fact_id)
        for n in state.registrations.values()
        if n.preferred_channel
    ]
    if declared:
        _, chosen, fact_id = max(declared, key=lambda item: item[0])
        return chosen, Tag(reason="declared by the member", fact_ids=(fact_id,))
    seen = [n for n in state.interactions.values() if n.counted_as and n.at >= day.since]
    if not seen:
        return None
    counts = Counter(note.counted_as for note in seen)
    best = max(CHANNELS, key=lambda each: counts[each])  # ties: the order of CHANNELS
    used = [note for note in seen if note.counted_as == best]
    reason = f"{counts[best]} of {len(seen)} interactions in {day.rules.window_months} months"
    return best, Tag(reason=reason, fact_ids=evidence(used))


def preferred_channel(
    state: ProfileState, config: ProgrammeConfig, now: datetime
) -> Channel | None:
    """The channel to reach the member by: declared, else the one they use most."""
    found = channel(state, day_of(config.segments, now, config.tz))
    return None if found is None else found[0]
