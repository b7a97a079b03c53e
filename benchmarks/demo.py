"""The demo hospital as a hospital runs it: its time, and the bytes its store takes a fact.

Run: ``.venv/bin/python benchmarks/demo.py [--patients 2000] [--months 12] [--workers 1]``.
Runs the demo hospital (each twelve hours of simulated time ingested, then ticked) into
a new SQLite file, then prints:

- the messages taken and the seconds the run took (wall clock), with the CPU seconds of
  this process (with one worker, all of the run's);
- the bytes the store takes a message, after ``VACUUM``, in all and by table (SQLite's
  ``dbstat``, indexes counted with their table).

Nothing here is asserted; docs/performance.md records what it printed. To compare with
an earlier commit on the same machine: ``benchmarks/compare.py --before <commit> --
demo.py``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from membercore_adapters.demo import HospitalSpec, run_demo


def table_bytes(path: Path) -> Counter[str]:
    """The bytes each table of the SQLite file takes, its indexes included."""
    with sqlite3.connect(path) as db:
        db.execute("VACUUM")
        owners = dict(db.execute("SELECT name, tbl_name FROM sqlite_master"))
        sizes: Counter[str] = Counter()
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            sizes[owners.get(name, name)] += size
    return sizes


def main() -> None:
    """Run the demo once and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    spec = HospitalSpec(patients=args.patients, months=args.months)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.db"
        started, cpu = time.perf_counter(), time.process_time()
        result = run_demo(spec, f"sqlite:///{path}", workers=args.workers)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        sizes = table_bytes(path)
    taken = result.messages
    print(
        f"demo {args.patients:,} patients × {args.months} months, {args.workers} worker(s): "
        f"{taken:,} messages in {seconds:.1f} s = {taken / seconds:,.0f}/s (cpu {cpu:.1f} s)"
    )
    total = sum(sizes.values())
    parts = ", ".join(f"{name} {size / taken:,.0f}" for name, size in sizes.most_common(6))
    print(f"store after VACUUM: {total / taken:,.0f} bytes a message ({parts})")


if __name__ == "__main__":
    main()
