"""The work queue: the open tasks of the member of staff signed in, by when they are due.

A member of staff sees the tasks they hold and those waiting unassigned for their role
(an administrator sees every open task), as ``GET /tasks`` shows them: overdue first,
then those due today in the programme's time zone, then later ones, each by due time;
an escalated task is marked, and each names the member, with a link to their page.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import attrs
from litestar import Request, get
from litestar.response import Template

from membercore import journeys
from membercore.service.engine import Engine
from membercore.service.recording import member_of
from membercore_adapters.console.outcomes import expected_outcomes
from membercore_adapters.console.pages import page, when
from membercore_adapters.console.staff import staff_of
from membercore_adapters.console.work import TaskLine, task_line
from membercore_adapters.http.auth import Principal
from membercore_adapters.http.settings import runner
from membercore_adapters.http.tasks import sees_task

__all__ = ["QUEUE", "Group", "work_queue"]


@attrs.frozen(kw_only=True)
class Group:
    """Tasks due alike.

    Attributes:
        key: ``overdue``, ``today`` or ``later``.
        title: as the page heads it.
        tasks: its tasks, by due time.
    """

    key: str
    title: str
    tasks: tuple[TaskLine, ...]


_TITLES = {"overdue": "已逾期", "today": "今日到期", "later": "稍后到期"}


def _tomorrow(now: datetime, engine: Engine) -> datetime:
    """The start of the next day in the programme's time zone."""
    zone = engine.config.tz
    return datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), tzinfo=zone)


def work_queue(engine: Engine, viewer: Principal) -> tuple[Group, ...]:
    """The open tasks ``viewer`` sees, overdue, due today and later (on the engine's thread)."""
    now = engine.now()
    tomorrow = _tomorrow(now, engine)
    rows = sorted(
        (row for row in engine.store.tasks("open") if sees_task(viewer, row)),
        key=lambda row: (row.due_at, row.task_key),
    )
    grouped: dict[str, list[TaskLine]] = {key: [] for key in _TITLES}
    for row in rows:
        member_id = member_of(row.key)
        member = engine.member(member_id)
        task = member.work.tasks.get(row.task_key)
        if task is None or task.status != "open":
            continue  # the listing runs behind the record: the record is what holds
        outcomes = expected_outcomes(journeys.active(member.journeys), engine.config)
        line = task_line(
            task, member_id, viewer=viewer, config=engine.config, now=now, outcomes=outcomes
        )
        key = "overdue" if line.overdue else "today" if task.due_at < tomorrow else "later"
        grouped[key].append(line)
    return tuple(
        Group(key=key, title=title, tasks=tuple(grouped[key])) for key, title in _TITLES.items()
    )


@get("/", name="console-queue")
async def queue(request: Request[Any, Any, Any]) -> Template:
    """The work queue of the member of staff signed in."""
    staff = staff_of(request)

    def seen(engine: Engine) -> tuple[tuple[Group, ...], str]:
        return work_queue(engine, staff.principal), when(engine.now(), engine.config.tz)

    groups, now = await runner(request).call(seen)
    members = len({task.member_id for group in groups for task in group.tasks})
    return page(request, "queue.html", groups=groups, now=now, members=members)


#: The queue's handlers.
QUEUE = (queue,)
