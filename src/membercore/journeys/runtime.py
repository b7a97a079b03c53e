"""Running journeys for one member: entry, steps on facts and events, timers, exits.

State is plain data: each journey instance holds its state, its pending timers (stored,
so a restart loses none), its counters and how often each step ran. :func:`decide`
takes a fact or event; :func:`tick` fires every due timer, earliest first, each at its
own due instant, so any split of ``tick`` calls fires the same timers in the same order
exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import overload
from zoneinfo import ZoneInfo

import attrs

from membercore.config.journeys import Call, Delay, JourneyDefinition, Transition, Trigger
from membercore.consent import ConsentWithdrawn
from membercore.dates import (
    add_months,
    anniversary,
    local_date,
    local_wall_time,
    next_month_on,
    require_aware,
)
from membercore.errors import MemberMismatchError
from membercore.facts import Fact
from membercore.idempotency import fingerprint, seen_in
from membercore.journeys.messages import (
    JourneyActionIssued,
    JourneyEnded,
    JourneyEvent,
    JourneyMoved,
    JourneyStarted,
    Timer,
    TimerDropped,
)
from membercore.journeys.registry import Registry, Situation

__all__ = [
    "JourneyIndex",
    "JourneyInstance",
    "JourneysState",
    "active",
    "decide",
    "evolve",
    "replay",
    "tick",
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


# --- evolve ---------------------------------------------------------------------------


def evolve(state: JourneysState, event: JourneyEvent) -> JourneysState:
    """Apply one journey event.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
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
    state = JourneysState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


# --- decide ---------------------------------------------------------------------------


class JourneyIndex(Sequence[JourneyDefinition]):
    """A programme's journeys, in order, by key and by the message types that start them.

    Build it once (the engine does) and pass it wherever journeys are expected: any
    other sequence of definitions is indexed again on each call.
    """

    def __init__(self, definitions: Iterable[JourneyDefinition]) -> None:
        self._definitions = tuple(definitions)
        self.by_key = {definition.key: definition for definition in self._definitions}
        starting: dict[str, list[JourneyDefinition]] = {}
        for definition in self._definitions:
            kinds = {t.type for t in (definition.entry, *definition.also_on) if not t.timed}
            for kind in sorted(k for k in kinds if k is not None):
                starting.setdefault(kind, []).append(definition)
        self.starting = {kind: tuple(found) for kind, found in starting.items()}

    @overload
    def __getitem__(self, index: int) -> JourneyDefinition: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[JourneyDefinition, ...]: ...

    def __getitem__(self, index: int | slice) -> JourneyDefinition | tuple[JourneyDefinition, ...]:
        return self._definitions[index]

    def __len__(self) -> int:
        return len(self._definitions)

    def __repr__(self) -> str:
        return f"JourneyIndex({[definition.key for definition in self._definitions]!r})"


def _index(journeys: Sequence[JourneyDefinition]) -> JourneyIndex:
    return journeys if isinstance(journeys, JourneyIndex) else JourneyIndex(journeys)


def decide(
    message: object,
    state: JourneysState,
    journeys: Sequence[JourneyDefinition],
    registry: Registry,
    situation: Situation,
) -> list[JourneyEvent]:
    """The journey events a fact or a domain event makes.

    Running instances take it first (an exit, a consent withdrawal, or the first step
    from their state it triggers whose guards hold); then every journey it starts.

    Args:
        message: a fact, or a domain event with a ``TYPE`` tag (e.g. ``tier_changed``).
        state: the member's journeys.
        journeys: the programme's journey definitions (validated).
        registry: the condition functions the guards name.
        situation: what guards may see; its ``now`` is the instant of the decision and
            its ``flags``, tags and plans describe the member after the message.
    """
    now = require_aware("now", situation.now)
    if situation.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, situation.member_id)
    kind = str(getattr(message, "TYPE", type(message).__name__))
    if isinstance(message, Fact):
        trigger_id = message.fact_id
        if trigger_id in state.seen:
            return []
    else:
        trigger_id = fingerprint(message)
        if seen_in(state.seen, message):
            return []
    situation = attrs.evolve(situation, message=message, now=now)
    index = _index(journeys)
    by_key = index.by_key
    events: list[JourneyEvent] = []
    for instance in active(state):
        definition = by_key.get(instance.journey)
        if definition is None:
            continue
        events += _on_message(instance, definition, registry, situation, kind, trigger_id)
    working = _applied(state, events)
    for definition in index.starting.get(kind, ()):
        if _starts(definition, working, registry, situation, kind):
            started = _start(definition, working, situation, kind, trigger_id)
            events += started
            working = _applied(working, started)
    return events + _started_by_actions(events, working, by_key, situation)


def _started_by_actions(
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
        new = _start(definition, state, at, "start_journey", action.key)
        started += new
        state = _applied(state, new)
        pending += [e for e in new if isinstance(e, JourneyActionIssued)]
    return started


def _on_message(
    instance: JourneyInstance,
    definition: JourneyDefinition,
    registry: Registry,
    situation: Situation,
    kind: str,
    trigger_id: str,
) -> list[JourneyEvent]:
    ended = None
    if kind in definition.exit_on:
        ended = f"exit:{kind}"
    elif isinstance(situation.message, ConsentWithdrawn) and not _consented(situation, definition):
        ended = "consent_withdrawn"
    if ended is not None:
        return [_end(instance, situation, ended, trigger_id)]
    here: Situation | None = None  # what the guards see: with the instance's counters
    for index, transition in enumerate(definition.transitions):
        if transition.source != instance.state or not _matches(transition.trigger, kind):
            continue
        if here is None:
            here = attrs.evolve(situation, counters=instance.counters)
        if all(registry.holds(guard, here) for guard in transition.guards):
            return _move(instance, definition, index, situation, kind, trigger_id)
    return []


def _consented(situation: Situation, definition: JourneyDefinition) -> bool:
    return definition.purpose in situation.consented


def _matches(trigger: Trigger, kind: str) -> bool:
    return not trigger.timed and trigger.type == kind


def _starts(
    definition: JourneyDefinition,
    state: JourneysState,
    registry: Registry,
    situation: Situation,
    kind: str,
) -> bool:
    if not any(_matches(trigger, kind) for trigger in (definition.entry, *definition.also_on)):
        return False
    if active(state, definition.key) and not definition.re_entry:
        return False
    return all(registry.holds(guard, situation) for guard in definition.entry_guards)


def _start(
    definition: JourneyDefinition,
    state: JourneysState,
    situation: Situation,
    kind: str,
    trigger_id: str,
) -> list[JourneyEvent]:
    number = sum(1 for i in state.instances.values() if i.journey == definition.key) + 1
    instance_id = f"{state.member_id}/{definition.key}/{number}"
    at = situation.now
    anchors = _anchors(definition, situation.message)
    started = JourneyStarted(
        member_id=state.member_id,
        instance_id=instance_id,
        journey=definition.key,
        version=definition.version,
        state=definition.initial,
        at=at,
        trigger_type=kind,
        trigger_id=trigger_id,
        timers=_timers(definition, definition.initial, at, situation, anchors),
        anchors=anchors,
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
        events.append(_end(instance, situation, "completed", trigger_id))
    return events


def _move(
    instance: JourneyInstance,
    definition: JourneyDefinition,
    index: int,
    situation: Situation,
    kind: str,
    trigger_id: str,
) -> list[JourneyEvent]:
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
        timers=_timers(definition, transition.target, at, situation, instance.anchors),
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
        events.append(_end(instance, situation, "completed", trigger_id))
    return events


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


def _end(
    instance: JourneyInstance, situation: Situation, reason: str, trigger_id: str
) -> JourneyEnded:
    return JourneyEnded(
        member_id=situation.member_id,
        instance_id=instance.instance_id,
        journey=instance.journey,
        reason=reason,
        at=situation.now,
        trigger_id=trigger_id,
    )


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


def _anchors(definition: JourneyDefinition, message: object) -> dict[str, str]:
    anchors = {}
    for name in definition.anchors:
        value = getattr(message, name, None)
        if isinstance(value, date):  # a datetime is a date too
            anchors[name] = value.isoformat()
    return anchors


def _timers(
    definition: JourneyDefinition,
    state: str,
    entered: datetime,
    situation: Situation,
    anchors: Mapping[str, str],
) -> tuple[Timer, ...]:
    timers = []
    for index, transition in enumerate(definition.transitions):
        if transition.source == state and transition.trigger.timed:
            due = _due(transition.trigger, entered, situation.config.tz, anchors)
            # An anchored moment already past when the state is entered does not fire.
            if due is not None and due > entered:
                timers.append(Timer(transition=index, state=state, due_at=due))
    return tuple(timers)


def _due(
    trigger: Trigger, entered: datetime, tz: ZoneInfo, anchors: Mapping[str, str]
) -> datetime | None:
    if trigger.kind == "after" and trigger.delay is not None:
        return _shifted(entered, trigger.delay, tz, +1)
    if trigger.kind == "before" and trigger.delay is not None:
        anchor = _anchor(anchors, trigger.anchor, tz)
        return None if anchor is None else _shifted(anchor, trigger.delay, tz, -1)
    clock = _clock(str(trigger.at))
    today = local_date(entered, tz)
    if trigger.kind == "at":
        return _local(today + timedelta(days=trigger.days), clock, tz, after=entered)
    if trigger.kind == "monthly" and trigger.day is not None:
        due = _local(today.replace(day=trigger.day), clock, tz)
        return due if due > entered else _local(next_month_on(today, trigger.day), clock, tz)
    anchor = _anchor(anchors, trigger.anchor, tz)
    if anchor is None:
        return None
    born = local_date(anchor, tz)
    due = _local(anniversary(born, today.year), clock, tz)  # 29 February: 1 March
    return due if due > entered else _local(anniversary(born, today.year + 1), clock, tz)


def _shifted(instant: datetime, delay: Delay, tz: ZoneInfo, sign: int) -> datetime:
    moved = add_months(instant, sign * delay.months, tz) if delay.months else instant
    return moved + sign * timedelta(days=delay.days, hours=delay.hours)


def _anchor(anchors: Mapping[str, str], name: str | None, tz: ZoneInfo) -> datetime | None:
    text = anchors.get(name or "")
    if text is None:
        return None
    if "T" in text:
        return datetime.fromisoformat(text)
    return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)


def _clock(text: str) -> time:
    return time.fromisoformat(text)  # validated HH:MM (config.common.local_time)


def _local(day: date, clock: time, tz: ZoneInfo, *, after: datetime | None = None) -> datetime:
    due = local_wall_time(day, clock, tz)
    if after is not None and due <= after:
        due += timedelta(days=1)
    return due


def _applied(state: JourneysState, events: Iterable[JourneyEvent]) -> JourneysState:
    for event in events:
        state = evolve(state, event)
    return state


# --- tick -----------------------------------------------------------------------------


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
    by_key = _index(journeys).by_key
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
        state = _applied(state, fired)
        launched = _started_by_actions(fired, state, by_key, situation)
        state = _applied(state, launched)
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
            return _move(instance, definition, timer.transition, at, "timer", trigger_id)
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
