"""Notifications to staff: app messages from the self-built app, as WeCom documents them."""

from __future__ import annotations

import pytest

from membercore.errors import ConfigError
from membercore.ports import PermanentDeliveryError, TransientDeliveryError
from membercore_wecom import WeComStaffNotifier, staff_notifier
from membercore_wecom.testing import WeComServer

from .conftest import AGENT_ID, Clocks, MakeChannel, options

SEND = "/cgi-bin/message/send"
TASK = "您有一个新的电话随访任务：张先生，糖化血红蛋白两次未复查。"


def test_a_health_manager_is_told_of_a_call_task(
    notifier: WeComStaffNotifier, server: WeComServer
) -> None:
    msgid = notifier.notify("S0012", TASK)
    assert msgid.startswith("staff")
    (seen,) = server.calls(SEND)
    assert seen.method == "POST"
    assert seen.body == {
        "touser": "zhanghua",
        "agentid": AGENT_ID,
        "msgtype": "text",
        "text": {"content": TASK},
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }
    assert server.delivered_staff_messages == [seen.body]


def test_a_card_opens_a_link(notifier: WeComStaffNotifier, server: WeComServer) -> None:
    notifier.notify(
        "S0031",
        "会员王女士投诉候诊时间过长，请今日内回访。",
        title="升级处理",
        url="https://crm.example/t/9",
    )
    (seen,) = server.calls(SEND)
    assert seen.body["msgtype"] == "textcard"
    assert seen.body["textcard"] == {
        "title": "升级处理",
        "description": "会员王女士投诉候诊时间过长，请今日内回访。",
        "url": "https://crm.example/t/9",
    }
    assert seen.body["touser"] == "lisi"


def test_a_card_needs_both_title_and_link(notifier: WeComStaffNotifier) -> None:
    with pytest.raises(ValueError, match="title and url"):
        notifier.notify("S0012", TASK, url="https://crm.example/t/9")


def test_the_same_notification_sent_again_reaches_the_staff_member_once(
    notifier: WeComStaffNotifier, server: WeComServer
) -> None:
    notifier.notify("S0012", TASK)
    notifier.notify("S0012", TASK)
    assert len(server.staff_messages) == 2
    assert len(server.delivered_staff_messages) == 1


def test_a_staff_member_wecom_does_not_know_is_given_up(
    notifier: WeComStaffNotifier, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="errcode 81013"):
        notifier.notify("S0099", TASK)


def test_a_staff_member_listed_in_invaliduser_is_given_up(
    notifier: WeComStaffNotifier, server: WeComServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WeCom answers 81013 when every receiver is refused; should it take the message and
    # list the one receiver as refused (in lower case), that is a refusal all the same.
    answer = server.answer

    def refusing(*args: object) -> dict[str, object]:
        answered = answer(*args)  # type: ignore[arg-type]
        if "message/send" in str(args[1]):
            answered["invaliduser"] = "zhanghua"
        return answered

    monkeypatch.setattr(server, "answer", refusing)
    server.contacts["ZhangHua"] = set()
    with pytest.raises(PermanentDeliveryError, match="invaliduser"):
        notifier.notify("ZhangHua", TASK)


def test_no_message_reaches_wecom_beyond_a_staff_members_limit(
    server: WeComServer, environ: dict[str, str], clocks: Clocks
) -> None:
    limited = staff_notifier(
        options(server, per_minute=30, per_hour_per_member=2), monotonic=clocks.monotonic
    )
    limited.notify("S0012", "一")
    limited.notify("S0012", "二")
    with pytest.raises(TransientDeliveryError) as raised:
        limited.notify("S0012", "三")
    assert raised.value.retry_after == pytest.approx(3600)
    limited.notify("S0031", "三")
    assert len(server.calls(SEND)) == 3
    limited.close()


def test_the_channels_notifier_shares_its_tokens(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    channel = make_channel(server)
    notifier = channel.staff_notifier()
    assert channel.staff_notifier() is notifier
    notifier.notify("S0012", TASK)
    notifier.notify("S0031", TASK)
    assert server.gettoken_calls == 1


def test_notifications_need_the_agent_id_and_the_app_secret(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    channel = make_channel(server, agent_id=None, app_secret_env=None)
    with pytest.raises(ConfigError, match="agent_id") as raised:
        channel.staff_notifier()
    assert raised.value.key == "agent_id"


def test_a_wrong_agent_id_is_the_setup(
    server: WeComServer, environ: dict[str, str], clocks: Clocks
) -> None:
    wrong = staff_notifier(options(server, agent_id=1000099), monotonic=clocks.monotonic)
    with pytest.raises(Exception, match="errcode 40056") as raised:
        wrong.notify("S0012", TASK)
    assert not isinstance(raised.value, PermanentDeliveryError | TransientDeliveryError)
    wrong.close()


def test_a_text_too_long_for_an_app_message_is_given_up(
    notifier: WeComStaffNotifier, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="2048 bytes"):
        notifier.notify("S0012", "随" * 700)
    assert server.calls(SEND) == []
