"""The command line's exit statuses, and what it leaves alone.

0 done, 1 input refused (or some of it), 2 usage, 3 store or configuration; never a
traceback for a user's mistake; no command creates or deletes a store it was not asked to.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from membercore.facts import PatientRegistered
from membercore.serialization import message_to_dict
from membercore_adapters.cli import app as cli_app
from membercore_adapters.cli import main
from membercore_adapters.cli.logs import JsonLines
from membercore_adapters.stores.sqlite import SqliteStore

_READING = [
    ["member", "show", "P-1"],
    ["member", "journal", "P-1"],
    ["household", "journal", "H-1"],
    ["outbox"],
    ["outbox", "--dispatch"],
    ["tasks"],
    ["dead-letters"],
    ["audit"],
    ["tick"],
    ["migrate"],
    ["repack"],
]

_SMALL_DEMO = ["demo", "--patients", "20", "--months", "1", "--workers", "1", "--quiet"]


def _registered(path: Path, *patients: str) -> Path:
    now = datetime.now(UTC)
    lines = [
        json.dumps(
            message_to_dict(
                PatientRegistered(fact_id=f"r-{p}", patient_id=p, occurred_at=now, name="林女士")
            )
        )
        for p in patients
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", _READING, ids=" ".join)
def test_a_reading_command_on_a_missing_sqlite_file_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--store", f"sqlite:///{tmp_path}/none.db"]) == 3
    assert "没有这个存储" in _said(capsys)
    assert list(tmp_path.iterdir()) == []
    assert main([*command, "--store", f"sqlite:///{tmp_path}/none.db", "--lang", "en"]) == 3
    assert "no store at" in _said(capsys)
    assert list(tmp_path.iterdir()) == []


def test_the_default_store_is_not_created_by_a_reading_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["member", "show", "P-NOPE"]) == 3
    assert "membercore.db" in _said(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [["tick"], ["member", "show", "P-1"], ["ingest", "facts.jsonl"], ["outbox"]],
    ids=" ".join,
)
def test_a_missing_programme_file_is_a_configuration_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _registered(tmp_path / "facts.jsonl", "P-1")
    SqliteStore(tmp_path / "m.db").close()
    arguments = [*command, "--config", "missing.toml", "--store", "sqlite:///m.db"]
    assert main(arguments) == 3
    assert "无法读取 missing.toml" in _said(capsys)


@pytest.mark.parametrize("command", ["ingest", "import"])
def test_a_missing_input_file_is_usage_and_creates_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main([command, str(missing), "--store", f"sqlite:///{tmp_path}/m.db"]) == 2
    assert f"无法读取 {missing}" in _said(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("store", "says"),
    [
        ("foo://x", "no store for scheme 'foo'"),
        ("sqlite://", "names no database file"),
        ("postgresql://membercore@127.0.0.1:1/membercore", "cannot connect"),
    ],
)
def test_a_bad_store_url_is_a_store_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], store: str, says: str
) -> None:
    feed = _registered(tmp_path / "facts.jsonl", "P-1")
    for command in (["member", "show", "P-1"], ["ingest", str(feed)], _SMALL_DEMO):
        assert main([*command, "--store", store]) == 3
        assert says in _said(capsys)


@pytest.mark.parametrize("when", ["2025-06-01T10:00:00", "tomorrow", "2025-13-01T00:00:00+08:00"])
@pytest.mark.parametrize("option", [["tick", "--now"], ["import", "facts.jsonl", "--cutoff"]])
def test_an_instant_without_its_offset_or_not_an_instant_is_usage(
    capsys: pytest.CaptureFixture[str], option: list[str], when: str
) -> None:
    assert main([*option, when]) == 2
    said = _said(capsys)
    assert repr(when) in said
    naive = when == "2025-06-01T10:00:00"
    assert ("缺少 UTC 偏移" if naive else "不是 ISO 8601 时刻") in said
    if when.startswith("2025-13"):
        assert "month must be in 1..12" in said  # which part is wrong


def test_ingest_exits_1_when_any_input_was_refused_and_0_when_all_were_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    taken = _registered(tmp_path / "taken.jsonl", "P-1", "P-2")
    refused = tmp_path / "refused.jsonl"
    refused.write_text('{"type": "nonsense"}\nnot json\n', encoding="utf-8")
    mixed = _registered(tmp_path / "mixed.jsonl", "P-3")
    with mixed.open("a", encoding="utf-8") as file:
        file.write('{"type": "nonsense"}\n')
    for command in ("ingest", "import"):
        assert main([command, str(taken), "--store", store]) == 0
        assert main([command, str(refused), "--store", store]) == 1
        assert main([command, str(mixed), "--store", store]) == 1
    capsys.readouterr()


def test_config_check_of_a_missing_file_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(tmp_path / "missing.toml")]) == 3
    assert "无法读取" in _said(capsys)


def test_a_usage_mistake_named_by_the_command_line_is_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _registered(tmp_path / "facts.jsonl", "P-1")
    store = f"sqlite:///{tmp_path}/m.db"
    assert main(["ingest", str(feed), "--source", "nonesuch", "--store", store]) == 2
    assert "没有名为 'nonesuch' 的 HIS 数据源" in _said(capsys)
    assert main(["import", str(feed), "--resume", "--store", store]) == 2
    assert "--resume 仅用于 ingest" in _said(capsys)
    assert main(["import", str(feed), "--resume", "--store", store, "--lang", "en"]) == 2
    assert "--resume is for ingest" in _said(capsys)
    assert main(["--lang", "fr", "tasks"]) == 2
    assert "zh-CN, en" in _said(capsys)


@pytest.mark.parametrize("command", ["ingest", "import"])
@pytest.mark.parametrize(
    ("source", "status", "said"),
    [
        (["--source", "nonesuch"], 2, "没有名为 'nonesuch' 的 HIS 数据源"),
        (["--source", "csv"], 1, "a file of rows needs its mapping"),
        (["--source", "csv", "--mapping", "missing.toml"], 2, "missing.toml"),
        (["--source", "nonesuch", "--resume"], 2, "没有名为 'nonesuch' 的 HIS 数据源"),
        (["--source", "csv", "--encoding", "latin9x"], 2, "没有名为 'latin9x' 的字符编码"),
    ],
)
def test_a_source_that_cannot_read_the_file_stops_the_command_before_a_store_is_created(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    source: list[str],
    status: int,
    said: str,
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("patient_id,name\nP-1,张三\n", encoding="utf-8")
    options = [str(tmp_path / part) if part.endswith(".toml") else part for part in source]
    if command == "import" and "--resume" in options:
        options.remove("--resume")  # import refuses --resume itself
    path = tmp_path / "new.db"
    assert main([command, str(rows), *options, "--store", f"sqlite:///{path}"]) == status
    assert said in _said(capsys)
    assert not list(tmp_path.glob("new.db*"))  # no store was created for nothing


@pytest.mark.parametrize(
    "command", [["member", "show", "P-1"], ["member", "journal", "P-1"], ["dead-letters", "--raw"]]
)
def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    assert main(["ingest", str(_registered(tmp_path / "f.jsonl", "P-1")), "--store", store]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(["not json"] * 2000) + "\n", encoding="utf-8")
    assert main(["ingest", str(bad), "--store", store]) == 1
    capsys.readouterr()
    running = subprocess.Popen(
        [sys.executable, "-m", "membercore_adapters.cli", *command, "--store", store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert running.stdout is not None
    assert running.stderr is not None
    running.stdout.close()  # `| head -0`: the reader is gone before the first line
    err = running.stderr.read().decode()
    running.stderr.close()
    assert running.wait(timeout=120) == 1
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err


def test_the_demo_writes_its_own_file_in_the_working_folder_and_starts_it_afresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_SMALL_DEMO) == 0
    first = capsys.readouterr().out
    assert (tmp_path / "membercore-demo.db").exists()
    assert main(_SMALL_DEMO) == 0  # its own store: written anew, to the same dashboard
    assert capsys.readouterr().out.split("\n", 2)[:1] == first.split("\n", 2)[:1]
    assert main([*_SMALL_DEMO, "--store", "sqlite:///membercore-demo.db"]) == 0
    assert main(["member", "show", "P000001", "--store", "sqlite:///membercore-demo.db"]) == 0


def test_the_demo_refuses_a_store_it_did_not_write_and_leaves_it_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "membercore.db"
    store = f"sqlite:///{path}"
    assert main(["ingest", str(_registered(tmp_path / "f.jsonl", "P-1")), "--store", store]) == 0
    before = path.read_bytes()
    capsys.readouterr()
    assert main([*_SMALL_DEMO, "--store", store]) == 3
    said = _said(capsys)
    assert store in said
    assert "演示不会改动它" in said  # Chinese unless asked otherwise
    assert path.read_bytes() == before
    assert main([*_SMALL_DEMO, "--store", store, "--lang", "en"]) == 3
    assert "the demo did not write" in _said(capsys)
    assert path.read_bytes() == before
    assert main(["member", "show", "P-1", "--store", store]) == 0


def test_the_demo_refuses_a_file_that_is_no_store_and_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("我的笔记\n", encoding="utf-8")
    assert main([*_SMALL_DEMO, "--store", f"sqlite:///{notes}"]) == 3
    assert "not a database" in _said(capsys)
    assert notes.read_text(encoding="utf-8") == "我的笔记\n"


def test_the_demo_takes_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    SqliteStore(tmp_path / "empty.db").close()
    assert main([*_SMALL_DEMO, "--store", f"sqlite:///{tmp_path}/empty.db"]) == 0
    assert "20 位患者" in capsys.readouterr().out


def test_the_worker_writes_json_log_lines_when_asked() -> None:
    record = logging.LogRecord(
        "membercore.engine", logging.INFO, __file__, 1, "ingested %d inputs", (3,), None
    )
    line = json.loads(JsonLines().format(record))
    assert line["level"] == "INFO"
    assert line["logger"] == "membercore.engine"
    assert line["message"] == "ingested 3 inputs"
    assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("command", "chinese", "english"),
    [
        (["ingest"], "缺少参数 'FILE'。", "Missing argument 'FILE'."),
        (["tick", "--nw", "2"], "没有选项 --nw，是否想用 '--now'？", "Did you mean '--now'?"),
        (["demo", "--patients", "x"], "'--patients' 的值无效：'x' 不是有效的整数。", "'x' is not"),
        (["frob"], "没有命令 'frob'。", "No such command 'frob'."),
        (["tick", "now"], "多余的参数：now", "Got unexpected extra argument (now)"),
    ],
)
def test_a_usage_mistake_is_said_in_the_language_spoken_with_the_usage_and_a_hint(
    capsys: pytest.CaptureFixture[str], command: list[str], chinese: str, english: str
) -> None:
    assert main(command) == 2
    said = _said(capsys)
    assert said.startswith("用法：membercore")
    assert "--help' 查看帮助。" in said
    assert f"错误：{chinese}" in said
    assert main([*command, "--lang", "en"]) == 2
    said = _said(capsys)
    assert said.startswith("Usage: membercore")
    assert english in said


def test_no_command_takes_over_a_database_another_application_keeps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "his.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE patients (id TEXT, name TEXT)")
        conn.execute("INSERT INTO patients VALUES ('P1', '王秀英')")
    conn.close()
    before = path.read_bytes()
    store = f"sqlite:///{path}"
    feed = _registered(tmp_path / "facts.jsonl", "P-1")
    for command in (["ingest", str(feed)], ["import", str(feed)], _SMALL_DEMO, _SMALL_DEMO):
        assert main([*command, "--store", store]) == 3
        assert "another application's tables (patients)" in _said(capsys)
        assert path.read_bytes() == before


def test_ctrl_c_while_the_commands_load_says_aborted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt  # as Ctrl-C while the plugins' commands are loaded

    monkeypatch.setattr(cli_app, "command_line", interrupted)
    assert main(["--lang", "en", "outbox"]) == 1
    assert "aborted" in capsys.readouterr().err


_SMTP = """
[channels.email]
use = "smtp"
host = "127.0.0.1"
username_env = "MEMBERCORE_TEST_NO_SUCH_USER"
password_env = "MEMBERCORE_TEST_NO_SUCH_PASSWORD"
sender = "某某医院 <care@hospital.example>"
default_subject = "通知"
"""


@pytest.mark.parametrize("command", [["outbox", "--dispatch"], ["worker"]])
def test_a_channel_the_programme_cannot_use_is_the_set_up_s_error_and_creates_no_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.delenv("MEMBERCORE_TEST_NO_SUCH_USER", raising=False)
    reference = Path(__file__).parents[2] / "src" / "membercore" / "config" / "reference.toml"
    text = reference.read_text(encoding="utf-8").replace(
        'channel_order = ["wecom", "sms", "phone"]', 'channel_order = ["email", "phone"]'
    )
    programme = tmp_path / "programme.toml"
    programme.write_text(text + _SMTP, encoding="utf-8")
    path = tmp_path / "m.db"
    if command[0] == "outbox":  # a store there already: the hand-over's own refusal
        assert (
            main(
                [
                    "ingest",
                    str(_registered(tmp_path / "f.jsonl", "P-1")),
                    "--store",
                    f"sqlite:///{path}",
                ]
            )
            == 0
        )
        capsys.readouterr()
    status = main([*command, "--store", f"sqlite:///{path}", "--config", str(programme)])
    assert status == 3
    said = capsys.readouterr().err
    assert f"{programme}: config key 'channels.email.username_env'" in said
    assert "MEMBERCORE_TEST_NO_SUCH_USER is not set" in said
    if command[0] == "worker":
        assert not list(tmp_path.glob("m.db*"))  # refused before the store was opened


def test_a_listener_the_settings_given_cannot_make_is_the_set_up_s_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The FHIR listener needs its settings file: started without ``--mapping`` under the
    reference programme, the worker stops as a set-up it cannot run (3), naming the key,
    and leaves no store."""
    path = tmp_path / "m.db"
    command = ["worker", "--listen", "fhir", "--port", "0", "--store", f"sqlite:///{path}"]
    assert main(command) == 3
    said = capsys.readouterr().err
    assert "config key 'mapping'" in said
    assert "Traceback" not in said
    assert not list(tmp_path.glob("m.db*"))  # refused before the store was opened
