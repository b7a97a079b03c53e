"""A member's staff work: their tasks and health manager, replayed from the events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

import attrs

from membercore.errors import MemberMismatchError
from membercore.staff.tasks.messages import (
    HealthManagerAssigned,
    TaskAssigned,
    TaskCreated,
    TaskEscalated,
    WorkEvent,
)

__all__ = ["Task", "WorkState", "evolve", "overdue", "replay"]


@attrs.frozen(kw_only=True)
class Task:
    """A piece of staff work for a member.

    Attributes:
        assignee: who holds it; ``None`` while it waits unassigned.
        unassigned_reason: while it waits unassigned, why (nobody has the role).
    """

    key: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime
    status: Literal["open", "closed"] = "open"
    level: int = 0
    outcome: str | None = None
    unassigned_reason: str | None = None


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
            unassigned_reason=event.unassigned_reason,
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
                unassigned_reason=event.unassigned_reason,
            )
        elif isinstance(event, TaskAssigned):
            task = attrs.evolve(held, assignee=event.staff_id, unassigned_reason=None)
        else:
            task = attrs.evolve(held, status="closed", outcome=event.outcome)
    return attrs.evolve(state, tasks={**state.tasks, task.key: task}, keys=keys)


def replay(member_id: str, events: Iterable[WorkEvent]) -> WorkState:
    """Rebuild the staff work about a member from its events."""
    state = WorkState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def overdue(state: WorkState, now: datetime) -> tuple[Task, ...]:
    """Open tasks past their due time (to escalate)."""
    return tuple(t for t in state.tasks.values() if t.status == "open" and t.due_at <= now)
