"""The memory store's pages of due records: what a tick asks, over many records.

Run: ``.venv/bin/python benchmarks/memory_due.py [--records 5000] [--ticks 1100]``.
Commits ``--records`` records to a ``memory://`` store, each due at a random instant
over eighteen months, then asks for the due records every twelve hours (``--ticks``
times, 500 at most a page, as a what-if replay's ticks do), moving three of each page
on, and prints the time the pages took and how many records they named. Nothing here
is asserted; docs/performance.md records what it printed. To compare with an earlier
commit: ``benchmarks/compare.py --before <commit> -- memory_due.py``.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from membercore.ports import Change, Commit
from membercore_adapters.stores.memory import MemoryStore

_START = datetime(2026, 1, 1, tzinfo=UTC)


def _change(key: str, version: int, due_at: datetime) -> Change:
    return Change(key=key, expected_version=version, snapshot="{}", events=[], due_at=due_at)


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--ticks", type=int, default=1_100)
    arguments = parser.parse_args()
    rng = random.Random(7)
    store = MemoryStore()
    versions: dict[str, int] = {}
    for number in range(arguments.records):
        key = f"member:P{number:06d}"
        due = _START + timedelta(hours=rng.randrange(24 * 540))
        store.commit(Commit(changes=[_change(key, 0, due)]))
        versions[key] = 1
    named = 0
    started = time.perf_counter()
    for tick in range(arguments.ticks):
        now = _START + timedelta(hours=12 * tick)
        page = store.due(now, 500)
        named += len(page)
        moved = [
            _change(key, versions[key], now + timedelta(days=rng.randrange(1, 90)))
            for key, _ in page[:3]
        ]
        if moved:
            store.commit(Commit(changes=moved))
            for change in moved:
                versions[change.key] += 1
    seconds = time.perf_counter() - started
    print(
        f"memory store, {arguments.records:,} records: {arguments.ticks:,} pages of due "
        f"records in {seconds:.3f} s (the commits moving three a page included), "
        f"{named:,} records named"
    )


if __name__ == "__main__":
    main()
