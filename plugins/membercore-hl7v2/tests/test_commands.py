"""``membercore hl7 check`` and ``membercore hl7 replay``, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

import membercore_hl7v2
from membercore.errors import UnknownMemberError
from membercore.plugins import commands, make_plugin_manager
from membercore.serialization import message_from_dict
from membercore_adapters.cli import main
from membercore_hl7v2 import Hl7Mapping

from .conftest import code, listening, open_engine, sample, send

#: The samples' hospital, as a mapping file: amounts in US dollars.
_MAPPING = """
[hl7v2]
currency = "USD"

[hl7v2.departments]
default = "outpatient"
"""
#: The payment the samples' DFT^P03 makes: two charges, in US dollars.
_CHARGE = "hl7v2:IMMAPP@GHHSFacility:MSG00001@202108181126+0215:DFT^P03:PATID1234:charge:12345"


@pytest.fixture(autouse=True)
def _chinese_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line speaks its default, Chinese, whatever the machine's MEMBERCORE_LANG."""
    monkeypatch.delenv("MEMBERCORE_LANG", raising=False)


def _file(path: Path, *messages: bytes) -> Path:
    """Messages one after another in a file, as a HIS writes a day's feed."""
    path.write_bytes(
        b"".join(m.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n") + b"\r\n" for m in messages)
    )
    return path


def _mapping(tmp_path: Path, text: str = _MAPPING) -> Path:
    path = tmp_path / "his.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- check ----------------------------------------------------------------------------------


def test_check_prints_what_each_message_becomes_a_json_line_a_fact_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["ADT01-23.hl7", "ORU-R01-RMGEAD.hl7", "DFT-P03-01.hl7"]
    path = _file(tmp_path / "sample.hl7", *(sample(name) for name in names))
    assert main(["hl7", "check", str(path), "--mapping", str(_mapping(tmp_path))]) == 0
    lines = capsys.readouterr().out.splitlines()
    facts = [json.loads(line) for line in lines if line.startswith("{")]
    titles = [line for line in lines if not line.startswith("{")]
    assert titles[0].startswith("byte 0: message 1 (ADT^A01 599102): 成为 3 条事实")
    assert "message 2 (ORU^R01 " in titles[1]
    assert "message 3 (DFT^P03 MSG00001): 成为 6 条事实" in titles[2]
    assert titles[-1] == f"共 3 条消息，{len(facts)} 条事实：3 条可接收，0 条会被拒"
    # Each line is a fact as membercore writes it: it reads back, and names its message.
    assert all(message_from_dict(fact).fact_id.startswith("hl7v2:") for fact in facts)
    assert facts[0]["fact_id"].endswith(":registered")
    assert {fact["type"] for fact in facts} >= {"admitted", "lab_result_recorded", "charge_paid"}
    assert _CHARGE in {fact["fact_id"] for fact in facts}
    assert not list(tmp_path.glob("*.db"))  # no store was opened, none created


def test_check_names_why_a_message_would_be_refused_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path / "sample.hl7", b"hello world", sample("DFT-P03-01.hl7"))
    path.write_bytes(path.read_bytes() + sample("ADT01-23.hl7"))
    assert main(["hl7", "check", str(path), "--lang", "en"]) == 1  # amounts in CNY by default
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "byte 0: message 1: would be refused: not an HL7 v2 message: it does not start with "
        "an MSH segment"
    )
    assert lines[1].endswith(
        "message 2 (DFT^P03 MSG00001): would be refused: FT1 1: FT1-12 is in USD, the "
        "mapping's currency is CNY"
    )
    assert "message 3 (ADT^A01 599102): becomes 3 facts" in lines[2]
    assert lines[-1] == "3 messages, 3 facts: 1 would be taken, 2 would be refused"


def test_check_holds_the_facts_to_the_programme_s_plausibility_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ingestion would refuse as implausible, without a record, check refuses too."""
    huge = sample("DFT-P03-01.hl7").replace(b"|100&USD|50&USD|", b"|99999999999.00&USD|50&USD|")
    path = _file(tmp_path / "sample.hl7", huge)
    mapping = ["--mapping", str(_mapping(tmp_path)), "--lang", "en"]
    assert main(["hl7", "check", str(path), *mapping]) == 1
    printed = capsys.readouterr().out
    assert "would be refused" in printed
    assert "implausible" in printed
    assert "plausibility.max_line_fen" in printed
    store = f"sqlite:///{tmp_path}/m.db"
    assert main(["import", "--source", "hl7v2", str(path), *mapping, "--store", store]) == 1
    assert "plausibility.max_line_fen" in capsys.readouterr().out  # as ingestion refuses it


@pytest.mark.parametrize(
    ("arguments", "status", "said"),
    [
        (["missing.hl7"], 2, "missing.hl7"),
        (["{file}", "--mapping", "missing.toml"], 2, "missing.toml"),
        (["{file}", "--mapping", "{mars}"], 3, "hl7v2.timezone"),
        (["{file}", "--encoding", "gb1803"], 2, "gb1803"),
    ],
    ids=["missing file", "missing mapping", "invalid mapping", "unknown encoding"],
)
def test_check_says_what_it_cannot_use_without_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    status: int,
    said: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    file = _file(tmp_path / "sample.hl7", sample("ADT01-23.hl7"))
    mars = _mapping(tmp_path, '[hl7v2]\ntimezone = "Mars/Olympus"\n')
    named = [a.format(file=file, mars=mars) for a in arguments]
    assert main(["hl7", "check", *named]) == status
    captured = capsys.readouterr()
    assert said in captured.err
    assert "Traceback" not in captured.err
    assert not captured.out


# -- replay ---------------------------------------------------------------------------------


def test_a_message_refused_for_its_mapping_is_taken_when_replayed_with_a_corrected_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    day = _file(tmp_path / "day.hl7", sample("ADT01-23.hl7"), sample("DFT-P03-01.hl7"))
    # No mapping yet: the amounts in US dollars are refused (the mapping's currency is CNY).
    assert main(["ingest", str(day), "--source", "hl7v2", "--store", store]) == 1
    assert main(["member", "journal", "PATID1234", "--store", store]) == 1  # no record
    capsys.readouterr()

    replay = ["hl7", "replay", "--store", store, "--mapping", str(_mapping(tmp_path))]
    assert main([*replay, "--lang", "en"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("message 2 (DFT^P03 MSG00001): taken (6 applied, 0 taken before)")
    assert out[-1] == (
        "1 refused HL7 v2 messages read again: 1 taken, 0 still refused (6 applied, 0 taken before)"
    )
    # The member's record shows the payment (set aside: the samples' patient died in 2008).
    assert main(["member", "journal", "PATID1234", "--store", store]) == 0
    journal = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert _CHARGE in {entry["event"].get("fact_id") for entry in journal}

    # Again: every fact is a duplicate, nothing is applied twice, the record is unchanged.
    assert main(replay) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "重新读取 1 条被拒的 HL7 v2 消息：1 条已接收，0 条仍被拒（0 条已应用，6 条此前已接收）"
    )
    assert main(["member", "journal", "PATID1234", "--store", store]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(journal)
    with open_engine(store) as engine:  # the refusal is kept, with its reason
        (letter,) = engine.dead_letters()
        assert "FT1-12 is in USD" in letter.reason


def test_messages_replay_cannot_mend_stay_refused_and_the_replay_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    broken = sample("ADT01-23.hl7").replace(b"|40007716^^^AccMgr^VN|", b"||")
    day = _file(tmp_path / "day.hl7", b"hello world", broken, sample("DFT-P03-01.hl7"))
    assert main(["ingest", str(day), "--source", "hl7v2", "--store", store]) == 1
    with open_engine(store) as engine:
        before = engine.dead_letters()
    assert len(before) == 3
    capsys.readouterr()

    replay = ["hl7", "replay", "--store", store, "--mapping", str(_mapping(tmp_path))]
    assert main([*replay, "--lang", "en"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(
        "message 1: still refused: not an HL7 v2 message: it does not start with an MSH segment"
    )
    assert out[1].endswith(
        "message 2 (ADT^A01 599102): still refused: PV1-19 (the visit number) is empty"
    )
    assert "message 3 (DFT^P03 MSG00001): taken (6 applied" in out[2]
    assert out[3].startswith("3 refused HL7 v2 messages read again: 1 taken, 2 still refused")
    assert main([*replay, "--lang", "en"]) == 1
    assert "(0 applied, 6 taken before)" in capsys.readouterr().out
    with open_engine(store) as engine:  # refused again with the same text: kept once
        assert engine.dead_letters() == before


def test_a_message_the_listener_refused_is_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    with open_engine(store) as engine:
        (ack,) = listening(engine, lambda port: send(port, sample("DFT-P03-01.hl7")), Hl7Mapping())
        assert code(ack) == "AE"
        (letter,) = engine.dead_letters()
        assert letter.reason.startswith("MLLP message 1 from 127.0.0.1 (DFT^P03 MSG00001): ")
    replay = ["hl7", "replay", "--store", store, "--mapping", str(_mapping(tmp_path))]
    assert main(replay) == 0
    assert "MLLP message 1 from 127.0.0.1 (DFT^P03 MSG00001): 已接收（6 条已应用" in (
        capsys.readouterr().out
    )
    with open_engine(store) as engine:
        assert engine.member("PATID1234").profile.registrations


def test_a_message_refused_as_not_utf8_is_read_again_in_the_encoding_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    gb18030 = sample("ADT01-23.hl7").replace(b"DUCK^DONALD", "王^秀英".encode("gb18030"))
    day = _file(tmp_path / "day.hl7", gb18030)
    assert main(["ingest", str(day), "--source", "hl7v2", "--store", store]) == 1
    assert main(["hl7", "replay", "--store", store]) == 1  # read as UTF-8 again: refused
    assert "仍被拒：not utf-8 text" in capsys.readouterr().out
    assert main(["hl7", "replay", "--store", store, "--encoding", "gb18030"]) == 0
    assert "已接收（3 条已应用" in capsys.readouterr().out
    with open_engine(store) as engine:
        (registration,) = engine.member("10006579").profile.registrations.values()
        assert registration.name == "王先生"  # the bytes kept escaped, read as GB 18030


def test_a_message_kept_cut_short_is_not_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    long = sample("DFT-P03-01.hl7").rstrip(b"\r\n") + b"\r\nNTE|1||" + b"x" * 30_000
    day = _file(tmp_path / "day.hl7", long)
    assert main(["ingest", str(day), "--source", "hl7v2", "--store", store]) == 1
    replay = ["hl7", "replay", "--store", store, "--mapping", str(_mapping(tmp_path))]
    assert main([*replay, "--lang", "en"]) == 1
    assert "still refused: kept cut short" in capsys.readouterr().out
    with open_engine(store) as engine, pytest.raises(UnknownMemberError):
        engine.member("PATID1234")  # nothing of the message cut short was taken


def test_replay_leaves_other_sources_and_the_facts_a_message_became(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path}/m.db"
    lines = tmp_path / "facts.jsonl"
    lines.write_text("MSH|^~\\&|not JSON\n", encoding="utf-8")
    assert main(["ingest", str(lines), "--store", store]) == 1
    admission = sample("ADT01-23.hl7")
    first = _file(tmp_path / "a.hl7", admission)
    assert main(["ingest", str(first), "--source", "hl7v2", "--store", store]) == 0
    # The same message sent again with another phone number: its registration is refused
    # as taken before with other content (a fact, not the message, is kept).
    again = _file(tmp_path / "b.hl7", admission.replace(b"8885551212", b"8885550000"))
    assert main(["ingest", str(again), "--source", "hl7v2", "--store", store]) == 1
    # A result past the size limits: the fact is refused as it is read, and kept as JSON
    # under a digest with no fact type, as an input that could not be read is.
    result = sample("ORU-R01-RMGEAD.hl7").replace(b"|SN|", b"|TX|").replace(b"^182", b"y" * 5000)
    long = _file(tmp_path / "c.hl7", result)
    assert main(["ingest", str(long), "--source", "hl7v2", "--store", store]) == 1
    with open_engine(store) as engine:
        kept = engine.dead_letters()[-1]
        assert (kept.fact_type, kept.fact_id[:6]) == ("", "input:")
        assert kept.payload.startswith('{"type":"lab_result_recorded"')
    capsys.readouterr()
    assert main(["hl7", "replay", "--store", store, "--lang", "en"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the store holds no refused HL7 v2 message"
    assert out[1].startswith("2 facts HL7 v2 messages became were refused too")


def test_replay_needs_a_store_that_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hl7", "replay", "--store", f"sqlite:///{tmp_path}/none.db"]) == 3
    assert "none.db" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


# -- the hook and the help -----------------------------------------------------------------


def test_the_plugin_adds_its_commands_through_membercore_register_commands() -> None:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[membercore_hl7v2])
    hl7 = commands(manager)["hl7"].value
    assert isinstance(hl7, click.Group)
    assert sorted(hl7.commands) == ["check", "replay"]


def test_the_command_line_lists_hl7_beside_the_first_party_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "  hl7 " in listed
    assert "  ingest " in listed


def test_hl7_help_is_chinese_by_default_and_english_with_lang_en(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["hl7", "--help"]) == 0
    chinese = capsys.readouterr().out
    assert "HL7 v2 消息：编写映射时检查样本文件" in chinese
    assert "  check " in chinese
    assert "  replay " in chinese
    assert main(["hl7", "--help", "--lang", "en"]) == 0
    english = capsys.readouterr().out
    assert "check a sample file while writing the mapping" in english
    assert "read the refused HL7 v2 messages again through the corrected mapping" in english
    assert main(["hl7", "replay", "--help", "--lang", "en"]) == 0
    assert "--encoding" in capsys.readouterr().out
