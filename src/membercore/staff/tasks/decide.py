"""Deciding staff work: who gets a task (the least loaded of its role), escalation, closing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from membercore.config import ProgrammeConfig, StaffMember
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError, NoStaffError, UnknownTaskError
from membercore.idempotency import fingerprint, replayed
from membercore.journeys import JourneyActionIssued
from membercore.staff.tasks.messages import (
    AssignHealthManager,
    CloseTask,
    CreateTask,
    HealthManagerAssigned,
    TaskClosed,
    TaskCreated,
    TaskEscalated,
    WorkCommand,
    WorkEvent,
)
from membercore.staff.tasks.state import WorkState

__all__ = ["decide", "least_loaded", "task_from_action"]


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
