"""Facts accepted per second through the HTTP API, and a member's glance read over it.

Run: ``make bench-http`` (or ``.venv/bin/python benchmarks/http_api.py [--facts 10000]
[--singles 2000] [--reads 3000] [--batch 100] [--rounds 2] [--quick]``). The server is
``membercore serve`` in a process of its own (uvicorn on loopback, a free port, an API
token of the store's, ``membercore token create``), each time on a fresh SQLite file, as
a hospital runs it; the load generator is one httpx client on one kept-alive
connection, sending a request and waiting for its answer before the next, as the HIS
does. Request bodies are encoded before the
clock starts. Prints, for each round:

- facts accepted per second through ``POST /facts`` in batches of ``--batch``, and one
  fact a request (the first ``--singles`` facts), each on a fresh store; the server's CPU
  time (from ``/proc``) split between its event loop (the HTTP layer: parsing, routing,
  the token, reading and answering the facts) and the engine's thread, and the load
  generator's own CPU time;
- the engine's own time for the same work: ``Engine.open`` in this process, on a fresh
  SQLite file, ingesting the same batches (and the same facts one at a time) as the
  dicts the requests carry.

Then, from the fastest of the rounds, what the HTTP layer adds to the engine's time (the
goal for batches: less than a third), and the latency of ``GET /members/{id}`` (p50,
p99) over ``--reads`` requests for members the first round's batches registered, chosen
at random, against the engine working out the same answers in this process.

The facts are the demo hospital's (its commands left out: ``POST /commands`` takes
those), dated in the year before today so that the server's clock (the system's) takes
them as recent. Nothing here is asserted; docs/performance.md records what it printed.
The script is not named ``http.py``: run as a script, it would hide the standard
library's ``http`` package from the imports of httpx and Litestar.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import httpx

from membercore import reference_config
from membercore.facts import Fact
from membercore.serialization import message_to_dict
from membercore.service.engine import Engine
from membercore_adapters.demo.hospital import HospitalSpec, messages
from membercore_adapters.http.members import _glance

HEADERS = {"Content-Type": "application/json"}
_MEMBERCORE = [sys.executable, "-m", "membercore_adapters.cli"]
_SCOPES = ["--scope", "ingest", "--scope", "read"]
MONTHS = 12
FACTS_A_PATIENT = 10  # about 10.8 over twelve months in the demo hospital
SHANGHAI = ZoneInfo("Asia/Shanghai")


@attrs.frozen(kw_only=True)
class Run:
    """What sending the facts one way took."""

    facts: int
    seconds: float
    #: CPU time: the engine's process's, or the server's in all.
    cpu: float
    #: The server's event loop thread's CPU time (the HTTP layer), or None in process.
    loop: float | None = None
    #: The load generator's CPU time, or None in process.
    client: float | None = None
    applied: int
    refused: int

    @property
    def per_second(self) -> float:
        return self.facts / self.seconds

    def describe(self) -> str:
        """One line: the rate, and where the CPU time went."""
        said = (
            f"{self.facts:>7,} facts in {self.seconds:6.2f} s = {self.per_second:6,.0f}/s"
            f" ({self.seconds / self.facts * 1e6:5,.0f} µs a fact; "
        )
        if self.loop is None:
            said += f"cpu {self.cpu:.2f} s"
        else:
            said += (
                f"server cpu {self.cpu:.2f} s: event loop {self.loop:.2f} s,"
                f" engine thread {self.cpu - self.loop:.2f} s; client cpu {self.client:.2f} s"
            )
        return f"{said}; {self.applied:,} applied, {self.refused:,} refused)"


def demo_facts(count: int) -> list[dict[str, Any]]:
    """The demo hospital's first ``count`` facts, as ``message_to_dict`` writes them."""
    today = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=MONTHS * 31)
    spec = HospitalSpec(patients=max(50, count // FACTS_A_PATIENT + 50), months=MONTHS, start=start)
    found: list[dict[str, Any]] = []
    for message in messages(spec):
        if isinstance(message, Fact):
            found.append(message_to_dict(message))
            if len(found) == count:
                break
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_of(stat: Path) -> float:
    """The CPU time (user and system) of a process or thread, from its ``/proc`` stat."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> tuple[float, float]:
    """The server's CPU time: its main thread's (the event loop: HTTP), and the others'.

    The other thread is the engine's: every call to the engine runs there.
    """
    loop = _cpu_of(Path(f"/proc/{pid}/task/{pid}/stat"))
    return loop, _cpu_of(Path(f"/proc/{pid}/stat")) - loop


@contextmanager
def served(folder: Path) -> Iterator[tuple[httpx.Client, int]]:
    """``membercore serve`` on a fresh SQLite file in ``folder``: a client to it, its pid."""
    store = f"sqlite:///{folder / 'served.db'}"
    made = subprocess.run(
        [*_MEMBERCORE, "token", "create", "bench", *_SCOPES, "--store", store],
        capture_output=True,
        text=True,
        check=True,
    )
    secret = made.stdout.strip().splitlines()[-1]  # the store's token, shown once
    port = _free_port()
    command = [*_MEMBERCORE, "serve"]
    command += ["--store", store, "--port", str(port)]
    log = folder / "serve.log"
    with log.open("w", encoding="utf-8") as written:  # a file: a full pipe would stall it
        process = subprocess.Popen(command, stdout=written, stderr=written)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            headers={"Authorization": f"Bearer {secret}"},
        ) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/openapi.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"membercore serve did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield client, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def engine_ingest(folder: Path, parts: list[list[dict[str, Any]]]) -> Run:
    """The engine in this process taking each part in one ``ingest`` call."""
    with Engine.open(f"sqlite:///{folder / 'engine.db'}", config=reference_config()) as engine:
        started, cpu = time.perf_counter(), time.process_time()
        applied = refused = 0
        for part in parts:
            report = engine.ingest(part)
            applied, refused = applied + report.applied, refused + report.rejected
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Run(
        facts=sum(map(len, parts)), seconds=seconds, cpu=cpu, applied=applied, refused=refused
    )


def http_ingest(client: httpx.Client, pid: int, parts: list[list[dict[str, Any]]]) -> Run:
    """``POST /facts`` of each part (a part of one fact sent as the fact alone)."""
    bodies = [json.dumps(part[0] if len(part) == 1 else part).encode() for part in parts]
    answers = []
    loop, engine = server_cpu(pid)
    started, client_cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        answers.append(client.post("/facts", content=body, headers=HEADERS))
    seconds, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
    loop_after, engine_after = server_cpu(pid)
    applied = refused = 0
    for answer in answers:
        if answer.status_code == 422:  # a single fact refused
            refused += 1
            continue
        if answer.status_code != 200:
            raise SystemExit(f"POST /facts answered {answer.status_code}: {answer.text}")
        report = answer.json()
        applied, refused = applied + report["applied"], refused + report["refused"]
    return Run(
        facts=sum(map(len, parts)),
        seconds=seconds,
        cpu=loop_after + engine_after - loop - engine,
        loop=loop_after - loop,
        client=client_cpu,
        applied=applied,
        refused=refused,
    )


@attrs.frozen(kw_only=True)
class Reads:
    """The latencies of ``GET /members/{id}``, and the CPU time the warm reads took."""

    #: The first read of each member after the server started (its record decoded).
    cold: list[float]
    #: Then the reads timed, in seconds each.
    warm: list[float]
    loop: float
    engine: float
    client: float


def http_reads(client: httpx.Client, pid: int, members: list[str]) -> Reads:
    """The latency of ``GET /members/{id}`` for each of ``members``, in seconds.

    Each member is read once first, untimed in the figures of the others: a server just
    started decodes a member's record from the store on its first read.
    """
    cold = [_get(client, member_id) for member_id in dict.fromkeys(members)]
    loop, engine = server_cpu(pid)
    client_cpu = time.process_time()
    warm = [_get(client, member_id) for member_id in members]
    client_cpu = time.process_time() - client_cpu
    loop_after, engine_after = server_cpu(pid)
    return Reads(
        cold=cold,
        warm=warm,
        loop=loop_after - loop,
        engine=engine_after - engine,
        client=client_cpu,
    )


def _get(client: httpx.Client, member_id: str) -> float:
    started = time.perf_counter()
    answer = client.get(f"/members/{member_id}", headers=HEADERS)
    taken = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"GET /members/{member_id} answered {answer.status_code}")
    return taken


def engine_reads(folder: Path, members: list[str]) -> list[float]:
    """How long the engine in this process takes to work out each member's glance.

    The glance is what ``GET /members/{id}`` answers, made by the endpoint's own
    function; each member's record is read once before the clock starts, as the
    server's were decoded by the batches.
    """
    with Engine.open(f"sqlite:///{folder / 'engine.db'}", config=reference_config()) as engine:
        for member_id in dict.fromkeys(members):
            _glance(engine, member_id)
        taken = []
        for member_id in members:
            started = time.perf_counter()
            _glance(engine, member_id)
            taken.append(time.perf_counter() - started)
    return taken


def _latency(what: str, taken: list[float]) -> str:
    cuts = statistics.quantiles(taken, n=100, method="inclusive")
    return (
        f"{what}: p50 {cuts[49] * 1e3:.2f} ms, p99 {cuts[98] * 1e3:.2f} ms,"
        f" mean {statistics.fmean(taken) * 1e3:.2f} ms"
    )


def _added(what: str, engine: Run, http: Run, goal: float | None) -> str:
    share = http.seconds / engine.seconds - 1
    each = (http.seconds - engine.seconds) / http.facts * 1e6
    said = (
        f"{what}: engine {engine.per_second:,.0f}/s, HTTP {http.per_second:,.0f}/s; the HTTP"
        f" layer adds {share:.0%} to the engine's time ({each:,.0f} µs a fact)"
    )
    if goal is not None:
        said += f"; goal under {goal:.0%}: {'met' if share < goal else 'not met'}"
    assert http.loop is not None
    return f"{said}; the server's event loop's cpu: {http.loop / engine.seconds:.0%} of it"


def _round(
    folder: Path, batches: list[list[dict[str, Any]]], singles: list[list[dict[str, Any]]]
) -> dict[str, Run]:
    """Each way of sending the facts once, each on a fresh store, one after the other."""
    runs: dict[str, Run] = {}
    for name, parts in (("batches", batches), ("singles", singles)):
        (folder / name).mkdir()
        runs[f"engine {name}"] = engine_ingest(folder / name, parts)
        with served(folder / name) as (client, pid):
            runs[f"http {name}"] = http_ingest(client, pid, parts)
    return runs


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=10_000, help="sent in batches")
    parser.add_argument("--singles", type=int, default=2_000, help="sent one a request")
    parser.add_argument("--reads", type=int, default=3_000, help="GET /members/{id} requests")
    parser.add_argument("--batch", type=int, default=100, help="facts a POST /facts")
    parser.add_argument("--rounds", type=int, default=2, help="the best of each is compared")
    parser.add_argument("--quick", action="store_true", help="a smoke run, too short for figures")
    args = parser.parse_args()
    if args.quick:
        args.facts, args.singles, args.reads, args.rounds = 500, 100, 200, 1
    facts = demo_facts(max(args.facts, args.singles))
    batches = [facts[n : n + args.batch] for n in range(0, args.facts, args.batch)]
    singles = [[fact] for fact in facts[: args.singles]]
    registered = [f["patient_id"] for f in facts[: args.facts] if f["type"] == "patient_registered"]
    members = random.Random(7).choices(registered, k=args.reads)
    print(
        f"demo hospital, {len(registered):,} patients: {args.facts:,} facts in batches of"
        f" {args.batch}, {args.singles:,} one a request; best of {args.rounds} round(s)"
    )
    rounds: list[dict[str, Run]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(1, args.rounds + 1):
            folder = Path(scratch) / f"round-{number}"
            folder.mkdir()
            rounds.append(_round(folder, batches, singles))
            print(f"round {number}:")
            for name, run in rounds[-1].items():
                where = f"{'POST /facts' if name.startswith('http') else 'engine'},"
                how = f"batches of {args.batch}" if name.endswith("batches") else "one at a time"
                print(f"  {where:<12} {how:<15} {run.describe()}")
        with served(Path(scratch) / "round-1" / "batches") as (client, pid):
            read = http_reads(client, pid, members)
        own = engine_reads(Path(scratch) / "round-1" / "batches", members)
    best = {name: min((r[name] for r in rounds), key=lambda run: run.seconds) for name in rounds[0]}
    print(_added("batches", best["engine batches"], best["http batches"], goal=1 / 3))
    print(_added("one at a time", best["engine singles"], best["http singles"], goal=None))
    print(_latency(f"GET /members/{{id}}, {len(members):,} requests", read.warm))
    each = 1e3 / len(read.warm)
    print(
        f"  cpu a request: server event loop {read.loop * each:.2f} ms, engine thread"
        f" {read.engine * each:.2f} ms; client {read.client * each:.2f} ms"
    )
    print(_latency(f"  the first read of each of {len(read.cold):,} members", read.cold))
    print(_latency("  the engine's own glance, in process", own))


if __name__ == "__main__":
    main()
