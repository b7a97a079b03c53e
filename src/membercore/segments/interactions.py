"""A profile's interactions by the outreach channel they count for, by instant.

The channel preference counts the interactions of the window for each channel and names
the latest of the one used most. Each channel's interactions are read from a
:class:`~membercore.timeline.Timeline` (an interaction counts one, keyed by its fact
id), kept for each profile state while it lives and carried by :func:`carry` to the
state an event makes of it, so that neither reading nor carrying scans every
interaction of the member's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from membercore.memo import KEPT_FROM, WhileAlive
from membercore.messages import Channel
from membercore.segments.messages import InteractionNoted, NotesForgotten, ProfileEvent
from membercore.timeline import Timeline

if TYPE_CHECKING:
    from membercore.segments.state import ProfileState

__all__ = ["by_channel", "carry"]

Timelines = Mapping[Channel, Timeline]

#: Each profile state's timelines by channel, while the state lives.
_KEPT: WhileAlive[Timelines] = WhileAlive()
_NONE = Timeline()


def by_channel(state: ProfileState) -> Timelines:
    """The interactions ``state`` holds that count for a channel, by channel.

    Those of a few interactions are not kept: keeping them costs more than it saves.
    """
    if len(state.interactions) < KEPT_FROM:
        return _made(state.interactions)
    return _KEPT.get(state, (), lambda: _made(state.interactions))


def carry(before: ProfileState, after: ProfileState, event: ProfileEvent) -> None:
    """Keep for ``after`` the timelines of ``before`` brought up to date by ``event``."""
    _KEPT.carry(before, after, lambda _, held: _brought(held, before, after, event))


def _brought(
    held: Timelines, before: ProfileState, after: ProfileState, event: ProfileEvent
) -> Timelines | None:
    if after.interactions is before.interactions:
        return held
    if isinstance(event, InteractionNoted):
        touched = [event.fact_id]
    elif isinstance(event, NotesForgotten):
        touched = list(event.fact_ids)
    else:
        return None  # worked out again if ever asked about
    was, now = _notes(before, touched), _notes(after, touched)
    lines = dict(held)
    for channel in {note.counted_as for note in (*was, *now)}:
        if channel is not None:
            old = {n.fact_id: n.at for n in was if n.counted_as == channel}
            new = [(n.at, n.fact_id, 1) for n in now if n.counted_as == channel]
            lines[channel] = lines.get(channel, _NONE).replaced(old, new)
    return lines


def _notes(state: ProfileState, fact_ids: list[str]) -> list[InteractionNoted]:
    return [state.interactions[i] for i in fact_ids if i in state.interactions]


def _made(interactions: Mapping[str, InteractionNoted]) -> Timelines:
    entries: dict[Channel, list[tuple[datetime, str, int]]] = {}
    for fact_id, note in interactions.items():
        if note.counted_as is not None:
            entries.setdefault(note.counted_as, []).append((note.at, fact_id, 1))
    return {channel: Timeline(made) for channel, made in entries.items()}
