"""What the WeCom tests share: the loopback server, the options, clocks, outbox messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from membercore.ports import OutboxMessage
from membercore_wecom import WeComChannel, WeComStaffNotifier, staff_notifier
from membercore_wecom.testing import AGENT_ID, WeComServer

#: Patients who added the health manager zhanghua, and the one who added lisi.
ZHANG_CUSTOMERS = ("wmPatientA0001", "wmPatientA0002", "wmPatientA0003", "wmPatientA0004")
LI_CUSTOMERS = ("wmPatientB0001",)
#: Staff ids of the hospital and their WeCom userids.
STAFF = {"S0012": "zhanghua", "S0031": "lisi"}
#: A Wednesday in March, 10:00 in Shanghai.
NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


@attrs.define
class Clocks:
    """The wall clock and the monotonic one, moved by hand."""

    wall: datetime = NOW
    ticks: float = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.ticks += seconds


@pytest.fixture
def server() -> Iterator[WeComServer]:
    staff = {"zhanghua": ZHANG_CUSTOMERS, "lisi": LI_CUSTOMERS, "wangfang": ()}
    with WeComServer(staff) as running:
        yield running
        assert running.problems == []


@pytest.fixture
def environ(server: WeComServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    variables = {
        "WECOM_CONTACT_SECRET": server.contact_secret,
        "WECOM_APP_SECRET": server.app_secret,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def options(server: WeComServer, **changes: Any) -> dict[str, Any]:
    """The channel's table (without ``use``), pointing at ``server``."""
    table: dict[str, Any] = {
        "corp_id": server.corp_id,
        "secret_env": "WECOM_CONTACT_SECRET",
        "app_secret_env": "WECOM_APP_SECRET",
        "agent_id": AGENT_ID,
        "staff": dict(STAFF),
        "base_url": server.base_url,
        "timeout": 5,
    }
    table.update(changes)
    return {key: value for key, value in table.items() if value is not None}


@pytest.fixture
def channel(server: WeComServer, environ: dict[str, str], clocks: Clocks) -> Iterator[WeComChannel]:
    built = WeComChannel.from_options(options(server), clock=clocks.now, monotonic=clocks.monotonic)
    yield built
    built.close()


#: Builds a channel on a server, with options changed.
MakeChannel = Callable[..., WeComChannel]


@pytest.fixture
def make_channel(clocks: Clocks) -> Iterator[MakeChannel]:
    """Build channels on a server with changed options; each closed after the test."""
    built: list[WeComChannel] = []

    def make(server: WeComServer, **changes: Any) -> WeComChannel:
        channel = WeComChannel.from_options(
            options(server, **changes), clock=clocks.now, monotonic=clocks.monotonic
        )
        built.append(channel)
        return channel

    yield make
    for channel in built:
        channel.close()


@pytest.fixture
def notifier(
    server: WeComServer, environ: dict[str, str], clocks: Clocks
) -> Iterator[WeComStaffNotifier]:
    built = staff_notifier(options(server), monotonic=clocks.monotonic)
    yield built
    built.close()


def outbox(
    number: int = 1,
    *,
    member: str = "M0001",
    to: str | None = ZHANG_CUSTOMERS[0],
    manager: str | None = "S0012",
    text: str = "张先生您好，您的糖化血红蛋白复查已到期，请预约复诊。",
    template: str | None = "hba1c_recheck",
    purpose: str = "care",
) -> OutboxMessage:
    """Message ``<member>/msg/<number>`` as the engine queues it for the ``wecom`` channel."""
    message_id = f"{member}/msg/{number}"
    payload = {
        "message_id": message_id,
        "member_id": member,
        "channel": "wecom",
        "text": text,
        "language": "zh-CN",
        "variables": {"name": "张先生"},
        "template": template,
        "purpose": purpose,
        "to": to,
        "manager": manager,
    }
    return OutboxMessage(
        message_id=message_id,
        key=member,
        channel="wecom",
        payload=json.dumps(payload, ensure_ascii=False),
        send_at=NOW,
    )


def awaiting(message: OutboxMessage, receipt: str) -> OutboxMessage:
    """``message`` as the engine hands it back to be reported on: acknowledged with ``receipt``."""
    payload = json.loads(message.payload)
    return attrs.evolve(message, receipt=receipt, address=payload["to"], delivered_at=NOW)
