"""Access tokens: fetched once, reused, fetched again before they run out and when refused."""

from __future__ import annotations

import pytest

from membercore_wecom import WeComChannel, WeComError
from membercore_wecom.testing import WeComServer

from .conftest import ZHANG_CUSTOMERS, Clocks, MakeChannel, outbox


def test_one_token_serves_many_sends(channel: WeComChannel, server: WeComServer) -> None:
    for number in range(1, 6):
        channel.send(outbox(number, member=f"M{number:04d}", to=ZHANG_CUSTOMERS[number % 4]))
    assert server.gettoken_calls == 1
    assert len(server.tasks) == 5
    (token_call,) = server.calls("/cgi-bin/gettoken")
    assert token_call.method == "GET"
    assert token_call.query == {"corpid": [server.corp_id], "corpsecret": [server.contact_secret]}


def test_a_token_is_fetched_again_before_it_runs_out(
    channel: WeComChannel, server: WeComServer, clocks: Clocks
) -> None:
    channel.send(outbox(1))
    clocks.advance(7200 - 600)  # ten minutes before WeCom's two hours are over
    channel.send(outbox(2, member="M0002"))
    assert server.gettoken_calls == 1
    clocks.advance(400)  # within the margin: fetched again, before WeCom refuses it
    channel.send(outbox(3, member="M0003"))
    assert server.gettoken_calls == 2


def test_an_expired_token_is_refreshed_and_the_call_made_once_more(
    channel: WeComChannel, server: WeComServer
) -> None:
    channel.send(outbox(1))
    server.expire_tokens()
    receipt = channel.send(outbox(2, member="M0002"))
    assert server.gettoken_calls == 2
    assert len(server.calls("/cgi-bin/externalcontact/add_msg_template")) == 3
    assert [task.msgid for task in server.tasks][-1] == receipt
    assert len(server.tasks) == 2


def test_an_invalid_token_is_refreshed_and_the_call_made_once_more(
    channel: WeComChannel, server: WeComServer
) -> None:
    channel.send(outbox(1))
    server.revoke_tokens()
    channel.send(outbox(2, member="M0002"))
    assert server.gettoken_calls == 2
    assert len(server.tasks) == 2


def test_a_token_refused_again_after_refreshing_is_an_error_not_a_loop(
    channel: WeComChannel, server: WeComServer
) -> None:
    server.stale_tokens = True
    with pytest.raises(WeComError, match="errcode 42001"):
        channel.send(outbox(1))
    assert server.gettoken_calls == 2
    assert len(server.calls("/cgi-bin/externalcontact/add_msg_template")) == 2
    assert server.tasks == []


def test_a_wrong_secret_is_the_setup_retried_with_back_off(
    server: WeComServer, monkeypatch: pytest.MonkeyPatch, make_channel: MakeChannel
) -> None:
    monkeypatch.setenv("WECOM_CONTACT_SECRET", "not-the-secret")
    monkeypatch.setenv("WECOM_APP_SECRET", server.app_secret)
    channel = make_channel(server)
    with pytest.raises(WeComError, match="errcode 40001") as raised:
        channel.send(outbox(1))
    assert type(raised.value) is WeComError  # neither given up nor a provider's wait
    assert "not-the-secret" not in str(raised.value)


def test_the_app_secret_and_the_contact_secret_each_have_their_token(
    channel: WeComChannel, server: WeComServer
) -> None:
    channel.send(outbox(1))
    channel.staff_notifier().notify("S0012", "您有一个新的随访电话任务。")
    secrets_asked = [call.query["corpsecret"][0] for call in server.calls("/cgi-bin/gettoken")]
    assert secrets_asked == [server.contact_secret, server.app_secret]


def test_a_secret_serving_both_roles_has_one_token(
    environ: dict[str, str], make_channel: MakeChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = {"zhanghua": ZHANG_CUSTOMERS}
    shared = "shared-Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8"
    with WeComServer(staff, contact_secret=shared, app_secret=shared) as server:
        monkeypatch.setenv("WECOM_SHARED_SECRET", shared)
        channel = make_channel(
            server, secret_env="WECOM_SHARED_SECRET", app_secret_env="WECOM_SHARED_SECRET"
        )
        channel.send(outbox(1))
        channel.staff_notifier().notify("S0012", "您有一个新的随访电话任务。")
        assert server.gettoken_calls == 1
        assert server.problems == []
