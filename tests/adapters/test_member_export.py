"""A person's copy of their data: ``membercore member export`` and ``Engine.export_member``.

A demo member is exported and every part of what the store holds about them is found in
the document, which its published schema (docs/member-export.schema.json) accepts.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from membercore import Engine, reference_config
from membercore.errors import UnknownMemberError
from membercore.facts import Identifier, PatientRegistered, ReferralQualified
from membercore.ports import AccountStore
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore_adapters import exports
from membercore_adapters.cli import main
from membercore_adapters.language import Language
from membercore_adapters.stores.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "member-export.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "demo.db"
    demo = ["demo", "--patients", "60", "--months", "3", "--workers", "1", "--quiet"]
    assert (
        main([*demo, "--store", f"sqlite:///{path}", "--report", str(path.parent / "r.html")]) == 0
    )
    return path


def _busiest(path: Path) -> str:
    """The demo member with the most messages queued for them."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (key,) = db.execute(
            "SELECT key FROM outbox GROUP BY key ORDER BY count(*) DESC, key LIMIT 1"
        ).fetchone()
    return str(key).removeprefix("member:")


def test_an_export_holds_every_part_of_a_members_data(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    member = _busiest(store)
    out = tmp_path / "copy.json"
    args = ["--lang", "zh-CN", "member", "export", member, "--out", str(out)]
    assert main([*args, "--store", f"sqlite:///{store}"]) == 0
    assert f"已导出会员 {member} 的全部数据：{out}" in capsys.readouterr().out
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    jsonschema_rs.validator_for(SCHEMA).validate(document)
    key = member_key(member)
    with SqliteStore(str(store)) as held:
        journal = held.events(key)
        outbox = [m.message_id for m in held.outbox() if m.key == key]
        tasks = [t.task_key for t in held.tasks(None) if t.key == key]
        received = [i.payload for i in held.inputs() if key in i.keys and i.kind != "tick"]
        identifiers = held.identifiers_of(member)
    assert document["member_id"] == member == document["record"]["member_id"]
    assert [(e["version"], e["type"]) for e in document["journal"]] == [
        (e.version, e.type) for e in journal
    ]
    consent = [e for e in journal if e.type in ("consent_granted", "consent_withdrawn")]
    assert consent
    assert [e["event"] for e in document["consent"]] == [json.loads(e.payload) for e in consent]
    assert outbox
    assert [m["message_id"] for m in document["messages"]] == outbox
    assert [t["task_key"] for t in document["tasks"]] == tasks
    assert received
    assert [r["message"] for r in document["received"]] == [json.loads(p) for p in received]
    registration = next(
        r for r in document["received"] if r["message"]["type"] == "patient_registered"
    )
    assert registration["message"]["patient_id"] == member  # what the HIS said of them
    assert len(document["identifiers"]) == len(identifiers)
    refused = [e for e in journal if e.type == "message_refused"]
    assert len(document["messages_refused"]) == len(refused)
    summary = out.with_suffix(".txt").read_text(encoding="utf-8")
    assert f"会员 {member} 的个人信息副本" in summary
    assert f"消息：{len(outbox)} 条" in summary
    born = document["received"][0]["message"].get("birth_date")
    assert f"出生日期 {born}" in summary
    assert "已送达" in summary or "待发送" in summary


def test_refused_inputs_and_look_ups_are_in_the_copy() -> None:
    at = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(at)) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id="r-1", patient_id="P-1", occurred_at=at),
                ReferralQualified(
                    fact_id="ref-1",
                    patient_id="P-1",
                    occurred_at=at,
                    referred_patient_id="P-nobody",
                    visit_id="V-9",
                ),
            ]
        )
        document = engine.export_member("P-1")
        with pytest.raises(UnknownMemberError):
            engine.export_member("P-nobody")
    jsonschema_rs.validator_for(SCHEMA).validate(document)
    (refused,) = document["refused_inputs"]
    assert (refused["fact_id"], refused["type"]) == ("ref-1", "referral_qualified")
    assert "P-nobody" in refused["reason"]


def test_refused_inputs_naming_the_member_by_another_id_or_identifier_are_in_the_copy() -> None:
    # A source names the patient by a card number, or a message could not be read and is
    # kept as its raw text: each refusal is theirs. Another patient's, sharing the name
    # 王芳, is not.
    at = datetime(2026, 3, 2, 2, tzinfo=UTC)
    card = Identifier(system="CARD", value="C-778899")
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(at)) as engine:
        registered = [
            PatientRegistered(
                fact_id="r-1",
                patient_id="P-000123",
                occurred_at=at,
                name="王芳",
                identifiers=(card,),
            ),
            PatientRegistered(fact_id="r-2", patient_id="P-000456", occurred_at=at, name="王芳"),
        ]
        engine.ingest(registered)
        named = PatientRegistered(
            fact_id="r-3",
            patient_id=card.name,
            occurred_at=at,
            known_only=True,
            identifiers=(card,),
        )
        engine.ingest([named])
        engine.ingest(
            [
                ReferralQualified(
                    fact_id="ref-1",
                    patient_id=card.name,
                    occurred_at=at,
                    referred_patient_id="P-nobody",
                    visit_id="V-9",
                ),
                ReferralQualified(
                    fact_id="ref-2",
                    patient_id="P-000456",
                    occurred_at=at,
                    referred_patient_id="P-nobody",
                    visit_id="V-8",
                ),
                "MSH|^~\\&|HIS|||ADT^A08|PID|1||P-000123^^^HIS^MR||王芳",
                "MSH|^~\\&|HIS|||ADT^A08|PID|1||P-000456^^^HIS^MR||王芳",
            ]
        )
        assert len(engine.dead_letters()) == 4
        document = engine.export_member("P-000123")
    refused = document["refused_inputs"]
    named, raw = refused
    assert (named["fact_id"], named["type"]) == ("ref-1", "referral_qualified")
    assert raw["payload"].startswith("MSH|")
    assert "P-000123" in raw["payload"]
    assert all("P-000456" not in letter["payload"] for letter in refused)


def test_an_unknown_member_is_said_and_nothing_is_written(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "none.json"
    args = ["--lang", "en", "member", "export", "P-none", "--out", str(out)]
    assert main([*args, "--store", f"sqlite:///{store}"]) == 1
    assert "member 'P-none' is not known" in capsys.readouterr().err
    assert not out.exists()


def test_reading_as_someone_records_each_member_the_views_read_once() -> None:
    at = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(at)) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id=f"r-{n}", patient_id=f"P-{n}", occurred_at=at)
                for n in (1, 2)
            ]
        )
        engine.member("P-1")  # the engine's own read: no one's look-up
        with engine.reading_as("crm-sync", "会员资料同步"):
            engine.member("P-1")
            engine.export_member("P-1")
            engine.tags("P-2")
            with pytest.raises(UnknownMemberError):
                engine.member("P-404")
        engine.member("P-2")
        store = engine.store
        assert isinstance(store, AccountStore)
        seen = [(s.who, s.member_id, s.purpose, s.via) for s in store.lookups()]
    assert seen == [
        ("crm-sync", "P-1", "会员资料同步", "engine"),
        ("crm-sync", "P-2", "会员资料同步", "engine"),
    ]


@pytest.mark.parametrize(("lang", "between"), [("en", "SMS, WeCom"), ("zh-CN", "短信、企业微信")])
def test_the_summary_lists_a_consent_s_channels_in_the_words_of_its_language(
    lang: Language, between: str
) -> None:
    granted = {
        "type": "consent_granted",
        "at": "2026-03-02T01:30:00+00:00",
        "event": {"purpose": "care", "channels": ["sms", "wecom"], "given_by": "P-1"},
    }
    assert between in exports._consent(granted, lang)
