"""Build the dictionaries the SQL stores pack events and snapshots with.

Runs the demo hospital into a SQLite file, reads back every commit's events (framed as
the stores frame them) and every record's snapshot, and writes two dictionaries of
64 KB for Zstandard, each trained by zstd's own trainer on every sample:
``journal-2.dict`` and ``record-2.dict``. (The deflate dictionaries ``journal-1.dict`` and
``record-1.dict``, which earlier releases packed with, were built by hand-picked
examples; they are read, never built again.)

A released dictionary never changes: stored values name theirs by a format byte. Run
this to make the dictionary of a new format, give it a new byte in
``membercore_adapters.stores.packing``, and keep the old one.

    .venv/bin/python tools/build_dictionaries.py --out /tmp/dictionaries
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterable
from itertools import groupby
from pathlib import Path

import zstandard

from membercore_adapters.demo import HospitalSpec, run_demo
from membercore_adapters.stores.packing import frame
from membercore_adapters.stores.sqlite import SqliteStore

TRAINED = 64 * 1024


def frames(store: SqliteStore) -> Iterable[tuple[str, str]]:
    """Each commit's events of each record, as (kind, framed text)."""
    for record in store.scan():
        for _, events in groupby(store.events(record.key), key=lambda e: e.version):
            batch = list(events)
            kind = " ".join(sorted({e.type for e in batch}))
            yield kind, frame((e.type, e.at, e.payload) for e in batch)


def snapshots(store: SqliteStore) -> Iterable[tuple[str, str]]:
    """Each record's snapshot, as (kind, text): its key's prefix and its size in KB."""
    for record in store.scan():
        kind = f"{record.key.partition(':')[0]} {len(record.snapshot) // 1024}"
        yield kind, record.snapshot


def trained(samples: Iterable[tuple[str, str]]) -> bytes:
    """A Zstandard dictionary of :data:`TRAINED` bytes, trained on every sample."""
    texts = [text.encode("utf-8", "surrogatepass") for _, text in samples]
    return zstandard.train_dictionary(TRAINED, texts, threads=1).as_bytes()


def main() -> None:
    """Build both dictionaries into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/demo.db"
        run_demo(HospitalSpec(patients=args.patients, months=args.months, seed=7), url)
        store = SqliteStore(f"{folder}/demo.db")
        try:
            (args.out / "journal-2.dict").write_bytes(trained(frames(store)))
            (args.out / "record-2.dict").write_bytes(trained(snapshots(store)))
        finally:
            store.close()


if __name__ == "__main__":
    main()
