"""The HL7 v2 file source passes membercore's source conformance suite."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from membercore.testing.sources import SourceContract
from membercore_hl7v2 import Hl7FileSource, mapping_from_dict, resume_offset

_ZONE = ZoneInfo("Asia/Shanghai")
_MAPPING = mapping_from_dict({"hl7v2": {"departments": {"default": "internal"}}})


class MessageFile:
    """A file the suite appends ADT messages to: A04 registrations, A03 outpatient visits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"hl7v2:{path}"
        self.sent = 0
        path.write_bytes(b"")

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        pid = f"PID|1||{patient_id}^^^HZ01^MR~{card}^^^HZ01^CARD||王^秀英||19800101|F"
        self._append("ADT^A04", at, pid, f"PV1|1|O|||||||||||||||||{card}-reg")

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        discharged = self._time(at)
        pv1 = f"PV1|1|O|||||||||||||||||{visit_id}|||||||||||||||||||||||||{discharged}"
        self._append("ADT^A03", at, f"PID|1||{card}^^^HZ01^CARD", pv1)

    def untranslatable(self) -> str:
        at = datetime(2025, 3, 4, 9, 0, tzinfo=_ZONE)
        control = self._append("ADT^A03", at, "PID|1||card-x^^^HZ01^CARD", "PV1|1|O")
        return control

    def source(self, after: str | None) -> Hl7FileSource:
        return Hl7FileSource(self.path, _MAPPING, after=resume_offset(after, self.path))

    def _append(self, kind: str, at: datetime, *segments: str) -> str:
        self.sent += 1
        control = f"CTL{self.sent:05d}"
        msh = f"MSH|^~\\&|HIS|HZ01|MEMBERCORE|HZ01|{self._time(at)}||{kind}|{control}|P|2.5"
        evn = f"EVN|{kind[-3:]}|{self._time(at)}"
        text = "\r".join((msh, evn, *segments)) + "\r"
        with self.path.open("ab") as file:
            file.write(text.encode())
        return control

    @staticmethod
    def _time(at: datetime) -> str:
        return at.astimezone(_ZONE).strftime("%Y%m%d%H%M%S")


class TestHl7FileSource(SourceContract):
    @pytest.fixture
    def feed(self, tmp_path: Path) -> MessageFile:
        return MessageFile(tmp_path / "adt.hl7")
