"""How long ``membercore report`` takes on the demo store, and the memory it holds.

Run: ``make bench-report`` (or ``.venv/bin/python benchmarks/report.py [--store URL ...]
[--patients 10000] [--months 18] [--sizes 2000,10000]``). Without ``--store``, the demo
hospital is run first (``membercore demo --quiet``, two workers) into a temporary SQLite
file for each size in ``--sizes`` (the last is ``--patients``), and its time printed.
Then ``membercore report`` runs on each store in a process of its own, as a hospital
runs it: wall-clock seconds, CPU seconds and the process's peak resident memory (from
``getrusage`` of the children), so that the growth of memory with the number of members
shows. The stores are read under the demo's programme (``membercore config init
--template demo``) unless ``--config`` names another. Nothing here is asserted;
docs/performance.md records what it printed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Runs the command in this interpreter and prints the process's own peak RSS (KiB) last.
_MEASURED = (
    "import resource, sys\n"
    "from membercore_adapters.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def _run(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of the command in a process of its own."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(done.stdout.split()[-1]) / 1024


def _demo(folder: Path, patients: int, months: int) -> str:
    url = f"sqlite:///{folder / f'demo-{patients}.db'}"
    args = ["demo", "--quiet", "--store", url]
    args += [
        "--patients",
        str(patients),
        "--months",
        str(months),
        "--report",
        str(folder / "x.html"),
    ]
    wall, cpu, peak = _run(args)
    print(f"demo {patients:,} patients, {months} months: {wall:.1f} s ({cpu:.1f} s CPU)")
    del peak  # the demo's workers are processes of their own
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", action="append", default=[], help="a demo store's URL")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--sizes", default="2000", help="smaller demo sizes to compare")
    parser.add_argument("--config", help="the stores' programme (the demo's by default)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        stores = list(options.store)
        if not stores:
            sizes = [int(size) for size in options.sizes.split(",") if size] + [options.patients]
            stores = [_demo(folder, size, options.months) for size in sizes]
        programme = options.config
        if programme is None:
            programme = str(folder / "demo.toml")
            _run(["config", "init", programme, "--template", "demo"])
        for url in stores:
            out = folder / "report.html"
            args = ["report", "--store", url, "--out", str(out), "--config", programme]
            wall, cpu, peak = _run(args)
            size = out.stat().st_size / 1e6
            print(
                f"report {url}: {wall:.1f} s ({cpu:.1f} s CPU), peak RSS {peak:.0f} MiB, "
                f"{size:.1f} MB of HTML"
            )


if __name__ == "__main__":
    main()
