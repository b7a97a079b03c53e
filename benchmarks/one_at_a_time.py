"""The demo hospital's messages taken one a unit of work, as a listener takes a message.

Run: ``.venv/bin/python benchmarks/one_at_a_time.py [--patients 200] [--months 3]
[--store memory://]``. Builds the demo hospital's facts and commands, then gives the
engine each on its own (``engine.ingest([(at, message)])``, a commit each, the clock at
its instant, no ticks) and prints the processor time the engine took and the time a
message. ``--none`` builds the messages and takes none: under ``valgrind
--tool=callgrind``, which counts the instructions a run takes (as many on a busy machine
as on a quiet one), the difference between a run and a ``--none`` run is what taking the
messages cost.
"""

from __future__ import annotations

import argparse
import time

from membercore import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.demo import HospitalSpec, timed_messages
from membercore_adapters.demo.programme import demo_programme


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--store", default="memory://")
    parser.add_argument("--none", action="store_true", help="build the messages, take none")
    arguments = parser.parse_args()
    timed = list(timed_messages(HospitalSpec(patients=arguments.patients, months=arguments.months)))
    if arguments.none or not timed:
        print(f"{len(timed):,} messages built, none taken")
        return
    clock = ManualClock(timed[0][0])
    with Engine.open(arguments.store, config=demo_programme(), clock=clock) as engine:
        started = time.process_time()
        for at, message in timed:
            clock.set(max(clock.now(), at))
            engine.ingest([(at, message)], now=clock.now())
        seconds = time.process_time() - started
    print(
        f"{len(timed):,} messages taken one at a time in {seconds:.2f} s of processor time "
        f"({seconds / len(timed) * 1e6:.0f} µs a message)"
    )


if __name__ == "__main__":
    main()
