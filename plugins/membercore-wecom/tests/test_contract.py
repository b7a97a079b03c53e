"""The channel conformance suite, against the loopback WeCom server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import pytest

from membercore.testing.channels import ChannelSetup, ReportingContract
from membercore_wecom import WeComChannel
from membercore_wecom.testing import WeComServer

from .conftest import ZHANG_CUSTOMERS, options


class WeComProbe:
    """The suite's view of the server: tasks by the programme messages they carry.

    WeCom's mass-message task takes no id of the caller's, so the message a task carries
    is the one the channel says it created the task for.
    """

    def __init__(self, server: WeComServer, channel: WeComChannel) -> None:
        self.server = server
        self.channel = channel

    def accepted(self) -> list[str]:
        return [
            self.channel.message_of(task.msgid) or f"unknown task {task.msgid}"
            for task in self.server.tasks
        ]

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        if kind == "permanent":
            self.server.not_a_contact_next()
        elif retry_after is None:
            self.server.fail_next(-1, "system busy")
        else:
            # WeCom's frequency limit names no wait; the channel waits a minute.
            self.server.fail_next(45009, "api freq out of limit")

    def report(self, message_id: str, *, delivered: bool) -> None:
        (task,) = [t for t in self.server.tasks if self.channel.message_of(t.msgid) == message_id]
        sent_at = int(datetime.now(UTC).timestamp())
        for customer in task.customers:
            self.server.set_status(task.msgid, customer, 1 if delivered else 2, sent_at)

    def reply(self, address: str, text: str) -> None:
        raise NotImplementedError("the WeCom channel reads no replies")


class TestWeComContract(ReportingContract):
    @pytest.fixture
    def channel_setup(self, server: WeComServer, environ: dict[str, str]) -> Iterator[ChannelSetup]:
        # The suite's members have no health manager and share one address: the default
        # sender sends, and the corp's rule allows the suite's messages in a month.
        table = options(server, default_sender="zhanghua", monthly_limit_per_customer=31)
        channel = WeComChannel.from_options(table)
        yield ChannelSetup(
            channel=channel,
            provider=WeComProbe(server, channel),
            address=ZHANG_CUSTOMERS[0],
            secrets=(server.contact_secret, server.app_secret, *server.planned_tokens),
            # WeCom's errcode 45009 says a limit was reached, not how long to wait.
            asks_to_wait=False,
        )
        channel.close()
