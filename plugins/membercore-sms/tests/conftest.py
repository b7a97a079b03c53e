"""What the plugin's tests share: the stand-in providers, credentials, channels, messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from membercore.ports import OutboxMessage
from membercore_sms import AliyunSmsChannel, TencentSmsChannel
from membercore_sms.testing.aliyun import AliyunServer
from membercore_sms.testing.tencent import TencentServer

ALIYUN_KEY_ID = "LTAI5tAliyunTestKeyId01"
ALIYUN_KEY_SECRET = "aliyun-test-secret-0123456789abcdef"
TENCENT_SECRET_ID = "AKIDtencentTestSecretId0123456789"
TENCENT_SECRET_KEY = "tencent-test-key-0123456789abcdef"
SDK_APP_ID = "1400006666"
SIGN = "仁和医院"

#: The provider templates the stand-ins know, and the channels' mapping to them.
ALIYUN_TEMPLATES = {"SMS_15301": ("name",), "SMS_15302": ("customer", "price")}
TENCENT_TEMPLATES = {"1101": 1, "1102": 2}


def aliyun_options(url: str, **more: Any) -> dict[str, Any]:
    return {
        "name": "sms",
        "access_key_id_env": "TEST_ALIYUN_AK_ID",
        "access_key_secret_env": "TEST_ALIYUN_AK_SECRET",
        "sign_name": SIGN,
        "endpoint": url,
        "timeout": 5,
        "templates": {
            "contract_care": {"code": "SMS_15301", "params": {"name": "name"}},
            "contract_offer": {
                "code": "SMS_15302",
                "params": {"customer": "name", "price": "price"},
                "opt_out": True,
            },
            "plain_offer": {"code": "SMS_15302", "params": {"customer": "name", "price": "price"}},
        },
        **more,
    }


def tencent_options(url: str, **more: Any) -> dict[str, Any]:
    return {
        "name": "sms",
        "secret_id_env": "TEST_TENCENT_SECRET_ID",
        "secret_key_env": "TEST_TENCENT_SECRET_KEY",
        "sdk_app_id": SDK_APP_ID,
        "region": "ap-guangzhou",
        "sign_name": SIGN,
        "endpoint": url,
        "timeout": 5,
        "templates": {
            "contract_care": {"id": "1101", "params": ["name"]},
            "contract_offer": {"id": "1102", "params": ["name", "price"], "opt_out": True},
            "plain_offer": {"id": 1102, "params": ["name", "price"]},
        },
        **more,
    }


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_ALIYUN_AK_ID", ALIYUN_KEY_ID)
    monkeypatch.setenv("TEST_ALIYUN_AK_SECRET", ALIYUN_KEY_SECRET)
    monkeypatch.setenv("TEST_TENCENT_SECRET_ID", TENCENT_SECRET_ID)
    monkeypatch.setenv("TEST_TENCENT_SECRET_KEY", TENCENT_SECRET_KEY)


@pytest.fixture
def aliyun_server() -> Iterator[AliyunServer]:
    server = AliyunServer(
        ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, sign_name=SIGN, templates=ALIYUN_TEMPLATES
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tencent_server() -> Iterator[TencentServer]:
    server = TencentServer(
        TENCENT_SECRET_ID,
        TENCENT_SECRET_KEY,
        sdk_app_id=SDK_APP_ID,
        sign_name=SIGN,
        templates=TENCENT_TEMPLATES,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aliyun(aliyun_server: AliyunServer, credentials: None) -> Iterator[AliyunSmsChannel]:
    channel = AliyunSmsChannel.from_options(aliyun_options(aliyun_server.url))
    aliyun_server.push = channel.take_pushed
    yield channel
    channel.close()


@pytest.fixture
def tencent(tencent_server: TencentServer, credentials: None) -> Iterator[TencentSmsChannel]:
    channel = TencentSmsChannel.from_options(tencent_options(tencent_server.url))
    yield channel
    channel.close()


def message(
    message_id: str = "P1/msg/1",
    *,
    to: str | None = "13800138000",
    template: str | None = "contract_care",
    variables: dict[str, str] | None = None,
    purpose: str = "care",
    attempts: int = 0,
    send_at: datetime | None = None,
) -> OutboxMessage:
    payload = {
        "message_id": message_id,
        "member_id": message_id.partition("/")[0],
        "channel": "sms",
        "text": "王女士您好，请按时复诊。",
        "language": "zh-CN",
        "variables": {"name": "王女士"} if variables is None else variables,
        "template": template,
        "purpose": purpose,
        "to": to,
    }
    return OutboxMessage(
        message_id=message_id,
        key=f"member/{payload['member_id']}",
        channel="sms",
        payload=json.dumps(payload, ensure_ascii=False),
        send_at=send_at or datetime.now(UTC),
        attempts=attempts,
    )


def sent(
    original: OutboxMessage, *, receipt: str, address: str, delivered_at: datetime
) -> OutboxMessage:
    """The message as the outbox gives it back once acknowledged."""
    return OutboxMessage(
        message_id=original.message_id,
        key=original.key,
        channel=original.channel,
        payload=original.payload,
        send_at=original.send_at,
        attempts=original.attempts,
        status="delivered",
        receipt=receipt,
        address=address,
        delivered_at=delivered_at,
    )
