"""Channel preference: the channel the member declared, else the one they use most."""

from __future__ import annotations

from datetime import datetime

from membercore.config import ProgrammeConfig
from membercore.consent import CHANNELS, Channel
from membercore.segments import interactions
from membercore.segments.day import MAX_EVIDENCE, Day, day_of, order
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
    lines = interactions.by_channel(state)
    counts = {each: line.total(day.since) for each, line in lines.items()}
    seen = sum(counts.values())
    if not seen:
        return None
    best = max(CHANNELS, key=lambda each: counts.get(each, 0))  # ties: the order of CHANNELS
    reason = f"{counts.get(best, 0)} of {seen} interactions in {day.rules.window_months} months"
    latest = lines[best].latest(day.since, MAX_EVIDENCE) if best in lines else ()
    return best, Tag(reason=reason, fact_ids=tuple(latest))


def preferred_channel(
    state: ProfileState, config: ProgrammeConfig, now: datetime
) -> Channel | None:
    """The channel to reach the member by: declared, else the one they use most."""
    found = channel(state, day_of(config.segments, now, config.tz))
    return None if found is None else found[0]
