"""The contract of the task role: staff tasks by due instant, replaced by key, and case loads."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import datetime, timedelta

from membercore.ports import (
    Commit,
    TaskRow,
    TaskStore,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    MINUTE,
    SHANGHAI,
    T0,
    task_of,
)

__all__ = ["TasksContract"]


class TasksContract(Contract):
    """What every :class:`~membercore.ports.TaskStore` does."""

    role = TaskStore

    # -- tasks ------------------------------------------------------------------------------

    def test_open_tasks_are_listed_by_due_instant_then_task_key(self, store: TaskStore) -> None:
        store.commit(
            Commit(
                tasks=[
                    task_of("task-c", due_at=T0 + MINUTE),
                    task_of("task-b", due_at=T0 + timedelta(days=1)),
                    task_of("task-a", due_at=T0 + MINUTE),
                    task_of("task-d", due_at=T0, status="closed"),
                    task_of("task-e", due_at=T0 + timedelta(hours=1)),
                ]
            )
        )
        assert [t.task_key for t in store.tasks()] == ["task-a", "task-c", "task-e", "task-b"]
        assert [t.task_key for t in store.tasks("closed")] == ["task-d"]
        assert [t.task_key for t in store.tasks(None)] == [
            "task-d",
            "task-a",
            "task-c",
            "task-e",
            "task-b",
        ]

    def test_a_task_keeps_every_field(self, store: TaskStore) -> None:
        task = TaskRow(
            task_key="task:p-1:hba1c",
            key="member:p-1",
            kind="call",
            role="health_manager",
            assignee=None,
            due_at=datetime(2025, 3, 2, 9, 0, 0, 250, tzinfo=SHANGHAI),
            status="open",
            payload='{"reason":"两次糖化血红蛋白复查未到"}',
        )
        store.commit(Commit(tasks=[task]))
        assert list(store.tasks()) == [task]

    def test_a_task_committed_again_replaces_its_row(self, store: TaskStore) -> None:
        store.commit(Commit(tasks=[task_of("task-1"), task_of("task-2")]))
        store.commit(Commit(tasks=[task_of("task-1", assignee="dr-wang", payload='{"n":2}')]))
        store.commit(Commit(tasks=[task_of("task-2", status="closed")]))
        (open_task,) = store.tasks()
        assert (open_task.task_key, open_task.assignee, open_task.payload) == (
            "task-1",
            "dr-wang",
            '{"n":2}',
        )
        assert [t.task_key for t in store.tasks("closed")] == ["task-2"]
        assert len(list(store.tasks(None))) == 2

    def test_task_loads_count_open_tasks_per_assignee(self, store: TaskStore) -> None:
        store.commit(
            Commit(
                tasks=[
                    task_of("t-1", assignee="nurse-li"),
                    task_of("t-2", assignee="nurse-li"),
                    task_of("t-3", assignee="dr-wang"),
                    task_of("t-4", assignee="dr-wang", status="closed"),
                    task_of("t-5", assignee="dr-zhao", status="closed"),
                    task_of("t-6", assignee=None),
                ]
            )
        )
        assert store.task_loads() == {"nurse-li": 2, "dr-wang": 1}
        store.commit(Commit(tasks=[task_of("t-1", assignee="nurse-li", status="closed")]))
        assert store.task_loads() == {"nurse-li": 1, "dr-wang": 1}

    def test_a_long_task_list_is_listed_whole_and_in_order(self, store: TaskStore) -> None:
        tasks = [task_of(f"t-{n:04d}", due_at=T0 + (n % 7) * MINUTE) for n in range(1_111)]
        store.commit(Commit(tasks=tasks))
        expected = [t.task_key for t in sorted(tasks, key=lambda t: (t.due_at, t.task_key))]
        assert [t.task_key for t in store.tasks()] == expected
        assert [t.task_key for t in store.tasks(None)] == expected
