"""Staff work: call tasks, visits and reviews, and the health manager of each member.

Journeys ask for work with actions; :func:`task_from_action` turns a ``create_task``
action into a :class:`CreateTask` whose key is the action's deterministic key, so a task
asked for twice is one task. Tasks go to the least-loaded member of staff with the role
(under capacity first); escalation updates the task, it never creates a second one; a
closed task's outcome comes back to the journeys as a ``task_completed`` fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import attrs

from membercore.checks import non_empty
from membercore.config import ProgrammeConfig, StaffMember
from membercore.dates import as_utc, aware, require_aware
from membercore.errors import MemberMismatchError, NoStaffError, UnknownTaskError
from membercore.idempotency import fingerprint, replayed
from membercore.journeys import JourneyActionIssued
from membercore.messages import Command, MemberEvent

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
class AssignHealthManager(Command):
    """Give a member a dedicated health manager (nothing if they have one)."""

    TYPE: ClassVar[str] = "assign_health_manager"

    reason: str = attrs.field(validator=non_empty)


WorkCommand = CreateTask | EscalateTask | CloseTask | AssignHealthManager


@attrs.frozen(kw_only=True)
class TaskCreated(MemberEvent):
    """A task was created and assigned (``assignee`` is ``None`` if nobody has the role)."""

    TYPE: ClassVar[str] = "task_created"

    task_key: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    fingerprint: str


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


WorkEvent = TaskCreated | TaskEscalated | TaskClosed | HealthManagerAssigned

#: Every staff-work message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    CreateTask,
    EscalateTask,
    CloseTask,
    AssignHealthManager,
    TaskCreated,
    TaskEscalated,
    TaskClosed,
    HealthManagerAssigned,
)


@attrs.frozen(kw_only=True)
class Task:
    """A piece of staff work for a member."""

    key: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime
    status: Literal["open", "closed"] = "open"
    level: int = 0
    outcome: str | None = None


@attrs.frozen(kw_only=True)
class WorkState:
    """The staff work about one member.

    Attributes:
        member_id: the member.
        tasks: every task by key.
        health_manager: the member's dedicated health manager.
        keys: idempotency keys with their fingerprints.
    """

    member_id: str
    tasks: Mapping[str, Task] = attrs.field(factory=dict)
    health_manager: str | None = None
    keys: Mapping[str, str] = attrs.field(factory=dict)


def evolve(state: WorkState, event: WorkEvent) -> WorkState:
    """Apply one staff-work event."""
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    if isinstance(event, HealthManagerAssigned):
        keys = {**state.keys, event.key: event.fingerprint}
        return attrs.evolve(state, health_manager=event.staff_id, keys=keys)
    if isinstance(event, TaskCreated):
        task = Task(
            key=event.task_key,
            kind=event.kind,
            role=event.role,
            assignee=event.assignee,
            due_at=event.due_at,
        )
        keys = {**state.keys, event.task_key: event.fingerprint}
    else:
        held = state.tasks[event.task_key]
        keys = {**state.keys, event.key: event.fingerprint}
        if isinstance(event, TaskEscalated):
            task = attrs.evolve(
                held,
                level=event.level,
                role=event.role,
                assignee=event.assignee,
                due_at=event.due_at,
            )
        else:
            task = attrs.evolve(held, status="closed", outcome=event.outcome)
    return attrs.evolve(state, tasks={**state.tasks, task.key: task}, keys=keys)


def replay(member_id: str, events: Iterable[WorkEvent]) -> WorkState:
    """Rebuild the staff work about a member from its events."""
    state = WorkState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def least_loaded(staff: Iterable[StaffMember], loads: Mapping[str, int]) -> StaffMember | None:
    """Who should take the next case: under capacity first, then fewest cases, then roster order."""
    ranked = sorted(
        enumerate(staff),
        key=lambda item: (
            loads.get(item[1].key, 0) >= item[1].capacity,
            loads.get(item[1].key, 0),
            item[0],
        ),
    )
    return ranked[0][1] if ranked else None


def decide(
    command: WorkCommand,
    state: WorkState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    loads: Mapping[str, int] | None = None,
) -> list[WorkEvent]:
    """The staff-work events a command makes.

    Args:
        command: the command.
        state: the staff work about the member.
        config: the programme (its staff roster).
        now: the instant of the decision.
        loads: the current case load of each member of staff (open tasks, or members
            managed for health-manager assignment), for balancing.

    Raises:
        UnknownTaskError: an escalation or closure names a task the member lacks.
        NoStaffError: no health manager on the roster.
    """
    now = require_aware("now", now)
    if command.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    loads = loads or {}
    if isinstance(command, AssignHealthManager):
        if state.health_manager is not None:
            return []
        chosen = least_loaded(config.staff.with_role("health_manager"), loads)
        if chosen is None:
            raise NoStaffError(state.member_id, "health_manager")
        return [
            HealthManagerAssigned(
                member_id=state.member_id,
                staff_id=chosen.key,
                at=now,
                reason=command.reason,
                key=command.key,
                fingerprint=digest,
            )
        ]
    if isinstance(command, CreateTask):
        return [_created(command, state, config, now, loads, digest)]
    held = state.tasks.get(command.task_key)
    if held is None or held.status == "closed":
        raise UnknownTaskError(state.member_id, command.task_key)
    if isinstance(command, CloseTask):
        return [
            TaskClosed(
                member_id=state.member_id,
                task_key=held.key,
                outcome=command.outcome,
                by=command.by,
                at=now,
                key=command.key,
                fingerprint=digest,
            )
        ]
    role = command.role or held.role
    assignee = held.assignee
    if command.role is not None:
        chosen = least_loaded(config.staff.with_role(role), loads)
        assignee = chosen.key if chosen else None
    return [
        TaskEscalated(
            member_id=state.member_id,
            task_key=held.key,
            level=held.level + 1,
            role=role,
            assignee=assignee,
            due_at=command.due_at,
            at=now,
            reason=command.reason,
            key=command.key,
            fingerprint=digest,
        )
    ]


def _created(
    command: CreateTask,
    state: WorkState,
    config: ProgrammeConfig,
    now: datetime,
    loads: Mapping[str, int],
    digest: str,
) -> TaskCreated:
    assignee = None
    if command.role == "health_manager" and state.health_manager is not None:
        assignee = state.health_manager  # the member's own manager
    else:
        chosen = least_loaded(config.staff.with_role(command.role), loads)
        assignee = chosen.key if chosen else None
    return TaskCreated(
        member_id=state.member_id,
        task_key=command.key,
        kind=command.kind,
        role=command.role,
        assignee=assignee,
        due_at=command.due_at,
        at=now,
        reason=command.reason,
        fingerprint=digest,
    )


def overdue(state: WorkState, now: datetime) -> tuple[Task, ...]:
    """Open tasks past their due time (to escalate)."""
    return tuple(t for t in state.tasks.values() if t.status == "open" and t.due_at <= now)


def task_from_action(action: JourneyActionIssued) -> CreateTask:
    """The task a journey's ``create_task`` action asks for, keyed by the action's key."""
    params = action.action.params
    return CreateTask(
        key=action.key,
        member_id=action.member_id,
        kind=str(params["kind"]),
        role=str(params["role"]),
        due_at=action.at + timedelta(hours=int(params["due_hours"])),
        reason=action.explanation,
    )
