"""The command line on PostgreSQL: reading creates nothing, the demo starts its own afresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from membercore.facts import PatientRegistered
from membercore.serialization import message_to_dict
from membercore_adapters.cli import main
from membercore_adapters.testing import schema_relations

_SMALL_DEMO = ["demo", "--patients", "20", "--months", "1", "--workers", "1", "--quiet"]


@pytest.mark.parametrize(
    "command",
    [["member", "show", "P-1"], ["outbox"], ["tasks"], ["dead-letters"], ["audit"]],
    ids=" ".join,
)
def test_a_reading_command_on_an_empty_schema_says_so_and_creates_nothing(
    postgres_schema_url: str, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--store", postgres_schema_url]) == 3
    assert "no membercore store in schema" in capsys.readouterr().err
    assert schema_relations(postgres_schema_url) == set()


def test_the_demo_starts_its_own_postgresql_store_afresh_and_refuses_another(
    postgres_schema_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", postgres_schema_url]
    assert main([*_SMALL_DEMO, *store]) == 0
    first = capsys.readouterr().out
    assert main(["member", "show", "P000001", *store]) == 0
    capsys.readouterr()
    assert main([*_SMALL_DEMO, *store]) == 0  # its own: emptied and written anew
    assert capsys.readouterr().out.splitlines()[:3] == first.splitlines()[:3]


def test_the_demo_leaves_a_postgresql_store_it_did_not_write(
    postgres_schema_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = ["--store", postgres_schema_url]
    for command in (["tick"], ["repack"], ["migrate"], ["outbox", "--dispatch"]):
        assert main([*command, *store]) == 3  # no store yet: tending one creates none
        assert schema_relations(postgres_schema_url) == set()
    registered = PatientRegistered(
        fact_id="r-1", patient_id="P-1", occurred_at=datetime.now(UTC), name="林女士"
    )
    facts = tmp_path / "facts.jsonl"
    facts.write_text(json.dumps(message_to_dict(registered)) + "\n", encoding="utf-8")
    assert main(["ingest", str(facts), *store]) == 0
    capsys.readouterr()
    assert main([*_SMALL_DEMO, *store]) == 3
    assert "演示不会改动它" in capsys.readouterr().err
    assert main(["member", "show", "P-1", *store]) == 0
    assert main(["member", "show", "P000001", *store]) == 1  # the demo wrote no one
