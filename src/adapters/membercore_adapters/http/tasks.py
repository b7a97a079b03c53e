"""``/tasks``: the staff's work queue — listing, claiming and completing tasks.

A task is named in URLs by its id (:func:`~membercore_adapters.http.shapes.task_id`: its
key in base64url, as keys hold ``/``). It is claimed with the engine's ``AssignTask``
(to the member of staff calling, who must be on the roster with the task's role) and
completed by a ``task_completed`` fact, the way the staff app reports a task done: the
engine closes the task with its outcome and the member's journeys take the fact (a
``rebooked`` call moves the diabetes journey on). Both are safe to send again: a task
already claimed by the caller, or already completed with the same outcome, is answered
as it stands.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from litestar import Request, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from membercore.facts import TaskCompleted
from membercore.ports import TaskRow
from membercore.service.engine import Engine
from membercore.service.recording import member_of
from membercore.staff.tasks import AssignTask
from membercore_adapters.http.admission import Visit, admit
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.problems import ProblemError, problem_responses
from membercore_adapters.http.settings import principal_of, runner
from membercore_adapters.http.shapes import CompleteTask, TaskView, task_key_of

__all__ = ["TASKS", "claim_task", "complete_task", "sees_task", "task_named", "task_row"]


@get(
    "/tasks",
    opt={"scope": "read"},
    summary="员工任务 / Staff tasks",
    description="Tasks by due instant: open ones by default; `mine=1` those assigned to "
    "the caller; `role` those for a role. A member of staff (not an administrator) sees "
    "the tasks they hold and those waiting unassigned for their role.",
    responses=problem_responses(403),
)
async def list_tasks(
    request: Request[Any, Any, Any],
    mine: Annotated[bool, QueryParameter(description="only the caller's tasks")] = False,
    status: Annotated[
        Literal["open", "closed", "all"], QueryParameter(description="which tasks")
    ] = "open",
    role: Annotated[str | None, QueryParameter(description="only the tasks for this role")] = None,
) -> list[TaskView]:
    """The tasks asked for, by due instant."""
    caller = principal_of(request)
    rows = await runner(request).call(
        lambda engine: list(engine.store.tasks(None if status == "all" else status))
    )
    chosen = [
        TaskView.of_row(row)
        for row in rows
        if (not mine or row.assignee == caller.id)
        and (role is None or row.role == role)
        and sees_task(caller, row)
    ]
    return sorted(chosen, key=lambda task: (task.due_at, task.task_key))


def sees_task(caller: Principal, row: TaskRow) -> bool:
    """Whether the caller sees the task: staff theirs and their role's unassigned ones."""
    if caller.kind == "system" or caller.may("admin"):
        return True
    return row.assignee == caller.id or (row.assignee is None and row.role == caller.role)


def may_complete(caller: Principal, assignee: str | None, role: str) -> bool:
    """Whether the caller may complete a task held by ``assignee`` for ``role``.

    Its holder, an administrator, a hospital system reporting it done; one nobody holds,
    staff with its role (who would see it in their queue), never another member of staff.
    """
    if caller.may("admin") or caller.kind == "system":
        return assignee is None or caller.may("admin")
    if assignee is None:
        return role == caller.role
    return assignee == caller.id


def _visited(engine: Engine, caller: Principal, row: TaskRow, purpose: str, via: str) -> None:
    """Record a member of staff's work on a task, once done, as a look-up of the record."""
    if caller.kind == "staff":
        admit(engine, Visit(principal=caller, purpose=purpose, via=via), member_of(row.key))


def task_row(engine: Engine, task_key: str, record: str | None = None) -> TaskRow:
    """The task of that key (in the record ``record``, when named) as the store lists it.

    Raises:
        ProblemError: no task has that key (404); two members have a task of that key,
            and ``record`` names neither (409).
    """
    for status in ("open", "closed"):  # open tasks are few: they are read first
        found = [
            row
            for row in engine.store.tasks(status)
            if row.task_key == task_key and record in (None, row.key)
        ]
        if len(found) > 1:
            raise ProblemError(
                409,
                "ambiguous-task",
                f"{len(found)} 位会员都有任务 {task_key!r}，请使用任务列表给出的 id / "
                f"{len(found)} members have a task {task_key!r}: use the id the task list gives",
            )
        if found:
            return found[0]
    raise ProblemError(404, "unknown-task", f"没有任务 {task_key!r} / no task {task_key!r}")


def _held(engine: Engine, row: TaskRow) -> TaskView:
    member_id = member_of(row.key)
    task = engine.member(member_id).work.tasks.get(row.task_key)
    return TaskView.of_task(member_id, task) if task is not None else TaskView.of_row(row)


def claim_task(
    engine: Engine,
    task_key: str,
    caller: Principal,
    key: str,
    *,
    record: str | None = None,
    via: str = "api",
) -> TaskView:
    """Give the open task to the member of staff calling (the engine's ``AssignTask``).

    Called on the engine's thread. A task the caller holds already is answered as it is.
    The claim is recorded as a look-up of the member's record, made through ``via``.

    Raises:
        ProblemError: no such task (404); it is closed, or another holds it and the caller
            is no administrator, or two members have a task of that key and ``record``
            names neither (409).
        WorkError: the caller is not on the roster with the task's role (422).
    """
    row = task_row(engine, task_key, record)
    if row.status != "open":
        raise ProblemError(
            409, "task-closed", f"任务 {task_key!r} 已关闭 / task {task_key!r} is closed"
        )
    if row.assignee == caller.id:
        return _held(engine, row)  # claimed already: the answer stands
    if row.assignee is not None and not caller.may("admin"):
        raise ProblemError(
            409,
            "task-held",
            f"任务 {task_key!r} 已由 {row.assignee!r} 负责 / task {task_key!r} is held by "
            f"{row.assignee!r}",
        )
    member_id = member_of(row.key)
    engine.execute(
        AssignTask(
            key=key, member_id=member_id, task_key=task_key, staff_id=caller.id, by=caller.id
        )
    )
    _visited(engine, caller, row, "认领任务 / claiming a task", via)
    return _held(engine, task_row(engine, task_key, row.key))


@post(
    "/tasks/{task_id:str}/claim",
    opt={"scope": "commands"},
    status_code=200,
    summary="认领任务 / Claim a task",
    description="Give an open task to the member of staff calling (on the roster with "
    "the task's role). A task they hold already is answered as it is; one another holds "
    "is refused (409) unless the caller is an admin.",
    responses=problem_responses(
        kinds={
            403: [("staff-only", "only staff claim tasks")],
            404: [("unknown-task", "no task 'T-1'")],
            409: [("task-held", "task 'T-1' is held by 'hm-02'"), ("task-closed", "closed")],
            422: [("unknown-staff", "'cs-01' is not on the staff roster as a health_manager")],
        }
    ),
)
async def claim(
    request: Request[Any, Any, Any],
    task_id: FromPath[str],
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", required=False, min_length=1)
    ] = None,
) -> TaskView:
    """Take the task."""
    caller = _staff(principal_of(request))
    record, task_key = task_named(task_id)
    key = idempotency_key or f"claim/{uuid.uuid4().hex}"
    return await runner(request).call(
        lambda engine: claim_task(engine, task_key, caller, key, record=record)
    )


def complete_task(
    engine: Engine,
    task_key: str,
    caller: Principal,
    outcome: str,
    *,
    record: str | None = None,
    via: str = "api",
) -> TaskView:
    """Close the task with its outcome: a ``task_completed`` fact, which journeys take.

    Called on the engine's thread. A task completed already with the same outcome is
    answered as it is. The completion is recorded as a look-up of the member's record,
    made through ``via``.

    Raises:
        ProblemError: no such task (404); it is closed with another outcome, or another
            holds it and the caller is no administrator (409); the engine refused the
            fact (422).
    """
    row = task_row(engine, task_key, record)
    if row.status != "open":
        held = _held(engine, row)
        if held.outcome == outcome:
            return held  # completed already so: the answer stands
        raise ProblemError(
            409,
            "task-closed",
            f"任务 {task_key!r} 已关闭（结果 {held.outcome!r}）/ task {task_key!r} is closed "
            f"with the outcome {held.outcome!r}",
        )
    if row.assignee not in (None, caller.id) and not caller.may("admin"):
        raise ProblemError(
            409,
            "task-held",
            f"任务 {task_key!r} 由 {row.assignee!r} 负责 / task {task_key!r} is held by "
            f"{row.assignee!r}",
        )
    if not may_complete(caller, row.assignee, row.role):
        raise ProblemError(
            403,
            "not-your-role",
            f"任务 {task_key!r} 待 {row.role} 岗位认领 / task {task_key!r} waits for someone "
            f"with the role {row.role!r}",
        )
    member_id = member_of(row.key)
    fact = TaskCompleted(
        # The member's own: another member's task may have the same key.
        fact_id=f"{member_id}/{task_key}/completed/{caller.id}",
        patient_id=member_id,
        occurred_at=engine.now(),
        task_key=task_key,
        outcome=outcome,
    )
    report = engine.ingest([fact])
    if report.refusals:
        (_, why), *_ = report.refusals
        raise ProblemError(422, "completion-refused", why)
    _visited(engine, caller, row, "完成任务 / completing a task", via)
    return _held(engine, task_row(engine, task_key, row.key))


@post(
    "/tasks/{task_id:str}/complete",
    opt={"scope": "commands"},
    status_code=200,
    summary="完成任务 / Complete a task",
    description="Record a task done with its outcome (`rebooked`, `no_answer`...): the "
    "task closes and the member's journeys take the outcome as a `task_completed` fact. "
    "A task completed already with the same outcome is answered as it is; with another "
    "outcome, 409. A task someone holds is completed by them or an administrator (409 "
    "otherwise, a hospital system included).",
    responses=problem_responses(
        403,
        kinds={
            404: [("unknown-task", "no task 'T-1'")],
            409: [("task-held", "task 'T-1' is held by 'hm-02'"), ("task-closed", "closed")],
            422: [("invalid-outcome", "the outcome is empty")],
        },
    ),
)
async def complete(
    request: Request[Any, Any, Any], task_id: FromPath[str], data: JSONBody[CompleteTask]
) -> TaskView:
    """Close the task with its outcome."""
    caller = principal_of(request)
    record, task_key = task_named(task_id)
    if not data.outcome.strip():
        raise ProblemError(422, "invalid-outcome", "结果不能为空 / the outcome is empty")
    return await runner(request).call(
        lambda engine: complete_task(engine, task_key, caller, data.outcome, record=record)
    )


def task_named(task_id: str) -> tuple[str | None, str]:
    """The record and key of the task an id in a URL names (no record: an earlier id).

    Raises:
        ProblemError: the id names no task key (404).
    """
    named = task_key_of(task_id)
    if named is None:
        raise ProblemError(404, "unknown-task", f"没有任务 {task_id!r} / no task {task_id!r}")
    return named


def _staff(caller: Principal) -> Principal:
    if caller.kind != "staff":
        raise ProblemError(
            403,
            "staff-only",
            f"只有员工可以认领任务 / only staff claim tasks; {caller.kind} {caller.id!r} is not",
        )
    return caller


#: The task endpoints.
TASKS = (list_tasks, claim, complete)
