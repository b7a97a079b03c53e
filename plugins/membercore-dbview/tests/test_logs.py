"""What a poll of the views logs: counts, watermarks and refused rows, no patient's details."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from membercore.ports import Unreadable
from membercore_dbview import DbViewSource, load_views

from .conftest import HisDatabase, charge, diagnosis, patient, views_toml

PATIENT_DATA = ("王秀英", "李建国", "13800138000", "13912345678", "330102198005011234")


def test_a_poll_says_what_it_read_and_names_each_refused_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    his = HisDatabase(f"sqlite:///{tmp_path}/his.db")
    try:
        his.insert(
            "his_patient",
            patient(
                "P001",
                "C-555",
                "2025-03-01 09:00:00",
                id_card="330102198005011234",
                phone="13800138000",
            ),
            patient("P002", "C-777", "2025-03-01 09:30:00", name="李建国", phone="13912345678"),
        )
        his.insert("his_mz_sfmx", charge("SF001", 1, "C-555", "128.00", "2025-03-02 10:30:00"))
        # The diagnosis time holds a patient's name: refused.
        his.insert("his_mz_zd", diagnosis(1, "C-777", "TNB01", "王秀英"))
        views = tmp_path / "views.toml"
        views.write_text(views_toml(his), encoding="utf-8")
        read = list(DbViewSource(load_views(views)).read())
    finally:
        his.close()
    assert sum(isinstance(item.raw, Unreadable) for item in read) == 1

    logged = [r for r in caplog.records if r.name == "membercore.source.dbview"]
    (done,) = [r.getMessage() for r in logged if r.levelno == logging.INFO]
    assert done.startswith(
        f"read {len(read)} inputs (1 refused) from views patients, charges, diagnoses, "
        "after the start, to {"
    )
    (refusal,) = [r.getMessage() for r in logged if r.levelno == logging.DEBUG]
    assert refusal == (
        "view diagnoses, row 1 at 1 refused: column '诊断时间' (occurred_at): '…' is not a "
        "date and time (2026-03-02 10:30:00)"
    )
    for record in caplog.records:
        for private in PATIENT_DATA:
            assert private not in record.getMessage(), (record.name, record.getMessage())
