"""Completing a task with its outcome, and claiming one that waits unassigned.

Both go the API's way (:mod:`~membercore_adapters.http.tasks`): a completion is a
``task_completed`` fact the engine takes — the task closes with its outcome and the
member's journeys waiting for that outcome move on — and a claim is the engine's
``AssignTask``. Each answers with the page it came from and a message saying what was
done and which journeys moved, or why nothing was. Completed from the member's page,
the page shows the record as the completion left it: the completion's own look-up (its
purpose "完成任务") covers it.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
from litestar import Request, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from membercore import journeys
from membercore.errors import WorkError
from membercore.service.engine import Engine
from membercore.service.recording import member_of
from membercore_adapters.console.members import VIA, member_path
from membercore_adapters.console.pages import HOME, flash, form_field, page, redirect
from membercore_adapters.console.record import MemberRecord, member_record
from membercore_adapters.console.staff import staff_of
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.problems import ProblemError
from membercore_adapters.http.settings import runner
from membercore_adapters.http.tasks import claim_task, complete_task, task_named, task_row
from membercore_adapters.labels import TASK_KINDS, TASK_OUTCOMES, named

__all__ = ["TASK_FORMS"]


@attrs.frozen(kw_only=True)
class _Done:
    """What a completion did: to whom, what it was, the journeys it moved, the page after."""

    member_id: str
    said: str
    record: MemberRecord | None


def _states(engine: Engine, member_id: str) -> dict[str, tuple[str, str]]:
    """Each running journey of the member: its label and state, by instance."""
    labels = {held.key: held.label for held in engine.config.journeys}
    return {
        instance.instance_id: (labels.get(instance.journey, instance.journey), instance.state)
        for instance in journeys.active(engine.member(member_id).journeys)
    }


def _complete(
    engine: Engine,
    which: tuple[str | None, str],
    caller: Principal,
    outcome: str,
    *,
    show: bool,
) -> _Done:
    in_record, task_key = which
    row = task_row(engine, task_key, in_record)
    member_id = member_of(row.key)
    admitted = row.status == "open"  # completing an open task records the look-up
    before = _states(engine, member_id)
    done = complete_task(engine, task_key, caller, outcome, record=row.key, via=VIA)
    after = _states(engine, member_id)
    moved = [
        f"{label}：{before[key][1]} → {state}"
        for key, (label, state) in after.items()
        if key in before and before[key][1] != state
    ]
    said = (
        f"已完成 {member_id} 的{named(TASK_KINDS, done.kind, 'zh-CN')}任务，"
        f"结果：{named(TASK_OUTCOMES, outcome, 'zh-CN')}"
    )
    if moved:
        said += "；" + "；".join(moved)
    record = member_record(engine, member_id, caller) if show and admitted else None
    return _Done(member_id=member_id, said=said, record=record)


def _why(refused: ProblemError | WorkError) -> str:
    """Why a form's work was refused: the API's problem, or the engine's refusal."""
    return str(refused.detail) if isinstance(refused, ProblemError) else str(refused)


def _back(form: Any, member_id: str | None) -> str:
    return member_path(member_id) if member_id and form_field(form, "back") == "member" else HOME


@post("/tasks/{task_id:str}/complete", name="console-complete-task", status_code=303)
async def complete(request: Request[Any, Any, Any], task_id: FromPath[str]) -> Template | Redirect:
    """Complete the task with the outcome chosen (a button) or typed (``other``)."""
    form = await request.form()
    member_id = form_field(form, "member") or None
    outcome = (form_field(form, "outcome") or form_field(form, "other")).strip()
    if not outcome:
        return redirect(_back(form, member_id), flash("请选择或填写任务结果", ok=False))
    caller = staff_of(request).principal
    which = task_named(task_id)
    show = form_field(form, "back") == "member"
    try:
        done = await runner(request).call(
            lambda engine: _complete(engine, which, caller, outcome, show=show)
        )
    except (ProblemError, WorkError) as refused:
        return redirect(_back(form, member_id), flash(_why(refused), ok=False))
    if done.record is not None:
        shown = {"ok": True, "text": done.said}
        return page(request, "member.html", member=done.record, flash=shown)
    return redirect(_back(form, done.member_id), flash(done.said))


@post("/tasks/{task_id:str}/claim", name="console-claim-task", status_code=303)
async def claim(request: Request[Any, Any, Any], task_id: FromPath[str]) -> Redirect:
    """Take a task that waits unassigned for the caller's role."""
    form = await request.form()
    member_id = form_field(form, "member") or None
    caller = staff_of(request).principal
    record, task_key = task_named(task_id)
    key = f"claim/{uuid.uuid4().hex}"
    try:
        held = await runner(request).call(
            lambda engine: claim_task(engine, task_key, caller, key, record=record, via=VIA)
        )
    except (ProblemError, WorkError) as refused:
        return redirect(_back(form, member_id), flash(_why(refused), ok=False))
    kind = named(TASK_KINDS, held.kind, "zh-CN")
    return redirect(_back(form, held.member_id), flash(f"已认领 {held.member_id} 的{kind}任务"))


#: The task forms' handlers.
TASK_FORMS = (complete, claim)
