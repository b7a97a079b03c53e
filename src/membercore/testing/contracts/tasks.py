"""The contract of the task role: staff tasks by due instant, replaced by key, and loads.

A task is known by its record and its key: two members' tasks may share a key.

Tasks are balanced by the open tasks of each member of staff (task loads), health
managers by the records each manages (case loads, from the records' changes).
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import datetime, timedelta

from membercore.ports import (
    Change,
    Commit,
    TaskRow,
    TaskStore,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    MINUTE,
    SHANGHAI,
    T0,
    change_of,
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

    def test_two_members_tasks_of_one_key_are_two_tasks(self, store: TaskStore) -> None:
        wang, li = "member:p-wang", "member:p-li"
        store.commit(Commit(tasks=[task_of("follow-up", key=wang, assignee=None)]))
        store.commit(Commit(tasks=[task_of("follow-up", key=li, assignee=None)]))
        store.commit(Commit(tasks=[task_of("follow-up", key=li, assignee="nurse-li")]))
        store.commit(Commit(tasks=[task_of("follow-up", key=wang, assignee=None, status="closed")]))
        assert [(t.key, t.status, t.assignee) for t in store.tasks(None)] == [
            (li, "open", "nurse-li"),
            (wang, "closed", None),
        ]
        assert store.task_loads() == {"nurse-li": 1}

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

    # -- case loads -------------------------------------------------------------------------

    def test_case_loads_count_records_per_manager(self, store: TaskStore) -> None:
        store.commit(
            Commit(
                changes=[
                    change_of("member:p-1", manager="hm-01"),
                    change_of("member:p-2", manager="hm-01"),
                    change_of("member:p-3", manager="hm-02"),
                    change_of("member:p-4"),
                ]
            )
        )
        assert store.case_loads() == {"hm-01": 2, "hm-02": 1}

    def test_a_change_names_its_records_manager_with_or_without_a_snapshot(
        self, store: TaskStore
    ) -> None:
        store.commit(
            Commit(
                changes=[
                    change_of("member:p-1", manager="hm-01"),
                    change_of("member:p-2", manager="hm-01"),
                    change_of("member:p-3", manager="hm-02"),
                ]
            )
        )
        store.commit(
            Commit(
                changes=[
                    # Without a snapshot: the stored one is kept, the manager is the change's.
                    Change(key="member:p-1", expected_version=1, snapshot=None, manager="hm-02"),
                    change_of("member:p-2", 1, manager="hm-01"),
                    Change(key="member:p-3", expected_version=1, snapshot=None),  # managed no more
                ]
            )
        )
        assert store.case_loads() == {"hm-01": 1, "hm-02": 1}

    def test_the_last_change_of_a_record_in_a_commit_names_its_manager(
        self, store: TaskStore
    ) -> None:
        store.commit(
            Commit(
                changes=[
                    change_of("member:p-1", manager="hm-01"),
                    change_of("member:p-1", 1, manager="hm-02"),
                    change_of("member:p-2", manager="hm-01"),
                    change_of("member:p-2", 1),
                ]
            )
        )
        assert store.case_loads() == {"hm-02": 1}

    def test_case_loads_keep_a_managers_text_as_it_is(self, store: TaskStore) -> None:
        odd = "hm-\x00-王\x01"
        store.commit(Commit(changes=[change_of("member:p-1", manager=odd)]))
        assert store.case_loads() == {odd: 1}

    def test_a_long_task_list_is_listed_whole_and_in_order(self, store: TaskStore) -> None:
        tasks = [task_of(f"t-{n:04d}", due_at=T0 + (n % 7) * MINUTE) for n in range(1_111)]
        store.commit(Commit(tasks=tasks))
        expected = [t.task_key for t in sorted(tasks, key=lambda t: (t.due_at, t.task_key))]
        assert [t.task_key for t in store.tasks()] == expected
        assert [t.task_key for t in store.tasks(None)] == expected
