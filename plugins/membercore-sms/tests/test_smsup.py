"""Aliyun's SmsUp endpoint: a member's "TD" is taken before Aliyun is answered.

The stand-in Aliyun pushes the reply, as Aliyun does, to the endpoint the worker runs
(``membercore worker --listen aliyun-smsup``) or to the HTTP API's webhook
(``membercore serve --webhook aliyun-smsup``, the API token in the address as Aliyun's
console is given it); the engine withdraws marketing by SMS and only then is the push
answered. A push that cannot be taken is answered 500, so that Aliyun pushes it again;
a body that is no push, 400.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from membercore import Engine, reference_config
from membercore.config import ProgrammeConfig
from membercore.config.channels import ChannelSettings
from membercore.consent import GrantConsent, allows
from membercore.errors import ConfigError, StorageError
from membercore.facts import PatientRegistered
from membercore.outreach import RequestMessage
from membercore.ports import AccountStore
from membercore.service import outcomes
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_token
from membercore_adapters.http import app, engine_thread
from membercore_sms import SMSUP_ANSWER, SmsUpListener
from membercore_sms.testing.aliyun import AliyunServer

from .conftest import ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, SIGN

NOW = datetime.now(UTC).replace(microsecond=0)


def _codes(config: ProgrammeConfig) -> dict[str, dict[str, Any]]:
    """A provider template for every programme template that may go by SMS."""
    return {
        t.key: {
            "code": f"SMS_{9000 + n}",
            "params": {v: v for v in t.variables},
            **({"opt_out": True} if t.purpose == "marketing" else {}),
        }
        for n, t in enumerate(config.outreach.templates)
        if "sms" in t.channels
    }


@pytest.fixture
def server() -> Iterator[AliyunServer]:
    codes = _codes(reference_config())
    templates = {spec["code"]: tuple(spec["params"]) for spec in codes.values()}
    running = AliyunServer(ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, sign_name=SIGN, templates=templates)
    running.start()
    yield running
    running.stop()


def _programme(server: AliyunServer) -> ProgrammeConfig:
    """The reference programme, sending by Aliyun's SMS first, at any hour.

    The tests run at the wall clock's instant (Aliyun's requests are signed with it), so
    the programme has no quiet hours: a run in the evening in Shanghai sends as one in
    the morning does.
    """
    reference = reference_config()
    table = {
        "use": "aliyun-sms",
        "access_key_id_env": "TEST_ALIYUN_AK_ID",
        "access_key_secret_env": "TEST_ALIYUN_AK_SECRET",
        "sign_name": SIGN,
        "endpoint": server.url,
        "templates": _codes(reference),
    }
    return attrs.evolve(
        reference,
        outreach=attrs.evolve(
            reference.outreach,
            channel_order=("sms", "phone"),
            quiet_start="00:00",
            quiet_end="00:00",
        ),
        channels={"sms": ChannelSettings.from_table(table)},
    )


@pytest.fixture
def engine(server: AliyunServer, credentials: None) -> Iterator[Engine]:
    with Engine.open("memory://", config=_programme(server), clock=ManualClock(NOW)) as opened:
        yield opened


def _offered(engine: Engine) -> None:
    """A member offered the annual plan by SMS, consenting to marketing by SMS."""
    engine.ingest(
        [PatientRegistered(fact_id="r", patient_id="P1", occurred_at=NOW, phone="13800138000")]
    )
    engine.execute(
        GrantConsent(
            key="g",
            member_id="P1",
            purpose="marketing",
            channels=("sms",),
            given_by="P1",
            source="app",
        )
    )
    engine.execute(
        RequestMessage(
            key="offer",
            member_id="P1",
            template_key="annual_plan_offer",
            purpose="marketing",
            variables={"name": "王女士", "price": "599"},
            reason="test",
        )
    )
    assert engine.dispatch(engine.channels(), now=NOW + timedelta(minutes=1)).delivered == 1


def _push(listener: SmsUpListener, body: bytes) -> httpx.Response:
    async def run() -> httpx.Response:
        await listener.start()
        try:
            url = f"http://{listener.host}:{listener.port}{listener.path}"
            async with httpx.AsyncClient() as client:
                return await client.post(url, content=body)
        finally:
            await listener.stop()

    return asyncio.run(run())


def _reply(server: AliyunServer, text: str) -> bytes:
    pushed: list[bytes] = []
    server.push = pushed.append
    server.reply("13800138000", text)
    return pushed[0]


def test_a_td_pushed_is_taken_before_aliyun_is_answered(
    engine: Engine, server: AliyunServer
) -> None:
    _offered(engine)
    listener = SmsUpListener.from_options(engine, {"port": "0"})
    answer = _push(listener, _reply(server, "TD"))
    assert (answer.status_code, answer.json()) == (200, dict(SMSUP_ANSWER))
    assert not allows(engine.member("P1").consent, "marketing", "sms")


def test_a_push_not_taken_is_answered_500_to_come_again(
    engine: Engine, server: AliyunServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offered(engine)
    body = _reply(server, "TD")

    def failing(*_: object) -> tuple[object, ...]:
        raise StorageError("memory://", "the store failed")

    monkeypatch.setattr(outcomes, "note", failing)
    listener = SmsUpListener.from_options(engine, {"port": "0"})
    assert _push(listener, body).status_code == 500
    assert allows(engine.member("P1").consent, "marketing", "sms")
    monkeypatch.undo()
    assert _push(listener, body).status_code == 200  # Aliyun pushes again: taken now
    assert not allows(engine.member("P1").consent, "marketing", "sms")


def test_a_body_that_is_no_push_is_refused(engine: Engine) -> None:
    listener = SmsUpListener.from_options(engine, {"port": "0"})
    answer = _push(listener, json.dumps({"hello": 1}).encode())
    assert answer.status_code == 400


def test_the_endpoint_needs_the_programmes_sms_to_be_aliyuns(credentials: None) -> None:
    config = reference_config()
    with (
        Engine.open("memory://", config=config, clock=ManualClock(NOW)) as engine,
        pytest.raises(ConfigError) as refused,
    ):
        SmsUpListener.from_options(engine, {"port": "0"})
    assert refused.value.key == "channels.sms.use"


# -- the same endpoint, served by the HTTP API -------------------------------------------


@pytest.fixture
def api(server: AliyunServer, credentials: None) -> Litestar:
    config = _programme(server)
    return app(
        lambda: Engine.open("memory://", config=config, clock=ManualClock(NOW)),
        webhooks={"aliyun-smsup": {}},
    )


def _token(api: Litestar, *scopes: str) -> str:
    """A stored API token (``mc_…``), as ``membercore token create`` makes one."""
    token, secret = new_token("Aliyun SmsUp", scopes, NOW)

    def add(engine: Engine) -> None:
        store = engine.store
        assert isinstance(store, AccountStore)
        store.add_token(token)

    engine_thread(api).call_blocking(add)
    return secret


def test_a_td_pushed_to_the_apis_webhook_withdraws_marketing_consent(
    api: Litestar, server: AliyunServer
) -> None:
    with TestClient(api) as client:
        engine_thread(api).call_blocking(_offered)
        secret = _token(api, "ingest")
        answer = client.post(f"/webhooks/aliyun-smsup?token={secret}", content=_reply(server, "TD"))
        assert (answer.status_code, answer.json()) == (200, dict(SMSUP_ANSWER))
        consent = engine_thread(api).call_blocking(lambda engine: engine.member("P1").consent)
    assert not allows(consent, "marketing", "sms")


def test_the_apis_webhook_answers_aliyun_in_its_own_terms(api: Litestar) -> None:
    with TestClient(api) as client:
        secret = _token(api, "ingest")
        refused = client.post(f"/webhooks/aliyun-smsup?token={secret}", json={"hello": 1})
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/json")
        assert refused.json()["code"] == 1
        asked = client.get("/webhooks/aliyun-smsup", headers={"Authorization": f"Bearer {secret}"})
        assert (asked.status_code, asked.json()["code"]) == (405, 1)
        assert (
            client.post("/webhooks/aliyun-smsup?token=mc_wrong_x", content=b"[]").status_code == 401
        )
        reader = _token(api, "read")
        assert (
            client.post(f"/webhooks/aliyun-smsup?token={reader}", content=b"[]").status_code == 403
        )


def test_the_webhook_needs_the_programmes_sms_to_be_aliyuns(credentials: None) -> None:
    config = reference_config()
    with (
        Engine.open("memory://", config=config, clock=ManualClock(NOW)) as engine,
        pytest.raises(ConfigError) as refused,
    ):
        engine.plugins.webhooks["aliyun-smsup"].value(engine, {})
    assert refused.value.key == "channels.sms.use"
