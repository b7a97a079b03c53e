"""The outcomes a completed task may report that the member's journeys wait for.

A task is completed with an outcome, which the engine takes as a ``task_completed`` fact;
every journey of the member whose current state has a step on that fact, guarded on its
``outcome`` (``field_equals`` or ``field_in``), moves on when the outcome is one it names.
The console offers those outcomes as buttons, each saying which journey it moves and
where to (``已改约`` → 糖尿病管理: monitoring); any other outcome is typed in, and moves
nothing but the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from membercore.config import ProgrammeConfig
from membercore.config.journeys import Call, Transition
from membercore.facts import TaskCompleted
from membercore.journeys import JourneyInstance
from membercore_adapters.labels import TASK_OUTCOMES, named

__all__ = ["Outcome", "expected_outcomes"]

#: The field of a ``task_completed`` fact that holds its outcome.
_FIELD = "outcome"


@attrs.frozen(kw_only=True)
class Outcome:
    """An outcome a journey of the member waits for.

    Attributes:
        value: the outcome, as the fact carries it (``rebooked``).
        label: as staff read it (已改约).
        moves: the journeys it moves, and to which state (``糖尿病管理 → monitoring``).
    """

    value: str
    label: str
    moves: tuple[str, ...]


def expected_outcomes(
    journeys: Iterable[JourneyInstance], config: ProgrammeConfig
) -> tuple[Outcome, ...]:
    """The outcomes the running journeys wait for, in the order their steps are written."""
    moves: dict[str, list[str]] = {}
    for instance in journeys:
        definition = next((j for j in config.journeys if j.key == instance.journey), None)
        if definition is None or instance.ended is not None:
            continue
        for step in definition.transitions:
            if step.source != instance.state or not _on_completion(step):
                continue
            for value in _named_outcomes(step.guards):
                moves.setdefault(value, []).append(f"{definition.label} → {step.target}")
    return tuple(
        Outcome(value=value, label=named(TASK_OUTCOMES, value, "zh-CN"), moves=tuple(where))
        for value, where in moves.items()
    )


def _on_completion(step: Transition) -> bool:
    trigger = step.trigger
    return trigger.kind == "fact" and trigger.type == TaskCompleted.TYPE


def _named_outcomes(guards: Iterable[Call]) -> Iterator[str]:
    """The outcomes the step's guards on the outcome accept (none: it takes any)."""
    for guard in guards:
        if guard.params.get("field") != _FIELD:
            continue
        if guard.name == "field_equals":
            yield str(guard.params["value"])
        elif guard.name == "field_in":
            yield from (v.strip() for v in str(guard.params["values"]).split(",") if v.strip())
