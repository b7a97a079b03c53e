"""The console channel and the JSON-lines source: the first-party plugins' adapters."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from membercore import message_to_dict, reference_config
from membercore.facts import LabResultRecorded, PatientRegistered
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import Channel, Commit, HisSource, OutboxMessage, Unreadable
from membercore.service.dispatch import DispatchReport, dispatch
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.channels import console
from membercore_adapters.channels.console import ConsoleChannel
from membercore_adapters.his import jsonl
from membercore_adapters.his.jsonl import JsonLinesSource
from membercore_adapters.stores.memory import MemoryStore

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _message(n: int, channel: str = "console") -> OutboxMessage:
    payload = {"template_key": "renewal_7", "text": f"陈女士您好，您的会员将于7天后到期。({n})"}
    return OutboxMessage(
        message_id=f"p-chen/msg/{n}",
        key="member:p-chen",
        channel=channel,
        payload=json.dumps(payload, ensure_ascii=False),
        send_at=T0,
    )


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _plugins(module: object) -> Plugins:
    return collect(
        make_plugin_manager(load_entrypoints=False, plugins=[module]), reference_config()
    )


# -- the console channel ---------------------------------------------------------------


def test_the_console_plugin_builds_a_channel_writing_to_a_file_path(tmp_path: Path) -> None:
    out = tmp_path / "outbox.jsonl"
    channel = _plugins(console).channels["console"].value({"path": str(out)})
    assert isinstance(channel, Channel)
    assert channel.name == "console"
    assert channel.send(_message(1)) == "p-chen/msg/1"
    assert _lines(out) == [
        {
            "message_id": "p-chen/msg/1",
            "channel": "console",
            "member": "member:p-chen",
            "send_at": "2026-03-02T02:00:00+00:00",
            "message": json.loads(_message(1).payload),
        }
    ]


def test_each_message_is_one_json_line_appended_to_what_the_file_holds(tmp_path: Path) -> None:
    out = tmp_path / "outbox.jsonl"
    out.write_text('{"message_id": "earlier"}\n', encoding="utf-8")
    channel = ConsoleChannel.from_options({"path": str(out)})
    for n in (1, 2, 3):
        channel.send(_message(n))
    assert [line["message_id"] for line in _lines(out)] == [
        "earlier",
        "p-chen/msg/1",
        "p-chen/msg/2",
        "p-chen/msg/3",
    ]


def test_chinese_text_is_written_as_it_is(tmp_path: Path) -> None:
    out = tmp_path / "outbox.jsonl"
    ConsoleChannel.from_options({"path": str(out)}).send(_message(1))
    assert "陈女士您好" in out.read_text(encoding="utf-8")


def test_a_file_moved_away_is_followed_by_a_new_one(tmp_path: Path) -> None:
    # Log rotation: nothing is held open, so the next line goes to the path, not the
    # moved file.
    out = tmp_path / "outbox.jsonl"
    channel = ConsoleChannel.from_options({"path": str(out)})
    channel.send(_message(1))
    out.rename(tmp_path / "outbox.1.jsonl")
    channel.send(_message(2))
    assert [line["message_id"] for line in _lines(out)] == ["p-chen/msg/2"]
    assert [line["message_id"] for line in _lines(tmp_path / "outbox.1.jsonl")] == ["p-chen/msg/1"]


def test_the_channel_answers_to_the_name_it_is_given(tmp_path: Path) -> None:
    channel = ConsoleChannel.from_options({"name": "wecom", "path": str(tmp_path / "o.jsonl")})
    assert channel.name == "wecom"


def test_without_a_path_the_channel_writes_to_standard_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ConsoleChannel.from_options({}).send(_message(1))
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["message_id"] == "p-chen/msg/1"


def test_the_channel_writes_to_a_stream_it_is_given() -> None:
    stream = io.StringIO()
    channel = ConsoleChannel("console", stream)
    channel.send(_message(1))
    channel.send(_message(2))
    assert [json.loads(line)["message_id"] for line in stream.getvalue().splitlines()] == [
        "p-chen/msg/1",
        "p-chen/msg/2",
    ]


def test_the_dispatcher_delivers_the_outbox_through_the_console_channel(tmp_path: Path) -> None:
    out = tmp_path / "outbox.jsonl"
    with MemoryStore() as store:
        store.commit(Commit(outbox=[_message(1), _message(2)]))
        channels = {"console": ConsoleChannel.from_options({"path": str(out)})}
        assert dispatch(store, channels, T0) == DispatchReport(delivered=2)
        assert dispatch(store, channels, T0) == DispatchReport()
        assert {m.status for m in store.outbox()} == {"delivered"}
    assert [line["message_id"] for line in _lines(out)] == ["p-chen/msg/1", "p-chen/msg/2"]


# -- the JSON-lines source --------------------------------------------------------------


def _registered(n: int) -> PatientRegistered:
    return PatientRegistered(fact_id=f"his-reg-{n}", patient_id=f"p-{n}", occurred_at=T0)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    lab = LabResultRecorded(
        fact_id="his-lab-1", patient_id="p-1", occurred_at=T0, test="hba1c", value="7.9"
    )
    lines = [
        json.dumps(message_to_dict(_registered(1)), ensure_ascii=False),
        "",
        "MSH|^~\\&|HIS|WARD7|||20260302||ADT^A01|1|P|2.5",
        "   ",
        json.dumps(message_to_dict(lab)),
        "[1, 2, 3]",
        '{"type": "meal_ordered", "fact_id": "his-9", "patient_id": "p-1"}',
    ]
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_jsonl_plugin_builds_a_source_from_a_path(feed: Path) -> None:
    source = _plugins(jsonl).sources["jsonl"].value({"path": str(feed)})
    assert isinstance(source, HisSource)
    assert source.name == "jsonl"


def test_the_source_streams_every_non_blank_line_as_its_text(feed: Path) -> None:
    read = JsonLinesSource.from_options({"path": str(feed)}).read()
    assert isinstance(read, Iterator)
    first = next(read)  # streamed: one line at a time
    assert (first.raw, first.place) == (json.dumps(message_to_dict(_registered(1))), "line 1")
    assert first.position.startswith("line 1 of ")  # and the start of the file it was in
    lines = feed.read_text(encoding="utf-8").splitlines()
    expected = [(line, f"line {n}") for n, line in enumerate(lines, start=1) if line.strip()]
    assert [(p.raw, p.place) for p in read] == expected[1:]


def test_a_line_that_is_not_utf8_is_unreadable_with_its_line_number_and_the_rest_is_taken(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.jsonl"
    good = [json.dumps(message_to_dict(_registered(n))).encode("utf-8") for n in (1, 2)]
    path.write_bytes(good[0] + b"\n" + b'{"name": "\xff\xfe"}\n' + good[1] + b"\n")
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(T0)) as engine:
        report = engine.ingest(JsonLinesSource(path).read())
        assert (report.applied, report.rejected) == (2, 1)
        (letter,) = engine.store.dead_letters()
    assert letter.reason.startswith("line 2: ")
    assert "not UTF-8 text (byte 0xff at position 10)" in letter.reason
    assert letter.payload == '{"name": "\\xff\\xfe"}'


def test_a_byte_order_mark_does_not_hide_the_first_fact(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    text = json.dumps(message_to_dict(_registered(1))) + "\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    text = json.dumps(message_to_dict(_registered(1)))
    assert [(p.raw, p.place) for p in JsonLinesSource(path).read()] == [(text, "line 1")]


def test_lines_ended_by_a_carriage_return_alone_are_lines_too(tmp_path: Path) -> None:
    path = tmp_path / "old-mac.jsonl"
    texts = [json.dumps(message_to_dict(_registered(n))) for n in (1, 2, 3)]
    path.write_bytes("\r".join(texts).encode("utf-8") + b"\r\n")
    read = list(JsonLinesSource(path).read())
    assert [item.raw for item in read] == texts
    assert [item.place for item in read] == ["line 1", "line 2", "line 3"]


def test_a_line_longer_than_the_bound_is_unreadable_without_being_read_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "long.jsonl"
    text = json.dumps(message_to_dict(_registered(1)))
    path.write_bytes(b"x" * 10_000 + b"\n" + text.encode("utf-8") + b"\n")
    long, good = JsonLinesSource(path, max_line=1_000).read()
    assert isinstance(long.raw, Unreadable)
    assert long.raw.reason == "a line of 10001 bytes, longer than 1000"
    assert len(long.raw.raw) <= 201
    assert (good.raw, good.place) == (text, "line 2")


def test_the_engine_dead_letters_what_the_source_could_not_read_with_the_reason(
    feed: Path,
) -> None:
    source = JsonLinesSource.from_options({"path": str(feed)})
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(T0)) as engine:
        report = engine.ingest(source.read())
        assert (report.applied, report.rejected) == (2, 3)
        letters = {letter.payload: letter for letter in engine.store.dead_letters()}
        assert engine.member("p-1").member_id == "p-1"
    hl7 = letters["MSH|^~\\&|HIS|WARD7|||20260302||ADT^A01|1|P|2.5"]
    assert "not JSON" in hl7.reason
    assert "a message is a JSON object" in letters["[1, 2, 3]"].reason
    (unknown,) = (letter for letter in letters.values() if letter.fact_id == "his-9")
    assert "meal_ordered" in unknown.reason
