"""A child process for the crash-safety tests: the demo hospital ingested slice by slice.

Run: ``python ingest_worker.py URL --patients N --months N --seed N``. It opens an engine
on ``URL`` and feeds it the hospital's messages as the demo does: in slices of simulated
time, each slice's ``(instant, message)`` pairs ingested (``--batch-size`` to a commit),
then a tick at the slice's end (``--tick-limit`` records to a commit). After each slice it
prints ``slice <n> <end> <messages>`` and flushes (after a first line ``slices <count>``),
and ``done <slices>`` at the end, so a test can read how far it got and kill it there.

It always starts from the first slice: on a store that already holds part of the stream
the facts already taken come back as duplicates, and the ticks of slices already ticked
find nothing due.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta

from membercore import reference_config
from membercore.plugins import make_plugin_manager
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.demo.hospital import HospitalSpec, timed_messages
from membercore_adapters.stores import memory, postgres, sqlite

STEP = timedelta(hours=12)


def slices(spec: HospitalSpec) -> Iterator[tuple[datetime, list[tuple[datetime, object]]]]:
    """The hospital's messages in slices of :data:`STEP`, with each slice's end.

    The same cut as the demo's: the first slice ends at 08:00 on the first day.
    """
    end = spec.start.replace(hour=8, minute=0, second=0, microsecond=0)
    if end <= spec.start:
        end += STEP
    batch: list[tuple[datetime, object]] = []
    for at, message in timed_messages(spec):
        while at >= end:
            yield end, batch
            batch = []
            end += STEP
        batch.append((at, message))
    yield end, batch


def _everyone(_member_id: str) -> bool:
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--tick-limit", type=int, default=10)
    args = parser.parse_args(argv)
    spec = HospitalSpec(patients=args.patients, months=args.months, seed=args.seed)
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
    clock = ManualClock(spec.start)
    with Engine.open(
        args.url,
        config=reference_config(),
        clock=clock,
        plugin_manager=manager,
        batch_size=args.batch_size,
    ) as engine:
        cut = list(slices(spec))
        sys.stdout.write(f"slices {len(cut)}\n")
        sys.stdout.flush()
        number = 0
        for number, (end, batch) in enumerate(cut, start=1):
            clock.set(end)
            if batch:
                engine.ingest(batch, now=end)
            # One worker alone: tick from the plain listing (``where``), not from claims.
            # A kill between a claim and its commit leaves the claim held for its lease,
            # and a restart replays the same instants: it would tick those members a
            # slice later than the uninterrupted run does.
            engine.tick(end, limit=args.tick_limit, where=_everyone)
            sys.stdout.write(f"slice {number} {end.isoformat()} {len(batch)}\n")
            sys.stdout.flush()
        sys.stdout.write(f"done {number}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
