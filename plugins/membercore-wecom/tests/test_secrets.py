"""Secrets and access tokens: on the wire where WeCom wants them, and nowhere else."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from membercore_wecom import Secret, WeComChannel
from membercore_wecom.testing import WeComServer

from .conftest import NOW, ZHANG_CUSTOMERS, MakeChannel, awaiting, outbox


def everything_said(
    channel: WeComChannel, server: WeComServer, make_channel: MakeChannel
) -> list[str]:
    """Drive every path that logs or raises; the texts of what was raised."""
    raised: list[str] = []

    def attempt(action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except Exception as error:  # every error's words are checked
            raised.extend([str(error), repr(error)])

    msgid = channel.send(outbox(1))
    server.expire_tokens()
    attempt(lambda: channel.send(outbox(2, member="M0002", to=ZHANG_CUSTOMERS[1])))
    server.revoke_tokens()
    for errcode in (45009, 84061, 73999, -1, 48002):
        server.fail_next(errcode)
        attempt(lambda: channel.send(outbox(3, member="M0003", to=ZHANG_CUSTOMERS[2])))
    server.not_a_contact_next()
    attempt(lambda: channel.send(outbox(4, member="M0004", to=ZHANG_CUSTOMERS[3])))
    server.stale_tokens = True
    attempt(lambda: channel.send(outbox(5, member="M0005", to=ZHANG_CUSTOMERS[3])))
    attempt(lambda: channel.reports([awaiting(outbox(1), msgid)], NOW))
    server.stale_tokens = False
    server.set_status(msgid, ZHANG_CUSTOMERS[0], 1)
    attempt(lambda: channel.reports([awaiting(outbox(1), msgid)], NOW))
    notifier = channel.staff_notifier()
    attempt(lambda: notifier.notify("S0012", "您有一个新的随访任务。"))
    attempt(lambda: notifier.notify("S0099", "您有一个新的随访任务。"))
    attempt(lambda: make_channel(server, corp_id="wwWrongCorp").send(outbox(6)))
    raised.extend([repr(channel), repr(notifier), repr(channel.options)])
    return raised


def test_no_secret_or_token_is_logged_or_raised(
    channel: WeComChannel,
    server: WeComServer,
    make_channel: MakeChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    raised = everything_said(channel, server, make_channel)
    shown = [server.contact_secret, server.app_secret, *server.tokens]
    assert len(server.tokens) >= 2
    assert "HTTP Request: POST" in caplog.text  # httpx did log each request
    for secret in shown:
        assert secret not in caplog.text
        for text in raised:
            assert secret not in text
    assert "access_token=" not in caplog.text
    assert "corpsecret=" not in caplog.text


def test_the_token_and_secret_go_to_wecom_in_the_query_it_names(
    channel: WeComChannel, server: WeComServer
) -> None:
    channel.send(outbox(1))
    gettoken, add = server.requests
    assert gettoken.query["corpsecret"] == [server.contact_secret]
    assert add.query["access_token"] == list(server.tokens)


def test_a_token_wecom_echoes_in_its_words_is_taken_out(
    channel: WeComChannel, server: WeComServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = server.answer

    def echoing(method: str, target: str, raw: bytes, content_type: str) -> dict[str, object]:
        answered = answer(method, target, raw, content_type)
        token = parse_qs(urlsplit(target).query).get("access_token", [""])[0]
        if token:
            return {"errcode": 40058, "errmsg": f"invalid parameter, token {token}"}
        return answered

    monkeypatch.setattr(server, "answer", echoing)
    with pytest.raises(Exception, match="errcode 40058") as raised:
        channel.send(outbox(1))
    (token,) = server.tokens
    assert token not in str(raised.value)
    assert "token ***" in str(raised.value)


def test_the_secrets_repr_names_only_its_variable(channel: WeComChannel) -> None:
    secret = Secret("hunter2-s3cr3t", "WECOM_CONTACT_SECRET")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "WECOM_CONTACT_SECRET" in repr(secret)
