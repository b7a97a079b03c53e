"""Staff work that follows from what other parts decide about a member.

A phone task the outreach policy asks for is a staff call: a task keyed by its message
id, for the member's health manager or else the outreach policy's ``call_role``, so that
it is balanced, listed, reported done and left unassigned with the reason like any other
task. A call cancelled (consent withdrawn) closes its task. A ``task_completed`` fact
closes the task it reports with its outcome. The tasks a journey's steps made are
closed as ``superseded`` when a fact moves the journey on (the HbA1c result came, the
patient booked) or it ends early: their reason is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from membercore import journeys, outreach
from membercore.staff import tasks

if TYPE_CHECKING:
    from membercore.service.runner import Runner

__all__ = ["call_tasks", "calls_cancelled", "decide", "owned", "reported", "superseded"]


def decide(run: Runner, command: tasks.WorkCommand) -> Sequence[object]:
    """Have staff work decide ``command`` on the record.

    Health managers are balanced by the members they manage, tasks by the open ones.
    """
    hm = isinstance(command, tasks.AssignHealthManager)
    loads = run.ctx.cases if hm else run.ctx.loads
    return run.take(tasks.decide(command, run.member.work, run.config, run.now, loads=loads))


def call_tasks(run: Runner, made: Iterable[object]) -> list[object]:
    """The staff call of each phone task among ``made``."""
    created: list[object] = []
    for event in made:
        if isinstance(event, outreach.PhoneTaskRequested):
            created += decide(run, _call(run, event))
    return created


def _call(run: Runner, call: outreach.PhoneTaskRequested) -> tasks.CreateTask:
    own = run.member.work.health_manager is not None
    return tasks.CreateTask(
        key=call.message_id,
        member_id=call.member_id,
        kind="call",
        role=tasks.HEALTH_MANAGER if own else run.config.outreach.call_role,
        due_at=call.due_at,
        reason=call.explanation,
    )


def calls_cancelled(run: Runner, cancelled: Iterable[object]) -> list[object]:
    """The open call tasks of the calls among ``cancelled``, closed saying so."""
    closed: list[object] = []
    for event in cancelled:
        if not isinstance(event, outreach.MessageCancelled):
            continue
        held = run.member.work.tasks.get(event.message_id)
        if held is not None and held.status == "open":
            close = tasks.CloseTask(
                key=f"{event.message_id}/cancelled",
                member_id=event.member_id,
                task_key=held.key,
                outcome="cancelled",
                by="membercore",
            )
            closed += decide(run, close)
    return closed


def reported(run: Runner, fact: object) -> Sequence[object]:
    """The task a ``task_completed`` fact reports, closed with its outcome."""
    close = tasks.completion(fact, run.member.work)
    return decide(run, close) if close is not None else ()


def superseded(run: Runner, made: Iterable[object]) -> list[object]:
    """The open tasks of a journey a fact moved on, closed as ``superseded``.

    A fact that moves an instance (the HbA1c result came, the patient booked) or ends it
    early (an exit, consent withdrawn) makes the calls its steps asked for moot. Timers
    move journeys on by themselves and close nothing: an overdue call is still owed.
    """
    closed: list[object] = []
    for event in made:
        if (isinstance(event, journeys.JourneyMoved) and event.trigger_type != "timer") or (
            isinstance(event, journeys.JourneyEnded) and event.reason != "completed"
        ):
            for held in owned(run, event.journey, event.instance_id):
                close = tasks.CloseTask(
                    key=f"{held.key}/superseded",
                    member_id=run.member.member_id,
                    task_key=held.key,
                    outcome="superseded",
                    by=f"journey {event.journey} moved on ({event.trigger_id})",
                )
                closed += decide(run, close)
    return closed


def owned(run: Runner, journey: str, instance_id: str) -> list[tasks.Task]:
    """The open tasks the steps of one journey instance made (their keys name it)."""
    prefix = f"{journey}:{instance_id}:"
    return [
        held
        for held in run.member.work.tasks.values()
        if held.status == "open" and held.key.startswith(prefix)
    ]
