"""The CSV source passes membercore's source conformance suite.

The suite writes one export of two kinds of row, as a HIS's event export is: a
registration (类型 建档: the patient id and a card number) and an outpatient visit (类型
就诊: named by card number alone), the kind in the column 类型.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from membercore.testing.sources import SourceContract
from membercore_adapters.his.csvfile import CsvSource
from membercore_adapters.his.exports import export_mapping
from membercore_adapters.his.jsonl import line_of

_MAPPING = {
    "csv": {
        "type_column": "类型",
        "tables": {
            "建档": {
                "fact": "patient_registered",
                "key": "病人ID",
                "patient": "病人ID",
                "identifiers": {"就诊卡号": "HZ01^CARD"},
                "columns": {"occurred_at": "时间"},
            },
            "就诊": {
                "fact": "visit_completed",
                "key": "就诊号",
                "patient": {"identifier": "就诊卡号", "system": "HZ01^CARD"},
                "columns": {"occurred_at": "时间", "visit_id": "就诊号"},
                "constants": {"department": "internal"},
            },
        },
    }
}
_HEADER = ["类型", "病人ID", "就诊卡号", "就诊号", "时间"]


class ExportFile:
    """A CSV export the suite appends rows to, a visit's name of the clinic on two lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"csv:{path}"
        self.mapping = export_mapping(_MAPPING)
        self._append(_HEADER)

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        self._append(["建档", patient_id, card, "", at.isoformat()])

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        self._append(["就诊", "", card, visit_id, at.isoformat()])

    def untranslatable(self) -> str:
        self._append(["就诊", "", "card-0", "v-bad", "下周二\n上午"])
        return "下周二"

    def source(self, after: str | None) -> CsvSource:
        return CsvSource(self.path, self.mapping, after=line_of(after))

    def _append(self, row: list[str]) -> None:
        with self.path.open("a", encoding="utf-8", newline="") as file:
            csv.writer(file).writerow(row)


class TestCsvSource(SourceContract):
    @pytest.fixture
    def feed(self, tmp_path: Path) -> ExportFile:
        return ExportFile(tmp_path / "export.csv")


def test_a_row_of_a_kind_no_table_reads_is_refused_naming_its_kind(tmp_path: Path) -> None:
    feed = ExportFile(tmp_path / "export.csv")
    feed._append(["退费", "", "card-0", "", "2025-03-03 09:00:00"])
    (read,) = list(feed.source(None).read())
    assert read.place == "line 2"
    assert "'退费' is none of 建档, 就诊" in getattr(read.raw, "reason", "")


def test_row_tables_by_kind_need_the_column_that_names_the_kind() -> None:
    from membercore.errors import ConfigError  # noqa: PLC0415

    tables = _MAPPING["csv"]["tables"]
    with pytest.raises(ConfigError) as refused:
        export_mapping({"csv": {"tables": tables}})
    assert refused.value.key == "csv.tables"
    visit = dict(tables["就诊"], columns={"occurred_at": "时间"})
    with pytest.raises(ConfigError) as refused:
        export_mapping({"csv": {"type_column": "类型", "tables": {"就诊": visit}}})
    assert refused.value.key == "csv.tables.就诊.columns.visit_id"
