"""The HTTP API through its ASGI application, on a memory store, SQLite and PostgreSQL.

Each endpoint is called as the hospital's systems call it (Litestar's test client runs
the application with its lifespan, so the engine opens on its own thread as it does
under uvicorn), and what it answers is checked against what the engine holds.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from membercore import Engine, reference_config
from membercore.benefits import BillItem
from membercore.errors import ConfigError, GaveUpError
from membercore.facts import Fact
from membercore.plugins import make_plugin_manager
from membercore.serialization import message_to_dict
from membercore.serialization.messages import _MESSAGE_TYPES
from membercore.service.use_cases import HANDLERS
from membercore.testing import strategies
from membercore.testing.clock import ManualClock
from membercore_adapters.http import HttpLimits, Principal, StaticTokens, app, engine_thread
from membercore_adapters.http.auth import load_token_file
from membercore_adapters.http.running import EngineClosedError, EngineThread
from membercore_adapters.http.shapes import task_id
from membercore_adapters.stores import memory, postgres, sqlite

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
CONFIG = reference_config()

TOKENS = {
    "his-token": Principal(kind="system", id="his", scopes={"ingest", "read"}),
    "crm-token": Principal(kind="system", id="crm", scopes={"read", "commands"}),
    "reader-token": Principal(kind="system", id="bi", scopes={"read"}),
    "hm-01-token": Principal(
        kind="staff", id="hm-01", scopes={"read", "commands"}, role="health_manager"
    ),
    "hm-02-token": Principal(
        kind="staff", id="hm-02", scopes={"read", "commands"}, role="health_manager"
    ),
    "hm-03-token": Principal(
        kind="staff", id="hm-03", scopes={"read", "commands"}, role="health_manager"
    ),
    "rn-01-token": Principal(kind="staff", id="rn-01", scopes={"read", "commands"}, role="nurse"),
    "rn-02-token": Principal(kind="staff", id="rn-02", scopes={"admin"}, role="admin"),
}
HIS = {"Authorization": "Bearer his-token"}
CRM = {"Authorization": "Bearer crm-token"}
PROBLEM = "application/problem+json"


def _opener(url: str, clock: ManualClock) -> Any:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])

    def open_engine() -> Engine:
        return Engine.open(url, config=CONFIG, clock=clock, plugin_manager=manager)

    return open_engine


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_schema_url")
        return url
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def api(store_url: str, clock: ManualClock) -> Litestar:
    return app(
        _opener(store_url, clock),
        authenticator=StaticTokens(TOKENS),
        limits=HttpLimits(max_batch=5, max_body_bytes=64 * 1024),
    )


@pytest.fixture
def client(api: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(api) as held:
        yield held


def _fact(kind: str, fact_id: str, at: datetime = T0, **fields: object) -> dict[str, object]:
    return {
        "type": kind,
        "fact_id": fact_id,
        "patient_id": "P-1",
        "occurred_at": at.isoformat(),
        **fields,
    }


REGISTERED = _fact("patient_registered", "HIS-1", name="林女士")
PAID = _fact(
    "charge_paid",
    "HIS-2",
    charge_id="C-1",
    lines=[{"department": "dental", "category": "treatment", "amount_fen": 128_000}],
)


def _registered(client: TestClient[Litestar]) -> None:
    answer = client.post("/facts", json=[REGISTERED, PAID], headers=HIS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] == 2


def _is_problem(answer: Any, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"] == f"urn:membercore:problem:{kind}"
    assert body["title"]
    assert body["detail"]
    return body


# -- the document and who may call ------------------------------------------------------


def test_the_openapi_document_is_served_without_a_token_and_documents_every_endpoint(
    client: TestClient[Litestar],
) -> None:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert set(document["paths"]) >= {
        "/facts",
        "/commands",
        "/members/{member_id}",
        "/members/{member_id}/points",
        "/members/{member_id}/quote",
        "/tasks",
        "/tasks/{task_id}/claim",
        "/tasks/{task_id}/complete",
    }
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # The engine's own attrs types, documented from their fields.
    balances = document["components"]["schemas"]["Balances"]
    assert balances["properties"]["available"] == {"type": "integer"}
    refused = document["paths"]["/facts"]["post"]["responses"]["413"]
    assert PROBLEM in refused["content"]


@functools.cache
def _document() -> dict[str, Any]:
    """The document of an application never started (its store is never opened)."""
    built: dict[str, Any] = app(
        "memory://", authenticator=StaticTokens({})
    ).openapi_schema.to_schema()
    return built


def _fits(component: str, body: object) -> bool:
    """Whether ``body`` fits the document's schema ``component``."""
    schema = {"$ref": f"#/components/schemas/{component}", **_document()}
    return bool(jsonschema_rs.validator_for(schema).is_valid(body))


def test_each_fact_and_command_type_is_documented_as_a_schema_of_its_own(
    client: TestClient[Litestar],
) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    facts = document["paths"]["/facts"]["post"]["requestBody"]
    one, batch = facts["content"]["application/json"]["schema"]["oneOf"]
    assert one == {"$ref": "#/components/schemas/Fact"}
    assert batch == {"type": "array", "items": one, "maxItems": 5}  # the app's max_batch
    commands = document["paths"]["/commands"]["post"]["requestBody"]
    assert commands["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Command"
    }
    fact_tags = {cls.TYPE for cls in _MESSAGE_TYPES.values() if issubclass(cls, Fact)}
    assert schemas["Fact"]["discriminator"]["propertyName"] == "type"
    assert set(schemas["Fact"]["discriminator"]["mapping"]) == fact_tags
    assert len(schemas["Fact"]["oneOf"]) == len(fact_tags)
    assert set(schemas["Command"]["discriminator"]["mapping"]) == {cls.TYPE for cls in HANDLERS}
    paid = schemas["ChargePaid"]
    assert paid["properties"]["type"]["const"] == "charge_paid"
    assert paid["properties"]["occurred_at"]["format"] == "date-time"
    assert paid["properties"]["lines"]["items"] == {"$ref": "#/components/schemas/ChargeLine"}
    assert set(paid["required"]) == {"type", "fact_id", "patient_id", "occurred_at"} | {
        "charge_id",
        "lines",
    }
    assert paid["additionalProperties"] is False
    line = schemas["ChargeLine"]["properties"]
    assert line["insurance_fen"] == {
        "type": "integer",
        "default": 0,
        "description": "the part paid by medical insurance (医保); never earns points.",
    }
    adjust = schemas["AdjustPoints"]
    assert "key" not in adjust["required"]  # the Idempotency-Key header may give it
    assert "Idempotency-Key" in adjust["properties"]["key"]["description"]
    consent = schemas["GrantConsent"]["properties"]
    assert consent["channels"]["items"]["enum"] == ["wecom", "sms", "email", "phone"]


def test_the_documented_schemas_take_what_the_api_takes_and_name_what_it_refuses() -> None:
    assert _fits("Fact", REGISTERED)
    assert _fits("Fact", PAID)
    assert _fits("Command", ADJUST)  # its key from the header
    assert _fits("Command", {"type": "redeem", "key": "r-1", "member_id": "P-1", "points": 10})
    assert not _fits("Fact", {**REGISTERED, "nickname": "林"})  # no other key
    assert not _fits("Fact", {key: v for key, v in PAID.items() if key != "lines"})
    assert not _fits("Fact", {**REGISTERED, "type": "charge_paid"})  # a charge's fields
    assert not _fits("Command", REGISTERED)
    assert not _fits("Command", {**ADJUST, "points": "500"})


@settings(max_examples=50, deadline=None)
@given(
    st.one_of(
        strategies.facts(),
        strategies.ledger_commands(),
        strategies.household_commands(),
        strategies.tier_overrides(),
    )
)
def test_every_fact_and_command_as_the_engine_writes_it_fits_its_documented_schema(
    message: Any,
) -> None:
    family = "Fact" if isinstance(message, Fact) else "Command"
    assert _fits(family, json.loads(json.dumps(message_to_dict(message))))


def test_a_fact_that_does_not_fit_its_schema_still_reaches_the_engine_as_a_dead_letter(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _registered(client)
    odd = _fact("checked_in", "APP-7", channel="app", nickname="林")
    assert not _fits("Fact", odd)
    answer = client.post("/facts", json=[odd], headers=HIS)
    assert answer.status_code == 200, answer.text
    (item,) = answer.json()["items"]
    assert (item["status"], item["pointer"]) == ("refused", "/0/nickname")
    letters = engine_thread(api).call_blocking(lambda engine: engine.dead_letters())
    assert [letter.fact_id for letter in letters] == ["APP-7"]


def test_each_operation_has_a_readable_stable_id() -> None:
    ids = {
        (method.upper(), path): operation["operationId"]
        for path, item in _document()["paths"].items()
        for method, operation in item.items()
    }
    assert ids[("POST", "/sessions")] == "signIn"
    assert ids[("DELETE", "/sessions/current")] == "signOut"
    assert ids[("POST", "/facts")] == "postFacts"
    assert ids[("POST", "/commands")] == "postCommand"
    assert ids[("GET", "/members/{member_id}")] == "getMember"
    assert ids[("GET", "/members/{member_id}/points")] == "getMemberPoints"
    assert ids[("POST", "/members/{member_id}/quote")] == "quoteBill"
    assert ids[("GET", "/tasks")] == "listTasks"
    assert ids[("POST", "/tasks/{task_id}/claim")] == "claimTask"
    assert ids[("POST", "/tasks/{task_id}/complete")] == "completeTask"
    assert len(set(ids.values())) == len(ids)
    assert all(operation_id.isalnum() for operation_id in ids.values())


def test_the_document_names_the_headers_answers_carry_and_shows_fixed_problem_examples() -> None:
    document = _document()
    command = document["paths"]["/commands"]["post"]["responses"]
    assert "Idempotent-Replayed" in command["200"]["headers"]
    signed_out = document["paths"]["/sessions/current"]["delete"]["responses"]["204"]
    assert "content" not in signed_out  # a 204 has no body to describe
    for item in document["paths"].values():
        for operation in item.values():
            challenge = operation["responses"]["401"]["headers"]["WWW-Authenticate"]
            assert challenge["required"] is True
            assert "Retry-After" in operation["responses"]["503"]["headers"]
    # No example made up at random: each problem's is one the API gives.
    assert "examples" not in json.dumps(document["components"]["schemas"]["Problem"])
    missing = document["paths"]["/members/{member_id}"]["get"]["responses"]["404"]
    (example,) = missing["content"][PROBLEM]["examples"].values()
    assert example["value"]["type"] == "urn:membercore:problem:unknown-member"
    assert example["value"]["status"] == 404
    again = app("memory://", authenticator=StaticTokens({})).openapi_schema.to_schema()
    assert again == document


def test_every_other_endpoint_needs_a_known_bearer_token(client: TestClient[Litestar]) -> None:
    for headers in ({}, {"Authorization": "Bearer nobody"}, {"Authorization": "Basic aGlz"}):
        answer = client.get("/members/P-1", headers=headers)
        body = _is_problem(answer, 401, "not-authenticated")
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert body["instance"] == "/members/P-1"
    _is_problem(client.post("/facts", json=[REGISTERED]), 401, "not-authenticated")


def test_an_endpoint_refuses_a_caller_without_its_scope(client: TestClient[Litestar]) -> None:
    reader = {"Authorization": "Bearer reader-token"}
    body = _is_problem(client.post("/facts", json=[REGISTERED], headers=reader), 403, "forbidden")
    assert "ingest" in body["detail"]
    command = {"type": "adjust_points", "key": "a", "member_id": "P-1", "points": 1}
    _is_problem(client.post("/commands", json=command, headers=HIS), 403, "forbidden")


@pytest.mark.parametrize(
    "path", ["/schema", "/schema/openapi.json", "/schema/swagger", "/schema/x", "/nope/x"]
)
def test_only_openapi_json_is_served_and_any_unknown_path_is_a_404_problem(
    client: TestClient[Litestar], path: str
) -> None:
    for headers in ({}, HIS):
        body = _is_problem(client.get(path, headers=headers), 404, "not-found")
        assert body["instance"] == path


#: The endpoints that take a body: the path asked for, as documented, who calls, a body.
BODIES = [
    ("/facts", "/facts", HIS, REGISTERED),
    ("/commands", "/commands", CRM, {"type": "adjust_points", "key": "a", "member_id": "P-1"}),
    ("/members/P-1/quote", "/members/{member_id}/quote", HIS, {"items": []}),
    (
        f"/tasks/{task_id('member:P-1', 'T-1')}/complete",
        "/tasks/{task_id}/complete",
        CRM,
        {"outcome": "rebooked"},
    ),
]


@pytest.mark.parametrize(("path", "documented", "caller", "payload"), BODIES)
def test_a_body_sent_as_anything_but_json_is_a_415_problem_naming_json(
    client: TestClient[Litestar],
    path: str,
    documented: str,
    caller: dict[str, str],
    payload: object,
) -> None:
    sent = json.dumps(payload).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        None,
    ):
        headers = {**caller} if content_type is None else {**caller, "Content-Type": content_type}
        body = _is_problem(
            client.post(path, content=sent, headers=headers), 415, "unsupported-media-type"
        )
        assert "application/json" in body["detail"]
        assert str(content_type or "none") in body["detail"]
        assert body["errors"] == [
            {"pointer": "/header/content-type", "detail": "expected application/json"}
        ]
    # Without a token, the caller is told that first.
    _is_problem(
        client.post(path, content=sent, headers={"Content-Type": "text/plain"}),
        401,
        "not-authenticated",
    )
    declared = _document()["paths"][documented]["post"]["responses"]["415"]
    assert PROBLEM in declared["content"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/merge-patch+json",
    ],
)
def test_json_is_taken_under_its_charset_or_a_json_suffix(
    client: TestClient[Litestar], content_type: str
) -> None:
    sent = json.dumps(REGISTERED).encode()
    answer = client.post("/facts", content=sent, headers={**HIS, "Content-Type": content_type})
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] + answer.json()["duplicates"] == 1


@pytest.mark.parametrize(("path", "documented", "caller", "payload"), BODIES)
def test_a_body_that_is_not_utf_8_is_a_400_problem(
    client: TestClient[Litestar],
    path: str,
    documented: str,
    caller: dict[str, str],
    payload: object,
) -> None:
    sent = json.dumps(payload).encode().replace(b'"', b'"\xe9', 1)
    answer = client.post(path, content=sent, headers={**caller, "Content-Type": "application/json"})
    body = _is_problem(answer, 400, "invalid-request")
    assert body["detail"].startswith("请求体无法读取")
    assert "UTF-8" in body["detail"]


CRM_PAGE = "https://crm.example.cn"
PREFLIGHT = {
    "Origin": CRM_PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(
    store_url: str, clock: ManualClock
) -> None:
    api = app(
        _opener(store_url, clock),
        authenticator=StaticTokens(TOKENS),
        cors_origins=[CRM_PAGE + "/", "http://localhost:5173"],
    )
    with TestClient(api) as client:
        answer = client.options("/commands", headers=PREFLIGHT)
        assert answer.status_code == 204, answer.text
        assert answer.headers["access-control-allow-origin"] == CRM_PAGE
        assert "POST" in answer.headers["access-control-allow-methods"]
        allowed = answer.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "idempotency-key", "x-purpose"} <= set(
            allowed.split(", ")
        )
        # A staff page looks a member up with a purpose, and signs out.
        asking = {**PREFLIGHT, "Access-Control-Request-Headers": "authorization,x-purpose"}
        assert client.options("/members/P-1", headers=asking).status_code == 204
        leaving = {**PREFLIGHT, "Access-Control-Request-Method": "DELETE"}
        assert client.options("/sessions/current", headers=leaving).status_code == 204
        # The request itself still needs its token; the page may read the headers it needs.
        _is_problem(
            client.get("/members/P-1", headers={"Origin": CRM_PAGE}), 401, "not-authenticated"
        )
        _registered(client)
        read = client.get("/members/P-1", headers={**CRM, "Origin": CRM_PAGE})
        assert read.status_code == 200
        assert read.headers["access-control-allow-origin"] == CRM_PAGE
        assert "Idempotent-Replayed" in read.headers["access-control-expose-headers"]
        # Another origin is not allowed.
        other = client.options("/commands", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


def test_without_allowed_origins_no_cors_header_is_sent_and_a_preflight_needs_a_token(
    client: TestClient[Litestar],
) -> None:
    _is_problem(client.options("/commands", headers=PREFLIGHT), 401, "not-authenticated")
    read = client.get("/openapi.json", headers={"Origin": CRM_PAGE})
    assert "access-control-allow-origin" not in read.headers


@pytest.mark.parametrize("origin", ["crm.example.cn", "https://crm.example.cn/app", "ftp://x"])
def test_an_allowed_origin_is_a_scheme_and_a_host(origin: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        app("memory://", authenticator=StaticTokens({}), cors_origins=[origin])


# -- facts ------------------------------------------------------------------------------


def test_a_batch_of_facts_says_of_each_applied_duplicate_or_refused_naming_the_field(
    client: TestClient[Litestar], api: Litestar
) -> None:
    naive = _fact("checked_in", "APP-3", channel="app")
    naive["occurred_at"] = "2026-03-02T10:00:00"  # no UTC offset
    redeem = {"type": "redeem", "key": "r-1", "member_id": "P-1", "points": 10}
    answer = client.post("/facts", json=[REGISTERED, PAID, REGISTERED, naive, redeem], headers=HIS)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["applied"], report["duplicates"], report["refused"]) == (2, 1, 2)
    statuses = [(item["index"], item["status"]) for item in report["items"]]
    assert statuses == [
        (0, "applied"),
        (1, "applied"),
        (2, "duplicate"),
        (3, "refused"),
        (4, "refused"),
    ]
    refused = report["items"][3]
    assert refused["pointer"] == "/3/occurred_at"
    assert "timezone-aware" in refused["reason"]
    assert refused["fact_id"] == "APP-3"
    assert report["items"][4]["pointer"] == "/4/type"
    assert "POST /commands" in report["items"][4]["reason"]
    # The malformed fact is kept as a dead letter with its reason; the command was not run.
    letters = engine_thread(api).call_blocking(lambda engine: engine.dead_letters())
    assert [letter.fact_id for letter in letters] == ["APP-3"]
    assert engine_thread(api).call_blocking(lambda e: e.points("P-1").redeemed) == 0
    # Sent again, the whole batch changes nothing.
    again = client.post("/facts", json=[REGISTERED, PAID], headers=HIS).json()
    assert (again["applied"], again["duplicates"]) == (0, 2)


def test_a_single_fact_is_answered_by_itself_and_refused_as_a_422_problem(
    client: TestClient[Litestar],
) -> None:
    answer = client.post("/facts", json=REGISTERED, headers=HIS)
    assert answer.status_code == 200
    assert answer.json()["items"] == [
        {"index": 0, "fact_id": "HIS-1", "type": "patient_registered", "status": "applied"}
        | {"reason": None, "pointer": None}
    ]
    unknown = _fact("checked_in", "APP-9", channel="app", patient_id="P-404")
    body = _is_problem(client.post("/facts", json=unknown, headers=HIS), 422, "fact-refused")
    assert "P-404" in body["detail"]
    assert "errors" not in body  # no field at fault: the patient is not known
    negative = _fact(
        "charge_paid",
        "HIS-7",
        charge_id="C-7",
        lines=[{"department": "dental", "category": "treatment", "amount_fen": -5}],
    )
    body = _is_problem(client.post("/facts", json=negative, headers=HIS), 422, "fact-refused")
    assert body["errors"][0]["pointer"] == "/lines/0/amount_fen"


def test_a_batch_or_a_body_past_the_limits_is_refused_with_413(
    client: TestClient[Litestar],
) -> None:
    six = [_fact("checked_in", f"APP-{n}", channel="app") for n in range(6)]
    body = _is_problem(client.post("/facts", json=six, headers=HIS), 413, "batch-too-large")
    assert "5" in body["detail"]
    large = [_fact("patient_registered", "HIS-9", name="林" * 40_000)]
    too_large = _is_problem(client.post("/facts", json=large, headers=HIS), 413, "too-large")
    assert "65,536" in too_large["detail"]


def test_a_body_that_is_not_facts_is_a_400_problem(client: TestClient[Litestar]) -> None:
    garbled = client.post(
        "/facts", content=b"{not json", headers={**HIS, "content-type": "application/json"}
    )
    assert _is_problem(garbled, 400, "invalid-request")["detail"].startswith("请求体无法读取")
    empty = client.post("/facts", content=b"", headers={**HIS, "content-type": "application/json"})
    assert _is_problem(empty, 400, "invalid-request")["errors"][0]["detail"].startswith(
        "请求体为空"
    )
    # An item of a batch that is no object is refused alone, kept as a dead letter.
    answer = client.post("/facts", json=[REGISTERED, 1, "x"], headers=HIS)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(i["status"], i["pointer"]) for i in items] == [
        ("applied", None),
        ("refused", "/1"),
        ("refused", "/2"),
    ]
    assert "not a JSON object" in items[1]["reason"]
    unnamed = client.post("/commands", json={}, headers={**CRM, "Idempotency-Key": ""})
    pointers = [e["pointer"] for e in _is_problem(unnamed, 400, "invalid-request")["errors"]]
    assert pointers == ["/header/idempotency-key"]
    bad_query = client.get("/tasks?status=bogus", headers=CRM)
    assert not _is_problem(bad_query, 400, "invalid-request")["detail"].startswith("请求体")


# -- commands ---------------------------------------------------------------------------


ADJUST = {"type": "adjust_points", "member_id": "P-1", "points": 500, "operator": "s-1"} | {
    "reason": "活动"
}


def test_a_command_sent_again_with_its_key_gives_the_same_answer(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _registered(client)
    first = client.post("/commands", json=ADJUST, headers={**CRM, "Idempotency-Key": "adj-1"})
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    result = first.json()
    assert (result["type"], result["key"]) == ("adjust_points", "adj-1")
    assert [event["type"] for event in result["events"]] == ["points_posted", "command_taken"]
    assert result["events"][0]["points"] == 500
    again = client.post("/commands", json=ADJUST, headers={**CRM, "Idempotency-Key": "adj-1"})
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == result
    in_body = client.post("/commands", json={**ADJUST, "key": "adj-1"}, headers=CRM)
    assert in_body.json() == result
    assert engine_thread(api).call_blocking(lambda e: e.points("P-1").adjusted) == 500
    # The key on another command is a conflict; a header naming another key, a mistake.
    other = {**ADJUST, "points": 501}
    conflict = client.post("/commands", json=other, headers={**CRM, "Idempotency-Key": "adj-1"})
    _is_problem(conflict, 409, "idempotency-conflict")
    mismatch = client.post(
        "/commands", json={**ADJUST, "key": "adj-2"}, headers={**CRM, "Idempotency-Key": "adj-3"}
    )
    body = _is_problem(mismatch, 422, "idempotency-key-mismatch")
    assert body["errors"][0]["pointer"] == "/key"


def test_an_idempotency_key_is_spent_per_member_not_across_members(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _registered(client)
    other = {**REGISTERED, "fact_id": "HIS-20", "patient_id": "P-2"}
    assert client.post("/facts", json=other, headers=HIS).status_code == 200
    keyed = {**CRM, "Idempotency-Key": "order-1"}
    first = client.post("/commands", json=ADJUST, headers=keyed)
    second = client.post("/commands", json={**ADJUST, "member_id": "P-2"}, headers=keyed)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "idempotent-replayed" not in second.headers  # carried out for P-2 as well
    for member_id in ("P-1", "P-2"):
        held = engine_thread(api).call_blocking(lambda e, m=member_id: e.points(m).adjusted)
        assert held == 500


def test_a_command_the_programme_refuses_is_a_422_problem_saying_why(
    client: TestClient[Litestar],
) -> None:
    _registered(client)
    redeem = {"type": "redeem", "key": "r-1", "member_id": "P-1", "points": 5_000}
    body = _is_problem(
        client.post("/commands", json=redeem, headers=CRM), 422, "insufficient-points"
    )
    assert "5000" in body["detail"]
    negative = {**redeem, "points": -5}
    body = _is_problem(client.post("/commands", json=negative, headers=CRM), 422, "invalid-command")
    assert body["errors"] == [
        {"pointer": "/points", "detail": "must be a positive number of points (got -5)"}
    ]
    misspelt = {**redeem, "type": "redeeem"}
    body = _is_problem(client.post("/commands", json=misspelt, headers=CRM), 422, "invalid-command")
    assert body["errors"][0]["pointer"] == "/type"
    unknown = {**redeem, "member_id": "P-404", "points": 1}
    _is_problem(client.post("/commands", json=unknown, headers=CRM), 404, "unknown-member")
    fact = client.post("/commands", json=REGISTERED, headers=CRM)
    assert _is_problem(fact, 422, "not-a-command")["errors"][0]["pointer"] == "/type"


# -- members ----------------------------------------------------------------------------


def test_a_404_never_says_whose_identifier_an_id_is(client: TestClient[Litestar]) -> None:
    """The API offers no look-up by identifier: an unknown member's 404 does not become one."""
    _registered(client)
    merge = {
        "type": "merge_members",
        "key": "m-1",
        "member_id": "P-1",
        "duplicate_id": "OLD-9",
        "operator": "his",
        "reason": "A40",
        "retire_unknown": True,
    }
    assert client.post("/commands", json=merge, headers=CRM).status_code == 200
    body = _is_problem(client.get("/members/OLD-9", headers=CRM), 404, "unknown-member")
    assert body["detail"] == "member 'OLD-9' is not known"


def test_the_member_views_say_what_the_engine_holds(
    client: TestClient[Litestar], api: Litestar, clock: ManualClock
) -> None:
    _registered(client)
    consent = {
        "type": "grant_consent",
        "key": "c-1",
        "member_id": "P-1",
        "purpose": "care",
        "channels": ["wecom", "sms"],
        "given_by": "P-1",
        "source": "app",
    }
    assert client.post("/commands", json=consent, headers=CRM).status_code == 200
    diagnosis = _fact("diagnosis_recorded", "HIS-3", icd10="E11.9", visit_id="V-1")
    assert client.post("/facts", json=diagnosis, headers=HIS).status_code == 200
    subscribe = {
        "type": "subscribe",
        "key": "s-1",
        "member_id": "P-1",
        "subscription_id": "S-1",
        "plan_key": "annual_599",
    }
    assert client.post("/commands", json=subscribe, headers=CRM).status_code == 200
    clock.set(T0 + timedelta(days=8))  # the charge's points vested

    glance = client.get("/members/P-1", headers=HIS).json()
    assert (glance["member_id"], glance["tier"], glance["alive"]) == ("P-1", "L2", True)
    assert "condition:diabetes" in glance["tags"]
    assert glance["points"]["available"] == 1_280

    def read(view: str) -> Any:
        answer = client.get(f"/members/P-1/{view}", headers=HIS)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert read("points") == glance["points"]
    (lot,) = read("lots")
    assert (lot["remaining"], lot["lot"]["points"], lot["lot"]["basis_fen"]) == (1280, 1280, 128000)
    tier = read("tier")
    assert tier["tier"] == "L2"
    assert [(c["from_tier"], c["to_tier"], c["reason"]) for c in tier["history"]] == [
        ("L1", "L2", "upgrade")
    ]
    held = engine_thread(api).call_blocking(lambda e: e.entitlements("P-1"))
    assert [e["benefit"]["key"] for e in read("entitlements")] == [e.benefit.key for e in held]
    (plan,) = read("plans")
    assert (plan["subscription_id"], plan["plan_key"], plan["status"]) == (
        "S-1",
        "annual_599",
        "pending_payment",
    )
    assert "diabetes" in {journey["journey"] for journey in read("journeys")}
    tags = read("tags")
    assert tags["segment"] == glance["segment"]
    assert "condition:diabetes" in tags["tags"]
    assert read("consent") == {"member_id": "P-1", "granted": {"care": ["sms", "wecom"]}}
    messages = read("messages")
    assert [(m["purpose"], m["channel"]) for m in messages] == [("care", "wecom")]
    assert messages[0]["journey"].startswith("P-1/diabetes/")

    bill = {"items": [{"item_code": "CT-HEAD", "category": "exam", "list_price_fen": 10_000}]}
    quoted = client.post("/members/P-1/quote", json=bill, headers=HIS)
    assert quoted.status_code == 200, quoted.text
    item = BillItem(item_code="CT-HEAD", category="exam", list_price_fen=10_000)
    expected = engine_thread(api).call_blocking(lambda e: e.quote("P-1", [item]))
    (line,) = quoted.json()["lines"]
    assert sum(d["off_fen"] for d in line["discounts"]) == sum(
        d.off_fen for d in expected.lines[0].discounts
    )
    refused = client.post(
        "/members/P-1/quote",
        json={"items": [{"item_code": "CT", "category": "exam", "list_price_fen": "x"}]},
        headers=HIS,
    )
    body = _is_problem(refused, 400, "invalid-request")
    assert body["errors"][0]["pointer"] == "/items/0/list_price_fen"


@pytest.mark.parametrize(
    ("line", "field", "said"),
    [
        ({"list_price_fen": -1}, "list_price_fen", "must not be negative"),
        ({"item_code": " "}, "item_code", "must not be empty"),
        ({"quantity": 0}, "quantity", "must be positive"),
        ({"list_price_fen": None}, "list_price_fen", "Expected `int`"),
        ({"list_price_fen": ...}, "list_price_fen", "missing required field"),
        ({"category": ...}, "category", "missing required field"),
    ],
)
def test_a_quote_s_refused_line_is_pointed_at_down_to_its_field(
    client: TestClient[Litestar], line: dict[str, object], field: str, said: str
) -> None:
    # Whether the decoder refused the field's type, found it missing or the line's own
    # check refused its value, the problem names the field of the second line.
    _registered(client)
    good = {"item_code": "CT-HEAD", "category": "exam", "list_price_fen": 100}
    bad = {key: value for key, value in (good | line).items() if value is not ...}
    refused = client.post("/members/P-1/quote", json={"items": [good, bad]}, headers=HIS)
    (error,) = _is_problem(refused, 400, "invalid-request")["errors"]
    assert error["pointer"] == f"/items/1/{field}"
    assert said in error["detail"]


@pytest.mark.parametrize(
    "view",
    [
        *("", "/points", "/lots", "/tier", "/entitlements"),
        *("/plans", "/journeys", "/tags", "/consent", "/messages"),
    ],
)
def test_an_unknown_member_is_a_404_problem(client: TestClient[Litestar], view: str) -> None:
    body = _is_problem(client.get(f"/members/P-404{view}", headers=HIS), 404, "unknown-member")
    assert body["instance"] == f"/members/P-404{view}"


# -- tasks ------------------------------------------------------------------------------


def test_a_call_task_is_listed_claimed_and_completed_back_into_the_diabetes_journey(
    client: TestClient[Litestar], api: Litestar, clock: ManualClock
) -> None:
    _registered(client)
    diagnosis = _fact("diagnosis_recorded", "HIS-3", icd10="E11.9", visit_id="V-1")
    assert client.post("/facts", json=diagnosis, headers=HIS).status_code == 200
    # Two HbA1c rechecks missed: the health manager is asked to call.
    escalated = datetime(2026, 9, 3, 10, 0, tzinfo=SH)
    clock.set(escalated)
    engine_thread(api).call_blocking(lambda engine: engine.tick())
    (task,) = client.get("/tasks", headers=CRM).json()
    assert (task["member_id"], task["kind"], task["role"]) == ("P-1", "call", "health_manager")
    holder = task["assignee"]
    other = next(hm for hm in ("hm-01", "hm-02", "hm-03") if hm != holder)
    mine = {"Authorization": f"Bearer {holder}-token"}
    theirs = {"Authorization": f"Bearer {other}-token"}
    assert [t["task_key"] for t in client.get("/tasks?mine=1", headers=mine).json()] == [
        task["task_key"]
    ]
    assert client.get("/tasks?mine=1", headers=theirs).json() == []

    key, named = task["task_key"], task["id"]
    # The id names the member's record and the task's key (unique within the record).
    assert (
        base64.urlsafe_b64decode(named + "=" * (-len(named) % 4)).decode() == f"member:P-1\n{key}"
    )
    claimed = client.post(f"/tasks/{named}/claim", headers=mine)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["assignee"] == holder
    _is_problem(client.post(f"/tasks/{named}/claim", headers=theirs), 409, "task-held")
    _is_problem(client.post(f"/tasks/{named}/claim", headers=CRM), 403, "staff-only")
    _is_problem(client.post("/tasks/no-such/claim", headers=mine), 404, "unknown-task")

    done = client.post(f"/tasks/{named}/complete", json={"outcome": "rebooked"}, headers=mine)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["outcome"]) == ("closed", "rebooked")
    journey = engine_thread(api).call_blocking(
        lambda engine: next(j for j in engine.journeys("P-1") if j.journey == "diabetes")
    )
    assert journey.state == "monitoring"  # the call rebooked the recheck
    fact_id = f"P-1/{key}/completed/{holder}"  # the member's own: task keys are per member
    seen = engine_thread(api).call_blocking(lambda engine: engine.store.seen([fact_id]))
    assert list(seen) == [fact_id]  # taken as a task_completed fact
    closed = engine_thread(api).call_blocking(
        lambda engine: [
            json.loads(e.payload)
            for e in engine.store.events("member:P-1")
            if e.type == "task_closed"
        ]
    )
    assert [c["by"] for c in closed] == [f"task_completed {fact_id}"]
    again = client.post(f"/tasks/{named}/complete", json={"outcome": "rebooked"}, headers=mine)
    assert again.json() == done.json()
    otherwise = client.post(f"/tasks/{named}/complete", json={"outcome": "no_answer"}, headers=mine)
    _is_problem(otherwise, 409, "task-closed")
    assert client.get("/tasks?status=closed", headers=CRM).json()[0]["outcome"] == "rebooked"
    assert client.get("/tasks", headers=CRM).json() == []


def test_a_nurse_claims_only_her_task_and_an_admin_takes_it_over(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _registered(client)
    task = {
        "type": "create_task",
        "key": "T-1",
        "member_id": "P-1",
        "kind": "visit",
        "role": "nurse",
        "due_at": (T0 + timedelta(days=1)).isoformat(),
        "reason": "术后回访",
    }
    assert client.post("/commands", json=task, headers=CRM).status_code == 200
    (row,) = client.get("/tasks?role=nurse", headers=CRM).json()
    assert row["assignee"] == "rn-01"  # the least loaded nurse, in roster order
    assert client.get("/tasks?role=doctor", headers=CRM).json() == []
    nurse = {"Authorization": "Bearer rn-01-token"}
    assert row["id"] == task_id("member:P-1", "T-1")
    assert client.post(f"/tasks/{row['id']}/claim", headers=nurse).json()["assignee"] == "rn-01"
    admin = {"Authorization": "Bearer rn-02-token"}
    # An id an earlier release gave (the task's key alone) names the task all the same.
    taken = client.post(f"/tasks/{_earlier_id('T-1')}/claim", headers=admin)
    assert taken.status_code == 200, taken.text
    assert taken.json()["assignee"] == "rn-02"
    held = engine_thread(api).call_blocking(lambda e: e.member("P-1").work.tasks["T-1"])
    assert held.assignee == "rn-02"
    _is_problem(client.post(f"/tasks/{row['id']}/claim", headers=nurse), 409, "task-held")
    # A task for a role the roster lacks waits unassigned; a nurse cannot take it.
    social = {**task, "key": "T-2", "role": "social_worker"}
    assert client.post("/commands", json=social, headers=CRM).status_code == 200
    (waiting,) = client.get("/tasks?role=social_worker", headers=CRM).json()
    assert waiting["assignee"] is None
    assert "social_worker" in waiting["unassigned_reason"]
    _is_problem(client.post(f"/tasks/{waiting['id']}/claim", headers=nurse), 422, "unknown-staff")


def _earlier_id(task_key: str) -> str:
    """A task's id as releases before schema 11 gave it: its key alone, in base64url."""
    return base64.urlsafe_b64encode(task_key.encode()).decode().rstrip("=")


def test_two_members_tasks_of_one_key_are_claimed_and_completed_each_on_its_own(
    client: TestClient[Litestar], api: Litestar
) -> None:
    other = {**REGISTERED, "fact_id": "HIS-9", "patient_id": "P-9", "name": "周先生"}
    assert client.post("/facts", json=[REGISTERED, other], headers=HIS).status_code == 200
    due = (T0 + timedelta(days=1)).isoformat()
    for member_id in ("P-1", "P-9"):
        task = {
            "type": "create_task",
            "key": "T-1",
            "member_id": member_id,
            "kind": "visit",
            "role": "nurse",
            "due_at": due,
            "reason": "术后回访",
        }
        assert client.post("/commands", json=task, headers=CRM).status_code == 200
    listed = {row["member_id"]: row["id"] for row in client.get("/tasks", headers=CRM).json()}
    assert sorted(listed) == ["P-1", "P-9"]
    assert listed["P-1"] != listed["P-9"]
    nurse = {"Authorization": "Bearer rn-02-token"}
    # An id of the key alone names two open tasks: refused, saying which id to use.
    earlier = client.post(f"/tasks/{_earlier_id('T-1')}/claim", headers=nurse)
    _is_problem(earlier, 409, "ambiguous-task")
    claimed = client.post(f"/tasks/{listed['P-9']}/claim", headers=nurse).json()
    assert (claimed["member_id"], claimed["assignee"]) == ("P-9", "rn-02")
    done = client.post(
        f"/tasks/{listed['P-9']}/complete", headers=nurse, json={"outcome": "rebooked"}
    ).json()
    assert (done["member_id"], done["status"], done["outcome"]) == ("P-9", "closed", "rebooked")
    held = engine_thread(api).call_blocking(
        lambda e: (e.member("P-1").work.tasks["T-1"], e.member("P-9").work.tasks["T-1"])
    )
    assert [task.status for task in held] == ["open", "closed"]


# -- faults -----------------------------------------------------------------------------


def test_a_bug_is_a_500_problem_with_an_incident_id_and_never_a_traceback(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _registered(client)

    def broken(self: Engine, member_id: str) -> object:
        raise RuntimeError("secret internals of the store")

    monkeypatch.setattr(Engine, "points", broken)
    with caplog.at_level(logging.ERROR, logger="membercore.http"):
        answer = client.get("/members/P-1/points", headers=HIS)
    body = _is_problem(answer, 500, "internal")
    assert "Traceback" not in answer.text
    assert "secret" not in answer.text
    assert body["incident"] in body["detail"]
    (record,) = [r for r in caplog.records if r.name == "membercore.http"]
    assert body["incident"] in record.getMessage()
    assert record.exc_info is not None  # the log keeps the traceback


def test_an_engine_that_gave_up_is_a_503_to_retry(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    _registered(client)

    def contended(self: Engine, command: object, **_: object) -> tuple[object, ...]:
        raise GaveUpError("adjust_points", 16, {"member:P-1": 16})

    monkeypatch.setattr(Engine, "execute", contended)
    answer = client.post("/commands", json={**ADJUST, "key": "x"}, headers=CRM)
    _is_problem(answer, 503, "gave-up")
    assert answer.headers["retry-after"] == "1"


# -- tokens -----------------------------------------------------------------------------


def test_static_tokens_keep_only_digests_and_name_the_principal_of_a_bearer_token() -> None:
    his = TOKENS["his-token"]
    tokens = StaticTokens({"his-token": his})
    assert "his-token" not in repr(vars(tokens))
    assert asyncio.run(tokens.authenticate("Bearer his-token")) is his
    assert asyncio.run(tokens.authenticate("bearer  his-token ")) is his
    assert asyncio.run(tokens.authenticate("Bearer his-token2")) is None
    assert asyncio.run(tokens.authenticate("his-token")) is None
    assert asyncio.run(tokens.authenticate(None)) is None
    assert his.may("read")
    assert not his.may("commands")
    assert Principal(kind="staff", id="a", scopes={"admin"}, role="admin").may("commands")
    with pytest.raises(ValueError, match="unknown scopes"):
        Principal(kind="system", id="x", scopes={"everything"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has a role"):
        Principal(kind="staff", id="x", scopes={"read"})


HIS_TOKEN = "his-5d2e9c0b7a41f3e8"
HM_TOKEN = "hm01-8b3f6a2d9e0c71"


def test_a_token_file_names_the_entry_it_refuses(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps(
            [
                {"token": HIS_TOKEN, "kind": "system", "id": "his", "scopes": ["ingest"]},
                {"token": HM_TOKEN, "kind": "staff", "id": "hm-01", "scopes": ["read"]}
                | {"role": "health_manager"},
            ]
        ),
        encoding="utf-8",
    )
    tokens = load_token_file(path)
    assert asyncio.run(tokens.authenticate(f"Bearer {HM_TOKEN}")) == Principal(
        kind="staff", id="hm-01", scopes={"read"}, role="health_manager"
    )
    path.write_text(json.dumps([{"token": HIS_TOKEN, "kind": "system", "id": "x", "scope": []}]))
    with pytest.raises(Exception, match=r"\[0\]\.scope"):
        load_token_file(path)
    path.write_text(json.dumps([{"token": HIS_TOKEN, "kind": "robot", "id": "x", "scopes": []}]))
    with pytest.raises(Exception, match=r"\[0\]"):
        load_token_file(path)


def test_a_token_file_refuses_a_short_token_and_one_token_given_twice(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    his = {"token": HIS_TOKEN, "kind": "system", "id": "his", "scopes": ["ingest"]}
    crm = {"token": "crm-7f1e0d4b", "kind": "system", "id": "crm", "scopes": ["read"]}
    path.write_text(json.dumps([his, crm]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tokens\.json\[1\]\.token.*at least 16 characters"):
        load_token_file(path)
    path.write_text(json.dumps([his, {**crm, "token": "c" * 16}, {**his, "id": "bi"}]))
    with pytest.raises(ConfigError) as refused:
        load_token_file(path)
    said = str(refused.value)
    assert "tokens.json[2].token" in said
    assert "the same token as" in said
    assert said.endswith(f"{path}[0]: each token stands for one principal")
    assert HIS_TOKEN not in said  # the secret itself is never written out


def test_the_engine_thread_opens_uses_and_closes_the_engine_on_one_thread(
    store_url: str, clock: ManualClock
) -> None:
    thread = EngineThread(_opener(store_url, clock))
    with pytest.raises(EngineClosedError):
        thread.call_blocking(lambda engine: engine.now())

    async def served() -> tuple[str, str]:
        await thread.start()
        try:
            inside = await thread.call(lambda _: threading.current_thread().name)
            return inside, thread.call_blocking(lambda _: threading.current_thread().name)
        finally:
            await thread.stop()

    first, second = asyncio.run(served())
    assert first == second
    assert first.startswith("membercore-engine")
    with pytest.raises(EngineClosedError):
        asyncio.run(thread.call(lambda engine: engine.now()))


@pytest.mark.parametrize("path", ["/facts", "/commands"])
def test_json_nested_past_what_the_decoder_can_follow_is_a_bad_request_not_a_failure(
    client: TestClient[Litestar], path: str
) -> None:
    deep = "[" * 5_000 + "]" * 5_000
    caller = HIS if path == "/facts" else CRM
    answer = client.post(path, content=deep, headers={**caller, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["type"].endswith("invalid-request")
    assert "nested" in body["detail"]
    assert "incident" not in body
