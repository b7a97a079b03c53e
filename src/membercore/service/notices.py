"""Notices to staff: a task given to someone is told them on the programme's staff channel.

When the programme configures a ``staff`` channel (``[channels.staff]``, e.g. WeCom's
application messages), each task created or escalated with an assignee, and each task
handed to someone, puts a notice in the outbox in the same commit: to the staff member
(``to``: their staff id, which the channel maps to its own account), saying what the
task is, for whom and by when — the member's id and the task's key, never the reason,
which may name a health condition and is read in the work queue. A notice goes out
while its task is open (:mod:`membercore.service.delivery` checks); one whose task was
closed first is given up saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from membercore.converters import JSON
from membercore.ports import OutboxMessage
from membercore.service.member import Member
from membercore.staff import tasks

__all__ = ["STAFF", "notices", "task_of"]

#: The channel staff notices go by.
STAFF = "staff"

#: How a notice names a kind of task; another kind (a journey's own, whose key may name
#: a condition) is named 任务, and the work queue says the rest.
_KINDS = {"call": "致电", "follow_up": "随访", "visit": "回访", "assignment": "分配"}


def notices(
    key: str, member: Member, events: Iterable[object], tz: ZoneInfo
) -> list[OutboxMessage]:
    """The notices the task events among ``events`` ask for, for the record ``key``."""
    made: list[OutboxMessage] = []
    for event in events:
        told = _told(event)
        if told is None:
            continue
        suffix, staff_id, heading = told
        task = member.work.tasks.get(event.task_key)  # type: ignore[attr-defined]
        if task is None:
            continue
        message_id = f"{task.key}/notice{suffix}"
        text = (
            f"{heading}{_KINDS.get(task.kind, '任务')} · 会员 {member.member_id} · "
            f"截止 {_local(task.due_at, tz)}（任务 {task.key}）"
        )
        payload = {
            "message_id": message_id,
            "member_id": member.member_id,
            "channel": STAFF,
            "language": "zh-CN",
            "text": text,
            "template": f"task_{task.kind}",
            "to": staff_id,
            "task": task.key,
        }
        at: datetime = event.at  # type: ignore[attr-defined]
        made.append(
            OutboxMessage(
                message_id=message_id,
                key=key,
                channel=STAFF,
                payload=JSON.encode(payload),
                send_at=at,
            )
        )
    return made


def task_of(payload: dict[str, object]) -> str | None:
    """The task a notice's payload tells of, if it is a notice."""
    task = payload.get("task")
    return task if isinstance(task, str) else None


def _told(event: object) -> tuple[str, str, str] | None:
    """A task event's notice: its id's suffix, the staff member, the heading; or None."""
    if isinstance(event, tasks.TaskCreated) and event.assignee:
        return "", event.assignee, "【新任务】"
    if isinstance(event, tasks.TaskEscalated) and event.assignee:
        return f"/level-{event.level}", event.assignee, "【任务升级】"
    if isinstance(event, tasks.TaskAssigned):
        return f"/{event.key}", event.staff_id, "【任务转交】"
    return None


def _local(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%m-%d %H:%M")
