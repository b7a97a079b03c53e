"""``membercore ingest --source fhir-server`` and ``membercore worker --poll fhir-server:...``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from membercore_adapters.cli import main

from .fhirserver import FhirServer
from .serverkit import open_engine, patient, visit, visits


def _settings(path: Path, server: FhirServer, extra: str = "") -> Path:
    path.write_text(
        f"""
[fhir_server]
base_url = "{server.base_url}"
types = ["Patient", "Encounter"]
page_size = 2
backoff_seconds = 0.01
{extra}

[fhir_server.auth]
method = "bearer"
token_env = "HIS_FHIR_TOKEN"

[fhir_subscription]
path = "/notify"

[fhir]
sender = "his"

[fhir.departments]
default = "outpatient"
""",
        encoding="utf-8",
    )
    return path


def test_ingest_polls_the_server_and_resume_takes_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HIS_FHIR_TOKEN", "t0ken")
    store = f"sqlite:///{tmp_path / 'hospital.db'}"
    with FhirServer(bearer="t0ken") as server:
        server.put(patient(0))
        server.put(visit(0, 0))
        config = _settings(tmp_path / "fhir.toml", server)
        command = ["ingest", "--source", "fhir-server", str(config), "--store", store]
        assert main(command) == 0
        server.put(visit(1, 0))
        assert main([*command, "--resume"]) == 0
        out = capsys.readouterr().out.splitlines()
        (resumed,) = [line for line in out[1:] if "条已应用" in line]
        assert resumed.endswith("2 条已应用，0 条重复，0 条被拒")  # the visit, its name
        assert "  Encounter: 1 taken" in out  # the source's report, per type
        assert "t0ken" not in "".join(out)
    with open_engine(store) as engine:
        assert visits(engine, "MR0") == {"V0", "V1"}


def test_a_settings_file_with_an_unknown_key_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FhirServer() as server:
        config = _settings(tmp_path / "fhir.toml", server, "page_sise = 5")
        command = ["ingest", "--source", "fhir-server", str(config), "--store", "memory://"]
        assert main(command) == 1
    assert "config key 'fhir_server.page_sise': unknown key" in capsys.readouterr().err


def test_a_server_that_stays_down_exits_1_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HIS_FHIR_TOKEN", "t0ken")
    with FhirServer(bearer="t0ken") as server:
        config = _settings(tmp_path / "fhir.toml", server, "retries = 1")
        server.fail(503, times=5)
        command = ["ingest", "--source", "fhir-server", str(config), "--store", "memory://"]
        assert main(command) == 1
    error = capsys.readouterr().err
    assert "503 Service Unavailable" in error
    assert "gave up after 1 retries" in error


_LISTENING = re.compile(r"listening for FHIR notifications on [\d.]+:(\d+)")


def test_the_worker_polls_and_takes_notifications_then_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIS_FHIR_TOKEN", "t0ken")
    store = f"sqlite:///{tmp_path / 'hospital.db'}"
    with FhirServer(bearer="t0ken") as server:
        server.put(patient(0))
        server.put(visit(0, 0))
        config = _settings(tmp_path / "fhir.toml", server)
        command = [
            sys.executable, "-m", "membercore_adapters.cli", "worker", "--store", store,
            "--poll", f"fhir-server:{config}", "--poll-every", "0.2", "--listen", "fhir",
            "--port", "0", "--mapping", str(config), "--tick-every", "0", "--dispatch-every", "0",
        ]  # fmt: skip
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        port, deadline = 0, time.monotonic() + 30
        while not port and time.monotonic() < deadline:
            if found := _LISTENING.search(process.stderr.readline()):
                port = int(found.group(1))
        assert port, "the worker did not start listening"
        server.put(visit(1, 0))
        answer = httpx.post(f"http://127.0.0.1:{port}/notify", timeout=10)
        assert answer.status_code == 200, answer.text
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        assert process.returncode == 0
    with open_engine(store) as engine:
        assert visits(engine, "MR0") == {"V0", "V1"}
