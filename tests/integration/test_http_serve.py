"""``membercore serve``: the HTTP API under uvicorn, called over a real socket on loopback."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from membercore_adapters.cli import main

TOKENS = [
    {"token": "his-secret", "kind": "system", "id": "his", "scopes": ["ingest", "read"]},
    {"token": "crm-secret", "kind": "system", "id": "crm", "scopes": ["read", "commands"]},
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(TOKENS), encoding="utf-8")
    return path


@pytest.fixture
def server(tmp_path: Path, token_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with _serving(tmp_path, token_file) as served:
        yield served


@contextlib.contextmanager
def _serving(
    tmp_path: Path, token_file: Path, *options: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "membercore_adapters.cli",
        "serve",
        "--store",
        f"sqlite:///{tmp_path / 'served.db'}",
        "--port",
        str(port),
        "--token-file",
        str(token_file),
        *options,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, err = process.communicate(timeout=10)
                pytest.fail(f"membercore serve did not start: {err}")
            time.sleep(0.2)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_serve_answers_the_hospitals_systems_over_http_and_stops_cleanly_on_sigterm(
    server: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = server
    his = {"Authorization": "Bearer his-secret"}
    crm = {"Authorization": "Bearer crm-secret"}
    now = datetime.now(UTC).isoformat()
    facts = [
        {"type": "patient_registered", "fact_id": "HIS-1", "patient_id": "P-1"}
        | {"occurred_at": now, "name": "林女士"},
        {"type": "checked_in", "fact_id": "APP-1", "patient_id": "P-1", "occurred_at": now}
        | {"channel": "app"},
    ]
    with httpx.Client(base_url=base, timeout=10) as client:
        taken = client.post("/facts", json=facts, headers=his)
        assert taken.status_code == 200, taken.text
        assert taken.json()["applied"] == 2
        member = client.get("/members/P-1", headers=crm)
        assert member.status_code == 200
        assert member.json()["tier"] == "L1"
        refused = client.get("/members/P-1")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        forbidden = client.post("/facts", json=facts, headers=crm)
        assert forbidden.status_code == 403
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "engine opened on sqlite" in err


def test_serve_without_the_http_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = importlib.util.find_spec

    def without_litestar(name: str, *args: object) -> object:
        return None if name == "litestar" else found(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_litestar)
    assert main(["serve", "--lang", "en"]) == 2
    said = capsys.readouterr().err
    assert "pip install 'membercore[http]'" in said
    assert "litestar" in said


def test_serve_refuses_a_token_file_it_cannot_read_or_understand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    missing = tmp_path / "missing.json"
    assert main(["serve", "--store", store, "--token-file", str(missing)]) == 2
    assert "missing.json" in capsys.readouterr().err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"token": "t", "kind": "robot", "id": "x", "scopes": []}]))
    assert main(["serve", "--store", store, "--token-file", str(wrong), "--lang", "en"]) == 2
    assert "wrong.json[0]" in capsys.readouterr().err
    assert not (tmp_path / "served.db").exists()  # nothing was created


FHIR_SETTINGS = """
[fhir]
sender = "his"

[fhir.departments]
default = "outpatient"
"""


def test_serve_serves_a_plugins_webhook_and_keeps_the_token_in_its_address_out_of_the_log(
    tmp_path: Path, token_file: Path
) -> None:
    settings = tmp_path / "fhir.toml"
    settings.write_text(FHIR_SETTINGS, encoding="utf-8")
    patient = {
        "resourceType": "Patient",
        "id": "p0",
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MR0"}],
        "meta": {"versionId": "1", "lastUpdated": "2026-02-01T02:00:00Z"},
    }
    options = ("--webhook", "fhir", "--mapping", str(settings))
    with _serving(tmp_path, token_file, *options) as (process, base):
        with httpx.Client(base_url=base, timeout=10) as client:
            taken = client.put("/webhooks/fhir/Patient/p0?token=his-secret", json=patient)
            assert taken.status_code == 200, taken.text
            assert taken.json()["resourceType"] == "OperationOutcome"
            member = client.get("/members/MR0", headers={"Authorization": "Bearer his-secret"})
            assert member.status_code == 200, member.text
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "/webhooks/fhir/Patient/p0?token=***" in err  # the access log, masked
    assert "his-secret" not in err


def test_serve_refuses_a_webhook_no_plugin_registers_naming_those_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    assert main(["serve", "--store", store, "--webhook", "mllp", "--lang", "en"]) == 2
    said = capsys.readouterr().err
    assert "no webhook is named 'mllp'" in said
    assert "aliyun-smsup" in said
    assert "fhir" in said
