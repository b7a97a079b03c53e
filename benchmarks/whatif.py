"""What-if replay on a demo store: the time to replay its history under two programmes.

Writes the demo hospital into a SQLite store (unless ``--store`` names one already
written), then runs :func:`membercore_adapters.whatif.whatif` with a programme earning
half as many points for spending against the demo's own programme (the baseline), and
prints the time, the largest resident memory of this process and of a replaying process
(``--partition-inputs`` bounds what one replay holds; measure with ``--store``, for the
demo's own processes count otherwise), and what differed. ``--split`` times only what
the command does before any replay can start: reading the store's input log, grouping
its records and writing each partition's inputs. ``--replay`` times one replay of the
whole log under the demo's programme in this process (processor time, the precise
measure of what deciding the history again costs).

    .venv/bin/python benchmarks/whatif.py --patients 10000 --months 18 --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import attrs

from membercore.config import ProgrammeConfig, Rate
from membercore.service.retrying import collector_paused
from membercore.service.whatif import MOST_INPUTS, replay
from membercore_adapters.demo import HospitalSpec, run_demo
from membercore_adapters.demo.programme import demo_programme
from membercore_adapters.whatif import _opened, _split, whatif


def lower_earning(config: ProgrammeConfig) -> ProgrammeConfig:
    """The programme earning half as many points for spending."""
    spending = config.earning.spending
    halved = {
        key: Rate(points=rate.points, per_yuan=rate.per_yuan * 2)
        for key, rate in spending.category_rates.items()
    }
    slower = attrs.evolve(spending, rate=Rate(points=1, per_yuan=2), category_rates=halved)
    return attrs.evolve(config, earning=attrs.evolve(config.earning, spending=slower))


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--store", type=Path, help="a demo store written already")
    parser.add_argument("--partition-inputs", type=int, default=MOST_INPUTS)
    parser.add_argument("--split", action="store_true", help="time the log's split alone")
    parser.add_argument("--replay", action="store_true", help="time one replay in this process")
    parser.add_argument("--inputs", type=int, help="with --replay: only the log's first N inputs")
    arguments = parser.parse_args()
    path = arguments.store or Path(f"build/whatif-{arguments.patients}x{arguments.months}.db")
    if arguments.store is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{path.name}*"):
            stale.unlink()
        spec = HospitalSpec(patients=arguments.patients, months=arguments.months)
        demo = run_demo(
            spec, f"sqlite:///{path}", workers=arguments.workers, step=timedelta(hours=12)
        )
        print(
            f"demo: {demo.messages:,} messages in {demo.seconds:.1f} s "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
    if arguments.split:
        timed_split(f"sqlite:///{path}", arguments.workers, arguments.partition_inputs)
        return
    if arguments.replay:
        timed_replay(f"sqlite:///{path}", arguments.inputs)
        return
    started = time.perf_counter()
    programme = demo_programme()
    result = whatif(
        f"sqlite:///{path}",
        lower_earning(programme),
        baseline=programme,
        workers=arguments.workers,
        most_inputs=arguments.partition_inputs,
    )
    seconds = time.perf_counter() - started
    print(
        f"whatif: {result.inputs:,} inputs, {result.partitions} partitions, "
        f"{arguments.workers} workers: {seconds:.1f} s; baseline reproduces the store: "
        f"{result.reproduces}"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    replaying = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(
        f" largest resident memory: {own:,} MB this process, {replaying:,} MB a replaying "
        f"process ({result.partitions} partitions of at most {arguments.partition_inputs:,} "
        "inputs where the groups allow)"
    )
    for name, changed in result.differences().items():
        print(f" {name}: {changed or 'no difference'}")


def timed_split(url: str, workers: int, most: int) -> None:
    """Time reading the input log, grouping its records and writing the partitions."""
    with _opened(url, demo_programme()) as engine, tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        grouping, parts = _split(engine.store, workers, most, Path(folder))
        print(
            f"split: {grouping.inputs:,} inputs read, grouped and written to {len(parts)} "
            f"partitions in {time.perf_counter() - started:.1f} s"
        )


def timed_replay(url: str, inputs: int | None = None) -> None:
    """Time one replay of the input log (its first ``inputs``) under the demo's programme.

    In this process; ``inputs=0`` replays nothing, so that what the process spends
    starting can be told from the replay (under ``valgrind --tool=callgrind``, say, which
    counts the instructions run: the same on a busy machine as on a quiet one).
    """
    programme = demo_programme()
    with _opened(url, programme) as engine:
        entries = list(engine.store.inputs())[:inputs]
    if not entries:
        print("replay: nothing replayed")
        return
    with collector_paused(True):  # as a replaying process runs
        started = time.process_time()
        replay(entries, programme)
        seconds = time.process_time() - started
    print(
        f"replay: {len(entries):,} inputs in {seconds:.2f} s of processor time "
        f"({seconds / max(len(entries), 1) * 1e6:.0f} µs an input)"
    )


if __name__ == "__main__":
    main()
