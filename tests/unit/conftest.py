"""Fixtures the engine's tests share: a manual clock and an engine over each store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from membercore import reference_config
from membercore.consent import GrantConsent, Purpose
from membercore.plugins import make_plugin_manager
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

# A Monday morning in Shanghai, outside quiet hours.
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

OpenEngine = Callable[..., Engine]


@pytest.fixture
def open_engine() -> OpenEngine:
    """Opens an engine on the reference programme with the first-party stores only."""

    def open_(url: str, clock: ManualClock, **options: Any) -> Engine:
        manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
        config = reference_config()
        return Engine.open(url, config=config, clock=clock, plugin_manager=manager, **options)

    return open_


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture(params=["memory", "sqlite"])
def engine(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path, open_engine: OpenEngine
) -> Iterator[Engine]:
    """An engine over each first-party store (a SQLite file in the test's folder)."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/m.db"
    with open_engine(url, clock) as opened:
        yield opened


def consent(member: str, purpose: Purpose = "care") -> GrantConsent:
    """The member's own consent to ``purpose`` on WeCom and SMS, given in the app."""
    return GrantConsent(
        key=f"consent-{member}-{purpose}",
        member_id=member,
        purpose=purpose,
        channels=("wecom", "sms"),
        given_by=member,
        source="app",
    )
