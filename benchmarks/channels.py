"""Messages dispatched per second through each channel, against the stand-in providers.

Run: ``.venv/bin/python benchmarks/channels.py [--messages 1000]``. For each channel —
WeCom (membercore-wecom), Aliyun and Tencent SMS (membercore-sms), e-mail over SMTP —
the channel is built by its factory against its stand-in provider on loopback (the
servers the plugins' tests use; aiosmtpd for SMTP), and timed two ways on the same
messages:

- the channel alone: ``channel.send`` of each message, one after another (what the
  provider's round trip and the channel's own work cost);
- through the engine: one care message queued for each of N members on a SQLite file,
  then ``Engine.dispatch`` of them all (the claim, the check on each record at the
  hand-over and its commit, the send, the deliveries recorded).

The difference per message is the dispatcher's own cost. Rate limits the channels hold
(WeCom's 30 a minute per app) are raised for the run: it measures the software, not the
providers' quotas. Nothing here is asserted; docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from aiosmtpd.controller import Controller

from membercore import Engine, PatientRegistered, reference_config
from membercore.consent import GrantConsent
from membercore.outreach import RequestMessage
from membercore.ports import Channel, OutboxMessage
from membercore.testing.clock import ManualClock
from membercore_adapters.channels.email import SmtpChannel
from membercore_sms import AliyunSmsChannel, TencentSmsChannel
from membercore_sms.testing import AliyunServer, TencentServer
from membercore_wecom import WeComChannel
from membercore_wecom.testing import WeComServer

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TEMPLATE = "annual_welcome"
FIELD = {"wecom": "wecom", "sms": "phone", "email": "email"}


def address(channel: str, n: int) -> str:
    """Member ``n``'s address on ``channel``."""
    return {
        "wecom": f"wmBench{n:06d}",
        "sms": f"138{n:08d}",
        "email": f"member{n}@example.cn",
    }[channel]


@contextmanager
def wecom(messages: int) -> Iterator[Channel]:
    with WeComServer({"bench": [address("wecom", n) for n in range(messages)]}) as server:
        os.environ["BENCH_WECOM_SECRET"] = server.contact_secret
        yield WeComChannel.from_options(
            {
                "corp_id": server.corp_id,
                "secret_env": "BENCH_WECOM_SECRET",
                "default_sender": "bench",
                "base_url": server.base_url,
                "per_minute": 10**9,
                "monthly_limit_per_customer": 10**6,
            }
        )


@contextmanager
def aliyun(messages: int) -> Iterator[Channel]:
    server = AliyunServer(
        "BENCHKEY", "bench-secret", sign_name="仁和医院", templates={"SMS_1": ("name",)}
    )
    server.start()
    os.environ["BENCH_ALIYUN_ID"], os.environ["BENCH_ALIYUN_SECRET"] = "BENCHKEY", "bench-secret"
    try:
        yield AliyunSmsChannel.from_options(
            {
                "access_key_id_env": "BENCH_ALIYUN_ID",
                "access_key_secret_env": "BENCH_ALIYUN_SECRET",
                "sign_name": "仁和医院",
                "endpoint": server.url,
                "templates": {TEMPLATE: {"code": "SMS_1", "params": {"name": "name"}}},
            }
        )
    finally:
        server.stop()


@contextmanager
def tencent(messages: int) -> Iterator[Channel]:
    server = TencentServer(
        "AKIDbench", "bench-key", sdk_app_id="1400000001", sign_name="仁和医院", templates={"1": 1}
    )
    server.start()
    os.environ["BENCH_TENCENT_ID"], os.environ["BENCH_TENCENT_KEY"] = "AKIDbench", "bench-key"
    try:
        yield TencentSmsChannel.from_options(
            {
                "secret_id_env": "BENCH_TENCENT_ID",
                "secret_key_env": "BENCH_TENCENT_KEY",
                "sdk_app_id": "1400000001",
                "sign_name": "仁和医院",
                "endpoint": server.url,
                "templates": {TEMPLATE: {"id": "1", "params": ["name"]}},
            }
        )
    finally:
        server.stop()


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp(messages: int) -> Iterator[Channel]:
    port = _free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpChannel.from_options(
            {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "sender": "仁和医院 <care@hospital.example>",
                "default_subject": "仁和医院",
            }
        )
    finally:
        controller.stop()


PROVIDERS: dict[str, tuple[str, Callable[[int], Any]]] = {
    "wecom": ("wecom", wecom),
    "aliyun-sms": ("sms", aliyun),
    "tencent-sms": ("sms", tencent),
    "smtp": ("email", smtp),
}


def alone(channel: Channel, name: str, messages: int) -> float:
    """Messages per second ``channel.send`` takes, one after another."""
    outbox = [
        OutboxMessage(
            message_id=f"alone{n}/msg/1",
            key=f"member:alone{n}",
            channel=name,
            payload=json.dumps(
                {
                    "message_id": f"alone{n}/msg/1",
                    "member_id": f"alone{n}",
                    "channel": name,
                    "text": "会员您好，欢迎成为年度会员。",
                    "variables": {"name": "会员"},
                    "template": TEMPLATE,
                    "purpose": "care",
                    "to": address(name, n),
                    "manager": None,
                }
            ),
            send_at=NOW,
        )
        for n in range(messages)
    ]
    start = time.perf_counter()
    for message in outbox:
        channel.send(message)
    return messages / (time.perf_counter() - start)


def through_engine(channel: Channel, name: str, messages: int, folder: str) -> float:
    """Messages per second one ``Engine.dispatch`` checks, hands over and records."""
    config = reference_config()
    policy = attrs.evolve(config.outreach, channel_order=(name, "phone"))  # type: ignore[arg-type]
    config = attrs.evolve(config, outreach=policy)
    url = f"sqlite:///{folder}/{name}-{time.monotonic_ns()}.db"
    with Engine.open(url, config=config, clock=ManualClock(NOW)) as engine:
        ids = range(messages)
        engine.ingest(
            [
                PatientRegistered(
                    fact_id=f"r{n}",
                    patient_id=f"p{n}",
                    occurred_at=NOW,
                    **{FIELD[name]: address(name, n)},  # type: ignore[arg-type]
                )
                for n in ids
            ]
        )
        asks: list[object] = []
        for n in ids:
            asks.append(
                GrantConsent(
                    key=f"g{n}",
                    member_id=f"p{n}",
                    purpose="care",
                    channels=(name,),  # type: ignore[arg-type]
                    given_by=f"p{n}",
                    source="app",
                )
            )
            asks.append(
                RequestMessage(
                    key=f"a{n}",
                    member_id=f"p{n}",
                    template_key=TEMPLATE,
                    purpose="care",
                    variables={"name": "会员"},
                    reason="benchmark",
                )
            )
        engine.ingest(asks)  # type: ignore[arg-type]
        start = time.perf_counter()
        report = engine.dispatch({name: channel}, now=NOW + timedelta(minutes=1), limit=messages)
        elapsed = time.perf_counter() - start
        assert report.delivered == messages, report
        return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    print(f"{'channel':<12} {'alone/s':>9} {'dispatched/s':>13} {'dispatcher µs/msg':>18}")
    for factory, (name, provider) in PROVIDERS.items():
        with provider(args.messages) as channel:
            own = alone(channel, name, args.messages)
        with provider(args.messages) as channel:
            full = through_engine(channel, name, args.messages, folder)
        overhead = (1 / full - 1 / own) * 1e6
        print(f"{factory:<12} {own:>9,.0f} {full:>13,.0f} {overhead:>18,.0f}")


if __name__ == "__main__":
    main()
