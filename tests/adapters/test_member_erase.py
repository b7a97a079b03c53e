"""``membercore member erase`` on a demo store: the person is in no table afterwards.

A demo member is given a name, contact details and a medical record number, looked up
and sent a refused fact; the command line erases them; then every row of every table of
the SQLite file (packed columns unpacked) is searched for their id and data and nothing
is found, while the points owed and every figure are what they were.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from membercore import Engine
from membercore.facts import Identifier, PatientRegistered
from membercore.ports import AccountStore, Lookup
from membercore_adapters.cli import main
from membercore_adapters.demo.programme import demo_programme
from membercore_adapters.stores.packing import unpack

PERSONAL = ("周晓梅", "+8613700002222", "zhou@example.cn", "ZY-884422")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("erase") / "demo.db"
    demo = ["demo", "--patients", "60", "--months", "3", "--workers", "1", "--quiet"]
    assert (
        main([*demo, "--store", f"sqlite:///{path}", "--report", str(path.parent / "r.html")]) == 0
    )
    return path


@pytest.fixture
def store(demo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    shutil.copy(demo, path)
    return path


def _busiest(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (key,) = db.execute(
            "SELECT key FROM outbox GROUP BY key ORDER BY count(*) DESC, key LIMIT 1"
        ).fetchone()
    return str(key).removeprefix("member:")


def _texts(path: Path) -> Iterator[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, bytes):
                        yield table, unpack(value)
                    elif value is not None:
                        yield table, str(value)


def _personal(path: Path, member: str) -> None:
    """Give the demo member a name, contact details and an identifier; look them up."""
    with Engine.open(f"sqlite:///{path}", config=demo_programme()) as engine:
        at = engine.now()
        report = engine.ingest(
            [
                PatientRegistered(
                    fact_id=f"update-{member}",
                    patient_id=member,
                    occurred_at=at - timedelta(minutes=1),
                    name="周晓梅",
                    phone="+8613700002222",
                    email="zhou@example.cn",
                    identifiers=[Identifier(system="ZY", value="ZY-884422")],
                ),
                {"type": "charge_paid", "fact_id": "bad", "patient_id": member, "lines": "x"},
            ]
        )
        assert report.applied == 1
        assert isinstance(engine.store, AccountStore)
        engine.store.record_lookup(
            Lookup(at=at, who="hm-01", member_id=member, purpose="回访", via="console")
        )


def test_member_erase_leaves_nothing_of_the_person_and_the_figures_as_they_were(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    member = _busiest(store)
    _personal(store, member)
    word = re.compile(rf"(?<![0-9A-Za-z]){re.escape(member)}(?![0-9A-Za-z])")
    held = list(_texts(store))
    assert {value for value in PERSONAL for _, text in held if value in text} == set(PERSONAL)
    tables = {table for table, text in held if word.search(text)}
    assert {"records", "journal", "inbox", "outbox", "inputs", "lookups", "dead_letters"} <= tables
    with Engine.open(f"sqlite:///{store}", config=demo_programme()) as engine:
        at = engine.now()
        before = engine.measure(now=at)
    url = ["--store", f"sqlite:///{store}"]
    erase = ["--lang", "en", "member", "erase", member, "--reason", "本人申请 #42", "--by", "dpo"]

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main([*erase, *url]) == 1
    assert "nothing was erased" in capsys.readouterr().err
    assert list(_texts(store)) == held

    assert main([*erase, "--yes", *url]) == 0
    assert f"erased member {member}'s personal data (erasure 1;" in capsys.readouterr().out
    leaks = [(t, v) for t, text in _texts(store) for v in PERSONAL if v in text]
    leaks += [(t, member) for t, text in _texts(store) if word.search(text)]
    assert leaks == []
    with Engine.open(f"sqlite:///{store}", config=demo_programme()) as engine:
        after = engine.measure(now=at)
    assert after.liability == before.liability
    assert after == before

    assert main(["member", "erasures", *url]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert (listed["seq"], listed["reason"], listed["by"]) == (1, "本人申请 #42", "dpo")
    assert listed["counts"]["records"] >= 1


def test_a_fact_about_an_erased_member_is_refused_by_ingest(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    member = _busiest(store)
    url = ["--store", f"sqlite:///{store}"]
    assert main(["member", "erase", member, "--reason", "申请", "--by", "dpo", "--yes", *url]) == 0
    facts = tmp_path / "facts.jsonl"
    fact = {
        "type": "checked_in",
        "fact_id": "late-1",
        "patient_id": member,
        "occurred_at": "2025-08-01T02:00:00+00:00",
    }
    facts.write_text(json.dumps(fact) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--lang", "en", "ingest", str(facts), *url]) == 1
    said = capsys.readouterr()
    assert "the person's data was erased on" in said.out + said.err
    assert main(["member", "show", member, *url]) == 1


def test_erasing_again_or_a_pseudonym_or_without_a_reason_is_refused_and_says_why(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    member = _busiest(store)
    url = ["--store", f"sqlite:///{store}"]
    erase = ["--lang", "en", "member", "erase"]
    assert main([*erase, member, "--reason", " ", "--by", "dpo", "--yes", *url]) == 2
    assert "must not be empty" in capsys.readouterr().err
    assert main([*erase, member, "--reason", "申请 #7", "--by", "dpo", "--yes", *url]) == 0
    capsys.readouterr()
    assert main([*erase, member, "--reason", "again", "--by", "dpo", "--yes", *url]) == 1
    said = capsys.readouterr().err
    assert f"member {member}'s personal data was erased on" in said
    assert "(申请 #7)" in said
    assert main(["--lang", "en", "member", "show", member, *url]) == 1
    assert "was erased on" in capsys.readouterr().err
    with Engine.open(f"sqlite:///{store}", config=demo_programme()) as engine:
        (pseudonym,) = [m.member_id for m in engine.members() if m.member_id.startswith("erased-")]
    assert main([*erase, pseudonym, "--reason", "again", "--by", "dpo", "--yes", *url]) == 1
    assert "pseudonymous record of a person whose data was erased" in capsys.readouterr().err
    assert main(["member", "erasures", *url]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_retain_says_what_it_would_let_go_before_it_does(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--store", f"sqlite:///{store}"]
    later = ["--now", "2030-01-01T00:00:00+08:00"]
    before = store.read_bytes()
    assert main(["--lang", "en", "retain", *later, "--dry-run", *url]) == 0
    would = capsys.readouterr().out
    assert "would let go past their retention (nothing changed)" in would
    assert store.read_bytes() == before
    assert main(["--lang", "en", "retain", *later, *url]) == 0
    done = capsys.readouterr().out
    assert done.removeprefix("let go past their retention:") == would.removeprefix(
        "would let go past their retention (nothing changed):"
    )
    assert main(["--lang", "en", "retain", *later, "--dry-run", *url]) == 0
    assert "0 message bodies (0 members' journals)" in capsys.readouterr().out
