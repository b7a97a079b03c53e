"""What a file of messages' read logs: counts, positions and refusals, no patient's details."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from membercore.ports import Unreadable
from membercore_hl7v2 import Hl7FileSource

from .conftest import MAPPING, sample

PATIENT_DATA = ("王秀英", "赵敏", "13800138000", "13912345678")


def test_a_read_says_what_it_read_and_names_each_refused_message_by_its_control_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    good = (
        sample("ADT-A04-02.hl7")
        .replace(b"ADAM", "王秀英".encode())
        .replace(b"78788788", b"13800138000")
    )
    # The birth date's field holds a name; the message's own phone is another's.
    bad = (
        good.replace(b"|198808181126+0215|M|", "|赵敏|M|".encode())
        .replace(b"MSG00001", b"MSG00002")
        .replace(b"13800138000", b"13912345678")
    )
    path = tmp_path / "day.hl7"
    path.write_bytes(b"junk before any message\r\n" + good + b"\r\n" + bad + b"\r\n")
    read = list(Hl7FileSource(path, MAPPING).read())
    assert sum(isinstance(item.raw, Unreadable) for item in read) == 2
    assert any("赵敏" in item.raw.raw for item in read if isinstance(item.raw, Unreadable))

    logged = [r for r in caplog.records if r.name == "membercore.source.hl7v2"]
    (done,) = [r.getMessage() for r in logged if r.levelno == logging.INFO]
    assert done.startswith(f"read {len(read)} inputs (2 refused) from {path}, after the start")
    assert "message 3 (ADT^A04 MSG00002), in " in done
    refusals = [r.getMessage() for r in logged if r.levelno == logging.DEBUG]
    assert refusals[0].endswith(
        "message 1 refused: not an HL7 v2 message: it does not start with an MSH segment"
    )
    assert refusals[1].endswith("message 3 (ADT^A04 MSG00002) refused: PID-7 '…' is not a date")
    for record in caplog.records:
        for private in PATIENT_DATA:
            assert private not in record.getMessage(), (record.name, record.getMessage())
