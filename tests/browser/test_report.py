"""The demo's management report, opened offline in headless Chromium.

``membercore demo`` ends by writing the report beside its store and saying where. The
page is opened from the file with every network request refused: each chart must have
drawn (an SVG with marks in it), and nothing may be logged as an error. What the tab
shows is kept as ``build/screenshots/report-*.png``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from membercore_adapters.cli import main

from .conftest import SHOTS

pytestmark = pytest.mark.browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    store = f"sqlite:///{folder / 'membercore-demo.db'}"
    args = ["--lang", "zh-CN", "demo", "--patients", "300", "--months", "4", "--workers", "1"]
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main([*args, "--quiet", "--store", store]) == 0
    return folder / "membercore-demo-report.html", said.getvalue()


def test_the_demo_says_where_its_report_is(demo_report: tuple[Path, str]) -> None:
    report, output = demo_report
    assert f"经营报告：{report}" in output
    figures = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert figures["lifetime_value"][0]["dimension"] == "all"
    assert figures["lifetime_value"][0]["patients"] > 0
    csvs = sorted(path.name for path in report.with_name(f"{report.stem}-csv").iterdir())
    assert {"lifetime_value.csv", "cohorts.csv", "experiments.csv"} <= set(csvs)
    variants = {row["variant"] for row in figures["experiments"]}
    assert len(variants) == 2  # the price test: 999 a year against 99 a month


@pytest.fixture
def opened(browser: Browser, demo_report: tuple[Path, str]) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda said: errors.append(said.text) if said.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requested: list[str] = []

    def refuse(route: Route) -> None:
        requested.append(route.request.url)
        route.abort()

    page.route("http://**/*", refuse)
    page.route("https://**/*", refuse)
    page.goto(demo_report[0].as_uri())
    page.wait_for_load_state("load")
    try:
        yield page, errors + [f"fetched {url}" for url in requested]
    finally:
        context.close()


def test_every_chart_draws_offline_without_errors(opened: tuple[Page, list[str]]) -> None:
    page, problems = opened
    plots = page.locator(".plot")
    assert plots.count() >= 8  # the measurement's seven and the price test's
    for index in range(plots.count()):
        plot = plots.nth(index)
        name = plot.get_attribute("id")
        marks = plot.locator("svg.main-svg path, svg.main-svg rect, svg.main-svg image").count()
        assert marks > 0, f"{name} drew nothing"
    assert "会员项目经营报告" in page.title()
    assert page.locator("h2", has_text="患者终身价值").count() == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-top.png"))
    page.screenshot(path=str(SHOTS / "report-full.png"), full_page=True)
    assert problems == []
