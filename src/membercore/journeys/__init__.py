"""Journeys (患者旅程): state machines that move a patient along, as data.

A journey is a :class:`JourneyDefinition`: states, steps on facts, domain events and
timers, guards that name registered condition functions, and actions (intents the
application carries out: messages through the outreach policy, staff tasks, points,
offers, tags, other journeys). :func:`validate` checks a definition when it is built;
:func:`decide` and :func:`tick` run a member's journeys::

    events = decide(fact, state, journeys, registry, situation)
    events += tick(state, journeys, registry, situation)   # every due timer, in order

The parts: :mod:`.state` (a member's journeys and :func:`evolve`), :mod:`.index`,
:mod:`.decide`, :mod:`.tick`, :mod:`.steps` (the events a start, a step and an end
make) and :mod:`.timers` (when timed steps fall due, on :mod:`membercore.dates`).
"""

from __future__ import annotations

from types import ModuleType

from membercore.config.journeys import Call, Delay, JourneyDefinition, Transition, Trigger
from membercore.journeys.decide import decide
from membercore.journeys.index import JourneyIndex
from membercore.journeys.messages import (
    MESSAGE_TYPES,
    JourneyActionIssued,
    JourneyActionSkipped,
    JourneyEnded,
    JourneyEvent,
    JourneyMoved,
    JourneyReanchored,
    JourneyStarted,
    Timer,
    TimerDropped,
)
from membercore.journeys.registry import (
    ActionSpec,
    ConditionSpec,
    Parameter,
    Registry,
    Situation,
    builtin_registry,
)
from membercore.journeys.state import (
    JourneyInstance,
    JourneysState,
    active,
    ending,
    evolve,
    replay,
)
from membercore.journeys.tick import tick
from membercore.journeys.validate import check_tags, validate
from membercore.moved import child

__all__ = [
    "MESSAGE_TYPES",
    "ActionSpec",
    "Call",
    "ConditionSpec",
    "Delay",
    "JourneyActionIssued",
    "JourneyActionSkipped",
    "JourneyDefinition",
    "JourneyEnded",
    "JourneyEvent",
    "JourneyIndex",
    "JourneyInstance",
    "JourneyMoved",
    "JourneyReanchored",
    "JourneyStarted",
    "JourneysState",
    "Parameter",
    "Registry",
    "Situation",
    "Timer",
    "TimerDropped",
    "Transition",
    "Trigger",
    "active",
    "builtin_registry",
    "check_tags",
    "decide",
    "ending",
    "evolve",
    "replay",
    "tick",
    "validate",
]


def __getattr__(name: str) -> ModuleType:
    """``journeys.runtime``, whose names moved into this package, by its old path (warning)."""
    return child(__name__, name)
