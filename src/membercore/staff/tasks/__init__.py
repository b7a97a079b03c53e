"""Staff work: call tasks, visits and reviews, and the health manager of each member.

Journeys ask for work with actions; :func:`task_from_action` turns a ``create_task``
action into a :class:`CreateTask` whose key is the action's deterministic key, so a task
asked for twice is one task. Tasks go to the least-loaded member of staff with the role
(under capacity first); escalation updates the task, it never creates a second one; a
closed task's outcome comes back to the journeys as a ``task_completed`` fact.
"""

from __future__ import annotations

from membercore.staff.tasks.decide import decide, least_loaded, task_from_action
from membercore.staff.tasks.messages import (
    MESSAGE_TYPES,
    AssignHealthManager,
    CloseTask,
    CreateTask,
    EscalateTask,
    HealthManagerAssigned,
    TaskClosed,
    TaskCreated,
    TaskEscalated,
    WorkCommand,
    WorkEvent,
)
from membercore.staff.tasks.state import Task, WorkState, evolve, overdue, replay

__all__ = [
    "MESSAGE_TYPES",
    "AssignHealthManager",
    "CloseTask",
    "CreateTask",
    "EscalateTask",
    "HealthManagerAssigned",
    "Task",
    "TaskClosed",
    "TaskCreated",
    "TaskEscalated",
    "WorkCommand",
    "WorkEvent",
    "WorkState",
    "decide",
    "evolve",
    "least_loaded",
    "overdue",
    "replay",
    "task_from_action",
]
