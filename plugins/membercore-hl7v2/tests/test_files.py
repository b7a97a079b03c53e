"""Files of messages: batches, separators, byte-order marks, resuming, and the command line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from membercore.ports import Unreadable
from membercore_adapters.cli import main
from membercore_hl7v2 import Hl7FileSource, resume_offset
from membercore_hl7v2.files import SETTLED

from .conftest import MAPPING, open_engine, sample, sample_names

_MAPPING_TOML = """
[hl7v2]
currency = "USD"

[hl7v2.departments]
default = "outpatient"
"""


def _batch(path: Path, names: list[str], *, separator: bytes = b"\r\n") -> Path:
    """The samples as one batch file: FHS/BHS envelope, a byte-order mark, ``separator``."""
    body = [
        sample(name).removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n").replace(b"\n", separator)
        for name in names
    ]
    data = separator.join(
        [b"FHS|^~\\&|HIS", b"BHS|^~\\&|HIS", *body, f"BTS|{len(body)}".encode(), b"FTS|1"]
    )
    path.write_bytes(b"\xef\xbb\xbf" + data + separator)
    return path


@pytest.mark.parametrize("separator", [b"\r", b"\n", b"\r\n"])
def test_a_batch_file_is_read_message_by_message_whatever_ends_its_segments(
    tmp_path: Path, separator: bytes
) -> None:
    names = sample_names()
    path = _batch(tmp_path / "day.hl7", names, separator=separator)
    read = list(Hl7FileSource(path, MAPPING).read())
    assert not [i for i in read if isinstance(i.raw, Unreadable)]
    controls = {p.position.rsplit("(", 1)[1].split()[1].rstrip(")") for p in read}
    assert controls >= {"599102", "182", "CNTRL-3456", "8919-40", "MSG00012"}
    # The last input of each message names the byte after it: resuming there reads the rest.
    offsets = sorted({resume_offset(p.position) for p in read})
    after_first = Hl7FileSource(path, MAPPING, after=offsets[1])
    assert len(list(after_first.read())) < len(read)


def test_import_exits_0_when_every_message_became_facts(tmp_path: Path) -> None:
    mapping = tmp_path / "his.toml"
    mapping.write_text(_MAPPING_TOML, encoding="utf-8")
    path = _batch(tmp_path / "day.hl7", sample_names())
    store = f"sqlite:///{tmp_path}/m.db"
    arguments = ["--source", "hl7v2", "--mapping", str(mapping), "--store", store]
    assert main(["import", str(path), *arguments]) == 0
    # A replay of the same day's file: every message is a duplicate, still 0.
    assert main(["import", str(path), *arguments]) == 0
    with open_engine(store) as engine:
        assert engine.member("10006579").profile.registrations
        assert not engine.dead_letters()


def test_import_exits_1_naming_the_message_that_became_a_dead_letter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.hl7"
    path.write_bytes(sample("ADT01-23.hl7").replace(b"|40007716^^^AccMgr^VN|", b"||"))
    store = f"sqlite:///{tmp_path}/m.db"
    assert main(["import", str(path), "--source", "hl7v2", "--store", store]) == 1
    assert "1 条被拒" in capsys.readouterr().out
    assert main(["dead-letters", "--store", store, "--raw"]) == 0
    listed = capsys.readouterr().out
    assert "message 1 (ADT^A01 599102)" in listed
    assert "PV1-19" in listed
    assert "    MSH|^~\\&|AccMgr|1|||20050110045504+0700||ADT^A01|599102|P|2.3" in listed


def test_a_mapping_with_a_wrong_key_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "his.toml"
    mapping.write_text('[hl7v2]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    path = _batch(tmp_path / "day.hl7", ["ADT01-23.hl7"])
    arguments = ["--source", "hl7v2", "--mapping", str(mapping)]
    assert main(["import", str(path), *arguments, "--store", f"sqlite:///{tmp_path}/m.db"]) == 1
    assert "hl7v2.timezone" in capsys.readouterr().err


def test_ingest_resumes_after_the_position_its_last_run_committed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["ADT01-23.hl7", "LAB-ORU-1.hl7", "ORU-R01-RMGEAD.hl7"]
    path = _batch(tmp_path / "day.hl7", names)
    store = f"sqlite:///{tmp_path}/m.db"
    arguments = ["--source", "hl7v2", "--store", store]
    assert main(["ingest", str(path), *arguments, "--mapping", str(_mapping(tmp_path))]) == 0
    with open_engine(store) as engine:
        position = engine.position(f"hl7v2:{path.resolve()}")
    assert position is not None
    assert resume_offset(position) == path.stat().st_size - len(b"BTS|3\r\nFTS|1\r\n")
    # The same day's file, grown by a message: --resume reads only the new one.
    grown = path.read_bytes().replace(
        b"BTS|3", sample("ADT-A04-02.hl7").replace(b"\n", b"\r\n") + b"BTS|4"
    )
    path.write_bytes(grown)
    capsys.readouterr()
    resumed = [*arguments, "--resume", "--mapping", str(_mapping(tmp_path))]
    assert main(["ingest", str(path), *resumed]) == 0
    # The A04's registration and the death its PID reports; nothing of the first run.
    assert "读到末尾共 2 条输入：2 条已应用，0 条重复" in capsys.readouterr().out
    with open_engine(store) as engine:
        assert engine.member("PATID1234").identity.died_at is not None


def _settle(path: Path) -> None:
    """The file as the HIS leaves it once it stopped writing (changed a while ago)."""
    before = time.time() - SETTLED - 1
    os.utime(path, (before, before))


def _mapping(tmp_path: Path) -> Path:
    mapping = tmp_path / "his.toml"
    mapping.write_text(_MAPPING_TOML, encoding="utf-8")
    return mapping


def test_text_that_is_no_message_is_refused_and_kept_never_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.hl7"
    path.write_bytes(b"hello world\n" + sample("ADT01-23.hl7"))
    store = f"sqlite:///{tmp_path}/m.db"
    assert main(["import", str(path), "--source", "hl7v2", "--store", store]) == 1
    assert "1 条被拒" in capsys.readouterr().out
    with open_engine(store) as engine:
        (letter,) = engine.dead_letters()
        assert letter.payload == "hello world\n"
        assert "not an HL7 v2 message" in letter.reason
        assert engine.member("10006579").profile.registrations  # the message after it


def test_ingest_resume_leaves_a_message_being_written_and_reads_a_replaced_file_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "today.hl7"
    admission = sample("ADT01-23.hl7").rstrip(b"\n") + b"\n"
    result = sample("ORU-R01-RMGEAD.hl7").rstrip(b"\n") + b"\n"
    path.write_bytes(admission + result[:100])  # the result is being written
    store = f"sqlite:///{tmp_path}/m.db"
    resumed = ["--source", "hl7v2", "--mapping", str(_mapping(tmp_path)), "--resume"]
    assert main(["ingest", str(path), *resumed, "--store", store]) == 0
    assert "0 条被拒" in capsys.readouterr().out
    path.write_bytes(admission + result)
    assert main(["ingest", str(path), *resumed, "--store", store]) == 0
    assert "读到末尾共 0 条输入" in capsys.readouterr().out  # just written: it may go on
    _settle(path)
    assert main(["ingest", str(path), *resumed, "--store", store]) == 0
    # The result alone: its registration and the result (the admission was taken).
    assert "读到末尾共 2 条输入：2 条已应用" in capsys.readouterr().out
    # Rotated: a new day's file under the same name is read from its start.
    path.write_bytes(sample("SIU-S12-01.hl7"))
    _settle(path)
    assert main(["ingest", str(path), *resumed, "--store", store]) == 0
    assert "0 条重复" in capsys.readouterr().out
    with open_engine(store) as engine:
        assert not engine.dead_letters()
        assert engine.member("555-44-4444").profile.registrations


def test_a_worker_polling_with_a_mapping_it_cannot_read_stops_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    polled = ["--poll", f"hl7v2:{tmp_path}/adt.hl7", "--mapping", f"{tmp_path}/nonexist.toml"]
    assert main(["worker", *polled, "--store", f"sqlite:///{tmp_path}/m.db"]) == 2
    assert "nonexist.toml" in capsys.readouterr().err
