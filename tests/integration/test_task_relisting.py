"""Tasks a store of an earlier release lists no more, written again from the records.

Before a task was known by its record and its key, a second member's task of a key
replaced the first's row in the task lists (the first member's record still held it
open). Such a store is made here by removing the first member's row, as the earlier
release's overwrite left it; ``membercore tasks --relist`` (``Engine.relist_tasks``)
lists it again.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from membercore import Engine, reference_config
from membercore.facts import PatientRegistered
from membercore.staff.tasks import CreateTask
from membercore.testing.clock import ManualClock
from membercore_adapters.cli import main
from membercore_adapters.stores.postgres.urls import split_schema

AT = datetime(2026, 3, 2, 2, tzinfo=UTC)
KEY = "回访-1"  # a hospital system's key, given to two members' tasks


def _two_tasks_of_one_key(url: str) -> None:
    with Engine.open(url, config=reference_config(), clock=ManualClock(AT)) as engine:
        for member_id in ("P-1", "P-2"):
            engine.ingest(
                [
                    PatientRegistered(
                        fact_id=f"reg-{member_id}", patient_id=member_id, occurred_at=AT
                    )
                ]
            )
            engine.execute(
                CreateTask(
                    key=KEY,
                    member_id=member_id,
                    kind="visit",
                    role="nurse",
                    due_at=AT + timedelta(days=1),
                    reason="术后回访",
                )
            )


def _as_an_earlier_release_left_it(url: str, postgres_url: str | None) -> None:
    """The first member's row gone, as the second's overwrote it."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("DELETE FROM tasks WHERE key = 'member:P-1'")
        return
    assert postgres_url is not None
    schema = sql.Identifier(split_schema(url)[1])
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {}.tasks WHERE key = 'member:P-1'").format(schema))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_relisting_writes_again_the_task_rows_the_records_hold_and_the_lists_lack(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    postgres_url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    url = (
        request.getfixturevalue("postgres_schema_url")
        if kind == "postgres"
        else f"sqlite:///{tmp_path}/m.db"
    )
    _two_tasks_of_one_key(url)
    with Engine.open(url, config=reference_config()) as engine:
        before = {row.key: row for row in engine.store.tasks(None)}
    _as_an_earlier_release_left_it(url, postgres_url)
    assert main(["--lang", "en", "tasks", "--relist", "--store", url]) == 0
    said = capsys.readouterr().out
    assert "1 tasks the task lists lacked written again" in said
    members = [line.split()[3] for line in said.splitlines()[2:]]
    assert members == ["P-1", "P-2"]  # P-1's listed again
    with Engine.open(url, config=reference_config()) as engine:
        after = {row.key: row for row in engine.store.tasks(None)}
        assert after == before  # the row as the commit had written it, event and all
        assert engine.relist_tasks() == 0  # again: nothing lacks
