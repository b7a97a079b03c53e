"""Hand-over throughput: messages checked on their member's record and given to a channel.

Run: ``.venv/bin/python benchmarks/dispatch.py [--members N]``. Queues one care message
for each of N members (registered, consenting on WeCom), then times one
``Engine.dispatch`` of them all on ``memory://`` and on a SQLite file: claim, the check
at the hand-over and its commit, the send through a channel that answers at once, and
the deliveries recorded. Nothing here is asserted; docs/performance.md records what it
printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from membercore import Engine, PatientRegistered, reference_config
from membercore.consent import GrantConsent
from membercore.outreach import RequestMessage
from membercore.plugins import make_plugin_manager
from membercore.ports import OutboxMessage
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class Instant:
    """A channel that takes every message at once."""

    def send(self, message: OutboxMessage) -> str:
        return f"r-{message.message_id}"


def measure(url: str, members: int) -> float:
    """Messages per second one dispatch checks and hands over."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    clock = ManualClock(MONDAY)
    with Engine.open(url, config=reference_config(), clock=clock, plugin_manager=manager) as e:
        ids = [f"p{i}" for i in range(members)]
        e.ingest(
            [PatientRegistered(fact_id=f"r-{p}", patient_id=p, occurred_at=MONDAY) for p in ids]
        )
        asks: list[object] = []
        for p in ids:
            asks.append(
                GrantConsent(
                    key=f"g-{p}",
                    member_id=p,
                    purpose="care",
                    channels=("wecom",),
                    given_by=p,
                    source="app",
                )
            )
            asks.append(
                RequestMessage(
                    key=f"a-{p}",
                    member_id=p,
                    template_key="annual_welcome",
                    purpose="care",
                    variables={"name": "会员"},
                    reason="benchmark",
                )
            )
        e.ingest(asks)  # type: ignore[arg-type]
        start = time.perf_counter()
        report = e.dispatch({"wecom": Instant()}, now=MONDAY + timedelta(minutes=1), limit=members)
        elapsed = time.perf_counter() - start
        assert report.delivered == members
        return members / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=2000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    for name, url in (("memory", "memory://"), ("sqlite", f"sqlite:///{folder}/dispatch.db")):
        print(f"{name}: {measure(url, args.members):,.0f} messages/s checked and handed over")


if __name__ == "__main__":
    main()
