"""The webhooks plugins register, served by the HTTP API at ``/webhooks/{name}``.

A toy plugin's webhook (a ward's admissions desk calling the programme back) is served
over a SQLite store, whose connection only the engine's thread may use: what the
webhook hands the engine is committed there. Callers are the store's API tokens, in
the ``Authorization`` header or, on webhook routes only, in the ``token`` query
parameter, which no log keeps.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import TestClient

from membercore import Engine, PatientRegistered, reference_config
from membercore.errors import ConfigError
from membercore.hookspecs import WebhookFactory, hookimpl
from membercore.plugins import make_plugin_manager
from membercore.ports import AccountStore, EngineCall, Webhook, WebhookAnswer, WebhookCall
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_token
from membercore_adapters.http import HttpLimits, app, engine_thread
from membercore_adapters.http.webhooks import QueryTokenMask
from membercore_adapters.stores import memory, sqlite

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PROBLEM = "application/problem+json"
WARD_JSON = "application/x-ward+json"


class Ward:
    """A ward's admissions desk: it posts admitted patients, and asks how many it sent."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self.ward = options.get("ward", "W1")
        self.calls: list[WebhookCall] = []
        self.built_on = threading.current_thread().name

    async def receive(self, call: WebhookCall, engine: EngineCall[Engine]) -> WebhookAnswer:
        self.calls.append(call)
        if call.method == "POST" and call.path == "/admissions":
            sent = json.loads(call.body)
            facts = [
                PatientRegistered(fact_id=f"{self.ward}-{p}", patient_id=p, occurred_at=T0)
                for p in sent["patients"]
            ]
            report = await engine(lambda held: held.ingest(facts))
            answer = {"ward": self.ward, "applied": report.applied}
            return WebhookAnswer.of_json(answer, status=201, content_type=WARD_JSON)
        if call.method == "GET" and call.path == "":
            members = await engine(lambda held: sum(1 for _ in held.members()))
            return WebhookAnswer.of_json({"members": members}, content_type=WARD_JSON)
        return WebhookAnswer(status=405, body=b"not here", content_type="text/plain")


built: list[Ward] = []


class WardHooks:
    @hookimpl
    def membercore_register_webhooks(self, register: Callable[[str, WebhookFactory], None]) -> None:
        def factory(engine: Engine, options: Mapping[str, str]) -> Webhook:
            engine.position("ward")  # the engine is usable where the webhook is built
            ward = Ward(options)
            built.append(ward)
            return ward

        register("ward", factory)


def _opener(url: str) -> Callable[[], Engine]:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, WardHooks()])

    def open_engine() -> Engine:
        return Engine.open(
            url, config=reference_config(), clock=ManualClock(T0), plugin_manager=manager
        )

    return open_engine


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def api(store_url: str) -> Litestar:
    built.clear()
    return app(
        _opener(store_url),
        webhooks={"ward": {"ward": "W7"}},
        limits=HttpLimits(max_body_bytes=64 * 1024),
    )


@pytest.fixture
def client(api: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(api) as held:
        yield held


def _secret(api: Litestar, *scopes: str) -> str:
    """A stored API token's secret (``mc_…``), with ``scopes``."""
    token, secret = new_token("ward desk", scopes, T0)

    def add(engine: Engine) -> None:
        store = engine.store
        assert isinstance(store, AccountStore)
        store.add_token(token)

    engine_thread(api).call_blocking(add)
    return secret


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _is_problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["type"] == f"urn:membercore:problem:{kind}"
    return body


ADMITTED = {"patients": ["P-1", "P-2"]}


def test_a_webhook_is_built_where_the_engine_lives_and_commits_there(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest")
    answer = client.post("/webhooks/ward/admissions", json=ADMITTED, headers=_bearer(secret))
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"] == WARD_JSON
    assert answer.json() == {"ward": "W7", "applied": 2}
    (ward,) = built
    assert ward.built_on.startswith("membercore-engine")
    members = engine_thread(api).call_blocking(lambda e: [m.member_id for m in e.members()])
    assert sorted(members) == ["P-1", "P-2"]
    counted = client.get("/webhooks/ward", headers=_bearer(secret))
    assert (counted.status_code, counted.json()) == (200, {"members": 2})


def test_the_webhook_is_handed_the_request_as_it_came_without_the_apis_token(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest")
    client.post(
        f"/webhooks/ward/admissions?batch=9&token={secret}",
        content=json.dumps(ADMITTED).encode(),
        headers={"Content-Type": "application/json", "X-Ward-Shift": "night"},
    )
    (ward,) = built
    (call,) = ward.calls
    assert (call.method, call.path, dict(call.query)) == ("POST", "/admissions", {"batch": "9"})
    assert call.headers["x-ward-shift"] == "night"
    assert call.headers["content-type"] == "application/json"
    assert json.loads(call.body) == ADMITTED


def test_the_webhooks_own_refusals_are_its_own_answers_not_problems(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest")
    answer = client.delete("/webhooks/ward/admissions", headers=_bearer(secret))
    assert (answer.status_code, answer.text) == (405, "not here")
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_caller_without_a_known_token_is_401_and_the_webhook_is_not_called(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest")
    for path, headers in (
        ("/webhooks/ward/admissions", {}),
        ("/webhooks/ward/admissions", _bearer("mc_nobody_x")),
        ("/webhooks/ward/admissions?token=mc_nobody_x", {}),
        (f"/webhooks/ward/admissions?token={secret}", _bearer("mc_nobody_x")),
    ):
        answer = client.post(path, json=ADMITTED, headers=headers)
        _is_problem(answer, 401, "not-authenticated")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert built[0].calls == []


def test_a_token_without_the_ingest_scope_is_403(
    client: TestClient[Litestar], api: Litestar
) -> None:
    reader = _secret(api, "read")
    _is_problem(
        client.post(f"/webhooks/ward/admissions?token={reader}", json=ADMITTED), 403, "forbidden"
    )
    body = _is_problem(
        client.post("/webhooks/ward/admissions", json=ADMITTED, headers=_bearer(reader)),
        403,
        "forbidden",
    )
    assert "ingest" in body["detail"]
    assert built[0].calls == []


def test_the_token_in_the_query_is_taken_on_webhook_routes_only(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest", "read")
    taken = client.post(f"/webhooks/ward/admissions?token={secret}", json=ADMITTED)
    assert taken.status_code == 201, taken.text
    assert client.get("/members/P-1", headers=_bearer(secret)).status_code == 200
    _is_problem(client.get(f"/members/P-1?token={secret}"), 401, "not-authenticated")


def test_a_webhook_not_served_is_a_404_problem_naming_those_served(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest")
    body = _is_problem(
        client.post("/webhooks/fhir", json={}, headers=_bearer(secret)), 404, "unknown-webhook"
    )
    assert "'fhir'" in body["detail"]
    assert "ward" in body["detail"]
    # Who is not known learns nothing of what is served.
    _is_problem(client.post("/webhooks/fhir", json={}), 401, "not-authenticated")


def test_a_body_past_the_apis_limit_is_a_413_problem(
    client: TestClient[Litestar], api: Litestar
) -> None:
    secret = _secret(api, "ingest")
    large = {"patients": [f"P-{n:06d}" for n in range(8_000)]}  # about 100 KiB
    answer = client.post("/webhooks/ward/admissions", json=large, headers=_bearer(secret))
    _is_problem(answer, 413, "too-large")
    assert built[0].calls == []
    within = {"patients": [f"P-{n:06d}" for n in range(4_000)]}  # about 50 KiB
    taken = client.post("/webhooks/ward/admissions", json=within, headers=_bearer(secret))
    assert taken.json()["applied"] == 4_000


def test_the_openapi_document_lists_the_webhook_routes_naming_those_served(
    client: TestClient[Litestar],
) -> None:
    document = client.get("/openapi.json").json()
    root = document["paths"]["/webhooks/{name}"]
    below = document["paths"]["/webhooks/{name}/{rest}"]
    assert set(root) == set(below) == {"get", "post", "put", "patch", "delete"}
    assert "`ward`" in root["post"]["description"]
    assert "*/*" in root["post"]["requestBody"]["content"]
    assert "requestBody" not in root["get"]
    assert PROBLEM in root["post"]["responses"]["401"]["content"]
    assert PROBLEM in root["post"]["responses"]["403"]["content"]
    assert PROBLEM not in root["post"]["responses"]["400"]["content"]  # the webhook's own
    assert {"405", "422", "500", "503"} <= set(root["post"]["responses"])
    for operation in (root["post"], below["get"]):
        assert "token" in [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    assert (root["post"]["operationId"], below["put"]["operationId"]) == (
        "postWebhook",
        "putWebhookPath",
    )


def test_without_webhooks_no_webhook_route_is_served(store_url: str) -> None:
    with TestClient(app(_opener(store_url))) as client:
        assert not any(
            p.startswith("/webhooks") for p in client.get("/openapi.json").json()["paths"]
        )
        _is_problem(client.post("/webhooks/ward", json={}), 404, "not-found")


def test_a_webhook_no_plugin_registers_stops_the_application_from_starting(
    store_url: str,
) -> None:
    api = app(_opener(store_url), webhooks={"mllp": {}})
    with pytest.raises(BaseExceptionGroup) as raised, TestClient(api):
        pass
    assert raised.group_contains(
        ConfigError, match=r"no webhook is named 'mllp' \(installed: ward\)"
    )


# -- the token is never logged -----------------------------------------------------------


def test_the_mask_hides_every_token_parameter_and_keeps_the_rest_of_the_line() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.9:5123", "POST", "/webhooks/ward?a=1&token=mc_ab_cd&%74oken=mc_x&b=2", "1.1", 200),
        None,
    )
    assert QueryTokenMask().filter(record)
    assert record.getMessage() == (
        '10.0.0.9:5123 - "POST /webhooks/ward?a=1&token=***&%74oken=***&b=2 HTTP/1.1" 200'
    )
    # However the query is written: pairs split by ';', the '=' percent-encoded.
    for path, shown in (
        ("/webhooks/ward?a=1;token=mc_ab12_cdEF-_", "/webhooks/ward?a=1;token=***"),
        ("/webhooks/ward?token%3Dmc_ab12_cd", "/webhooks/ward?token=***"),
        ("/webhooks/ward?x=mc_ab12_cd", "/webhooks/ward?x=mc_***"),
    ):
        record.args = ("10.0.0.9:5123", "POST", path, "1.1", 200)
        assert QueryTokenMask().filter(record)
        assert shown in record.getMessage()
        assert "cd" not in record.getMessage().split("ward")[1]


def test_the_token_in_the_query_never_reaches_uvicorns_access_log(
    api: Litestar, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = uvicorn.Config(
        api, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    serving = threading.Thread(target=server.run)
    serving.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert serving.is_alive(), "uvicorn did not start"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        secret = _secret(api, "ingest")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/ward/admissions?token={secret}", json=ADMITTED
        )
        assert answer.status_code == 201, answer.text
    finally:
        server.should_exit = True
        serving.join(timeout=30)
    served = [r for r in caplog.records if not r.name.startswith("httpx")]  # not the client's
    assert any(
        r.name == "uvicorn.access" and "/webhooks/ward/admissions?token=***" in r.getMessage()
        for r in served
    )
    assert not [r.getMessage() for r in served if secret in r.getMessage()]
