"""The staff console in a real browser: a health manager's morning, a nurse's, mistakes.

Headless Chromium opens the console as the health management centre would on a tablet,
served by uvicorn over a SQLite store (the ward: :mod:`ward`), and clicks through it: the
pages are what the server rendered, the forms are submitted by the browser, the cookies
are the browser's. What the pages say is checked against what the engine holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from membercore.ports import AccountStore

from .conftest import Console
from .ward import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

Shoot = Callable[[str], Path]


def _expect(page: Page) -> Any:
    from playwright.sync_api import expect  # noqa: PLC0415 - only when Playwright is there

    return expect


def _sign_in(page: Page, console: Console, staff_id: str, password: str = PASSWORD) -> None:
    page.goto(f"{console.base}/console/")
    page.get_by_label("员工编号").fill(staff_id)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def _accounts(engine: Any) -> AccountStore:
    store = engine.store
    assert isinstance(store, AccountStore)
    return store


def test_a_health_manager_finds_the_days_call_completes_it_and_sees_the_journey_move_on(
    page: Page, console: Console, shoot: Shoot
) -> None:
    expect = _expect(page)
    page.goto(f"{console.base}/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    expect(page.get_by_role("heading", name="员工登录")).to_be_visible()
    shoot("sign-in")

    _sign_in(page, console, "hm-01")
    expect(page).to_have_url(f"{console.base}/console/")
    expect(page.get_by_text("王健康（健康管家 · hm-01）")).to_be_visible()
    today = page.locator("section#today")
    expect(today.locator("li.task")).to_have_count(1)
    call = today.locator("li.task")
    expect(call).to_contain_text("致电")
    expect(call).to_contain_text("P-1")
    expect(call).to_contain_text("到期 2026-09-04 10:00")
    overdue = page.locator("section#overdue li.task")
    expect(overdue).to_have_count(1)
    expect(overdue).to_contain_text("P-2")
    expect(overdue).to_contain_text("已升级 · 第 1 级")
    expect(page.locator("section#later li.task")).to_have_count(0)
    shoot("queue")

    call.get_by_role("link", name="P-1").click()
    expect(page).to_have_url(f"{console.base}/console/members/P-1")
    journeys = page.locator("section#journeys")
    diabetes = journeys.locator("tr", has_text="糖尿病管理")
    expect(diabetes.locator("td.state")).to_have_text("escalated")
    expect(page.locator("section#consent tr", has_text="医疗关怀")).to_contain_text("✓")
    messages = page.locator("section#messages")
    expect(messages).to_contain_text("appointment_reminder")
    expect(messages.locator("tr", has_text="birthday")).to_contain_text("未获同意")
    shoot("member")

    tasks = page.locator("section#tasks")
    tasks.get_by_role("button", name=re.compile("已改约")).click()
    expect(page.locator(".flash.ok")).to_have_text(
        "已完成 P-1 的致电任务，结果：已改约；糖尿病管理：escalated → monitoring"
    )
    expect(diabetes.locator("td.state")).to_have_text("monitoring")
    expect(tasks.locator("li.task")).to_contain_text("已完成 · 结果：已改约")
    journeys.scroll_into_view_if_needed()
    shoot("completed")

    journey = console.engine(
        lambda engine: next(j for j in engine.journeys("P-1") if j.journey == "diabetes")
    )
    assert journey.state == "monitoring"
    (task,) = console.engine(lambda engine: engine.member("P-1").work.tasks.values())
    assert (task.status, task.outcome) == ("closed", "rebooked")
    seen = console.engine(lambda engine: list(_accounts(engine).lookups(member_id="P-1")))
    assert [(s.who, s.purpose, s.via) for s in seen] == [
        ("hm-01", "负责的会员 / in their care", "console"),  # opening her page
        ("hm-01", "完成任务 / completing a task", "console"),  # the page after, too
    ]

    page.get_by_role("link", name="我的任务").click()
    expect(page.locator("section#today li.task")).to_have_count(0)
    page.get_by_role("link", name="数据看板").click()
    tiers = page.locator("section.card", has_text="会员等级")
    expect(tiers.locator("tr", has_text="普通")).to_be_visible()
    expect(page.locator("section.card", has_text="员工任务")).to_contain_text("致电")
    shoot("dashboard")


def test_a_wrong_password_is_refused_and_says_so(page: Page, console: Console) -> None:
    expect = _expect(page)
    _sign_in(page, console, "hm-02", "not her password")
    expect(page.get_by_role("alert")).to_have_text("员工编号或密码不正确")
    expect(page.get_by_label("员工编号")).to_have_value("hm-02")
    assert not [c for c in page.context.cookies() if c["name"] == "membercore_console"]
    page.goto(f"{console.base}/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_a_member_not_in_her_care_is_looked_up_with_a_purpose(
    page: Page, console: Console, shoot: Shoot
) -> None:
    expect = _expect(page)
    _sign_in(page, console, "hm-02")
    expect(page.locator("section#today li.task")).to_have_count(0)
    page.get_by_placeholder("会员编号").fill("P-3")
    page.get_by_role("button", name="查找").click()
    expect(page.get_by_role("heading", name="查阅会员 P-3")).to_be_visible()
    shoot("purpose")
    before = console.engine(lambda engine: len(list(_accounts(engine).lookups(member_id="P-3"))))

    page.get_by_label("查阅用途").fill("来电咨询")
    page.get_by_role("button", name="查阅").click()
    expect(page.get_by_role("heading", name="会员 P-3")).to_be_visible()
    expect(page.locator("section#tasks")).to_contain_text("回访")

    seen = console.engine(lambda engine: list(_accounts(engine).lookups(member_id="P-3")))
    assert [(s.who, s.purpose, s.via) for s in seen[before:]] == [("hm-02", "来电咨询", "console")]


def test_a_nurse_sees_her_visit_and_none_of_the_health_managers_calls(
    page: Page, console: Console
) -> None:
    expect = _expect(page)
    _sign_in(page, console, "rn-01")
    expect(page.get_by_text("陈护士（护士 · rn-01）")).to_be_visible()
    tasks = page.locator("li.task")
    expect(tasks).to_have_count(1)
    expect(tasks).to_contain_text("回访")
    expect(tasks).to_contain_text("P-3")
    expect(page.locator("main")).not_to_contain_text("致电")

    page.get_by_role("button", name="退出").click()
    expect(page.locator(".flash.ok")).to_have_text("已退出登录")
    page.goto(f"{console.base}/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
