"""A member's journeys as plain data, and how journey events change them.

Each journey instance holds its state, its pending timers (stored, so a restart loses
none), its counters and how often each step ran. :func:`evolve` applies one journey
event; :func:`replay` rebuilds the journeys from all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from membercore.config.journeys import Call
from membercore.converters import OMIT_AT_DEFAULT
from membercore.errors import MemberMismatchError
from membercore.journeys.messages import (
    JourneyActionIssued,
    JourneyEnded,
    JourneyEvent,
    JourneyMoved,
    JourneyReanchored,
    JourneyStarted,
    Timer,
    TimerDropped,
)
from membercore.memo import EVOLVED, Memo

__all__ = [
    "JourneyInstance",
    "JourneysState",
    "active",
    "applied",
    "evolve",
    "replay",
]


@attrs.frozen(kw_only=True)
class JourneyInstance:
    """One member's run through one journey.

    Attributes:
        instance_id: ``<member>/<journey>/<n>``.
        journey: the journey's key.
        state: the current state.
        started_at: when it started.
        entered_at: when the current state was entered.
        timers: timed steps waiting to fire.
        counters: the journey's counters.
        steps: how many times each step ran.
        ended: why it ended; ``None`` while it runs.
        anchors: the entry message's anchor fields (ISO 8601).
        occasion: what the message that started it was about, with its tag
            (``discharged:ZY-1``), when it named a visit, appointment, charge or plan.
    """

    instance_id: str
    journey: str
    state: str
    started_at: datetime
    entered_at: datetime
    timers: tuple[Timer, ...] = ()
    counters: Mapping[str, int] = attrs.field(factory=dict)
    steps: Mapping[str, int] = attrs.field(factory=dict)
    ended: str | None = None
    anchors: Mapping[str, str] = attrs.field(factory=dict)
    occasion: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class JourneysState:
    """A member's journeys.

    Attributes:
        member_id: the member.
        instances: every instance by id, in the order started.
        seen: the facts and events already taken (their ids), so none is taken twice.
    """

    member_id: str
    instances: Mapping[str, JourneyInstance] = attrs.field(factory=dict)
    seen: frozenset[str] = frozenset()


def active(state: JourneysState, journey: str | None = None) -> list[JourneyInstance]:
    """The instances still running (of one journey, if named)."""
    return [
        instance
        for instance in state.instances.values()
        if instance.ended is None and journey in (None, instance.journey)
    ]


def ending(
    member_id: str, instance: JourneyInstance, reason: str, at: datetime, trigger_id: str
) -> JourneyEnded:
    """``instance`` of ``member_id`` ended at ``at``, for ``reason``, on ``trigger_id``."""
    return JourneyEnded(
        member_id=member_id,
        instance_id=instance.instance_id,
        journey=instance.journey,
        reason=reason,
        at=at,
        trigger_id=trigger_id,
    )


def evolve(state: JourneysState, event: JourneyEvent) -> JourneysState:
    """Apply one journey event.

    The states the latest events made are kept (see :mod:`membercore.memo`): the
    record takes the state a journey's step was decided on.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    return _EVOLVED.get((state, event), None, lambda: _evolved(state, event))


#: The states the latest events made of the states they were applied to.
_EVOLVED: Memo[JourneysState] = Memo(EVOLVED)


def _evolved(state: JourneysState, event: JourneyEvent) -> JourneysState:
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    instances = dict(state.instances)
    seen = state.seen
    if isinstance(event, JourneyStarted):
        instances[event.instance_id] = JourneyInstance(
            instance_id=event.instance_id,
            journey=event.journey,
            state=event.state,
            started_at=event.at,
            entered_at=event.at,
            timers=event.timers,
            anchors=event.anchors,
            occasion=event.occasion,
        )
        seen = seen | {event.trigger_id}
    else:
        held = instances[event.instance_id]
        instances[event.instance_id] = _apply(held, event)
        if isinstance(event, JourneyMoved | JourneyEnded):
            seen = seen | {event.trigger_id}
    return JourneysState(member_id=state.member_id, instances=instances, seen=seen)


def _apply(held: JourneyInstance, event: JourneyEvent) -> JourneyInstance:
    if isinstance(event, JourneyMoved):
        steps = {**held.steps, event.step: held.steps.get(event.step, 0) + 1}
        return attrs.evolve(
            held, state=event.target, entered_at=event.at, timers=event.timers, steps=steps
        )
    if isinstance(event, JourneyActionIssued):
        return attrs.evolve(held, counters=_counted(held.counters, event.action))
    if isinstance(event, JourneyReanchored):
        return attrs.evolve(held, anchors=event.anchors, timers=event.timers)
    if isinstance(event, TimerDropped):
        return attrs.evolve(held, timers=tuple(t for t in held.timers if t != event.timer))
    if isinstance(event, JourneyEnded):
        return attrs.evolve(held, ended=event.reason, timers=())
    return held


def _counted(counters: Mapping[str, int], action: Call) -> Mapping[str, int]:
    name = str(action.params.get("name", ""))
    if action.name == "count":
        return {**counters, name: counters.get(name, 0) + 1}
    if action.name == "reset":
        return {**counters, name: 0}
    return counters


def replay(member_id: str, events: Iterable[JourneyEvent]) -> JourneysState:
    """Rebuild a member's journeys from their journey events."""
    return applied(JourneysState(member_id=member_id), events)


def applied(state: JourneysState, events: Iterable[JourneyEvent]) -> JourneysState:
    """``state`` after ``events``, applied in order."""
    for event in events:
        state = evolve(state, event)
    return state
