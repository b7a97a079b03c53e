"""How long erasing a person and a retention pass take on the demo store.

Run: ``make bench-privacy`` (or ``.venv/bin/python benchmarks/privacy.py [--store URL]
[--patients 10000] [--months 18]``). Without ``--store``, the demo hospital is run first
(``membercore demo --quiet``) into a temporary SQLite file. Then, on that store, under the
demo's programme: ``engine.erase_member`` of the member with the most messages (the
erasure reads the person's records, every logged input, message, dead letter and task,
and rewrites what names them in one transaction), and ``engine.retain`` a year and a
half after the store's last instant (every message body, address and refused payload
past its period: the first pass rewrites most of the store's messages and their members'
journals), then again (nothing left to let go). Wall-clock seconds of each, and the
counts. Nothing here is asserted; docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from membercore import Engine
from membercore_adapters.demo.programme import demo_programme


def _demo(folder: Path, patients: int, months: int) -> str:
    url = f"sqlite:///{folder / 'demo.db'}"
    args = ["demo", "--quiet", "--store", url, "--report", str(folder / "x.html")]
    args += ["--patients", str(patients), "--months", str(months)]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "membercore_adapters.cli", *args], check=True, capture_output=True
    )
    print(f"demo {patients:,} patients, {months} months: {time.perf_counter() - start:.1f} s")
    return url


def _busiest(url: str) -> str:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        (key,) = db.execute(
            "SELECT key FROM outbox GROUP BY key ORDER BY count(*) DESC, key LIMIT 1"
        ).fetchone()
    return str(key).removeprefix("member:")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", help="a demo store's URL (sqlite:///...)")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=18)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        url = options.store or _demo(Path(temporary), options.patients, options.months)
        member = _busiest(url)
        with Engine.open(url, config=demo_programme()) as engine:
            last = max(message.send_at for message in engine.store.outbox())
            start = time.perf_counter()
            note = engine.erase_member(member, "benchmark", by="bench", now=last)
            took = time.perf_counter() - start
            print(f"erase_member {member}: {took:.2f} s; rewrote {note.counts}")
            later = last + timedelta(days=548)
            for attempt in ("first", "second"):
                start = time.perf_counter()
                report = engine.retain(now=later)
                took = time.perf_counter() - start
                print(f"retain ({attempt} pass): {took:.1f} s; {report}")


if __name__ == "__main__":
    main()
