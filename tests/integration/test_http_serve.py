"""``membercore serve``: the HTTP API under uvicorn, called over a real socket on loopback."""

from __future__ import annotations

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
CRM_PAGE = "https://crm.example.cn"


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
        "--cors-origin",
        CRM_PAGE,
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
        preflight = client.options(
            "/commands",
            headers={"Origin": CRM_PAGE, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == CRM_PAGE
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


def test_serve_refuses_an_allowed_origin_that_is_not_one(
    tmp_path: Path, token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    options = ["--token-file", str(token_file), "--cors-origin", "crm.example.cn", "--lang", "en"]
    assert main(["serve", "--store", store, *options]) == 2
    assert "--cors-origin" in capsys.readouterr().err
