"""Who may use the HTTP API, as a hospital sets it up: stored tokens, staff who sign in.

The store's API tokens (``membercore token create``) and staff accounts (``membercore
staff add``) are what the API believes; a health manager sees the members in their care
and looks others up by id with a purpose; every look-up is recorded in the store. On a
memory store, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from membercore import Engine, reference_config
from membercore.plugins import make_plugin_manager
from membercore.ports import AccountStore, Lookup
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_password_hash, new_staff_account, new_token
from membercore_adapters.http import Sessions, app, engine_thread
from membercore_adapters.stores import memory, postgres, sqlite

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
CONFIG = reference_config()
PROBLEM = "application/problem+json"
PASSWORD = "correct horse 47"


class Ticks:
    """A monotonic clock a test moves by hand (the sessions' clock)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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
def ticks() -> Ticks:
    return Ticks()


def _opener(url: str, clock: ManualClock) -> Any:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])

    def open_engine() -> Engine:
        engine = Engine.open(url, config=CONFIG, clock=clock, plugin_manager=manager)
        accounts = engine.store
        assert isinstance(accounts, AccountStore)
        for staff_id, role in (
            ("hm-01", "health_manager"),
            ("hm-02", "health_manager"),
            ("rn-01", "nurse"),
            ("md-01", "doctor"),
            ("cs-01", "customer_service"),
            ("cc-01", "call_centre"),
            ("ad-01", "admin"),
        ):
            if accounts.staff_account(staff_id) is None:
                accounts.save_staff_account(
                    new_staff_account(staff_id, f"员工 {staff_id}", role, PASSWORD, T0)
                )
        return engine

    return open_engine


@pytest.fixture
def api(store_url: str, clock: ManualClock, ticks: Ticks) -> Litestar:
    return app(_opener(store_url, clock), sessions=Sessions(clock=ticks))


@pytest.fixture
def client(api: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(api) as held:
        yield held


def _accounts(engine: Engine) -> AccountStore:
    store = engine.store
    assert isinstance(store, AccountStore)
    return store


def _token(api: Litestar, *scopes: str) -> dict[str, str]:
    """A stored API token with ``scopes``, as the Authorization header sends it."""
    token, secret = new_token("HIS integration", scopes, T0)
    engine_thread(api).call_blocking(lambda engine: _accounts(engine).add_token(token))
    return {"Authorization": f"Bearer {secret}"}


def _signed_in(client: TestClient[Litestar], staff_id: str) -> dict[str, str]:
    answer = client.post("/sessions", json={"staff_id": staff_id, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _is_problem(answer: Any, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["type"] == f"urn:membercore:problem:{kind}"
    return body


def _lookups(api: Litestar, member_id: str) -> list[Lookup]:
    return engine_thread(api).call_blocking(
        lambda engine: list(_accounts(engine).lookups(member_id=member_id))
    )


def _register(client: TestClient[Litestar], his: dict[str, str], patient: str) -> None:
    fact = {
        "type": "patient_registered",
        "fact_id": f"REG-{patient}",
        "patient_id": patient,
        "occurred_at": T0.isoformat(),
        "name": "林女士",
    }
    answer = client.post("/facts", json=fact, headers=his)
    assert answer.status_code == 200, answer.text


# -- signing in -------------------------------------------------------------------------


def test_staff_sign_in_work_with_their_session_and_sign_out(
    client: TestClient[Litestar],
) -> None:
    answer = client.post("/sessions", json={"staff_id": "hm-01", "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    session = answer.json()
    assert session["token"].startswith("ms_")
    assert (session["staff_id"], session["role"]) == ("hm-01", "health_manager")
    assert session["scopes"] == ["commands", "read"]
    header = {"Authorization": f"Bearer {session['token']}"}
    assert client.get("/tasks?mine=1", headers=header).status_code == 200
    # A health manager reads and carries out commands; facts come from the HIS.
    _is_problem(client.post("/facts", json=[], headers=header), 403, "forbidden")
    assert client.delete("/sessions/current", headers=header).status_code == 204
    _is_problem(client.get("/tasks", headers=header), 401, "not-authenticated")


@pytest.mark.parametrize(
    ("staff_id", "role", "scopes"),
    [
        ("rn-01", "nurse", ["commands", "read"]),
        ("md-01", "doctor", ["commands", "read"]),
        ("cs-01", "customer_service", ["commands", "read"]),
        ("ad-01", "admin", ["admin"]),
    ],
)
def test_each_role_signs_in_with_its_scopes(
    client: TestClient[Litestar], staff_id: str, role: str, scopes: list[str]
) -> None:
    answer = client.post("/sessions", json={"staff_id": staff_id, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["role"], answer.json()["scopes"]) == (role, scopes)
    header = {"Authorization": f"Bearer {answer.json()['token']}"}
    facts = client.post("/facts", json=[], headers=header)
    assert facts.status_code == (200 if role == "admin" else 403)


def test_a_wrong_password_and_an_unknown_id_are_refused_alike_then_held_back(
    client: TestClient[Litestar], ticks: Ticks
) -> None:
    wrong = client.post("/sessions", json={"staff_id": "hm-01", "password": "guess"})
    unknown = client.post("/sessions", json={"staff_id": "nobody", "password": PASSWORD})
    assert (
        _is_problem(wrong, 401, "sign-in-failed")["detail"]
        == (_is_problem(unknown, 401, "sign-in-failed")["detail"])
    )
    for _ in range(4):
        client.post("/sessions", json={"staff_id": "hm-01", "password": "guess"})
    # Five failures: even the right password is not tried for a while.
    held = client.post("/sessions", json={"staff_id": "hm-01", "password": PASSWORD})
    _is_problem(held, 429, "too-many-sign-ins")
    assert held.headers["retry-after"] == "900"
    _signed_in(client, "hm-02")  # another staff id is not held back
    ticks.now += 15 * 60 + 1
    _signed_in(client, "hm-01")


def test_a_session_ends_idle_after_a_shift_and_when_the_account_is_deactivated(
    client: TestClient[Litestar], api: Litestar, ticks: Ticks
) -> None:
    header = _signed_in(client, "hm-01")
    for _ in range(16):  # used every 29 minutes: alive until the shift's 8 hours
        ticks.now += 29 * 60
        assert client.get("/tasks", headers=header).status_code == 200
    ticks.now += 29 * 60
    _is_problem(client.get("/tasks", headers=header), 401, "not-authenticated")
    header = _signed_in(client, "hm-01")
    ticks.now += 31 * 60  # idle past half an hour
    _is_problem(client.get("/tasks", headers=header), 401, "not-authenticated")

    header = _signed_in(client, "hm-02")
    renewed = _signed_in(client, "hm-01")
    engine_thread(api).call_blocking(lambda engine: _renew_password(engine, "hm-01"))
    _is_problem(client.get("/tasks", headers=renewed), 401, "not-authenticated")
    engine_thread(api).call_blocking(lambda engine: _deactivate(engine, "hm-02"))
    _is_problem(client.get("/tasks", headers=header), 401, "not-authenticated")
    refused = client.post("/sessions", json={"staff_id": "hm-02", "password": PASSWORD})
    _is_problem(refused, 401, "sign-in-failed")


def _renew_password(engine: Engine, staff_id: str) -> None:
    accounts = _accounts(engine)
    account = accounts.staff_account(staff_id)
    assert account is not None
    accounts.save_staff_account(attrs.evolve(account, password_hash=new_password_hash("pw-new-1")))


def _deactivate(engine: Engine, staff_id: str) -> None:
    accounts = _accounts(engine)
    account = accounts.staff_account(staff_id)
    assert account is not None
    accounts.save_staff_account(attrs.evolve(account, active=False))


# -- stored API tokens ------------------------------------------------------------------


def test_stored_tokens_carry_their_scopes_until_revoked(
    client: TestClient[Litestar], api: Litestar, clock: ManualClock
) -> None:
    his = _token(api, "ingest")
    _register(client, his, "P-1")
    _is_problem(client.get("/members/P-1", headers=his), 403, "forbidden")
    _is_problem(
        client.get("/members/P-1", headers={"Authorization": "Bearer mc_0_x"}),
        401,
        "not-authenticated",
    )
    token_id = his["Authorization"].removeprefix("Bearer mc_").split("_")[0]
    engine_thread(api).call_blocking(lambda engine: _accounts(engine).revoke_token(token_id, T0))
    refused = client.post("/facts", json=[], headers=his)
    _is_problem(refused, 401, "not-authenticated")
    assert refused.headers["www-authenticate"].startswith("Bearer")


# -- whose records staff see ------------------------------------------------------------


def test_a_health_manager_sees_her_members_and_looks_others_up_with_a_purpose(
    client: TestClient[Litestar], api: Litestar
) -> None:
    his = _token(api, "ingest", "read")
    crm = _token(api, "commands")
    _register(client, his, "P-1")
    _register(client, his, "P-2")
    hm = _signed_in(client, "hm-01")

    refused = _is_problem(client.get("/members/P-1", headers=hm), 403, "purpose-needed")
    assert refused["errors"] == [{"pointer": "/header/x-purpose", "detail": "needed"}]
    assert _lookups(api, "P-1") == []  # the HIS's writing is no look-up; nothing seen yet

    asked = {**hm, "X-Purpose": "来电咨询".encode()}  # UTF-8 bytes, as Java and .NET send it
    assert client.get("/members/P-1/points", headers=asked).status_code == 200
    encoded = {**hm, "X-Purpose": "%E9%9A%8F%E8%AE%BF"}  # 随访, percent-encoded
    assert client.get("/members/P-1/tier", headers=encoded).status_code == 200
    (first, second) = _lookups(api, "P-1")
    assert (first.who, first.purpose, first.via) == ("hm-01", "来电咨询", "api")
    assert second.purpose == "随访"

    # Made her member's health manager, she sees P-2 without saying why.
    assign = {"type": "assign_health_manager", "key": "hm/P-2", "member_id": "P-2"}
    made = client.post("/commands", json=assign | {"reason": "签约"}, headers=crm)
    assert made.status_code == 200, made.text
    events = made.json()["events"]
    assert [e["staff_id"] for e in events if e["type"] == "health_manager_assigned"] == ["hm-01"]
    assert client.get("/members/P-2", headers=hm).json()["health_manager"] == "hm-01"
    (seen,) = _lookups(api, "P-2")
    assert (seen.who, seen.purpose) == ("hm-01", "负责的会员 / in their care")
    other = _signed_in(client, "hm-02")
    _is_problem(client.get("/members/P-2/consent", headers=other), 403, "purpose-needed")

    # A hospital system and an administrator read any member; each read is recorded.
    assert client.get("/members/P-2/tags", headers=his).status_code == 200
    admin = _signed_in(client, "ad-01")
    assert client.get("/members/P-2/messages", headers=admin).status_code == 200
    whos = [lookup.who for lookup in _lookups(api, "P-2")]
    assert whos[1:] == [f"token:{his['Authorization'].split('_')[1]}", "ad-01"]
    # An unknown member is not found, and no look-up of nobody is kept.
    assert client.get("/members/P-404", headers=asked).status_code == 404
    assert _lookups(api, "P-404") == []


def test_staff_act_as_themselves_and_on_their_members_only_with_a_purpose(
    client: TestClient[Litestar], api: Litestar
) -> None:
    his = _token(api, "ingest")
    _register(client, his, "P-1")
    cs = _signed_in(client, "cs-01")
    adjust = {
        "type": "adjust_points",
        "key": "adj-1",
        "member_id": "P-1",
        "points": 50,
        "reason": "投诉补偿",
    }
    _is_problem(client.post("/commands", json=adjust, headers=cs), 403, "purpose-needed")
    asked = {**cs, "X-Purpose": "complaint"}
    pretending = client.post("/commands", json=adjust | {"operator": "hm-02"}, headers=asked)
    assert _is_problem(pretending, 422, "acting-for-another")["errors"][0]["pointer"] == (
        "/operator"
    )
    done = client.post("/commands", json=adjust, headers=asked)
    assert done.status_code == 200, done.text
    (adjusted,) = [e for e in done.json()["events"] if "operator" in e]
    assert adjusted["operator"] == "cs-01"
    assert [(s.who, s.purpose) for s in _lookups(api, "P-1")] == [("cs-01", "complaint")]
    # A system names whom it acts for.
    crm = _token(api, "commands")
    by_crm = client.post(
        "/commands", json=adjust | {"key": "adj-2", "operator": "cs-09"}, headers=crm
    )
    assert [e["operator"] for e in by_crm.json()["events"] if "operator" in e] == ["cs-09"]


def test_a_consent_a_member_of_staff_takes_names_them_and_the_text_agreed_to(
    client: TestClient[Litestar], api: Litestar
) -> None:
    his = _token(api, "ingest")
    _register(client, his, "P-1")
    desk = {**_signed_in(client, "cs-01"), "X-Purpose": "front desk"}
    grant = {
        "type": "grant_consent",
        "key": "c-1",
        "member_id": "P-1",
        "purpose": "marketing",
        "channels": ["sms"],
        "given_by": "P-1",
        "source": "front desk",
        "text_version": "marketing-2026-01",
    }
    done = client.post("/commands", json=grant, headers=desk)
    assert done.status_code == 200, done.text
    (granted,) = [e for e in done.json()["events"] if e["type"] == "consent_granted"]
    assert (granted["text_version"], granted["operator"]) == ("marketing-2026-01", "cs-01")
    # Given in the app, through a system: no member of staff took it.
    crm = _token(api, "commands")
    app_grant = grant | {"key": "c-2", "purpose": "care", "source": "app"}
    answer = client.post("/commands", json=app_grant, headers=crm).json()
    (self_given,) = [e for e in answer["events"] if e["type"] == "consent_granted"]
    assert "operator" not in self_given
    assert self_given["text_version"] == "marketing-2026-01"
    withdraw = {"type": "withdraw_consent", "key": "w-1", "member_id": "P-1"}
    taken = client.post("/commands", json=withdraw | {"purpose": "marketing"}, headers=desk)
    (withdrawn,) = [e for e in taken.json()["events"] if e["type"] == "consent_withdrawn"]
    assert withdrawn["operator"] == "cs-01"


# -- tasks ------------------------------------------------------------------------------


def test_a_task_is_seen_and_completed_by_its_holder_or_an_administrator_only(
    client: TestClient[Litestar], api: Litestar, clock: ManualClock
) -> None:
    his = _token(api, "ingest", "read", "commands")
    _register(client, his, "P-1")
    diagnosis = {
        "type": "diagnosis_recorded",
        "fact_id": "HIS-3",
        "patient_id": "P-1",
        "occurred_at": T0.isoformat(),
        "icd10": "E11.9",
        "visit_id": "V-1",
    }
    assert client.post("/facts", json=diagnosis, headers=his).status_code == 200
    clock.set(datetime(2026, 9, 3, 10, 0, tzinfo=SH))  # two HbA1c rechecks missed
    engine_thread(api).call_blocking(lambda engine: engine.tick())
    (task,) = client.get("/tasks", headers=his).json()
    holder = task["assignee"]
    other = next(hm for hm in ("hm-01", "hm-02") if hm != holder)
    mine, theirs = _signed_in(client, holder), _signed_in(client, other)
    assert [t["id"] for t in client.get("/tasks", headers=mine).json()] == [task["id"]]
    assert client.get("/tasks", headers=theirs).json() == []  # not hers, not waiting
    assert client.get("/tasks", headers=_signed_in(client, "cs-01")).json() == []

    done = {"outcome": "rebooked"}
    complete = f"/tasks/{task['id']}/complete"
    _is_problem(client.post(complete, json=done, headers=his), 409, "task-held")
    _is_problem(client.post(complete, json=done, headers=theirs), 409, "task-held")
    answer = client.post(complete, json=done, headers=mine)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "rebooked"
    assert [(s.who, s.purpose) for s in _lookups(api, "P-1")][-1] == (
        holder,
        "完成任务 / completing a task",
    )


def test_an_administrator_completes_a_task_someone_else_holds(
    client: TestClient[Litestar], api: Litestar, clock: ManualClock
) -> None:
    his = _token(api, "ingest", "read")
    _register(client, his, "P-1")
    crm = _token(api, "commands")
    create = {
        "type": "create_task",
        "key": "T-1",
        "member_id": "P-1",
        "kind": "call",
        "role": "health_manager",
        "due_at": T0.isoformat(),
        "reason": "回访",
    }
    made = client.post("/commands", json=create, headers=crm)
    assert made.status_code == 200, made.text
    (task,) = client.get("/tasks", headers=his).json()
    assert task["assignee"] in {"hm-01", "hm-02"}
    admin = _signed_in(client, "ad-01")
    answer = client.post(f"/tasks/{task['id']}/complete", json={"outcome": "done"}, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "closed"


def test_a_quote_is_a_look_up_and_a_refused_command_or_claim_records_none(
    client: TestClient[Litestar], api: Litestar
) -> None:
    his = _token(api, "ingest")
    _register(client, his, "P-1")
    cs = _signed_in(client, "cs-01")
    quote = {"items": [{"item_code": "CT-HEAD", "category": "exam", "list_price_fen": 100}]}
    _is_problem(client.post("/members/P-1/quote", json=quote, headers=cs), 403, "purpose-needed")
    asked = {**cs, "X-Purpose": "price enquiry"}
    assert client.post("/members/P-1/quote", json=quote, headers=asked).status_code == 200
    assert [(s.who, s.purpose) for s in _lookups(api, "P-1")] == [("cs-01", "price enquiry")]

    redeem = {"type": "redeem", "key": "r-1", "member_id": "P-1", "points": 999_999}
    refused = client.post("/commands", json=redeem, headers=asked)
    assert refused.status_code == 422, refused.text
    assert len(_lookups(api, "P-1")) == 1  # refused: nothing carried out, nothing recorded


@pytest.mark.parametrize(
    ("purpose", "why"),
    [("a%0Ab", "控制字符"), ("a\tb", "控制字符"), ("%E6%9D", "UTF-8")],
    ids=["line-break", "tab", "cut-utf8"],
)
def test_a_purpose_that_would_garble_the_audit_is_refused(
    client: TestClient[Litestar], api: Litestar, purpose: str, why: str
) -> None:
    his = _token(api, "ingest")
    _register(client, his, "P-1")
    cs = {**_signed_in(client, "cs-01"), "X-Purpose": purpose}
    body = _is_problem(client.get("/members/P-1", headers=cs), 400, "invalid-purpose")
    assert why in body["detail"]
    assert _lookups(api, "P-1") == []


def test_the_document_says_who_needs_no_token_and_what_staff_may_leave_out(
    client: TestClient[Litestar],
) -> None:
    document = client.get("/openapi.json").json()
    assert document["paths"]["/sessions"]["post"]["security"] == [{}]  # sign in without one
    assert "security" not in document["paths"]["/commands"]["post"]  # the document's own
    command = document["paths"]["/commands"]["post"]
    assert "X-Purpose" in [parameter["name"] for parameter in command["parameters"]]
    adjust = document["components"]["schemas"]["AdjustPoints"]
    assert "operator" in adjust["properties"]
    assert "operator" not in adjust["required"]
    held_back = document["paths"]["/sessions"]["post"]["responses"]["429"]
    assert held_back["headers"]["Retry-After"]["required"] is True
    examples = held_back["content"]["application/problem+json"]["examples"].values()
    assert [e["value"]["type"] for e in examples] == ["urn:membercore:problem:too-many-sign-ins"]


def test_a_task_nobody_holds_is_completed_by_staff_of_its_role_only(
    client: TestClient[Litestar], api: Litestar
) -> None:
    his = _token(api, "ingest", "read", "commands")
    _register(client, his, "P-1")
    create = {
        "type": "create_task",
        "key": "T-9",
        "member_id": "P-1",
        "kind": "call",
        "role": "call_centre",  # nobody on the roster: it waits unassigned
        "due_at": T0.isoformat(),
        "reason": "回访",
    }
    assert client.post("/commands", json=create, headers=his).status_code == 200
    (task,) = client.get("/tasks", headers=his).json()
    assert task["assignee"] is None
    complete = f"/tasks/{task['id']}/complete"
    nurse = _signed_in(client, "rn-01")
    refused = client.post(complete, json={"outcome": "x"}, headers=nurse)
    _is_problem(refused, 403, "not-your-role")
    assert _lookups(api, "P-1") == []  # nothing done, nothing seen
    # The call centre's own account makes the call.
    done = client.post(complete, json={"outcome": "reached"}, headers=_signed_in(client, "cc-01"))
    assert done.status_code == 200, done.text
