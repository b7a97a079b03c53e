"""A staff task as the console shows it: what, for whom, due when, and what may be done.

The queue and a member's page list tasks alike: the kind and role by their Chinese
names, who holds it, when it is due in the programme's time zone, whether it is overdue
or escalated (its level above 0), and — while it is open — whether the member of staff
looking may complete it (they hold it, nobody does, or they administer) or claim it
(nobody holds it), with the outcomes the member's journeys wait for.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.config import ProgrammeConfig
from membercore.service.recording import member_key
from membercore.staff.tasks import Task
from membercore_adapters.console.outcomes import Outcome
from membercore_adapters.console.pages import when
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.shapes import task_id
from membercore_adapters.http.tasks import may_complete
from membercore_adapters.labels import STAFF_ROLES, TASK_KINDS, TASK_OUTCOMES, named

__all__ = ["TaskLine", "staff_name", "task_line"]


@attrs.frozen(kw_only=True)
class TaskLine:
    """A task, as a row of the queue or of a member's page.

    Attributes:
        id: the task's id in URLs (its key in base64url).
        member_id: the member concerned.
        kind: what to do, named (致电).
        role: the role that does it, named (健康管家).
        holder: who holds it (``hm-01 王健康``); ``None`` while it waits unassigned.
        waiting: while nobody holds it, why.
        due: when it is due, in the programme's time zone.
        overdue: it is open and past due.
        level: how often it was escalated (0: never).
        open: it is still to be done.
        outcome: a closed task's outcome, named.
        outcomes: the outcomes the member's journeys wait for.
        may_complete: the member of staff looking may complete it.
        may_claim: the member of staff looking may take it (nobody holds it).
    """

    id: str
    member_id: str
    kind: str
    role: str
    holder: str | None
    waiting: str | None
    due: str
    overdue: bool
    level: int
    open: bool
    outcome: str | None
    outcomes: tuple[Outcome, ...]
    may_complete: bool
    may_claim: bool


def staff_name(config: ProgrammeConfig, staff_id: str | None) -> str | None:
    """A member of staff as colleagues know them: ``hm-01 王健康`` (the roster's name)."""
    if staff_id is None:
        return None
    member = next((held for held in config.staff.staff if held.key == staff_id), None)
    return staff_id if member is None else f"{staff_id} {member.name}"


def task_line(
    task: Task,
    member_id: str,
    *,
    viewer: Principal,
    config: ProgrammeConfig,
    now: datetime,
    outcomes: tuple[Outcome, ...],
) -> TaskLine:
    """The row of ``task``, for ``viewer`` at ``now``."""
    is_open = task.status == "open"
    free = task.assignee is None
    return TaskLine(
        id=task_id(member_key(member_id), task.key),
        member_id=member_id,
        kind=named(TASK_KINDS, task.kind, "zh-CN"),
        role=named(STAFF_ROLES, task.role, "zh-CN"),
        holder=staff_name(config, task.assignee),
        waiting=task.unassigned_reason if is_open and free else None,
        due=when(task.due_at, config.tz),
        overdue=is_open and task.due_at < now,
        level=task.level,
        open=is_open,
        outcome=named(TASK_OUTCOMES, task.outcome, "zh-CN") if task.outcome else None,
        outcomes=outcomes,
        may_complete=is_open and may_complete(viewer, task.assignee, task.role),
        may_claim=is_open and free and viewer.kind == "staff",
    )
