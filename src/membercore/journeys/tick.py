"""Firing a member's due journey timers.

:func:`tick` fires every due timer, earliest first, each at its own due instant, so any
split of ``tick`` calls fires the same timers in the same order exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from membercore.config.journeys import JourneyDefinition
from membercore.dates import require_aware
from membercore.journeys.index import index_of
from membercore.journeys.messages import JourneyEvent, Timer, TimerDropped
from membercore.journeys.registry import Registry, Situation
from membercore.journeys.state import JourneyInstance, JourneysState, active, applied
from membercore.journeys.steps import move, started_by_actions

__all__ = ["tick"]


def tick(
    state: JourneysState,
    journeys: Sequence[JourneyDefinition],
    registry: Registry,
    situation: Situation,
) -> list[JourneyEvent]:
    """Fire every timer due by ``situation.now``, earliest first, each at its due instant.

    A timed step whose guards hold moves its journey (and sets the timers of the state it
    enters, which fire in the same call if they are due too); one whose guards do not
    hold is dropped. Ties are broken by instance id, then step order.
    """
    now = require_aware("now", situation.now)
    by_key = index_of(journeys).by_key
    events: list[JourneyEvent] = []
    while True:
        due = [
            (timer.due_at, instance.instance_id, timer.transition, timer)
            for instance in active(state)
            if instance.journey in by_key
            for timer in instance.timers
            if timer.due_at <= now
        ]
        if not due:
            return events
        due_at, instance_id, _, _ = min(due, key=lambda item: item[:3])
        instance = state.instances[instance_id]
        # Timers of one instance due at one instant are alternatives, like the steps a
        # message may trigger: the first whose guards hold moves; if none does, all drop.
        together = sorted(
            (t for t in instance.timers if t.due_at == due_at), key=lambda t: t.transition
        )
        fired = _fire(instance, by_key[instance.journey], registry, situation, together)
        state = applied(state, fired)
        launched = started_by_actions(fired, state, by_key, situation)
        state = applied(state, launched)
        events += fired + launched


def _fire(
    instance: JourneyInstance,
    definition: JourneyDefinition,
    registry: Registry,
    situation: Situation,
    timers: list[Timer],
) -> list[JourneyEvent]:
    due_at = timers[0].due_at
    at = attrs.evolve(situation, now=due_at, message=None, counters=instance.counters)
    for timer in timers:
        transition = definition.transitions[timer.transition]
        if all(registry.holds(guard, at) for guard in transition.guards):
            trigger_id = f"timer:{instance.instance_id}:{timer.transition}:{due_at.isoformat()}"
            return move(
                instance, definition, timer.transition, at, "timer", trigger_id, fired=timer
            )
    return [
        TimerDropped(
            member_id=situation.member_id,
            instance_id=instance.instance_id,
            journey=definition.key,
            timer=timer,
            at=due_at,
            explanation=f"journey {definition.key} step "
            f"{definition.transitions[timer.transition].step}: timer due, guards did not hold",
        )
        for timer in timers
    ]
