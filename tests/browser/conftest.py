"""The console served by uvicorn on loopback, and headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or the path in
``MEMBERCORE_TEST_CHROMIUM``): Playwright's own browser download is never used. Without
Playwright or Chromium the browser tests skip saying what is missing and how to get it,
except in CI (env ``CI`` set), where they fail: the console must never go untested there
unnoticed. Each page a test visits is kept as a screenshot in ``build/screenshots/``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from membercore.testing.clock import ManualClock
from membercore_adapters.http import app, engine_thread

from .ward import T0, open_ward, opener

if TYPE_CHECKING:
    from litestar import Litestar
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
#: Where the screenshots of the pages the tests visit are kept.
SHOTS = ROOT / "build" / "screenshots"
#: A tablet held sideways.
TABLET = {"width": 1024, "height": 768}


def _chromium_path() -> Path:
    return Path(os.environ.get("MEMBERCORE_TEST_CHROMIUM") or "/usr/bin/chromium")


def _cannot_run(reason: str) -> None:
    """Skip saying why, or fail in CI."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _missing() -> str | None:
    """What the browser tests lack, and how to get it; ``None`` when nothing."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: pip install -e '.[dev]' installs it"
    chromium = _chromium_path()
    if not chromium.is_file():
        return (
            f"Chromium is not at {chromium}: apt-get install chromium (Debian), or set "
            "MEMBERCORE_TEST_CHROMIUM to a Chromium's path"
        )
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, for one module's tests.

    Never for longer: Playwright's synchronous API keeps an event loop running on the
    main thread while it is started, and the other modules' tests run their own.
    """
    missing = _missing()
    if missing is not None:
        _cannot_run(missing)
    from playwright.sync_api import Error, sync_playwright  # noqa: PLC0415 - only when there

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(_chromium_path()))
        except Error as error:
            _cannot_run(f"Chromium at {_chromium_path()} did not start: {error.message}")
        try:
            yield launched
        finally:
            launched.close()


@attrs.frozen
class Console:
    """The console served on loopback over the ward's store."""

    base: str
    api: Litestar
    clock: ManualClock

    def engine(self, work: Any) -> Any:
        """Run ``work(engine)`` on the engine's thread."""
        return engine_thread(self.api).call_blocking(work)


@contextlib.contextmanager
def _served(api: Litestar) -> Iterator[str]:
    """``api`` under uvicorn on a loopback port of its own, in a thread: its base URL."""
    import uvicorn  # noqa: PLC0415 - the http extra's

    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the console's server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The ward on a SQLite store, served by uvicorn as ``membercore serve`` serves it."""
    clock = ManualClock(T0)
    store = tmp_path_factory.mktemp("ward") / "ward.db"
    api = app(opener(f"sqlite:///{store}", clock))
    with _served(api) as base:
        served = Console(base=base, api=api, clock=clock)
        served.engine(lambda engine: open_ward(engine, clock))
        yield served


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new browser tab the size of a tablet, its own cookies."""
    context = browser.new_context(viewport=TABLET, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def shoot(page: Page) -> Callable[[str], Path]:
    """Keeps what the tab shows as ``build/screenshots/console-<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> Path:
        path = SHOTS / f"console-{name}.png"
        page.screenshot(path=str(path))
        return path

    return shot
