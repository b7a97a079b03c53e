"""WeCom's error codes as the channel acts on them: retry, give up, refresh, or back off."""

from __future__ import annotations

import socket

import pytest

from membercore.ports import PermanentDeliveryError, TransientDeliveryError
from membercore_wecom import ERRCODES, Action, WeComChannel, WeComError, WeComUnreachableError
from membercore_wecom.errcodes import FREQUENCY_WAIT, failure
from membercore_wecom.testing import WeComServer

from .conftest import MakeChannel, outbox


def test_a_frequency_limit_is_retried_after_a_minute(
    channel: WeComChannel, server: WeComServer
) -> None:
    server.fail_next(45009, "api freq out of limit")
    with pytest.raises(TransientDeliveryError, match="errcode 45009") as raised:
        channel.send(outbox(1))
    assert raised.value.retry_after == FREQUENCY_WAIT == 60
    assert server.tasks == []
    channel.send(outbox(1))
    assert len(server.tasks) == 1


def test_wecom_busy_is_retried_with_the_back_off(
    channel: WeComChannel, server: WeComServer
) -> None:
    server.fail_next(-1, "system busy")
    with pytest.raises(TransientDeliveryError, match="系统繁忙") as raised:
        channel.send(outbox(1))
    assert raised.value.retry_after is None


def test_a_customer_who_is_not_a_contact_is_given_up(
    channel: WeComChannel, server: WeComServer
) -> None:
    server.not_a_contact_next()
    with pytest.raises(PermanentDeliveryError, match="fail_list"):
        channel.send(outbox(1))
    assert server.tasks == []


def test_a_customer_of_another_staff_member_is_given_up(
    channel: WeComChannel, server: WeComServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="errcode 41048"):
        channel.send(outbox(1, to="wmPatientB0001"))
    assert server.tasks == []


@pytest.mark.parametrize(
    ("errcode", "words"),
    [
        (84061, "不存在外部联系人的关系"),
        (41048, "无可发送的客户"),
        (40003, "无效的UserID"),
        (60011, "指定的成员/部门/标签参数无权限"),
    ],
)
def test_codes_saying_the_customer_cannot_be_sent_to_give_up(
    channel: WeComChannel, server: WeComServer, errcode: int, words: str
) -> None:
    server.fail_next(errcode)
    with pytest.raises(PermanentDeliveryError, match=f"errcode {errcode}") as raised:
        channel.send(outbox(1))
    assert words in str(raised.value)


def test_an_unknown_staff_member_is_given_up(channel: WeComChannel, server: WeComServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="errcode 40003"):
        channel.send(outbox(1, manager="S9999"))


def test_an_unknown_code_is_retried_with_back_off_naming_code_and_words(
    channel: WeComChannel, server: WeComServer
) -> None:
    server.fail_next(73999, "something new")
    with pytest.raises(WeComError) as raised:
        channel.send(outbox(1))
    assert type(raised.value) is WeComError
    assert raised.value.errcode == 73999
    assert "errcode 73999" in str(raised.value)
    assert "something new" in str(raised.value)
    assert raised.value.action is None


def test_the_setup_codes_are_retried_with_back_off_not_given_up(
    channel: WeComChannel, server: WeComServer
) -> None:
    server.fail_next(48002, "api forbidden")
    with pytest.raises(WeComError, match="errcode 48002") as raised:
        channel.send(outbox(1))
    assert not isinstance(raised.value, PermanentDeliveryError | TransientDeliveryError)


def test_unreachable_wecom_is_retried_with_back_off(
    environ: dict[str, str], make_channel: MakeChannel, server: WeComServer
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    channel = make_channel(server, base_url=f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(WeComUnreachableError, match="WeCom gettoken: ConnectError"):
        channel.send(outbox(1))


def test_every_code_in_the_table_has_its_meaning_and_action() -> None:
    assert ERRCODES[42001].action is Action.REFRESH
    assert ERRCODES[40014].action is Action.REFRESH
    assert ERRCODES[45009].action is Action.RETRY
    assert ERRCODES[84061].action is Action.GIVE_UP
    for code, row in ERRCODES.items():
        assert row.meaning
        assert row.wait is None or row.action is Action.RETRY, code
        made = failure(WeComError("x", code, "words"))
        expected = {
            Action.GIVE_UP: PermanentDeliveryError,
            Action.RETRY: TransientDeliveryError,
        }.get(row.action, WeComError)
        assert type(made) is expected, code
