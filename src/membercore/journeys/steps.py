"""The journey events that starting a journey, taking a step and ending one make.

Shared by :func:`membercore.journeys.decide` (steps on facts and events) and
:func:`membercore.journeys.tick` (timed steps): each builds the events with their
explanations and the timers of the state entered, and the actions' idempotency keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from membercore.config.journeys import Call, JourneyDefinition, Transition
from membercore.journeys.messages import (
    JourneyActionIssued,
    JourneyEnded,
    JourneyEvent,
    JourneyMoved,
    JourneyReanchored,
    JourneyStarted,
    Timer,
)
from membercore.journeys.registry import Situation
from membercore.journeys.state import JourneyInstance, JourneysState, active, applied, ending
from membercore.journeys.timers import anchors_of, timers

__all__ = ["end", "move", "reanchored", "start", "started_by_actions"]


def start(
    definition: JourneyDefinition,
    state: JourneysState,
    situation: Situation,
    kind: str,
    trigger_id: str,
) -> list[JourneyEvent]:
    """A new instance of ``definition``: started, its entry actions, ended if already final."""
    number = sum(1 for i in state.instances.values() if i.journey == definition.key) + 1
    instance_id = f"{state.member_id}/{definition.key}/{number}"
    at = situation.now
    anchors = anchors_of(definition, situation.message)
    started = JourneyStarted(
        member_id=state.member_id,
        instance_id=instance_id,
        journey=definition.key,
        version=definition.version,
        state=definition.initial,
        at=at,
        trigger_type=kind,
        trigger_id=trigger_id,
        timers=timers(definition, definition.initial, at, situation, anchors),
        anchors=anchors,
        occasion=occasion_of(kind, situation.message),
    )
    why = f"journey {definition.key} v{definition.version} started on {kind} {trigger_id}"
    events: list[JourneyEvent] = [started]
    events += _actions(
        definition.entry_actions,
        state.member_id,
        instance_id,
        definition,
        "entry",
        1,
        trigger_id,
        at,
        why,
    )
    if definition.initial in definition.final:
        instance = JourneyInstance(
            instance_id=instance_id,
            journey=definition.key,
            state=definition.initial,
            started_at=at,
            entered_at=at,
        )
        events.append(end(instance, situation, "completed", trigger_id))
    return events


#: The fields that say what a message is about, in the order they are looked for.
OCCASIONS = ("visit_id", "appointment_id", "charge_id", "plan_id")


def occasion_of(kind: str, message: object) -> str:
    """What ``message`` (tagged ``kind``) is about: ``discharged:ZY-1`` ('' for nothing)."""
    for name in OCCASIONS:
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return f"{kind}:{value}"
    return ""


def move(
    instance: JourneyInstance,
    definition: JourneyDefinition,
    index: int,
    situation: Situation,
    kind: str,
    trigger_id: str,
    *,
    fired: Timer | None = None,
) -> list[JourneyEvent]:
    """Step ``index`` of ``definition`` taken: moved, its actions, ended if final.

    ``fired`` is the timer that took the step, when a timer did.
    """
    transition = definition.transitions[index]
    at = situation.now
    why = _explain(definition, transition, kind, trigger_id)
    moved = JourneyMoved(
        member_id=situation.member_id,
        instance_id=instance.instance_id,
        journey=definition.key,
        version=definition.version,
        step=transition.step,
        source=transition.source,
        target=transition.target,
        at=at,
        trigger_type=kind,
        trigger_id=trigger_id,
        explanation=why,
        timers=timers(definition, transition.target, at, situation, instance.anchors, fired=fired),
    )
    occurrence = instance.steps.get(transition.step, 0) + 1
    events: list[JourneyEvent] = [moved]
    events += _actions(
        transition.actions,
        situation.member_id,
        instance.instance_id,
        definition,
        transition.step,
        occurrence,
        trigger_id,
        at,
        why,
    )
    if transition.target in definition.final:
        events.append(end(instance, situation, "completed", trigger_id))
    return events


def end(
    instance: JourneyInstance, situation: Situation, reason: str, trigger_id: str
) -> JourneyEnded:
    """``instance`` ended at ``situation.now``, for ``reason``."""
    return ending(situation.member_id, instance, reason, situation.now, trigger_id)


def reanchored(
    instance: JourneyInstance,
    definition: JourneyDefinition,
    situation: Situation,
    trigger_id: str,
) -> list[JourneyEvent]:
    """A running instance's anchors updated from another message of its entry's kind.

    A later registration that gives a birth date (or corrects one) moves the birthday
    greeting. Only the anchors the message gives change; only the anchored timers of the
    current state are set again, from ``situation.now``; the others stay.
    """
    given = anchors_of(definition, situation.message)
    anchors = {**instance.anchors, **given}
    if not given or anchors == dict(instance.anchors) or instance.ended is not None:
        return []
    anchored = {
        index
        for index, transition in enumerate(definition.transitions)
        if transition.trigger.anchor is not None
    }
    kept = tuple(timer for timer in instance.timers if timer.transition not in anchored)
    # Never back into a year whose occurrence already fired: the pending timer's year is
    # the first the new anchors may use (a birthday corrected after this year's greeting
    # is greeted next year).
    pending = [t.due_at for t in instance.timers if t.transition in anchored]
    since = situation.now
    if pending:
        tz = situation.config.tz
        year_start = datetime(min(pending).astimezone(tz).year, 1, 1, tzinfo=tz)
        since = max(since, year_start)
    fresh = timers(definition, instance.state, since, situation, anchors)
    return [
        JourneyReanchored(
            member_id=situation.member_id,
            instance_id=instance.instance_id,
            journey=definition.key,
            anchors=anchors,
            timers=kept + tuple(t for t in fresh if t.transition in anchored),
            at=situation.now,
            trigger_id=trigger_id,
        )
    ]


def started_by_actions(
    events: list[JourneyEvent],
    state: JourneysState,
    by_key: Mapping[str, JourneyDefinition],
    situation: Situation,
) -> list[JourneyEvent]:
    """Journeys that ``start_journey`` actions start (entry guards do not apply)."""
    started: list[JourneyEvent] = []
    pending = [e for e in events if isinstance(e, JourneyActionIssued)]
    while pending:
        action = pending.pop(0)
        if action.action.name != "start_journey":
            continue
        definition = by_key.get(str(action.action.params.get("journey")))
        if definition is None or (active(state, definition.key) and not definition.re_entry):
            continue
        at = attrs.evolve(situation, now=action.at)
        new = start(definition, state, at, "start_journey", action.key)
        started += new
        state = applied(state, new)
        pending += [e for e in new if isinstance(e, JourneyActionIssued)]
    return started


def _actions(
    calls: Iterable[Call],
    member_id: str,
    instance_id: str,
    definition: JourneyDefinition,
    step: str,
    occurrence: int,
    trigger_id: str,
    at: datetime,
    why: str,
) -> list[JourneyEvent]:
    return [
        JourneyActionIssued(
            member_id=member_id,
            instance_id=instance_id,
            journey=definition.key,
            step=step,
            action=call,
            key=f"{definition.key}:{instance_id}:{step}:{trigger_id}:{occurrence}:{n}",
            at=at,
            explanation=why,
        )
        for n, call in enumerate(calls, start=1)
    ]


def _explain(
    definition: JourneyDefinition, transition: Transition, kind: str, trigger_id: str
) -> str:
    guards = ", ".join(f"{g.name}({_params(g)})" for g in transition.guards) or "none"
    return (
        f"journey {definition.key} v{definition.version} step {transition.step}: "
        f"on {kind} {trigger_id}; guards held: {guards}"
    )


def _params(call: Call) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in call.params.items())
