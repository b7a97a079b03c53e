"""Staff task rows written again from the members' records that hold the tasks.

The task lists (the store's task rows: :meth:`~membercore.ports.TaskStore.tasks`) follow
the tasks the members' records hold, row for row. A store written before a task was
known by its record and its key (SQLite and PostgreSQL schema 10 and earlier) kept one
row per task key: a second member's task of a key replaced the first's row, and the
first member's task, still open on their record, was listed nowhere. :func:`missing_rows`
finds such tasks and makes their rows as a commit writes them — the task as the record
holds it, with the last event of it in the record's journal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from membercore.converters import JSON
from membercore.ports import Store, TaskRow
from membercore.service.member import Member
from membercore.service.recording import TASK_EVENTS, task_row

__all__ = ["missing_rows"]

#: The stored types of the events a task row carries (the last one that changed the task).
_TASK_EVENTS: Final = frozenset(kind.TYPE for kind in TASK_EVENTS)


def missing_rows(
    store: Store, held: Mapping[str, Member], listed: Collection[tuple[str, str]]
) -> list[TaskRow]:
    """The rows of the tasks the records ``held`` (by key) hold that ``listed`` lacks.

    ``listed``: the (record key, task key) of every row the store lists.
    """
    rows = []
    for key, member in held.items():
        lacking = [task for task in member.work.tasks.values() if (key, task.key) not in listed]
        if lacking:
            last = _last_events(store, key)
            rows += [task_row(key, task, last.get(task.key, "{}")) for task in lacking]
    return rows


def _last_events(store: Store, key: str) -> dict[str, str]:
    """The stored form of the last event of each task in the record's journal, by task."""
    last = {}
    for stored in store.events(key):
        if stored.type in _TASK_EVENTS:
            last[JSON.decode(stored.payload).get("task_key", "")] = stored.payload
    return last
