"""The console channel passes the hand-over part of the channel conformance suite.

A console has no provider to fail, report or read replies from: what it promises is
what every channel does — each message handed over once, however often and by however
many dispatchers at once, its acknowledgment kept — and it needs no member's address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from membercore.testing.channels import ChannelSetup, HandOverContract
from membercore_adapters.channels.console import ConsoleChannel


class ConsoleFile:
    """The console's file, read as a provider's record of what it took."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def accepted(self) -> list[str]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["message_id"] for line in lines]

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        raise NotImplementedError("a console does not fail")

    def report(self, message_id: str, *, delivered: bool) -> None:
        raise NotImplementedError("a console reports nothing")

    def reply(self, address: str, text: str) -> None:
        raise NotImplementedError("nobody replies to a console")


class TestConsoleContract(HandOverContract):
    @pytest.fixture
    def channel_setup(self, tmp_path: Path) -> ChannelSetup:
        path = tmp_path / "sms.jsonl"
        channel = ConsoleChannel.from_options({"name": "sms", "path": str(path)})
        return ChannelSetup(
            channel=channel, provider=ConsoleFile(path), address="13800138000", addressed=False
        )
