"""``membercore serve``: the HTTP API under uvicorn, called over a real socket on loopback."""

from __future__ import annotations

import importlib.util
import json
import os
import re
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

HIS_TOKEN = "his-4f0a9d2c7e1b8a63"
CRM_TOKEN = "crm-b7e2c05d9f3a1e48"
TOKENS = [
    {"token": HIS_TOKEN, "kind": "system", "id": "his", "scopes": ["ingest", "read"]},
    {"token": CRM_TOKEN, "kind": "system", "id": "crm", "scopes": ["read", "commands"]},
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
    path.chmod(0o600)
    return path


def _serve(
    tmp_path: Path, token_file: Path, *options: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``membercore serve`` with ``options``, once it answers; killed afterwards if it runs on."""
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


@pytest.fixture
def server(tmp_path: Path, token_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    yield from _serve(tmp_path, token_file, "--cors-origin", CRM_PAGE)


@pytest.fixture
def impatient_server(
    tmp_path: Path, token_file: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    yield from _serve(tmp_path, token_file, "--graceful-timeout", "2")


def test_serve_answers_the_hospitals_systems_over_http_and_stops_cleanly_on_sigterm(
    server: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = server
    his = {"Authorization": f"Bearer {HIS_TOKEN}"}
    crm = {"Authorization": f"Bearer {CRM_TOKEN}"}
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
    assert "tokens.json" not in err  # a token file only its owner reads: nothing to warn of


def test_serve_answers_the_staff_console_to_a_member_of_staff_who_signs_in(
    server: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    _, base = server
    store = f"sqlite:///{tmp_path / 'served.db'}"
    command = ["staff", "add", "hm-01", "--role", "health_manager", "--password-stdin"]
    added = subprocess.run(
        [sys.executable, "-m", "membercore_adapters.cli", *command, "--store", store],
        input="correct horse 47\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    with httpx.Client(base_url=base, timeout=10) as client:
        first = client.get("/console/")
        assert first.status_code == 303
        assert first.headers["location"].startswith("/console/sign-in?next=")
        form = client.get("/console/sign-in")
        assert form.headers["content-type"].startswith("text/html")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = client.post(
            "/console/sign-in",
            data={"staff_id": "hm-01", "password": "correct horse 47"}
            | {"_csrf_token": token.group(1)},
        )
        assert (signed.status_code, signed.headers["location"]) == (303, "/console/")
        queue = client.get("/console/")
        assert queue.status_code == 200
        assert "我的任务" in queue.text
        assert "王健康（健康管家 · hm-01）" in queue.text
        assert client.get("/console/static/console.css").status_code == 200


def test_serve_stops_within_its_graceful_timeout_while_a_client_holds_a_request_open(
    impatient_server: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = impatient_server
    port = int(base.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as stuck:
        # A request whose body never comes whole: it stays in flight until cut off.
        stuck.sendall(
            b"POST /facts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {HIS_TOKEN}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"
        )
        time.sleep(1)  # the request reaches the application, which waits for its body
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = process.communicate(timeout=30)
        took = time.monotonic() - sent
    assert process.returncode == 0, err
    assert 1.5 < took < 15  # it waited for the request, then no longer than the timeout
    assert "timeout graceful shutdown exceeded" in err  # uvicorn says it cut the request off
    assert "Application shutdown complete" in err  # and the engine was closed


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


def test_serve_without_jinja2_for_the_console_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = importlib.util.find_spec

    def without_jinja2(name: str, *args: object) -> object:
        return None if name == "jinja2" else found(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_jinja2)
    assert main(["serve", "--lang", "en"]) == 2
    said = capsys.readouterr().err
    assert "pip install 'membercore[http]'" in said
    assert "jinja2 is missing" in said


def test_serve_refuses_a_token_file_it_cannot_read_or_understand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    missing = tmp_path / "missing.json"
    assert main(["serve", "--store", store, "--token-file", str(missing)]) == 2
    assert "missing.json" in capsys.readouterr().err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"token": HIS_TOKEN, "kind": "robot", "id": "x", "scopes": []}]))
    wrong.chmod(0o600)
    assert main(["serve", "--store", store, "--token-file", str(wrong), "--lang", "en"]) == 2
    said = capsys.readouterr().err
    assert "wrong.json[0]" in said
    assert "open to its group or others" not in said
    short = tmp_path / "short.json"
    short.write_text(json.dumps([{**TOKENS[0], "token": "his-secret"}]))
    short.chmod(0o600)
    assert main(["serve", "--store", store, "--token-file", str(short), "--lang", "en"]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    assert not (tmp_path / "served.db").exists()  # nothing was created


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX's")
def test_serve_warns_of_a_token_file_open_to_its_group_or_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    shared = tmp_path / "shared.json"
    shared.write_text(json.dumps([{**TOKENS[0], "token": "short"}]))
    shared.chmod(0o640)
    assert main(["serve", "--store", store, "--token-file", str(shared), "--lang", "en"]) == 2
    said = capsys.readouterr().err
    assert f"the token file {shared} is open to its group or others (mode 640)" in said
    assert f"chmod 600 {shared}" in said


def test_serve_refuses_an_allowed_origin_that_is_not_one(
    tmp_path: Path, token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    options = ["--token-file", str(token_file), "--cors-origin", "crm.example.cn", "--lang", "en"]
    assert main(["serve", "--store", store, *options]) == 2
    assert "--cors-origin" in capsys.readouterr().err


FHIR_SETTINGS = """
[fhir]
sender = "his"

[fhir.departments]
default = "outpatient"
"""


@pytest.fixture
def webhook_server(tmp_path: Path, token_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    settings = tmp_path / "fhir.toml"
    settings.write_text(FHIR_SETTINGS, encoding="utf-8")
    yield from _serve(tmp_path, token_file, "--webhook", "fhir", "--mapping", str(settings))


def test_serve_serves_a_plugins_webhook_and_keeps_the_token_in_its_address_out_of_the_log(
    webhook_server: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = webhook_server
    patient = {
        "resourceType": "Patient",
        "id": "p0",
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MR0"}],
        "meta": {"versionId": "1", "lastUpdated": "2026-02-01T02:00:00Z"},
    }
    with httpx.Client(base_url=base, timeout=10) as client:
        taken = client.put(f"/webhooks/fhir/Patient/p0?token={HIS_TOKEN}", json=patient)
        assert taken.status_code == 200, taken.text
        assert taken.json()["resourceType"] == "OperationOutcome"
        member = client.get("/members/MR0", headers={"Authorization": f"Bearer {HIS_TOKEN}"})
        assert member.status_code == 200, member.text
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "/webhooks/fhir/Patient/p0?token=***" in err  # the access log, masked
    assert HIS_TOKEN not in err


def test_serve_refuses_a_webhook_no_plugin_registers_naming_those_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'served.db'}"
    assert main(["serve", "--store", store, "--webhook", "mllp", "--lang", "en"]) == 2
    said = capsys.readouterr().err
    assert "no webhook is named 'mllp'" in said
    assert "aliyun-smsup" in said
    assert "fhir" in said
