"""Staff work's commands and events: tasks created, assigned, escalated, closed; managers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware
from membercore.messages import Command, MemberEvent

__all__ = [
    "MESSAGE_TYPES",
    "AssignHealthManager",
    "AssignTask",
    "CloseTask",
    "CreateTask",
    "EscalateTask",
    "HealthManagerAssigned",
    "TaskAssigned",
    "TaskClosed",
    "TaskCreated",
    "TaskEscalated",
    "WorkCommand",
    "WorkEvent",
]


@attrs.frozen(kw_only=True)
class CreateTask(Command):
    """Ask for a piece of staff work for a member.

    Attributes:
        key: the task's key (a journey action's key: journey, instance, step, trigger,
            occurrence); also the idempotency key.
        member_id: the member concerned.
        kind: ``call``, ``visit``, ``review``...
        role: the role that does it (``health_manager``, ``nurse``...).
        due_at: when it is due.
        reason: why (the journey step's explanation).
    """

    TYPE: ClassVar[str] = "create_task"

    kind: str = attrs.field(validator=non_empty)
    role: str = attrs.field(validator=non_empty)
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class EscalateTask(Command):
    """Escalate an open task: a new due time, and another role if given."""

    TYPE: ClassVar[str] = "escalate_task"

    task_key: str = attrs.field(validator=non_empty)
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str = attrs.field(validator=non_empty)
    role: str | None = None


@attrs.frozen(kw_only=True)
class CloseTask(Command):
    """A member of staff finished a task, with its outcome."""

    TYPE: ClassVar[str] = "close_task"

    task_key: str = attrs.field(validator=non_empty)
    outcome: str = attrs.field(validator=non_empty)
    by: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AssignTask(Command):
    """Give an open task to a member of staff with its role (an unassigned one, say).

    Assigning the task that waits for a member's health manager (kind
    ``assign_health_manager``) makes that member of staff their health manager, and
    closes it.

    Attributes:
        task_key: the task.
        staff_id: who takes it: on the roster, with the task's role.
        by: who assigned it (a supervisor, or the member of staff claiming it).
    """

    TYPE: ClassVar[str] = "assign_task"

    task_key: str = attrs.field(validator=non_empty)
    staff_id: str = attrs.field(validator=non_empty)
    by: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AssignHealthManager(Command):
    """Give a member a dedicated health manager (nothing if they have one).

    With no health manager on the roster, the assignment waits as an unassigned task
    (kind ``assign_health_manager``) until one is assigned.
    """

    TYPE: ClassVar[str] = "assign_health_manager"

    reason: str = attrs.field(validator=non_empty)


WorkCommand = CreateTask | EscalateTask | CloseTask | AssignTask | AssignHealthManager


@attrs.frozen(kw_only=True)
class TaskCreated(MemberEvent):
    """A task was created and assigned, or left unassigned with the reason.

    Attributes:
        assignee: who holds it; ``None`` if nobody on the roster has the role.
        reason: why the task exists (the journey step's explanation).
        unassigned_reason: when nobody holds it, why (``无可分配人员: ...``).
    """

    TYPE: ClassVar[str] = "task_created"

    task_key: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    fingerprint: str
    unassigned_reason: str | None = None


@attrs.frozen(kw_only=True)
class TaskEscalated(MemberEvent):
    """A task was escalated: same task, a higher level, a new due time, maybe a new hand."""

    TYPE: ClassVar[str] = "task_escalated"

    task_key: str
    level: int
    role: str
    assignee: str | None
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    key: str
    fingerprint: str
    unassigned_reason: str | None = None


@attrs.frozen(kw_only=True)
class TaskAssigned(MemberEvent):
    """An open task was given to a member of staff."""

    TYPE: ClassVar[str] = "task_assigned"

    task_key: str
    staff_id: str
    by: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class TaskClosed(MemberEvent):
    """A task was done, with its outcome."""

    TYPE: ClassVar[str] = "task_closed"

    task_key: str
    outcome: str
    by: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class HealthManagerAssigned(MemberEvent):
    """A member was given a dedicated health manager."""

    TYPE: ClassVar[str] = "health_manager_assigned"

    staff_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    key: str
    fingerprint: str


WorkEvent = TaskCreated | TaskAssigned | TaskEscalated | TaskClosed | HealthManagerAssigned


#: Every staff-work message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    CreateTask,
    EscalateTask,
    CloseTask,
    AssignTask,
    AssignHealthManager,
    TaskCreated,
    TaskAssigned,
    TaskEscalated,
    TaskClosed,
    HealthManagerAssigned,
)
