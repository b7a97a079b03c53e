"""The programme's dashboard: the demo's figures, as tables, and the staff's tasks.

The figures are :func:`membercore.analytics.figures` over every member's record — the
same sections as ``membercore demo`` prints (:mod:`~membercore_adapters.figures`) — and
the tasks are counted from the store's task list, open and closed, by kind. Reading every
record takes a while on a large store, and the engine's thread does nothing else
meanwhile: the figures are kept for :data:`FRESH_FOR` and the page says when they were
taken.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

import attrs
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from membercore.analytics import figures
from membercore.service.engine import Engine
from membercore_adapters.console.pages import page, when
from membercore_adapters.figures import Section, figure_sections, number, section
from membercore_adapters.http.settings import runner
from membercore_adapters.labels import TASK_KINDS, named
from membercore_adapters.language import Words

__all__ = ["DASHBOARD", "FRESH_FOR", "Board", "Boards", "board"]

#: How long the figures are shown before they are taken again.
FRESH_FOR: Final = timedelta(minutes=5)


@attrs.frozen(kw_only=True)
class Board:
    """The dashboard at one instant.

    Attributes:
        taken_at: when the figures were taken, in the programme's time zone.
        patients: how many member records they are over.
        sections: the tables.
    """

    taken_at: str
    patients: int
    sections: tuple[Section, ...]


_TASKS = Words("员工任务（按类型）", "Staff tasks by kind")
_KIND = Words("类型", "Kind")
_OPEN = Words("未完成", "Open")
_CLOSED = Words("已完成", "Closed")


def _tasks(engine: Engine) -> Section:
    counts: Counter[tuple[str, str]] = Counter(
        (row.kind, row.status) for row in engine.store.tasks(None)
    )
    kinds = sorted({kind for kind, _ in counts}, key=lambda kind: -counts[(kind, "open")])
    rows = [
        (
            named(TASK_KINDS, kind, "zh-CN"),
            number(counts[(kind, "open")]),
            number(counts[(kind, "closed")]),
        )
        for kind in kinds
    ]
    return section(_TASKS, "zh-CN", [_KIND], [_OPEN, _CLOSED], rows)


def board(engine: Engine) -> Board:
    """The dashboard now (on the engine's thread: it reads every member's record)."""
    now = engine.now()
    held = figures(engine.members(), engine.config, now)
    return Board(
        taken_at=when(now, engine.config.tz),
        patients=held.patients,
        sections=(*figure_sections(held, engine.config, "zh-CN"), _tasks(engine)),
    )


class Boards:
    """The dashboard of one console, taken again once it is older than ``fresh_for``.

    Args:
        fresh_for: how long a dashboard is shown before it is taken again.
        clock: the monotonic clock, in seconds (a test's own).
    """

    def __init__(
        self, fresh_for: timedelta = FRESH_FOR, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.fresh_for = fresh_for
        self._clock = clock
        self._held: tuple[float, Board] | None = None

    async def get(self, request: Request[Any, Any, Any]) -> Board:
        """The dashboard: the one kept while it is fresh, else a new one."""
        now = self._clock()
        if self._held is not None and now - self._held[0] < self.fresh_for.total_seconds():
            return self._held[1]
        taken = await runner(request).call(board)
        self._held = (now, taken)
        return taken


@get("/dashboard", name="console-dashboard")
async def dashboard(request: Request[Any, Any, Any], boards: NamedDependency[Boards]) -> Template:
    """The programme's figures."""
    return page(request, "dashboard.html", board=await boards.get(request))


#: The dashboard's handlers.
DASHBOARD = (dashboard,)
