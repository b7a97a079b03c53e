"""The staff console through its ASGI application: signing in, forms, look-ups, errors.

What a browser does is done here with Litestar's test client (it keeps the cookies as a
browser would, and runs the application's lifespan): the session's cookie and its
flags, the forms' CSRF token, where the console sends the browser, what each form does
to the engine's records, and what the pages say. ``tests/browser`` drives the same pages
in Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from membercore import Engine, plans, reference_config
from membercore.analytics import figures
from membercore.config.journeys import Call, JourneyDefinition, Transition, Trigger
from membercore.journeys import JourneyInstance
from membercore.plugins import make_plugin_manager
from membercore.ports import AccountStore
from membercore.serialization import message_from_dict
from membercore.staff.tasks import CreateTask
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_staff_account
from membercore_adapters.console.outcomes import expected_outcomes
from membercore_adapters.http import app, engine_thread
from membercore_adapters.http.shapes import task_id
from membercore_adapters.labels import PLAN_STATUSES, TASK_KINDS
from membercore_adapters.stores import memory

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
MORNING = datetime(2026, 9, 4, 8, 30, tzinfo=SH)
CONFIG = reference_config()
PASSWORD = "晨光-Ward7-随访!"
STAFF = (
    ("hm-01", "health_manager"),
    ("hm-02", "health_manager"),
    ("cs-01", "customer_service"),
    ("ad-01", "admin"),
)
TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def _opener(clock: ManualClock) -> Any:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory])

    def open_engine() -> Engine:
        engine = Engine.open("memory://", config=CONFIG, clock=clock, plugin_manager=manager)
        accounts = _accounts(engine)
        for staff_id, role in STAFF:
            accounts.save_staff_account(
                new_staff_account(staff_id, f"员工{staff_id}", role, PASSWORD, T0)
            )
        return engine

    return open_engine


def _accounts(engine: Engine) -> AccountStore:
    store = engine.store
    assert isinstance(store, AccountStore)
    return store


def _fact(kind: str, fact_id: str, patient: str, **fields: Any) -> Any:
    at = T0.isoformat()
    return message_from_dict(
        {"type": kind, "fact_id": fact_id, "patient_id": patient, "occurred_at": at, **fields}
    )


def _ward(engine: Engine, clock: ManualClock) -> None:
    """P-1 missed two HbA1c rechecks (a call for hm-01, due at 10:00 on the morning);
    P-2 has a task for customer service, whom nobody on the roster is."""
    engine.ingest(
        [
            _fact("patient_registered", "reg-1", "P-1", name="林女士"),
            _fact("diagnosis_recorded", "dx-1", "P-1", icd10="E11.9", visit_id="V-1"),
            _fact("patient_registered", "reg-2", "P-2", name="陈先生"),
        ]
    )
    clock.set(datetime(2026, 9, 3, 10, 0, tzinfo=SH))
    engine.tick()
    engine.execute(
        CreateTask(
            key="cs-P-2",
            member_id="P-2",
            kind="call",
            role="customer_service",
            due_at=datetime(2026, 9, 5, 10, 0, tzinfo=SH),
            reason="投诉回访",
        )
    )
    clock.set(MORNING)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def api(clock: ManualClock) -> Litestar:
    return app(_opener(clock))


@pytest.fixture
def client(api: Litestar, clock: ManualClock) -> Iterator[TestClient[Litestar]]:
    with TestClient(api) as held:
        engine_thread(api).call_blocking(lambda engine: _ward(engine, clock))
        yield held


def _engine(api: Litestar, work: Any) -> Any:
    return engine_thread(api).call_blocking(work)


def _form_token(client: TestClient[Litestar]) -> str:
    found = TOKEN.search(client.get("/console/sign-in").text)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient[Litestar], staff_id: str, **form: str) -> Any:
    data = {"staff_id": staff_id, "password": PASSWORD, "_csrf_token": _form_token(client)}
    return client.post("/console/sign-in", data={**data, **form}, follow_redirects=False)


def _signed_in(client: TestClient[Litestar], staff_id: str) -> str:
    """Sign ``staff_id`` in; the forms' token."""
    answer = _sign_in(client, staff_id)
    assert answer.status_code == 303, answer.text
    return _form_token(client)


def _call(api: Litestar) -> str:
    """The id of P-1's call, as the console's URLs name it."""
    (key,) = _engine(api, lambda engine: list(engine.member("P-1").work.tasks))
    return task_id("member:P-1", key)


def _diabetes(api: Litestar) -> str:
    return str(
        _engine(
            api,
            lambda engine: next(j.state for j in engine.journeys("P-1") if j.journey == "diabetes"),
        )
    )


def _flash(text: str) -> str | None:
    found = re.search(r'<p class="flash (?:ok|error)" role="status">([^<]*)</p>', text)
    return None if found is None else found.group(1)


# -- signing in ----------------------------------------------------------------------------


def test_a_page_asked_for_signed_out_sends_the_browser_to_sign_in_and_back(
    client: TestClient[Litestar],
) -> None:
    answer = client.get("/console/members/P-1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fmembers%2FP-1"
    signed = _sign_in(client, "hm-01", next="/console/members/P-1")
    assert signed.headers["location"] == "/console/members/P-1"
    assert "会员 P-1" in client.get("/console/members/P-1").text


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/console/", "/tasks", "/console//x"]
)
def test_signing_in_follows_only_the_consoles_own_paths(
    client: TestClient[Litestar], elsewhere: str
) -> None:
    assert _sign_in(client, "hm-01", next=elsewhere).headers["location"] == "/console/"


def test_the_session_cookie_is_http_only_strict_and_kept_to_the_console(api: Litestar) -> None:
    for base, secure in (("http://hospital.example", False), ("https://hospital.example", True)):
        with TestClient(api, base_url=base) as client:
            answer = _sign_in(client, "hm-01")
            (cookie,) = [c for c in answer.headers.get_list("set-cookie") if "console=" in c]
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"httponly", "path=/console", "samesite=strict"} <= flags
            assert ("secure" in flags) is secure
            assert cookie.startswith("membercore_console=ms_")


def test_a_wrong_password_shows_the_form_again_and_five_hold_the_id_back(
    client: TestClient[Litestar],
) -> None:
    for _ in range(5):
        wrong = _sign_in(client, "hm-01", password="not it")
        assert wrong.status_code == 401
        assert "员工编号或密码不正确" in wrong.text
        assert "membercore_console" not in wrong.headers.get("set-cookie", "")
    held = _sign_in(client, "hm-01")
    assert held.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试" in held.text


def test_signing_out_ends_the_session(client: TestClient[Litestar]) -> None:
    token = _signed_in(client, "hm-01")
    cookie = client.cookies["membercore_console"]
    out = client.post("/console/sign-out", data={"_csrf_token": token}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/console/sign-in")
    client.cookies.set("membercore_console", cookie, path="/console")
    again = client.get("/console/", follow_redirects=False)
    assert again.headers["location"].startswith("/console/sign-in")


def test_a_deactivated_account_is_signed_out_at_its_next_click(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _signed_in(client, "hm-01")
    assert client.get("/console/", follow_redirects=False).status_code == 200

    def deactivate(engine: Engine) -> None:
        accounts = _accounts(engine)
        account = accounts.staff_account("hm-01")
        assert account is not None
        accounts.save_staff_account(attrs.evolve(account, active=False))

    _engine(api, deactivate)
    answer = client.get("/console/", follow_redirects=False)
    assert answer.headers["location"].startswith("/console/sign-in")


def test_the_api_takes_no_console_cookie_and_the_console_no_bearer_token(
    client: TestClient[Litestar],
) -> None:
    _signed_in(client, "hm-01")
    cookie = client.cookies["membercore_console"]
    assert client.get("/tasks").status_code == 401  # the cookie is not sent, nor taken
    bearer = {"Authorization": f"Bearer {cookie}"}
    assert client.get("/tasks", headers=bearer).status_code == 200
    client.cookies.clear()
    shown = client.get("/console/", headers=bearer, follow_redirects=False)
    assert shown.headers["location"].startswith("/console/sign-in")


# -- the queue, the member's page, the forms -----------------------------------------------


def test_the_queue_shows_todays_call_with_the_outcome_the_journey_waits_for(
    client: TestClient[Litestar],
) -> None:
    _signed_in(client, "hm-01")
    page = client.get("/console/").text
    today = page[page.index('id="today"') : page.index('id="later"')]
    assert "致电" in today
    assert 'href="/console/members/P-1"' in today
    assert "到期 2026-09-04 10:00" in today
    assert 'name="outcome" value="rebooked"' in today
    assert "糖尿病管理 → monitoring" in today
    assert "P-2" not in page  # customer service's, not hers


def test_completing_from_the_queue_moves_the_journey_and_says_so_once(
    client: TestClient[Litestar], api: Litestar
) -> None:
    token = _signed_in(client, "hm-01")
    form = {"_csrf_token": token, "outcome": "rebooked", "back": "queue", "member": "P-1"}
    done = client.post(f"/console/tasks/{_call(api)}/complete", data=form, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/console/")
    assert _diabetes(api) == "monitoring"
    said = "已完成 P-1 的致电任务，结果：已改约；糖尿病管理：escalated → monitoring"
    assert _flash(client.get("/console/").text) == said
    assert _flash(client.get("/console/").text) is None
    seen = _engine(api, lambda engine: list(_accounts(engine).lookups(member_id="P-1")))
    assert [(s.who, s.purpose, s.via) for s in seen] == [
        ("hm-01", "完成任务 / completing a task", "console")
    ]


def test_a_typed_outcome_closes_the_task_and_moves_no_journey(
    client: TestClient[Litestar], api: Litestar
) -> None:
    token = _signed_in(client, "hm-01")
    form = {"_csrf_token": token, "outcome": "", "other": " 未接通 ", "back": "queue"}
    client.post(f"/console/tasks/{_call(api)}/complete", data=form)
    (task,) = _engine(api, lambda engine: list(engine.member("P-1").work.tasks.values()))
    assert (task.status, task.outcome) == ("closed", "未接通")
    assert _diabetes(api) == "escalated"


def test_no_outcome_or_another_one_after_closing_is_refused_with_a_message(
    client: TestClient[Litestar], api: Litestar
) -> None:
    token = _signed_in(client, "hm-01")
    url = f"/console/tasks/{_call(api)}/complete"
    empty = client.post(url, data={"_csrf_token": token, "outcome": "", "other": ""})
    assert _flash(empty.text) == "请选择或填写任务结果"
    client.post(url, data={"_csrf_token": token, "outcome": "rebooked"})
    other = client.post(url, data={"_csrf_token": token, "outcome": "no_answer"})
    said = _flash(other.text)
    assert said is not None
    assert "已关闭" in said
    assert "rebooked" in said
    (task,) = _engine(api, lambda engine: list(engine.member("P-1").work.tasks.values()))
    assert task.outcome == "rebooked"


def test_a_form_without_its_token_changes_nothing(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _signed_in(client, "hm-01")
    refused = client.post(f"/console/tasks/{_call(api)}/complete", data={"outcome": "rebooked"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "表单已失效" in refused.text
    assert _diabetes(api) == "escalated"


def test_a_member_not_in_her_care_is_shown_after_she_says_why(
    client: TestClient[Litestar], api: Litestar
) -> None:
    token = _signed_in(client, "hm-02")
    asked = client.get("/console/members/P-1")
    assert asked.status_code == 403
    assert "查阅用途" in asked.text
    empty = client.post("/console/members/P-1", data={"_csrf_token": token, "purpose": " "})
    assert "请说明查阅用途" in empty.text
    long = client.post("/console/members/P-1", data={"_csrf_token": token, "purpose": "x" * 201})
    assert "用途最长 200 字" in long.text
    assert not _engine(api, lambda engine: list(_accounts(engine).lookups(member_id="P-1")))
    shown = client.post("/console/members/P-1", data={"_csrf_token": token, "purpose": "来电咨询"})
    assert shown.status_code == 200
    assert "escalated" in shown.text
    seen = _engine(api, lambda engine: list(_accounts(engine).lookups(member_id="P-1")))
    assert [(s.who, s.purpose, s.via) for s in seen] == [("hm-02", "来电咨询", "console")]


def test_a_consent_is_withdrawn_with_one_button_by_any_member_of_staff(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _engine(
        api,
        lambda engine: engine.record_consent(
            "P-1", "marketing", ["sms", "wecom"], key="k-m", given_by="P-1", source="app"
        ),
    )
    token = _signed_in(client, "hm-02")  # P-1 is not in her care
    asked = client.post("/console/members/P-1", data={"_csrf_token": token, "purpose": "来电咨询"})
    assert asked.text.count("撤回同意</button>") == 1  # only marketing is agreed to
    assert 'name="purpose" value="marketing"' in asked.text
    stale = client.post("/console/members/P-1/consent/withdraw", data={"purpose": "marketing"})
    assert stale.status_code == 403
    assert _engine(api, lambda engine: engine.member("P-1").consent.granted.get("marketing"))
    token = _form_token(client)  # the refusal forgot the form's cookie: a fresh one
    done = client.post(
        "/console/members/P-1/consent/withdraw",
        data={"_csrf_token": token, "purpose": "marketing"},
    )
    assert done.status_code == 200, done.text
    assert _flash(done.text) == "已撤回 P-1 对营销的同意（所有渠道），相关待发消息已取消"
    assert "撤回同意</button>" not in done.text
    assert not _engine(api, lambda engine: engine.member("P-1").consent.granted.get("marketing"))
    seen = _engine(api, lambda engine: list(_accounts(engine).lookups(member_id="P-1")))
    assert [(s.who, s.purpose) for s in seen] == [("hm-02", "来电咨询"), ("hm-02", "撤回同意")]
    (withdrawn,) = [
        event
        for event in _engine(api, lambda engine: engine.store.events("member:P-1"))
        if event.type == "consent_withdrawn"
    ]
    assert '"operator":"hm-02"' in withdrawn.payload
    odd = client.post(
        "/console/members/P-1/consent/withdraw",
        data={"_csrf_token": _form_token(client), "purpose": "spam"},
        follow_redirects=False,
    )
    assert odd.status_code == 303  # back to the member's page, the reason said there
    assert odd.headers["location"] == "/console/members/P-1"
    assert len(_engine(api, lambda engine: list(_accounts(engine).lookups(member_id="P-1")))) == 2


def test_an_unassigned_task_claimed_by_someone_off_the_roster_says_why(
    client: TestClient[Litestar], api: Litestar
) -> None:
    token = _signed_in(client, "cs-01")
    page = client.get("/console/").text
    assert "待认领" in page
    claimed = client.post(
        f"/console/tasks/{task_id('member:P-2', 'cs-P-2')}/claim",
        data={"_csrf_token": token, "back": "queue"},
    )
    said = _flash(claimed.text)
    assert said is not None
    assert "cs-01" in said
    task = _engine(api, lambda engine: engine.member("P-2").work.tasks["cs-P-2"])
    assert task.assignee is None


def test_the_member_search_box_opens_the_members_page_and_an_unknown_one_says_so(
    client: TestClient[Litestar],
) -> None:
    _signed_in(client, "hm-01")
    found = client.get("/console/members", params={"id": " P-1 "}, follow_redirects=False)
    assert found.headers["location"] == "/console/members/P-1"
    unknown = client.get("/console/members/P-404")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "没有会员 P-404" in unknown.text


def test_console_pages_are_never_framed_cached_or_scripted(client: TestClient[Litestar]) -> None:
    _signed_in(client, "hm-01")
    answer = client.get("/console/members/P-1")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "script-src" not in answer.headers["content-security-policy"]  # none at all
    assert answer.headers["cache-control"] == "no-store"
    assert "<script" not in answer.text
    style = client.get("/console/static/console.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")


def test_the_dashboard_shows_the_programmes_figures_and_keeps_them_a_while(
    client: TestClient[Litestar], api: Litestar
) -> None:
    _signed_in(client, "hm-01")
    held = _engine(api, lambda engine: figures(engine.members(), engine.config, engine.now()))
    page = client.get("/console/dashboard").text
    assert f"{held.patients} 位会员" in page
    for level in CONFIG.tiers.levels:
        row = f"<td>{level.key}</td><td>{level.label}</td>"
        row += f'<td class="n">{held.by_tier.get(level.key, 0)}</td>'
        assert row in page
    assert "员工任务（按类型）" in page
    _engine(api, lambda engine: engine.ingest([_fact("patient_registered", "r3", "P-3")]))
    assert f"{held.patients} 位会员" in client.get("/console/dashboard").text


# -- the parts ----------------------------------------------------------------------------


def _instance(journey: str, state: str) -> JourneyInstance:
    return JourneyInstance(
        instance_id=f"P-1/{journey}/1", journey=journey, state=state, started_at=T0, entered_at=T0
    )


def test_the_outcomes_offered_are_those_the_running_journeys_wait_for() -> None:
    (rebooked,) = expected_outcomes([_instance("diabetes", "escalated")], CONFIG)
    assert (rebooked.value, rebooked.label, rebooked.moves) == (
        "rebooked",
        "已改约",
        ("糖尿病管理 → monitoring",),
    )
    assert expected_outcomes([_instance("diabetes", "monitoring")], CONFIG) == ()
    completed = Trigger(kind="fact", type="task_completed")
    either = Call(name="field_in", params={"field": "outcome", "values": "reached, rebooked"})
    call = JourneyDefinition(
        key="call",
        label="回访",
        states=("waiting", "done"),
        initial="waiting",
        entry=Trigger(kind="fact", type="patient_registered"),
        transitions=(
            Transition(source="waiting", target="done", trigger=completed, guards=(either,)),
        ),
    )
    config = attrs.evolve(CONFIG, journeys=(*CONFIG.journeys, call))
    offered = expected_outcomes(
        [_instance("diabetes", "escalated"), _instance("call", "waiting")], config
    )
    assert [(o.value, o.moves) for o in offered] == [
        ("rebooked", ("糖尿病管理 → monitoring", "回访 → done")),
        ("reached", ("回访 → done",)),
    ]


def test_every_subscription_status_has_a_name() -> None:
    assert set(PLAN_STATUSES) == {status.value for status in plans.SubscriptionStatus}


def test_after_a_restart_a_stale_form_is_refused_once_and_the_next_one_works(
    clock: ManualClock,
) -> None:
    before = app(_opener(clock))
    with TestClient(before) as client:
        engine_thread(before).call_blocking(lambda engine: _ward(engine, clock))
        _form_token(client)
        (stale,) = [c for c in client.cookies.jar if c.name == "membercore_csrf"]
    after = app(_opener(clock))  # the server started again: a new key, no sessions
    with TestClient(after) as client:
        client.cookies.jar.set_cookie(stale)
        token = _form_token(client)
        data = {"staff_id": "hm-01", "password": PASSWORD, "_csrf_token": token}
        refused = client.post("/console/sign-in", data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert "表单已失效" in refused.text
        assert "membercore_csrf" not in client.cookies
        assert _sign_in(client, "hm-01").status_code == 303


def test_every_kind_of_task_the_reference_journeys_create_has_its_label() -> None:
    config = reference_config()
    calls = [
        call
        for journey in config.journeys
        for transition in (
            journey.transitions.values()
            if isinstance(journey.transitions, dict)
            else journey.transitions
        )
        for call in transition.actions
    ] + [call for journey in config.journeys for call in journey.entry_actions]
    kinds = {str(c.params["kind"]) for c in calls if c.name == "create_task"}
    assert kinds
    assert kinds <= set(TASK_KINDS)
