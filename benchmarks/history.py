"""The cost of one more fact for a member with a long history.

Run: ``.venv/bin/python benchmarks/history.py [--sizes 10,100,1000,3000,10000]
[--probes 200] [--warmup 20]``.
For each size, one member is given that many prior facts (a mix of check-ins, visits,
charges and lab results over the years before, loaded as history), then ``--probes``
more check-ins are ingested one at a time, live, on ``memory://`` and on a SQLite
file; the median CPU time of those is printed, with its ratio to the smallest size's,
and their mean (which counts the commits that write the record's snapshot). The first
``--warmup`` check-ins are left out of both: the first facts a process decides also
prepare what later ones reuse (converters, kept readings), whatever the history.
A flat curve is the goal (every ratio within 1.5). Nothing here is asserted;
docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from membercore import Engine, reference_config
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    Fact,
    LabResultRecorded,
    PatientRegistered,
    VisitCompleted,
)
from membercore.plugins import make_plugin_manager
from membercore.serialization.records import record_to_json
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ME = "p-long"


def history(size: int) -> list[Fact]:
    """``size`` facts of one member, spread over the years before ``NOW``."""
    start = NOW - timedelta(days=3 * 365)
    step = (NOW - timedelta(days=1) - start) / max(size, 1)
    facts: list[Fact] = [PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=start)]
    for n in range(size):
        at = start + step * (n + 1)
        common = {"fact_id": f"h-{n}", "patient_id": ME, "occurred_at": at}
        kind = n % 4
        if kind == 0:
            facts.append(CheckedIn(**common, channel="app"))
        elif kind == 1:
            facts.append(VisitCompleted(**common, visit_id=f"v-{n}"))
        elif kind == 2:
            line = ChargeLine(department="internal", category="exam", amount_fen=20_000)
            facts.append(ChargePaid(**common, charge_id=f"c-{n}", lines=(line,)))
        else:
            facts.append(LabResultRecorded(**common, test="hba1c", value="7.1"))
    return facts


def probe(
    url: str, size: int, probes: int, warmup: int = 0
) -> tuple[float, float, int, float | None]:
    """Median and mean CPU seconds of one more check-in for a member with ``size`` prior facts.

    With the length of the member's record (its snapshot) after the probes, in bytes, and
    (for a file) the CPU seconds a new engine takes to read the member: its snapshot and
    the journal since. The mean counts the commits that write the record's snapshot,
    which the median leaves out.
    """
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    opened = partial(
        Engine.open, url, config=reference_config(), clock=ManualClock(NOW), plugin_manager=manager
    )
    with opened() as engine:
        engine.ingest(history(size), history=True)
        times = []
        for n in range(warmup + probes):
            at = NOW + timedelta(minutes=n)
            fact = CheckedIn(fact_id=f"p-{n}", patient_id=ME, occurred_at=at, channel="app")
            started = time.process_time()
            engine.ingest([fact], now=at)
            times.append(time.process_time() - started)
        del times[:warmup]
        record = len(record_to_json(engine.member(ME)))
    cold = None
    if not url.startswith("memory:"):
        for _ in range(2):  # the first read in a process also prepares the decoding
            with opened() as engine:
                started = time.process_time()
                engine.member(ME)
                cold = time.process_time() - started
    return statistics.median(times), statistics.fmean(times), record, cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,3000,10000")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        for name, url in (("memory", "memory://"), ("sqlite", f"sqlite:///{folder}/h.db")):
            first = None
            for size in sizes:
                url_now = url if name == "memory" else f"sqlite:///{folder}/h-{size}.db"
                seconds, mean, record, cold = probe(url_now, size, args.probes, args.warmup)
                first = first or seconds
                read = "" if cold is None else f", read cold in {cold * 1e3:,.0f} ms"
                print(
                    f"{name}: {size:>6,} prior facts: {seconds * 1e6:>8,.0f} µs a fact "
                    f"({seconds / first:.1f}× the {sizes[0]:,}-fact figure; mean "
                    f"{mean * 1e6:,.0f} µs), record {record:,} bytes{read}"
                )


if __name__ == "__main__":
    main()
