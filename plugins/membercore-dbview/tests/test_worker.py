"""``membercore worker --poll dbview:views.toml`` as a process: polling, then stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from membercore_dbview import marks_from

from .conftest import HisDatabase, charge, open_engine, patient, views_toml


def _until(done: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the worker did not take the rows in time"
        time.sleep(0.1)


def test_the_worker_polls_the_views_from_the_watermark_it_committed(tmp_path: Path) -> None:
    his = HisDatabase(f"sqlite:///{tmp_path}/his.db")
    his.insert("his_patient", patient("P001", "C-555", "2025-03-01 09:00:00"))
    his.insert("his_mz_sfmx", charge("SF001", 1, "C-555", "128.00", "2025-03-02 10:30:00"))
    views = tmp_path / "views.toml"
    views.write_text(views_toml(his), encoding="utf-8")
    store = f"sqlite:///{tmp_path}/store.db"
    name = f"dbview:{views.resolve()}"

    def taken(key: str) -> bool:
        with open_engine(store) as engine:
            mark = marks_from(engine.position(name), ["charges"])["charges"]
        return mark is not None and mark.key[0] == key

    command = [
        sys.executable,
        "-m",
        "membercore_adapters.cli",
        "worker",
        "--store",
        store,
        "--poll",
        f"dbview:{views}",
        "--poll-every",
        "0.2",
        "--tick-every",
        "0",
        "--dispatch-every",
        "0",
    ]
    worker = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        _until(lambda: taken("SF001"))
        his.insert("his_mz_sfmx", charge("SF002", 1, "C-555", "80.00", "2025-03-02 10:40:00"))
        _until(lambda: taken("SF002"))
    finally:
        worker.send_signal(signal.SIGTERM)
        _, logged = worker.communicate(timeout=30)
        his.close()
    assert worker.returncode == 0, logged
    assert "worker stopped" in logged
    with open_engine(store) as engine:
        lots = engine.member("P001").ledger.lots.values()
        assert {held.lot.reference for held in lots if held.lot.basis_fen} == {"SF001-1", "SF002-1"}
