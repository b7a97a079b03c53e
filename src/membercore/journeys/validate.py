"""Checking a journey definition when it is built, not when a patient reaches a step."""

from __future__ import annotations

from membercore.errors import JourneyDefinitionError
from membercore.journeys.model import JourneyDefinition
from membercore.journeys.registry import Registry, problems_with

__all__ = ["validate"]


def validate(definition: JourneyDefinition, registry: Registry) -> JourneyDefinition:
    """Return ``definition`` if it holds together; raise with every problem otherwise.

    Checks: one initial state among the states; final states among them; transitions
    between known states; no exit from a final state; every state reachable from the
    initial one; an entry on a fact or event (not a timer); timers with a delay (a zero
    delay could fire for ever); every guard and action named
    in the registry, with the parameters it declares.

    Raises:
        JourneyDefinitionError: naming the journey and listing every problem.
    """
    states = set(definition.states)
    problems = []
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
    for call in (*definition.entry_guards, *(g for t in definition.transitions for g in t.guards)):
        problems += [f"guard {problem}" for problem in problems_with(call, registry.conditions)]
    for call in (
        *definition.entry_actions,
        *(a for t in definition.transitions for a in t.actions),
    ):
        problems += [f"action {problem}" for problem in problems_with(call, registry.actions)]
    if problems:
        raise JourneyDefinitionError(definition.key, tuple(problems))
    return definition


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
