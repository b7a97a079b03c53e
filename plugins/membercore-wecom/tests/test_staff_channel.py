"""The programme's staff channel by WeCom: the engine's notices of tasks as app messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import Engine
from membercore.config import reference_config
from membercore.config.channels import ChannelSettings
from membercore.consent import GrantConsent
from membercore.errors import ConfigError
from membercore.facts import PatientRegistered
from membercore.outreach import RequestMessage
from membercore.ports import OutboxMessage, PermanentDeliveryError
from membercore.staff.tasks import AssignHealthManager
from membercore.testing.channels import contract_template as _t
from membercore.testing.clock import ManualClock
from membercore_wecom import WeComStaffChannel
from membercore_wecom.testing import WeComServer

from .conftest import AGENT_ID, NOW

SEND = "/cgi-bin/message/send"
#: The reference programme's health managers and nurses, as the hospital's WeCom knows them.
USERIDS = {"hm-01": "wangjiankang", "hm-02": "liguanjia", "hm-03": "zhaoguwen"}


def staff_table(server: WeComServer, **changes: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "corp_id": server.corp_id,
        "app_secret_env": "WECOM_APP_SECRET",
        "agent_id": AGENT_ID,
        "staff": dict(USERIDS),
        "base_url": server.base_url,
        "timeout": 5,
    }
    table.update(changes)
    return table


@pytest.fixture
def desk(server: WeComServer, environ: dict[str, str]) -> Iterator[WeComStaffChannel]:
    server.contacts.update({userid: set() for userid in USERIDS.values()})
    channel = WeComStaffChannel.from_options(staff_table(server))
    yield channel
    channel.close()


def notice(to: str | None = "hm-01", number: int = 1) -> OutboxMessage:
    message_id = f"M0001/task/{number}/notice"
    payload = {
        "message_id": message_id,
        "member_id": "M0001",
        "channel": "staff",
        "language": "zh-CN",
        "text": "【新任务】致电 · 会员 M0001 · 截止 03-05 10:00（任务 M0001/task/1）",
        "template": "task_call",
        "to": to,
        "task": "M0001/task/1",
    }
    return OutboxMessage(
        message_id=message_id,
        key="M0001",
        channel="staff",
        payload=json.dumps(payload, ensure_ascii=False),
        send_at=NOW,
    )


def test_a_notice_goes_to_the_staff_member_it_names(
    desk: WeComStaffChannel, server: WeComServer
) -> None:
    receipt = desk.send(notice())
    (seen,) = server.calls(SEND)
    assert seen.body["touser"] == "wangjiankang"
    assert seen.body["agentid"] == AGENT_ID
    assert seen.body["text"]["content"].startswith("【新任务】致电")
    assert receipt.startswith("staff")
    assert desk.name == "staff"
    assert desk.carries(_t("task_call")) == "free text"


def test_a_notice_handed_over_again_is_not_sent_again(
    desk: WeComStaffChannel, server: WeComServer
) -> None:
    assert desk.send(notice()) == desk.send(notice())
    assert len(server.calls(SEND)) == 1


def test_a_notice_naming_nobody_is_given_up(desk: WeComStaffChannel, server: WeComServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="names no staff member"):
        desk.send(notice(to=None))
    assert server.calls(SEND) == []


def test_a_staff_member_wecom_does_not_know_is_given_up(
    desk: WeComStaffChannel, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="errcode 81013"):
        desk.send(notice(to="rn-09"))


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"secret_env": "WECOM_CONTACT_SECRET"}, "secret_env"),
        ({"default_sender": "wangjiankang"}, "default_sender"),
        ({"agent_id": None}, "agent_id"),
        ({"app_secret_env": None}, "app_secret_env"),
    ],
)
def test_the_staff_table_takes_the_apps_keys_only(
    server: WeComServer, environ: dict[str, str], changes: dict[str, Any], key: str
) -> None:
    table = {k: v for k, v in staff_table(server, **changes).items() if v is not None}
    with pytest.raises(ConfigError) as raised:
        WeComStaffChannel.from_options(table)
    assert raised.value.key == key


def test_the_engine_tells_the_health_manager_of_a_call_task_by_wecom(
    server: WeComServer, environ: dict[str, str]
) -> None:
    server.contacts.update({userid: set() for userid in USERIDS.values()})
    settings = ChannelSettings.from_table({"use": "wecom-staff", **staff_table(server)})
    reference = reference_config()
    calls_only = attrs.evolve(reference.outreach, channel_order=("phone",))
    config = attrs.evolve(reference, outreach=calls_only, channels={"staff": settings})
    monday = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with Engine.open("memory://", config=config, clock=ManualClock(monday)) as engine:
        engine.ingest(
            [
                PatientRegistered(
                    fact_id="reg", patient_id="p-wang", occurred_at=monday, name="王女士"
                )
            ]
        )
        engine.execute(
            GrantConsent(
                key="grant",
                member_id="p-wang",
                purpose="care",
                channels=("phone",),
                given_by="p-wang",
                source="app",
            )
        )
        engine.execute(AssignHealthManager(key="hm", member_id="p-wang", reason="test"))
        engine.execute(
            RequestMessage(
                key="call-1",
                member_id="p-wang",
                template_key="hba1c_recheck",
                purpose="care",
                variables={"name": "王女士"},
                reason="test",
            )
        )
        channels = engine.channels()
        assert isinstance(channels["staff"], WeComStaffChannel)
        engine.dispatch(channels)
        (task,) = engine.store.tasks()
        (seen,) = server.calls(SEND)
        assert seen.body["touser"] == USERIDS[task.assignee]
        assert task.task_key in seen.body["text"]["content"]
        assert "糖化" not in seen.body["text"]["content"]
        (sent,) = [m for m in engine.store.outbox() if m.channel == "staff"]
        assert sent.status == "delivered"
        channels["staff"].close()  # type: ignore[attr-defined]
