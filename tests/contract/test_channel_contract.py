"""The channel conformance suite, run against a provider kept in memory.

The provider here behaves as the real ones do at their edge — it takes a message once
per request, fails when told, reports each message's fate and members' replies when
asked — so that the suite's own checks are shown to hold (and to fail when a channel
breaks them: see ``test_the_suite_fails_a_channel_that_sends_twice``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import pytest

from membercore.ports import (
    ChannelReport,
    DeliveryReport,
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    Reply,
    TransientDeliveryError,
)
from membercore.testing.channels import T0, ChannelSetup, ReplyContract, _Hospital

SECRET = "s3cr3t-key-0042"


class MemoryProvider:
    """A provider: what it accepted, what it is told to fail, what it will report."""

    def __init__(self) -> None:
        self.taken: list[str] = []
        self.failing: list[tuple[str, float | None]] = []
        self.reports: list[ChannelReport] = []
        self.lock = threading.Lock()

    def accepted(self) -> list[str]:
        return list(self.taken)

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        self.failing.append((kind, retry_after))

    def report(self, message_id: str, *, delivered: bool) -> None:
        self.reports.append(DeliveryReport(message_id=message_id, delivered=delivered, at=T0))

    def reply(self, address: str, text: str) -> None:
        number = len(self.reports)
        self.reports.append(
            Reply(channel="sms", address=address, text=text, at=T0, reply_id=f"r{number}")
        )


class MemorySms:
    """An SMS channel over :class:`MemoryProvider`, holding a secret it must never leak."""

    name = "sms"

    def __init__(self, provider: MemoryProvider, *, twice: bool = False) -> None:
        self.provider = provider
        self.secret = SECRET
        self.twice = twice

    def send(self, message: OutboxMessage) -> str:
        outgoing = Outgoing.of(message)
        if not outgoing.to:
            raise PermanentDeliveryError("the member has no mobile number")
        with self.provider.lock:
            if self.provider.failing:
                kind, after = self.provider.failing.pop(0)
                if kind == "permanent":
                    raise PermanentDeliveryError("isv.MOBILE_NUMBER_ILLEGAL")
                raise TransientDeliveryError("isv.BUSINESS_LIMIT_CONTROL", retry_after=after)
            self.provider.taken.append(outgoing.message_id)
            if self.twice:
                self.provider.taken.append(outgoing.message_id)
        return f"biz-{outgoing.message_id}"

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> Iterable[ChannelReport]:
        waiting = {message.message_id for message in awaiting}
        kept: list[ChannelReport] = []
        given: list[ChannelReport] = []
        for item in self.provider.reports:
            if isinstance(item, DeliveryReport) and item.message_id not in waiting:
                kept.append(item)
            else:
                given.append(item)
        self.provider.reports = kept
        return given


class TestMemorySms(ReplyContract):
    @pytest.fixture
    def channel_setup(self) -> ChannelSetup:
        provider = MemoryProvider()
        return ChannelSetup(
            channel=MemorySms(provider),
            provider=provider,
            address="+8613800138000",
            secrets=(SECRET,),
        )


def test_the_suite_fails_a_channel_that_sends_twice(tmp_path: Path) -> None:
    provider = MemoryProvider()
    broken = ChannelSetup(channel=MemorySms(provider, twice=True), provider=provider, address="1")
    hospital = _Hospital(broken, tmp_path / "broken.db")
    try:
        suite = TestMemorySms()
        with pytest.raises(AssertionError):
            suite.test_a_message_is_handed_to_the_provider_once(hospital)
    finally:
        hospital.engine.close()
