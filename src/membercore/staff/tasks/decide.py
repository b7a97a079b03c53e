"""Deciding staff work: who gets a task (the least loaded of its role), escalation, closing.

Work nobody on the roster can take waits unassigned with the reason, until assigned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from membercore.config import ProgrammeConfig, StaffMember
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError, UnknownStaffError, UnknownTaskError
from membercore.facts import TaskCompleted
from membercore.idempotency import fingerprint, replayed
from membercore.journeys import JourneyActionIssued
from membercore.staff.tasks.messages import (
    AssignHealthManager,
    AssignTask,
    CloseTask,
    CreateTask,
    HealthManagerAssigned,
    TaskAssigned,
    TaskClosed,
    TaskCreated,
    TaskEscalated,
    WorkCommand,
    WorkEvent,
)
from membercore.staff.tasks.state import Task, WorkState

__all__ = [
    "HEALTH_MANAGER",
    "MANAGER_ASSIGNMENT",
    "completion",
    "decide",
    "least_loaded",
    "task_from_action",
    "unassigned",
]

#: The role of a member's dedicated health manager.
HEALTH_MANAGER = "health_manager"
#: The kind of the task that waits for a member's health manager when nobody can be given.
MANAGER_ASSIGNMENT = "assign_health_manager"


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

    Work nobody on the roster can take is not refused: the task waits unassigned, with
    the reason (:func:`unassigned`), until :class:`AssignTask` gives it to someone.

    Args:
        command: the command.
        state: the staff work about the member.
        config: the programme (its staff roster).
        now: the instant of the decision.
        loads: the current case load of each member of staff (open tasks, or members
            managed for health-manager assignment), for balancing.

    Raises:
        UnknownTaskError: an assignment, escalation or closure names a task the member
            has no open task for.
        UnknownStaffError: an assignment names someone not on the roster with the
            task's role.
    """
    now = require_aware("now", now)
    if command.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    loads = loads or {}
    if isinstance(command, AssignHealthManager):
        return _manager(command, state, config, now, loads, digest)
    if isinstance(command, CreateTask):
        return [_created(command, state, config, now, loads, digest)]
    held = state.tasks.get(command.task_key)
    if held is None or held.status == "closed":
        raise UnknownTaskError(state.member_id, command.task_key)
    if isinstance(command, CloseTask):
        return [_closed(held, command.outcome, command.by, command.key, state, now, digest)]
    if isinstance(command, AssignTask):
        return _assigned(command, held, state, config, now, digest)
    role = command.role or held.role
    assignee = held.assignee
    if command.role is not None or assignee is None:
        # A new role, or a task still waiting for someone: the roster is asked again.
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
            unassigned_reason=None if assignee else unassigned(role),
        )
    ]


def unassigned(role: str) -> str:
    """Why a task for ``role`` waits unassigned: nobody on the roster has the role."""
    return f"无可分配人员: nobody on the staff roster has the role {role!r}"


def _manager(
    command: AssignHealthManager,
    state: WorkState,
    config: ProgrammeConfig,
    now: datetime,
    loads: Mapping[str, int],
    digest: str,
) -> list[WorkEvent]:
    """A health manager for the member, or the assignment left waiting as a task."""
    if state.health_manager is not None:
        return []
    waiting = _waiting_assignment(state)
    chosen = least_loaded(config.staff.with_role(HEALTH_MANAGER), loads)
    if chosen is None:
        if waiting is not None:
            return []  # one waiting assignment is enough
        return [
            TaskCreated(
                member_id=state.member_id,
                task_key=command.key,
                kind=MANAGER_ASSIGNMENT,
                role=HEALTH_MANAGER,
                assignee=None,
                due_at=now,
                at=now,
                reason=command.reason,
                fingerprint=digest,
                unassigned_reason=unassigned(HEALTH_MANAGER),
            )
        ]
    made: list[WorkEvent] = [
        HealthManagerAssigned(
            member_id=state.member_id,
            staff_id=chosen.key,
            at=now,
            reason=command.reason,
            key=command.key,
            fingerprint=digest,
        )
    ]
    if waiting is not None:
        made.append(_closed(waiting, "assigned", "membercore", command.key, state, now, digest))
    return made


def _waiting_assignment(state: WorkState) -> Task | None:
    """The open task that waits for the member's health manager, if any."""
    return next(
        (
            task
            for task in state.tasks.values()
            if task.kind == MANAGER_ASSIGNMENT and task.status == "open"
        ),
        None,
    )


def _assigned(
    command: AssignTask,
    held: Task,
    state: WorkState,
    config: ProgrammeConfig,
    now: datetime,
    digest: str,
) -> list[WorkEvent]:
    """The task given to a member of staff with its role; a waiting manager assignment done."""
    if command.staff_id not in {member.key for member in config.staff.with_role(held.role)}:
        raise UnknownStaffError(state.member_id, command.staff_id, held.role)
    made: list[WorkEvent] = [
        TaskAssigned(
            member_id=state.member_id,
            task_key=held.key,
            staff_id=command.staff_id,
            by=command.by,
            at=now,
            key=command.key,
            fingerprint=digest,
        )
    ]
    if held.kind == MANAGER_ASSIGNMENT:
        made.append(
            HealthManagerAssigned(
                member_id=state.member_id,
                staff_id=command.staff_id,
                at=now,
                reason=f"task {held.key} assigned by {command.by}",
                key=command.key,
                fingerprint=digest,
            )
        )
        made.append(_closed(held, "assigned", command.by, command.key, state, now, digest))
    return made


def _closed(
    held: Task, outcome: str, by: str, key: str, state: WorkState, now: datetime, digest: str
) -> TaskClosed:
    return TaskClosed(
        member_id=state.member_id,
        task_key=held.key,
        outcome=outcome,
        by=by,
        at=now,
        key=key,
        fingerprint=digest,
    )


def _created(
    command: CreateTask,
    state: WorkState,
    config: ProgrammeConfig,
    now: datetime,
    loads: Mapping[str, int],
    digest: str,
) -> TaskCreated:
    staff = config.staff.with_role(command.role)
    if command.role == HEALTH_MANAGER and state.health_manager in {s.key for s in staff}:
        assignee: str | None = state.health_manager  # the member's own manager
    else:
        # Nobody's own manager, or one who has left the roster: the least loaded.
        chosen = least_loaded(staff, loads)
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
        unassigned_reason=None if assignee else unassigned(command.role),
    )


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


def completion(fact: object, state: WorkState) -> CloseTask | None:
    """The closing of the open task a ``task_completed`` fact reports, with its outcome.

    ``None`` for any other fact, and for a task the member has no open task for (closed
    already by :class:`CloseTask`, say): the fact still moves the journeys on.
    """
    if not isinstance(fact, TaskCompleted):
        return None
    held = state.tasks.get(fact.task_key)
    if held is None or held.status == "closed":
        return None
    return CloseTask(
        key=f"{fact.fact_id}/close/{held.key}",
        member_id=state.member_id,
        task_key=held.key,
        outcome=fact.outcome,
        by=f"task_completed {fact.fact_id}",
    )
