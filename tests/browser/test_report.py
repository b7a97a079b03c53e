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


@pytest.fixture(scope="module")
def compared_report(demo_report: tuple[Path, str]) -> Path:
    """``membercore report --whatif``: the demo against itself earning half the points."""
    folder = demo_report[0].parent
    store = f"sqlite:///{folder / 'membercore-demo.db'}"
    demo, lower = folder / "demo.toml", folder / "lower.toml"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["config", "init", str(demo), "--template", "demo"]) == 0
        text = demo.read_text(encoding="utf-8")
        lower.write_text(text.replace("per_yuan = 1 }", "per_yuan = 2 }", 1), encoding="utf-8")
        compared = folder / "compared.json"
        whatif = ["whatif", "--store", store, "--baseline", str(demo), "--config", str(lower)]
        assert main([*whatif, "--json", str(compared)]) == 0
        out = folder / "with-whatif.html"
        report = ["report", "--store", store, "--out", str(out), "--whatif", str(compared)]
        assert main([*report, "--config", str(demo)]) == 0
    return out


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
def opened(browser: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:
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
    try:
        yield page, errors, requested
    finally:
        context.close()


def _open(opened: tuple[Page, list[str], list[str]], report: Path) -> tuple[Page, list[str]]:
    page, errors, requested = opened
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    return page, errors + [f"fetched {url}" for url in requested]


def _drawn(page: Page) -> list[str]:
    """The ids of the charts on the page, each checked to have drawn marks."""
    plots = page.locator(".plot")
    names = []
    for index in range(plots.count()):
        plot = plots.nth(index)
        name = plot.get_attribute("id") or ""
        marks = plot.locator("svg.main-svg path, svg.main-svg rect, svg.main-svg image").count()
        assert marks > 0, f"{name} drew nothing"
        names.append(name)
    return names


def test_every_chart_draws_offline_without_errors(
    opened: tuple[Page, list[str], list[str]], demo_report: tuple[Path, str]
) -> None:
    page, problems = _open(opened, demo_report[0])
    names = _drawn(page)
    assert len(names) >= 8  # the measurement's seven and the price test's
    assert "会员项目经营报告" in page.title()
    assert page.locator("h2", has_text="患者终身价值").count() == 1
    body = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert body.startswith('"Noto Sans CJK SC"'), body  # the style sheet's own fonts
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-top.png"))
    page.screenshot(path=str(SHOTS / "report-full.png"), full_page=True)
    assert problems == []


def test_a_whatif_comparison_is_shown_when_given(
    opened: tuple[Page, list[str], list[str]], compared_report: Path
) -> None:
    page, problems = _open(opened, compared_report)
    assert "chart-whatif-points" in _drawn(page)
    assert page.locator("h2", has_text="试算").count() == 2
    heading = page.locator("h2", has_text="对比").inner_text()
    assert "基准：" in heading
    assert "方案：" in heading
    assert page.get_by_text("基准重放与存储一致").count() == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-whatif.png"), full_page=True)
    assert problems == []
    rows = json.loads(compared_report.with_suffix(".json").read_text(encoding="utf-8"))["whatif"]
    balance = next(r for r in rows if (r["section"], r["key"]) == ("points", "balance"))
    assert balance["proposed"] < balance["baseline"]
