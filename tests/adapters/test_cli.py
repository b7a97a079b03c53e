from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from rich.cells import cell_len

from membercore import Engine, PostingKind, reference_config
from membercore.consent import GrantConsent
from membercore.facts import DiagnosisRecorded, PatientRegistered
from membercore.identity import MergeMembers
from membercore.messages import Channel
from membercore.outreach import RequestMessage
from membercore.ports import Commit, Delivery
from membercore.serialization import message_to_dict
from membercore.testing.contracts.builders import message_of
from membercore_adapters.cli import main
from membercore_adapters.demo.walkthrough import ledger_walkthrough
from membercore_adapters.stores.postgres import schema as postgres_schema
from membercore_adapters.stores.sqlite import SqliteStore
from membercore_adapters.stores.sqlite import schema as sqlite_schema


def test_the_walkthrough_prints_each_step_and_a_statement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["walkthrough"]) == 0
    out = capsys.readouterr().out
    assert "积分账本逐步讲解" in out
    assert "王女士的积分对账单" in out
    assert "reverses p-wang/2" in out
    assert main(["walkthrough", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "points ledger walk-through" in out
    assert "statement of 王女士" in out


def test_the_walkthrough_ends_with_balances_that_add_up() -> None:
    lines: list[str] = []
    states = ledger_walkthrough(lines.append, language="en")
    wang = states["p-wang"]
    # 1 check-in + (12,800 + 160 / 2) x 1.5 + 20 lecture + 10 survey, less 5,000 redeemed,
    # less a quarter of the charge's 19,320 points refunded, plus 2 pooled from 李先生.
    assert wang.balance == 1 + 19_320 + 20 + 10 - 5_000 - 4_830 + 2
    assert states["p-li"].balance == 0
    assert wang.totals.transferred_in == 2
    assert any("pooled" in line for line in lines)
    assert PostingKind.REVERSE in wang.kinds.values()


def test_config_check_accepts_a_valid_programme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "programme.toml"
    path.write_text('name = "康宁医院"\n[earning.check_in]\npoints = 2\n', encoding="utf-8")
    assert main(["config", "check", str(path), "--without-plugins"]) == 0
    said = capsys.readouterr().out
    assert "有效的方案 '康宁医院'" in said
    # What it will do, a line a part: the ladder, earning (check-in as written), plans...
    assert "等级：普通 0 → 银卡 1,000" in said
    assert "积分：消费每 1 元得 1 分（7 天后生效），签到 2，" in said  # check-in as written
    assert "付费会员（0）：无" in said
    assert "渠道：控制台（未配置渠道）" in said
    assert main(["config", "check", str(path), "--without-plugins", "--lang", "en"]) == 0
    said = capsys.readouterr().out
    assert "valid programme '康宁医院'" in said
    assert "tiers: 普通 0 → 银卡 1,000" in said
    assert "earning: spending 1 per 1 元 (vests after 7 days), check-in 2," in said
    assert "plans (0): none" in said
    assert "channels: the console (none configured)" in said


def test_config_check_reports_what_the_installed_plugins_journeys_need(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example clinic plugin's journey sends a template this programme lacks: the
    # engine would refuse to open with it, so the check says so first.
    path = tmp_path / "programme.toml"
    path.write_text('name = "康宁医院"\n', encoding="utf-8")
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "clinic_example" in err
    assert "no template 'checkup_clinic_invite'" in err
    assert "--without-plugins` 只检查方案本身" in err  # what to do about it


def test_config_check_names_the_offending_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "programme.toml"
    path.write_text("[earning.sharing]\npoints = -5\n", encoding="utf-8")
    assert main(["config", "check", str(path)]) == 1
    assert "$.earning.sharing.points" in capsys.readouterr().err


def test_config_check_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(tmp_path / "nowhere.toml")]) == 3
    assert "无法读取" in capsys.readouterr().err


def _jsonl(path: Path, *messages: object) -> Path:
    path.write_text(
        "\n".join(
            message if isinstance(message, str) else json.dumps(message_to_dict(message))
            for message in messages
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def _diabetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A store of the test's own where 林女士 (P-1) joined and was found diabetic now."""
    store = f"sqlite:///{tmp_path}/cli.db"
    now = datetime.now(UTC)
    facts = _jsonl(
        tmp_path / "facts.jsonl",
        *_joined(now, "wecom"),
        DiagnosisRecorded(
            fact_id="d-1", patient_id="P-1", occurred_at=now, icd10="E11.9", visit_id="v-1"
        ),
    )
    assert main(["ingest", str(facts), "--store", store]) == 0
    capsys.readouterr()
    return store


def _joined(now: datetime, channel: Channel) -> tuple[PatientRegistered, GrantConsent]:
    """林女士 (P-1) registered at ``now``, with her consent to care by ``channel``."""
    return (
        PatientRegistered(fact_id="r-1", patient_id="P-1", occurred_at=now, name="林女士"),
        GrantConsent(
            key="c-1",
            member_id="P-1",
            purpose="care",
            channels=(channel,),
            given_by="P-1",
            source="app",
        ),
    )


def _welcome() -> RequestMessage:
    """The front desk asks for 林女士's (P-1's) welcome message."""
    return RequestMessage(
        key="m-1",
        member_id="P-1",
        template_key="annual_welcome",
        purpose="care",
        variables={"name": "林女士"},
        reason="front desk",
    )


def test_ingest_then_member_show_outbox_and_dead_letters_work_on_one_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    Engine.open(store, config=reference_config()).close()
    assert main(["dead-letters", "--store", store]) == 0
    assert capsys.readouterr().out == "（无）\n"  # a listing says when there is nothing in it
    now = datetime.now(UTC)
    facts = _jsonl(
        tmp_path / "facts.jsonl",
        *_joined(now, "wecom"),
        DiagnosisRecorded(
            fact_id="d-1", patient_id="P-1", occurred_at=now, icd10="E11.9", visit_id="v-1"
        ),
        "this line is not JSON",
    )
    # A run that refused an input says so in its status, for the scheduler that runs it.
    assert main(["ingest", str(facts), "--store", store]) == 1
    assert "3 条已应用，0 条重复，1 条被拒" in capsys.readouterr().out
    assert main(["member", "show", "P-1", "--store", store]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["member"] == "P-1"
    assert "condition:diabetes" in shown["tags"]
    assert any(journey.startswith("diabetes:") for journey in shown["journeys"])
    assert main(["outbox", "--store", store]) == 0
    assert "林女士" in capsys.readouterr().out
    assert main(["dead-letters", "--store", store]) == 0
    listed = capsys.readouterr().out
    assert "not JSON" in listed
    assert "  —: " in listed  # a line read as no message has no type to name
    ahead = ["tick", "--store", store, "--now", (now + timedelta(days=400)).isoformat()]
    assert main(ahead) == 2  # a year ahead by mistake would date every record ticked there
    assert "晚于现在" in capsys.readouterr().err
    assert main([*ahead, "--future"]) == 0
    assert "条记录" in capsys.readouterr().out
    assert main(["tasks", "--store", store]) == 0


def test_the_open_tasks_say_why_a_task_waits_unassigned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    now = datetime.now(UTC)
    facts = _jsonl(
        tmp_path / "facts.jsonl",
        *_joined(now, "phone"),
        _welcome(),
    )
    assert main(["ingest", str(facts), "--store", store]) == 0
    capsys.readouterr()
    assert main(["tasks", "--store", store]) == 0
    heading, line = capsys.readouterr().out.splitlines()
    assert "P-1/msg/1" in line
    assert line.split()[3] == "P-1"  # the member, as the outbox and the console name them
    assert "致电" in line  # the kind as the staff call it, not its key
    assert "未分配（无可分配人员: nobody on the staff roster has the role 'call_centre'）" in line
    # The columns line up as a terminal shows them: a Chinese character is two columns.
    said = line.index("未分配")
    assert cell_len(line[:said]) == cell_len(heading[: heading.index("负责人")])
    assert main(["tasks", "--store", store, "--lang", "en"]) == 0
    heading, line = capsys.readouterr().out.splitlines()
    assert heading.split() == ["due", "kind", "member", "assignee", "task"]
    assert "unassigned (无可分配人员: nobody on the staff roster" in line


def test_member_journal_prints_the_members_events_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _diabetic(tmp_path, capsys)
    assert main(["member", "journal", "P-1", "--store", store]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    with Engine.open(store, config=reference_config()) as engine:
        journal = engine.store.events("member:P-1")
    assert [(line["version"], line["type"]) for line in lines] == [
        (event.version, event.type) for event in journal
    ]
    assert [line["event"] for line in lines] == [json.loads(e.payload) for e in journal]
    assert any(line["type"] == "profile_diagnosis_noted" for line in lines)
    last = lines[-1]["version"]
    assert (
        main(["member", "journal", "P-1", "--after-version", str(last - 1), "--store", store]) == 0
    )
    later = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert later
    assert {line["version"] for line in later} == {last}
    assert main(["member", "journal", "P-404", "--store", store]) == 1
    assert "P-404" in capsys.readouterr().err


def test_the_version_names_the_release_and_the_store_schemas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--version"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"membercore {version('membercore')} ")
    assert (
        f"SQLite {sqlite_schema.SCHEMA_VERSION}, PostgreSQL {postgres_schema.SCHEMA_VERSION}"
        in (printed)
    )


def test_member_show_names_an_unknown_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    SqliteStore(tmp_path / "cli.db").close()
    assert main(["member", "show", "P-404", "--store", f"sqlite:///{tmp_path}/cli.db"]) == 1
    assert "P-404" in capsys.readouterr().err


def test_the_demo_prints_the_dashboard_of_a_small_hospital(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/demo.db"
    arguments = ["demo", "--patients", "60", "--months", "1", "--workers", "1", "--quiet"]
    assert main([*arguments, "--store", store]) == 0
    out = capsys.readouterr().out
    assert "60 位患者 · 1 个月" in out
    for heading in ("会员等级", "付费会员（有效权益卡）", "其中已续费（续费率）", "积分"):
        assert heading in out
    # A household's journal, as a member's: the demo's first family formed first.
    assert main(["household", "journal", "H000001", "--store", store]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["type"] == "household_formed"
    assert lines[0]["event"]["household_id"] == "H000001"
    assert [line["version"] for line in lines] == sorted(line["version"] for line in lines)
    assert main(["household", "journal", "H-404", "--store", store]) == 1
    assert "没有这个家庭 'H-404'" in capsys.readouterr().err
    assert main(["household", "journal", "H-404", "--store", store, "--lang", "en"]) == 1
    assert "household 'H-404' is not known" in capsys.readouterr().err


def test_ingest_keeps_every_valid_line_whatever_the_bad_ones_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    now = datetime.now(UTC)
    good = [
        json.dumps(
            message_to_dict(
                PatientRegistered(fact_id=f"r-{n}", patient_id=f"P-{n}", occurred_at=now)
            )
        )
        for n in range(2_500)
    ]
    bad = [
        "[" * 100_000 + "]" * 100_000,
        '{"type": "checked_in", "fact_id": "x", "n": ' + "9" * 5_000 + "}",
        '{"type": "charge_paid", "lines": "' + "x" * 40_000 + '"}',
    ]
    lines = [line.encode("utf-8") for line in good[:1_200]]
    lines += [line.encode("utf-8") for line in bad]
    lines.append(b'{"type": "checked_in", "fact_id": "\xff"}')
    lines += [line.encode("utf-8") for line in good[1_200:]]
    feed = tmp_path / "facts.jsonl"
    feed.write_bytes(b"\n".join(lines) + b"\n")

    assert main(["ingest", str(feed), "--store", store]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert "读到末尾共 2504 条输入：2500 条已应用，0 条重复，4 条被拒" in out.out
    assert "membercore dead-letters" in out.out
    assert main(["dead-letters", "--store", store]) == 0
    listed = capsys.readouterr().out
    assert "line 1204: not UTF-8 text" in listed
    assert "nested deeper than 16" in listed


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "the programme is empty"),
        (b'name = "\xff"\n', "not UTF-8 text (byte 0xff at position 8)"),
        ('name = "康宁"\n'.encode("utf-16"), "not UTF-8 text"),
        (bytes(range(256)), "not UTF-8 text"),
        (b"a = " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested too deep"),
        (b"version = " + b"9" * 5_000 + b"\n", "not valid TOML"),
        (b'name = "x"\nversion = "one"\n', "'$.version': expected a whole number, got text 'one'"),
        (b'[outreach]\nsensitive_variables = "diagnosis"\n', "expected a list, got text"),
    ],
    ids=[
        "empty",
        "invalid-utf8",
        "utf16",
        "binary",
        "deep-arrays",
        "huge-integer",
        "type",
        "text-for-list",
    ],
)
def test_config_check_refuses_what_is_not_a_programme_in_words_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    path = tmp_path / "programme.toml"
    path.write_bytes(content)
    assert main(["config", "check", str(path), "--without-plugins"]) == 1
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err


def test_config_check_refuses_a_journey_whose_parameters_its_functions_do_not_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "programme.toml"
    path.write_text(
        """name = "康宁医院"

[[journeys]]
key = "welcome"
label = "欢迎"
purpose = "care"
states = ["start", "done"]
initial = "start"
final = ["done"]
entry = { kind = "fact", type = "patient_registered" }
entry_guards = [{ name = "field_at_least", params = { field = "age", value = "18" } }]

[[journeys.transitions]]
source = "start"
target = "done"
trigger = { kind = "after", delay = { days = 1 } }
actions = [{ name = "add_tag", params = { tag = "welcomed", colour = "red" } }]
""",
        encoding="utf-8",
    )
    assert main(["config", "check", str(path), "--without-plugins"]) == 1
    err = capsys.readouterr().err
    assert "welcome" in err
    assert "parameter 'value' must be int" in err
    assert "unknown parameter 'colour'" in err


@pytest.mark.parametrize(
    ("args", "status"), [(["ingest", "/nowhere.jsonl"], 2), (["tick", "--config", "/nope.toml"], 3)]
)
def test_a_file_that_cannot_be_read_is_said_so_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], status: int
) -> None:
    assert main([*args, "--store", f"sqlite:///{tmp_path}/cli.db"]) == status
    err = capsys.readouterr().err
    assert "无法读取 /no" in err
    assert "Traceback" not in err


def test_ingest_names_the_line_of_every_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "facts.jsonl"
    feed.write_text('{"type": "checked_in"\n\n{"type": "nonsense"}\n', encoding="utf-8")
    store = f"sqlite:///{tmp_path}/cli.db"
    assert main(["ingest", str(feed), "--store", store]) == 1
    capsys.readouterr()
    main(["dead-letters", "--store", store])
    listed = capsys.readouterr().out
    assert ": line 1: " in listed
    assert ": line 3: " in listed


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ('entry = { kind = "fact", type = "dischargd" }', "'dischargd' is no fact or event type"),
        (
            'entry = { kind = "fact", type = "discharged" }\nexit_on = ["patient_dyed"]',
            "'patient_dyed'",
        ),
        (
            'entry = { kind = "fact", type = "discharged" }\npurpose = "spam"',
            "care, marketing or research",
        ),
    ],
)
def test_config_check_refuses_a_journey_that_would_never_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, says: str
) -> None:
    path = tmp_path / "programme.toml"
    path.write_text(
        f"""name = "康宁医院"

[[journeys]]
key = "after_discharge"
label = "出院随访"
states = ["start", "done"]
initial = "start"
final = ["done"]
{change}

[[journeys.transitions]]
source = "start"
target = "done"
trigger = {{ kind = "after", delay = {{ days = 1 }} }}
""",
        encoding="utf-8",
    )
    assert main(["config", "check", str(path), "--without-plugins"]) == 1
    assert says in capsys.readouterr().err


class _GoneReader(io.StringIO):
    """Standard output whose reader has stopped reading (``membercore outbox | head``)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_stops_reading_ends_the_command_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _diabetic(tmp_path, capsys)
    monkeypatch.setattr("sys.stdout", _GoneReader())
    assert main(["outbox", "--store", store]) == 1
    assert main(["walkthrough"]) == 1
    assert capsys.readouterr().err == ""  # no "cannot read None: Broken pipe"


def _at_schema_four(path: Path, monkeypatch: pytest.MonkeyPatch, *rows: str) -> None:
    """A SQLite file as the release of schema 4 left it, holding what ``rows`` insert."""
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", sqlite_schema.MIGRATIONS[:4])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", 4)
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        for row in rows:
            conn.execute(row)
    conn.close()
    monkeypatch.undo()


def test_only_migrate_brings_a_store_of_an_earlier_schema_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    store = f"sqlite:///{path}"
    _at_schema_four(
        path,
        monkeypatch,
        "INSERT INTO outbox (message_id, key, channel, payload, send_at) "
        """VALUES ('m-1', 'member:P-1', 'sms', '{"text": "林女士您好"}', 0)""",
    )
    before = path.read_bytes()
    for command in (["member", "show", "P-1"], ["outbox"], ["tick"], ["member", "journal", "P-1"]):
        assert main([*command, "--store", store]) == 3
        said = capsys.readouterr().err
        assert "schema version 4 and this membercore writes" in said  # the store's words
        assert f"membercore migrate --store {store}" in said
    assert path.read_bytes() == before  # nothing changed, not even the schema
    assert main(["migrate", "--store", store]) == 0
    assert f"架构版本 {sqlite_schema.SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["outbox", "--store", store]) == 0
    assert "林女士您好" in capsys.readouterr().out


def test_a_new_store_is_created_by_ingest_and_by_no_reading_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/new.db"
    assert main(["outbox", "--store", store]) == 3
    assert "没有这个存储" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    feed = tmp_path / "facts.jsonl"
    feed.write_text("", encoding="utf-8")
    assert main(["ingest", str(feed), "--store", store]) == 0
    assert (tmp_path / "new.db").exists()
    assert main(["outbox", "--store", store]) == 0


def test_repack_packs_a_migrated_store_and_says_what_it_moved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    store = f"sqlite:///{path}"
    _at_schema_four(
        path,
        monkeypatch,
        "INSERT INTO records (key, version, snapshot, snapshot_version) "
        """VALUES ('member:P-9', 1, '{"x": 1}', 1)""",
        "INSERT INTO events (key, version, seq, type, at, payload) "
        """VALUES ('member:P-9', 1, 0, 'tagged', 0, '{"n": 1}')""",
    )
    assert main(["repack", "--store", store]) == 3  # migrating is asked for first
    capsys.readouterr()
    assert main(["migrate", "--store", store]) == 0
    assert main(["repack", "--store", store]) == 0
    assert "1 个事件移入日志，1 个快照已打包" in capsys.readouterr().out
    assert main(["repack", "--store", store]) == 0
    assert main(["repack", "--store", store, "--lang", "en"]) == 0
    assert "0 events moved into the journal, 0 snapshots packed" in capsys.readouterr().out
    assert main(["member", "journal", "P-9", "--store", store]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {
        "version": 1,
        "type": "tagged",
        "at": "1970-01-01T00:00:00+00:00",
        "event": {"n": 1},
    }


def test_a_dispatch_says_how_many_messages_wait_for_their_send_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    now = datetime.now(UTC)
    text = json.dumps({"text": "林女士您好"}, ensure_ascii=False)
    later = [now + timedelta(hours=9), now + timedelta(hours=3)]  # quiet hours, say
    with SqliteStore(tmp_path / "cli.db") as opened:
        opened.commit(
            Commit(
                outbox=[
                    message_of(f"m-{n}", key=f"member:P-{n}", send_at=at, payload=text)
                    for n, at in enumerate(later)
                ]
            )
        )
    assert main(["outbox", "--dispatch", "--store", store, "--lang", "en"]) == 0
    said = capsys.readouterr().err
    assert "0 delivered" in said
    first = (now + timedelta(hours=3)).astimezone(ZoneInfo("Asia/Shanghai"))
    waiting = "2 more wait for their send time (quiet hours, or a time asked for)"
    assert f"{waiting}, the first at {first:%Y-%m-%d %H:%M}" in said
    assert main(["outbox", "--store", store]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[3] for row in rows] == ["P-1", "P-0"]  # by send time


def test_a_dispatch_says_how_many_it_held_back_for_quiet_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A message queued by day, handed over under a programme whose quiet hours hold
    # the moment of the hand-over (whenever the test runs): held back, and said so.
    path = tmp_path / "cli.db"
    asked = datetime(2026, 3, 2, 2, tzinfo=UTC)  # 10:00 in Shanghai
    with Engine.open(f"sqlite:///{path}", config=reference_config()) as engine:
        registered, grant = _joined(asked, "wecom")
        engine.ingest([registered], now=asked)
        engine.execute(grant, now=asked)
        engine.execute(_welcome(), now=asked)
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start = (local - timedelta(hours=1)).strftime("%H:%M")
    end = (local + timedelta(hours=1)).strftime("%H:%M")
    reference = (Path(__file__).parents[2] / "src/membercore/config/reference.toml").read_text(
        encoding="utf-8"
    )
    quiet = reference.replace('quiet_start = "21:00"', f'quiet_start = "{start}"')
    programme = tmp_path / "quiet.toml"
    programme.write_text(quiet.replace('quiet_end = "08:00"', f'quiet_end = "{end}"'))
    store = f"sqlite:///{path}"
    arguments = ["outbox", "--dispatch", "--store", store, "--config", str(programme)]
    assert main([*arguments, "--lang", "en"]) == 0
    said = capsys.readouterr().err
    assert "0 delivered, 0 to retry, 0 failed, 1 held back for quiet hours" in said
    assert "more wait to be handed over again" not in said  # said once
    assert main([*arguments, "--lang", "en"]) == 0  # again: it still waits, and is said to
    said = capsys.readouterr().err
    assert "0 delivered, 0 to retry, 0 failed" in said
    assert "1 more wait to be handed over again (a retry after a failure, or the end" in said


def test_the_outbox_lists_the_messages_given_up_with_why_at_the_programmes_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/cli.db"
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    text = json.dumps({"text": "林女士您好，您的体检报告已出"}, ensure_ascii=False)
    with SqliteStore(tmp_path / "cli.db") as opened:
        opened.commit(
            Commit(
                outbox=[
                    message_of("m-1", key="member:P-1", send_at=at, payload=text),
                    message_of("m-2", key="member:P-2", send_at=at, payload=text),
                ]
            )
        )
        opened.record_delivery(Delivery(message_id="m-1", at=at, error="号码不存在 isv.MOBILE"))
    assert main(["outbox", "--status", "failed", "--store", store]) == 0
    heading, row = capsys.readouterr().out.splitlines()
    assert heading.split() == ["发送时间", "渠道", "会员", "尝试次数", "原因", "内容"]
    assert row.split()[:5] == ["2026-03-02", "09:30", "短信", "P-1", "1"]
    assert "号码不存在 isv.MOBILE" in row
    assert main(["outbox", "--store", store]) == 0
    (_, waiting) = capsys.readouterr().out.splitlines()
    assert waiting.split()[:4] == ["2026-03-02", "09:30", "短信", "P-2"]
    assert main(["outbox", "--status", "delivered", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == "（无）"  # none, said so
    assert main(["outbox", "--status", "delivered", "--store", store, "--lang", "en"]) == 0
    assert capsys.readouterr().out.strip() == "(none)"


def test_member_show_reads_the_record_at_the_instant_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _diabetic(tmp_path, capsys)
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    assert main(["member", "show", "P-1", "--now", later, "--store", store]) == 0
    assert json.loads(capsys.readouterr().out)["at"] == later
    assert main(["member", "show", "P-404", "--store", store]) == 1
    assert "没有这个会员 'P-404'" in capsys.readouterr().err
    with Engine.open(store, config=reference_config()) as engine:  # a number a merge retired
        retired = MergeMembers(
            key="m-1", member_id="P-1", duplicate_id="OLD-9", operator="his", reason="A40"
        )
        engine.execute(attrs.evolve(retired, retire_unknown=True))
    for command in (
        ["show"],
        ["export"],
        ["erase", "--reason", "本人申请", "--by", "dpo", "--yes"],
    ):
        assert main(["member", *command[:1], "OLD-9", *command[1:], "--store", store]) == 1
        said = capsys.readouterr().err
        assert "没有会员编号为 'OLD-9' 的会员；它是会员 P-1 的标识" in said, said
    assert main(["member", "show", "P-1", "--store", store]) == 0  # nothing erased


def test_config_check_says_what_each_experiment_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.toml"
    assert main(["config", "init", str(path), "--template", "demo"]) == 0
    capsys.readouterr()
    assert main(["config", "check", str(path), "--without-plugins"]) == 0
    said = capsys.readouterr().out
    assert "实验 price_999_yearly_vs_99_monthly（尊享年卡定价：年付999元 对 月付99元）：" in said
    assert "yearly 年付999元 50%, monthly 月付99元 50%；visit_completed 时分组" in said
