"""The database-view source passes membercore's source conformance suite.

The suite writes to two tables of a SQLite database behind two views: registrations
(the patient id, a card number) and outpatient visits naming the patient by card number
alone, each row stamped with the time it was written, as a HIS's modification time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from membercore.testing.sources import SourceContract
from membercore_dbview import DbViewSource, views_from_dict

_WRITTEN = datetime.fromisoformat("2025-03-03 08:00:00")  # naive, as the HIS stores it


class ViewDatabase:
    """A SQLite database the suite writes rows to, polled through its two views."""

    def __init__(self, path: Path) -> None:
        self.name = "dbview:conformance"
        self.engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
        self.metadata = sa.MetaData()
        self.patients = sa.Table(
            "patients",
            self.metadata,
            sa.Column("病人ID", sa.String, primary_key=True),
            sa.Column("就诊卡号", sa.String),
            sa.Column("建档时间", sa.DateTime),
            sa.Column("修改时间", sa.DateTime),
        )
        self.visits = sa.Table(
            "visits",
            self.metadata,
            sa.Column("就诊号", sa.String, primary_key=True),
            sa.Column("就诊卡号", sa.String),
            sa.Column("就诊时间", sa.String),
            sa.Column("修改时间", sa.DateTime),
        )
        self.metadata.create_all(self.engine)
        self.written = 0
        self.config = views_from_dict(_views(path), {})

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        self._insert(self.patients, {"病人ID": patient_id, "就诊卡号": card, "建档时间": at})

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        self._insert(
            self.visits, {"就诊号": visit_id, "就诊卡号": card, "就诊时间": at.isoformat()}
        )

    def untranslatable(self) -> str:
        self._insert(self.visits, {"就诊号": "v-bad", "就诊卡号": "card-0", "就诊时间": "待定"})
        return '"就诊时间": "待定"'

    def source(self, after: str | None) -> DbViewSource:
        return DbViewSource(self.config, after=after)

    def _insert(self, table: sa.Table, row: dict[str, object]) -> None:
        # Every row a second after the one before, two sharing each second.
        self.written += 1
        changed = _WRITTEN + timedelta(seconds=self.written // 2)
        with self.engine.begin() as connection:
            connection.execute(table.insert(), [{**row, "修改时间": changed}])


def _views(path: Path) -> dict[str, object]:
    return {
        "dbview": {
            "url": f"sqlite:///{path}",
            "page_size": 3,
            "views": {
                "patients": {
                    "view": "patients",
                    "watermark": "修改时间",
                    "fact": "patient_registered",
                    "key": "病人ID",
                    "patient": "病人ID",
                    "identifiers": {"就诊卡号": "HZ01^CARD"},
                    "columns": {"occurred_at": "建档时间"},
                },
                "visits": {
                    "view": "visits",
                    "watermark": "修改时间",
                    "fact": "visit_completed",
                    "key": "就诊号",
                    "patient": {"identifier": "就诊卡号", "system": "HZ01^CARD"},
                    "columns": {"occurred_at": "就诊时间", "visit_id": "就诊号"},
                    "constants": {"department": "internal", "encounter_class": "outpatient"},
                },
            },
        }
    }


class TestDbViewSource(SourceContract):
    @pytest.fixture
    def feed(self, tmp_path: Path) -> ViewDatabase:
        return ViewDatabase(tmp_path / "his.db")
