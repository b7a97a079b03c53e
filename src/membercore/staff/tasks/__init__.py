"""Staff work: call tasks, visits and reviews, and the health manager of each member.

Journeys ask for work with actions; :func:`task_from_action` turns a ``create_task``
action into a :class:`CreateTask` whose key is the action's deterministic key, so a task
asked for twice is one task. Tasks go to the least-loaded member of staff with the role
(under capacity first); a task nobody on the roster can take waits unassigned with the
reason until :class:`AssignTask` gives it to someone; escalation updates the task, it
never creates a second one; a ``task_completed`` fact closes the task it reports, and
its outcome moves the journeys on.
"""

from __future__ import annotations

from membercore.staff.tasks.decide import (
    HEALTH_MANAGER,
    MANAGER_ASSIGNMENT,
    completion,
    decide,
    least_loaded,
    task_from_action,
    unassigned,
)
from membercore.staff.tasks.messages import (
    MESSAGE_TYPES,
    AssignHealthManager,
    AssignTask,
    CloseTask,
    CreateTask,
    EscalateTask,
    HealthManagerAssigned,
    TaskAssigned,
    TaskClosed,
    TaskCreated,
    TaskEscalated,
    WorkCommand,
    WorkEvent,
)
from membercore.staff.tasks.state import Task, WorkState, evolve, overdue, replay

__all__ = [
    "HEALTH_MANAGER",
    "MANAGER_ASSIGNMENT",
    "MESSAGE_TYPES",
    "AssignHealthManager",
    "AssignTask",
    "CloseTask",
    "CreateTask",
    "EscalateTask",
    "HealthManagerAssigned",
    "Task",
    "TaskAssigned",
    "TaskClosed",
    "TaskCreated",
    "TaskEscalated",
    "WorkCommand",
    "WorkEvent",
    "WorkState",
    "completion",
    "decide",
    "evolve",
    "least_loaded",
    "overdue",
    "replay",
    "task_from_action",
    "unassigned",
]
