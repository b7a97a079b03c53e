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

from membercore.config.common import (
    MAX_DAYS,
    MAX_HOURS,
    MAX_MONTHS,
    local_time,
    non_negative,
    within,
)
from membercore.errors import ConfigError
from membercore.messages import ParamValue

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

TriggerKind = Literal["fact", "event", "after", "before", "at", "yearly", "monthly"]


def _day_of_month(_instance: Any, attribute: Any, value: int | None) -> None:
    if value is not None and not 1 <= value <= 28:
        raise ConfigError(attribute.name, f"a day of every month is 1 to 28, got {value}")


@attrs.frozen(kw_only=True)
class Delay:
    """A duration counted from entering a state: calendar months, then days and hours."""

    months: int = attrs.field(default=0, validator=within(0, MAX_MONTHS))
    days: int = attrs.field(default=0, validator=within(0, MAX_DAYS))
    hours: int = attrs.field(default=0, validator=within(0, MAX_HOURS))


_NEEDS: Mapping[str, tuple[str, ...]] = {
    "fact": ("type",),
    "event": ("type",),
    "after": ("delay",),
    "before": ("anchor", "delay"),
    "at": ("at",),
    "yearly": ("anchor", "at"),
    "monthly": ("day", "at"),
}


def _trigger_shape(instance: Trigger, _attribute: Any, _value: Any) -> None:
    needed = _NEEDS[instance.kind]
    for name in ("type", "delay", "anchor", "at", "day"):
        present = getattr(instance, name) is not None
        if present != (name in needed):
            state = "needs" if name in needed else "has no"
            raise ConfigError(name, f"a {instance.kind} trigger {state} {name}")


@attrs.frozen(kw_only=True)
class Trigger:
    """What moves a journey.

    Attributes:
        kind: ``fact`` or ``event`` (a fact's or a domain event's ``TYPE`` tag, e.g.
            ``diagnosis_recorded``, ``tier_changed``); or a timer: ``after`` a delay since
            the state was entered; ``before`` an anchor instant (e.g. 30 days before a
            plan's ``term_end``); ``at`` a local time ``days`` after the day the state
            was entered; ``yearly`` on an anchor's day (a birthday) at a local time,
            29 February on 1 March in common years (:func:`membercore.dates.anniversary`);
            ``monthly`` on a day of the month (a member day) at a local time.
        type: for facts and events, the tag.
        delay: for ``after`` and ``before``, the delay.
        anchor: for ``before`` and ``yearly``, the field of the journey's entry message
            (listed in the journey's ``anchors``) the timer counts from.
        at: for ``at``, ``yearly`` and ``monthly``, the local time ``HH:MM``.
        days: for ``at``, how many days after the day the state was entered.
        day: for ``monthly``, the day of the month (1 to 28).
    """

    kind: TriggerKind
    type: str | None = None
    delay: Delay | None = None
    anchor: str | None = None
    at: str | None = attrs.field(default=None, validator=local_time)
    days: int = attrs.field(default=0, validator=non_negative)
    day: int | None = attrs.field(default=None, validator=[_day_of_month, _trigger_shape])

    @property
    def timed(self) -> bool:
        """Whether time, not a message, fires it."""
        return self.kind not in ("fact", "event")


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
        stale_after: how late the step's messages and tasks may still go out: when the
            programme learns of the step more than this after its instant (a fact
            reported late, a tick that came late), they are recorded as skipped with
            the reason instead (a day-1 call is useless on day 10). ``None``: never
            too late.
    """

    source: str
    target: str
    trigger: Trigger
    guards: tuple[Call, ...] = ()
    actions: tuple[Call, ...] = ()
    name: str = ""
    stale_after: Delay | None = None

    @property
    def step(self) -> str:
        """The step's name: ``name``, or ``source->target``."""
        return self.name or f"{self.source}->{self.target}"


def _purpose(_instance: Any, attribute: Any, value: str) -> None:
    if value not in ("care", "marketing", "research"):
        problem = f"a journey serves care, marketing or research, not {value!r}"
        raise ConfigError(attribute.name, problem)


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
        also_on: further facts or events that start it (e.g. a renewal as well as a
            first subscription).
        entry_guards: conditions for starting it.
        entry_actions: what starting it does.
        transitions: the moves between states.
        re_entry: whether a member may start it again while an instance is running.
        exit_on: fact or event tags that end it at once (e.g. ``patient_died``).
        anchors: fields of the entry message kept for ``before`` and ``yearly`` timers
            (e.g. ``term_end``, ``birth_date``).
        version: recorded on every step.
        entry_stale_after: how late the entry's messages and tasks may still go out
            (as :attr:`Transition.stale_after`).
    """

    key: str
    label: str
    purpose: str = attrs.field(default="care", validator=_purpose)
    states: tuple[str, ...]
    initial: str
    final: tuple[str, ...] = ()
    entry: Trigger
    also_on: tuple[Trigger, ...] = ()
    entry_guards: tuple[Call, ...] = ()
    entry_actions: tuple[Call, ...] = ()
    transitions: tuple[Transition, ...] = ()
    re_entry: bool = False
    exit_on: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    version: int = 1
    entry_stale_after: Delay | None = None

    def stale_after(self, step: str) -> Delay | None:
        """How late step ``step`` (``entry`` for the entry) may still reach people."""
        if step == "entry":
            return self.entry_stale_after
        return next((t.stale_after for t in self.transitions if t.step == step), None)


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
    if not _lasts(definition.entry_stale_after):
        problems.append("entry_stale_after needs a length (an hour or more)")
    if any(trigger.timed for trigger in (definition.entry, *definition.also_on)):
        problems.append("a journey starts on a fact or an event, not on a timer")
    for transition in definition.transitions:
        anchor = transition.trigger.anchor
        if anchor is not None and anchor not in definition.anchors:
            problems.append(f"step {transition.step}: anchor {anchor!r} is not in anchors")
    for transition in definition.transitions:
        for end in (transition.source, transition.target):
            if end not in states:
                problems.append(f"step {transition.step}: {end!r} is not a state")
        delay = transition.trigger.delay
        zero = delay is not None and not (delay.months or delay.days or delay.hours)
        if transition.trigger.kind == "after" and zero:
            problems.append(f"step {transition.step}: a timer needs a delay longer than zero")
        if not _lasts(transition.stale_after):
            problems.append(f"step {transition.step}: stale_after needs a length (an hour or more)")
        if transition.source in definition.final:
            problems.append(f"step {transition.step}: leaves the final state {transition.source!r}")
    problems += [
        f"state {state!r} cannot be reached from {definition.initial!r}"
        for state in definition.states
        if state not in _reachable(definition)
    ]
    return problems


def _lasts(delay: Delay | None) -> bool:
    """Whether a delay is absent or longer than zero."""
    return delay is None or bool(delay.months or delay.days or delay.hours)


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
