"""Checking a journey definition when it is built, not when a patient reaches a step."""

from __future__ import annotations

from collections.abc import Collection

from membercore.config.journeys import JourneyDefinition, shape_problems
from membercore.errors import JourneyDefinitionError
from membercore.journeys.registry import Registry, problems_with

__all__ = ["check_tags", "validate"]


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
    problems = shape_problems(definition)
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


def check_tags(definition: JourneyDefinition, known: Collection[str]) -> JourneyDefinition:
    """Return ``definition`` if every fact or event it names is one of ``known``.

    A trigger or an exit naming no message type (``dischargd``) is a journey that would
    never move: refused like any other definition problem.

    Raises:
        JourneyDefinitionError: naming the journey and each unknown tag.
    """
    named = [definition.entry, *definition.also_on, *(t.trigger for t in definition.transitions)]
    tags = [trigger.type for trigger in named if trigger.type is not None]
    problems = [
        f"{tag!r} is no fact or event type (a misspelling?)"
        for tag in dict.fromkeys([*tags, *definition.exit_on])
        if tag not in known
    ]
    if problems:
        raise JourneyDefinitionError(definition.key, tuple(problems))
    return definition
