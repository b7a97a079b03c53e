"""Journeys as data: states, transitions on facts, events and timers, guards and actions.

Part of the programme's configuration; :mod:`membercore.journeys` runs them.

A journey definition names everything it does: guards name registered condition
functions and actions name registered actions, each with typed parameters. There is no
code in a definition and nothing is evaluated from text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from membercore.config.common import non_negative
from membercore.errors import ConfigError

__all__ = [
    "Call",
    "Delay",
    "JourneyDefinition",
    "ParamValue",
    "Transition",
    "Trigger",
    "TriggerKind",
    "shape_problems",
]

TriggerKind = Literal["fact", "event", "after", "at"]
ParamValue = str | int | bool


def _hh_mm(_instance: Any, attribute: Any, value: str | None) -> None:
    if value is None:
        return
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ConfigError(attribute.name, f"expected a local time HH:MM, got {value!r}")


@attrs.frozen(kw_only=True)
class Delay:
    """A duration counted from entering a state: calendar months, then days and hours."""

    months: int = attrs.field(default=0, validator=non_negative)
    days: int = attrs.field(default=0, validator=non_negative)
    hours: int = attrs.field(default=0, validator=non_negative)


def _trigger_shape(instance: Trigger, _attribute: Any, _value: Any) -> None:
    needs_type = instance.kind in ("fact", "event")
    if needs_type != (instance.type is not None):
        raise ConfigError(
            "type", f"a {instance.kind} trigger {'needs' if needs_type else 'has no'} type"
        )
    if (instance.kind == "after") != (instance.after is not None):
        raise ConfigError("after", "an after trigger, and only it, has a delay")
    if (instance.kind == "at") != (instance.at is not None):
        raise ConfigError("at", "an at trigger, and only it, has a local time")


@attrs.frozen(kw_only=True)
class Trigger:
    """What moves a journey.

    Attributes:
        kind: ``fact`` (a fact's ``TYPE`` tag), ``event`` (a domain event's tag, e.g.
            ``tier_changed``), ``after`` (a delay after entering the state) or ``at`` (a
            local time of day, ``days`` after the day the state was entered).
        type: for facts and events, the tag.
        after: for ``after``, the delay.
        at: for ``at``, the local time ``HH:MM`` in the programme's timezone.
        days: for ``at``, how many days after the day the state was entered.
    """

    kind: TriggerKind
    type: str | None = None
    after: Delay | None = None
    at: str | None = attrs.field(default=None, validator=_hh_mm)
    days: int = attrs.field(default=0, validator=[non_negative, _trigger_shape])

    @property
    def timed(self) -> bool:
        """Whether time, not a message, fires it."""
        return self.kind in ("after", "at")


@attrs.frozen(kw_only=True)
class Call:
    """A guard or an action: a registered name and its parameters."""

    name: str
    params: Mapping[str, ParamValue] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Transition:
    """A move from one state to another.

    Attributes:
        source: the state it leaves.
        target: the state it enters.
        trigger: what fires it.
        guards: conditions that must all hold (evaluated when it fires).
        actions: what it does, in order.
        name: a stable name for the step (task keys and explanations use it).
    """

    source: str
    target: str
    trigger: Trigger
    guards: tuple[Call, ...] = ()
    actions: tuple[Call, ...] = ()
    name: str = ""

    @property
    def step(self) -> str:
        """The step's name: ``name``, or ``source->target``."""
        return self.name or f"{self.source}->{self.target}"


@attrs.frozen(kw_only=True)
class JourneyDefinition:
    """One journey.

    Attributes:
        key: stable key (e.g. ``diabetes``).
        label: shown to people (e.g. 糖尿病管理).
        purpose: the consent purpose it serves (``care``, ``marketing``, ``research``);
            withdrawing that consent ends it.
        states: every state.
        initial: the state a member enters on entry.
        final: states it ends in.
        entry: what starts it (a fact or event trigger).
        entry_guards: conditions for starting it.
        entry_actions: what starting it does.
        transitions: the moves between states.
        re_entry: whether a member may start it again while an instance is running.
        exit_on: fact or event tags that end it at once (e.g. ``patient_died``).
        version: recorded on every step.
    """

    key: str
    label: str
    purpose: str = "care"
    states: tuple[str, ...]
    initial: str
    final: tuple[str, ...] = ()
    entry: Trigger
    entry_guards: tuple[Call, ...] = ()
    entry_actions: tuple[Call, ...] = ()
    transitions: tuple[Transition, ...] = ()
    re_entry: bool = False
    exit_on: tuple[str, ...] = ()
    version: int = 1


def shape_problems(definition: JourneyDefinition) -> list[str]:
    """What is wrong with a journey's shape, whatever functions it names.

    One initial state among the states; final states among them; steps between known
    states; no step out of a final state; every state reachable from the initial one;
    an entry on a fact or event (not a timer); timers with a delay longer than zero.
    """
    states = set(definition.states)
    problems: list[str] = []
    if len(states) != len(definition.states):
        problems.append("a state is listed twice")
    if definition.initial not in states:
        problems.append(f"the initial state {definition.initial!r} is not a state")
    problems += [f"final state {s!r} is not a state" for s in definition.final if s not in states]
    if definition.entry.timed:
        problems.append("a journey starts on a fact or an event, not on a timer")
    for transition in definition.transitions:
        for end in (transition.source, transition.target):
            if end not in states:
                problems.append(f"step {transition.step}: {end!r} is not a state")
        delay = transition.trigger.after
        if delay is not None and not (delay.months or delay.days or delay.hours):
            problems.append(f"step {transition.step}: a timer needs a delay longer than zero")
        if transition.source in definition.final:
            problems.append(f"step {transition.step}: leaves the final state {transition.source!r}")
    problems += [
        f"state {state!r} cannot be reached from {definition.initial!r}"
        for state in definition.states
        if state not in _reachable(definition)
    ]
    return problems


def _reachable(definition: JourneyDefinition) -> set[str]:
    seen = {definition.initial}
    frontier = [definition.initial]
    while frontier:
        state = frontier.pop()
        for transition in definition.transitions:
            if transition.source == state and transition.target not in seen:
                seen.add(transition.target)
                frontier.append(transition.target)
    return seen
