"""What the first-party sources log of a read: counts and places, never a patient's details."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from membercore.ports import Positioned, Unreadable
from membercore_adapters.his.csvfile import CsvSource
from membercore_adapters.his.excel import XlsxSource
from membercore_adapters.his.exports import export_mapping
from membercore_adapters.his.jsonl import JsonLinesSource
from membercore_adapters.his.logs import logged_read, masked

# What the inputs hold that no log may say: names, mobile numbers, an identity card.
PATIENT_DATA = (
    "王秀英",
    "李建国",
    "赵敏",
    "张伟",
    "13800138000",
    "13912345678",
    "330102198001011234",
)

PATIENTS_MAP = """
[csv]
fact = "patient_registered"
key = "病人ID"
patient = "病人ID"

[csv.columns]
occurred_at = "建档时间"
name = "姓名"
sex = "性别"
birth_date = "出生日期"
phone = "手机号"
"""

PATIENTS = (
    "病人ID,姓名,性别,出生日期,手机号,建档时间\n"
    "P001,王秀英,女,1980-01-01,13800138000,2025-03-01 09:00:00\n"
    # Shifted: the mobile number where the time belongs, the name where the birth date does.
    "P002,李建国,男,1975-06-30,,13912345678\n"
    "P003,赵敏,女,赵敏,,2025-03-01 10:00:00\n"
    "P004,张伟,男\n"
)


@pytest.fixture
def said(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    return caplog


def _of(caplog: pytest.LogCaptureFixture, name: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name and r.levelno == level]


def _no_patient_data(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records
    for record in caplog.records:
        said = record.getMessage()
        for private in PATIENT_DATA:
            assert private not in said, (record.name, record.levelname, said)


def test_a_csv_read_says_what_it_read_and_each_refusal_without_patient_data(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "patients.csv"
    gbk_row = "P005,王秀英,女,1980-01-01,13800138000,2025-03-01 11:00:00\n".encode("gbk")
    path.write_bytes(PATIENTS.encode() + gbk_row)
    source = CsvSource(path, export_mapping(tomllib.loads(PATIENTS_MAP)))
    read = list(source.read())
    assert sum(isinstance(item.raw, Unreadable) for item in read) == 4
    assert any("王秀英" in str(item.raw) for item in read)  # the inputs hold it all

    (done,) = _of(said, "membercore.source.csv", logging.INFO)
    assert done.startswith(f"read 5 inputs (4 refused) from {path}, after the start, to line 6 ")
    assert done.endswith(" ms")
    refusals = _of(said, "membercore.source.csv", logging.DEBUG)
    assert refusals == [
        "line 3 refused: column '建档时间' (occurred_at): '…' is not a date and time "
        "(2026-03-02 10:30:00)",
        "line 4 refused: column '出生日期' (birth_date): '…' is not a date and time "
        "(2026-03-02 10:30:00)",
        "line 5 refused: 3 fields where the header names 6",
        "line 6 refused: line 6 is not UTF-8 text (byte 0xcd at position 5); "
        "--encoding names the file's encoding",
    ]
    _no_patient_data(said)


def test_a_jsonl_read_says_what_it_read_from_where_to_where(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "facts.jsonl"
    lines = [
        '{"type": "patient_registered", "fact_id": "r1", "patient_id": "P1", '
        '"occurred_at": "2025-03-01T09:00:00+08:00", "name": "王秀英", "phone": "13800138000"}',
        '{"type": "patient_registered", "name": "李建国", "phone": "13912345678"}',
    ]
    path.write_bytes("\n".join(lines).encode() + b"\n" + "赵敏 330102198001011234\n".encode("gbk"))
    assert len(list(JsonLinesSource(path).read())) == 3
    assert len(list(JsonLinesSource(path, after=2).read())) == 1
    done = _of(said, "membercore.source.jsonl", logging.INFO)
    assert done[0].startswith(f"read 3 inputs (1 refused) from {path}, after the start, to line 3")
    assert done[1].startswith(f"read 1 inputs (1 refused) from {path}, after line 2, to line 3")
    refused = _of(said, "membercore.source.jsonl", logging.DEBUG)
    assert refused == ["line 3 refused: not UTF-8 text (byte 0xd5 at position 0)"] * 2
    _no_patient_data(said)


def test_a_read_that_finds_nothing_new_says_so_only_at_debug(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_text('{"type": "patient_registered"}\n', encoding="utf-8")
    assert list(JsonLinesSource(path, after=1).read()) == []
    assert _of(said, "membercore.source.jsonl", logging.INFO) == []
    (quiet,) = _of(said, "membercore.source.jsonl", logging.DEBUG)
    assert quiet.startswith(f"read 0 inputs (0 refused) from {path}, after line 1")


def test_a_read_stopped_midway_says_how_far_it_came(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_text('{"type": "a"}\n{"type": "b"}\n{"type": "c"}\n', encoding="utf-8")
    reading = JsonLinesSource(path).read()
    next(reading)
    reading.close()  # type: ignore[attr-defined]
    (stopped,) = _of(said, "membercore.source.jsonl", logging.INFO)
    assert stopped.startswith(f"stopped after 1 inputs (0 refused) from {path}, after the start")


def test_an_excel_read_is_logged_as_a_csv_read_is(
    tmp_path: Path, said: pytest.LogCaptureFixture
) -> None:
    import openpyxl  # noqa: PLC0415 - the excel extra's, installed with the dev extra

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for line in PATIENTS.splitlines():
        sheet.append(line.split(","))
    path = tmp_path / "patients.xlsx"
    workbook.save(path)
    list(XlsxSource(path, export_mapping(tomllib.loads(PATIENTS_MAP))).read())
    (done,) = _of(said, "membercore.source.xlsx", logging.INFO)
    assert done.startswith(f"read 4 inputs (3 refused) from {path}, after the start, to row 5 ")
    assert _of(said, "membercore.source.xlsx", logging.DEBUG)[1:] == [
        "row 4 refused: column '出生日期' (birth_date): '…' is not a date and time "
        "(2026-03-02 10:30:00)",
        "row 5 refused: column '建档时间' (occurred_at) is empty",
    ]
    _no_patient_data(said)


def test_a_reason_keeps_the_names_it_is_told_and_masks_every_other_quoted_value() -> None:
    reason = "column '金额' (amount): '12.345' yuan is finer than a fen (\"O'Brien\")"
    assert masked(reason, keep={"金额"}) == (
        "column '金额' (amount): '…' yuan is finer than a fen (\"…\")"
    )
    assert masked("the patient's card 13800138000 is 330102198001011234") == (
        "the patient's card … is …"
    )


def test_commands_paired_with_their_instant_are_counted_and_their_refusals_named(
    said: pytest.LogCaptureFixture,
) -> None:
    inputs = [
        ("instant", Positioned(raw={"type": "a"}, position="p1")),
        Positioned(raw=Unreadable(raw="王秀英", reason="'王秀英' is not JSON"), position="p2"),
    ]
    assert list(logged_read("test", inputs, what="a list", after="p0")) == inputs
    (done,) = _of(said, "membercore.source.test", logging.INFO)
    assert done.startswith("read 2 inputs (1 refused) from a list, after p0, to p2, in ")
    assert _of(said, "membercore.source.test", logging.DEBUG) == ["p2 refused: '…' is not JSON"]
