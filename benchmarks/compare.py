"""Run a benchmark with this tree and with an earlier commit, side by side, on this machine.

Run: ``.venv/bin/python benchmarks/compare.py --before <commit> [--runs 1] -- history.py
--sizes 10,1000``. The earlier commit is checked out into a temporary git worktree and
its source put first on ``PYTHONPATH``, with this tree's virtual environment, so that
both run with the same interpreter and libraries; the benchmark script is this tree's.
The runs alternate (before, now, before, now...) so that a machine that slows down
during the measure slows both alike. Absolute figures vary between machines; what the
issue's goals ask for are the ratios between the two columns.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _source(tree: Path) -> str:
    return os.pathsep.join(str(tree / part) for part in ("src", "src/adapters"))


def _run(script: list[str], tree: Path) -> str:
    env = {**os.environ, "PYTHONPATH": _source(tree)}
    command = [sys.executable, str(HERE / script[0]), *script[1:]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=1, help="runs of each, alternating")
    parser.add_argument("script", nargs=argparse.REMAINDER, help="-- benchmark and its options")
    args = parser.parse_args()
    script = [part for part in args.script if part != "--"]
    if not script:
        parser.error("name the benchmark to run after --")
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        git = ["git", "-C", str(ROOT)]
        subprocess.run(
            [*git, "worktree", "add", "-q", "--detach", str(before), args.before], check=True
        )
        try:
            for run in range(1, args.runs + 1):
                for label, tree in (("before", before), ("now", ROOT)):
                    name = args.before if label == "before" else "this tree"
                    print(f"--- {label} ({name}), run {run}")
                    print(_run(script, tree), end="", flush=True)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(before)], check=True)


if __name__ == "__main__":
    main()
