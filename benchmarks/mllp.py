"""Messages acknowledged per second over MLLP: one connection, and eight (group commit).

Run: ``.venv/bin/python benchmarks/mllp.py [--messages 3000] [--stores sqlite,postgres]
[--connections 1,8]``. The listener runs as ``membercore worker`` runs it (the engine on
the event loop's thread); the integration engine is a process of its own, as it is in
a hospital, in which each connection is python-hl7's blocking MLLP client on a thread of
its own, sending a message and waiting for its ACK before the next. The messages are
the sample ADT^A01, ORU^R01 (ten results) and SIU^S12, for 500 patients (each with
identifiers of their own), each message under a control id of its own; a fresh store
per run. PostgreSQL is ``MEMBERCORE_TEST_POSTGRES_URL`` or the local test server.
``--open-tasks N`` gives the store N open staff tasks first (a hospital's work in hand,
shared among the programme's staff), to show what a message costs as they grow.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hl7.client import MLLPClient

from membercore import Engine, reference_config
from membercore.ports import Commit, TaskRow
from membercore.testing.clock import ManualClock
from membercore_hl7v2 import Listener, mapping_from_dict

SAMPLES = Path(__file__).resolve().parent.parent / "plugins/membercore-hl7v2/tests/samples/messages"
MAPPING = mapping_from_dict(
    {"hl7v2": {"currency": "USD", "departments": {"default": "outpatient"}}}
)
NOW = datetime(2030, 1, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def messages(count: int) -> list[bytes]:
    """``count`` messages: the samples in turn, for 500 patients, each of its own control id."""
    # The ADT and ORU samples' patient (issued by "1") and the SIU's (by "test1"): patients
    # of two issuers, numbered apart.
    kinds = [
        ("ADT01-23.hl7", "10006579", "P"),
        ("LAB-ORU-1.hl7", "10006579", "P"),
        ("SIU-S12-01.hl7", "PATID1234", "Q"),
    ]
    texts = [
        ((SAMPLES / name).read_bytes().decode("utf-8-sig"), patient, prefix)
        for name, patient, prefix in kinds
    ]
    made = []
    for n in range(count):
        text, patient, prefix = texts[n % len(texts)]
        control = text.split("\n")[0].split("|")[9]
        text = text.replace(f"|{control}|", f"|B{n}|", 1)
        person = f"{n % 500:05d}"
        text = text.replace(f"|{patient}^", f"|{prefix}{person}^")
        for shared in ("PSSN123121234", "123121234", "123456789", "PATID567", "1234567"):
            text = text.replace(shared, f"{shared[:2]}{prefix}{person}")  # their own ids
        made.append(text.encode())
    return made


def send(port: int, shares: list[list[bytes]]) -> tuple[float, list[bytes]]:
    """In the integration engine's process: each share on a connection of its own.

    The seconds from the first message sent to the last ACK, and the replies that were
    not AA.
    """
    refused: list[bytes] = []

    def sender(share: list[bytes]) -> None:
        with MLLPClient("127.0.0.1", port) as client:
            for message in share:
                reply = client.send_message(message)
                if b"MSA|AA" not in reply:
                    refused.append(reply)

    threads = [threading.Thread(target=sender, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, refused


def open_tasks(engine: Engine, count: int) -> None:
    """Give the store ``count`` open tasks, shared among the programme's staff."""
    staff = [member.key for member in engine.config.staff.staff]
    for first in range(0, count, 1_000):
        rows = tuple(
            TaskRow(
                task_key=f"open-{n}",
                key=f"member:OPEN-{n % 997}",
                kind="call",
                role="health_manager",
                assignee=staff[n % len(staff)],
                due_at=NOW,
                status="open",
                payload="{}",
            )
            for n in range(first, min(first + 1_000, count))
        )
        engine.store.commit(Commit(tasks=rows))


def run(url: str, batch: list[bytes], connections: int, tasks: int = 0) -> float:
    """Messages acknowledged per second."""
    engine = Engine.open(url, config=reference_config(), clock=ManualClock(NOW))
    open_tasks(engine, tasks)
    shares = [batch[n::connections] for n in range(connections)]
    spawn = multiprocessing.get_context("spawn")

    async def main() -> tuple[float, list[bytes]]:
        listener = Listener(engine, MAPPING, port=0)
        await listener.start()
        try:
            with ProcessPoolExecutor(1, mp_context=spawn) as sender:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(sender, send, listener.port, shares)
        finally:
            await listener.stop()

    with engine:
        seconds, refused = asyncio.run(main())
    if refused:
        raise SystemExit(f"{len(refused)} messages not acknowledged AA: {refused[0]!r}")
    return len(batch) / seconds


def _listen(url: str, port: int, ready: Any, stop: Any) -> None:
    """One of several listener processes on one port, each with its engine on the store."""
    engine = Engine.open(url, config=reference_config(), clock=ManualClock(NOW))

    async def serve() -> None:
        listener = Listener(engine, MAPPING, port=port, shared=True)
        await listener.start()
        ready.put(os.getpid())
        try:
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        finally:
            await listener.stop()

    with engine:
        asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_shared(
    url: str, batch: list[bytes], connections: int, listeners: int, tasks: int = 0
) -> float:
    """Messages acknowledged per second by ``listeners`` processes sharing one port."""
    with Engine.open(url, config=reference_config(), clock=ManualClock(NOW)) as engine:
        open_tasks(engine, tasks)  # and the schema made
    spawn = multiprocessing.get_context("spawn")
    port = _free_port()
    ready, stop = spawn.Queue(), spawn.Event()
    processes = [
        spawn.Process(target=_listen, args=(url, port, ready, stop)) for _ in range(listeners)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=60)
        shares = [batch[n::connections] for n in range(connections)]
        with ProcessPoolExecutor(1, mp_context=spawn) as sender:
            seconds, refused = sender.submit(send, port, shares).result()
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=60)
    if refused:
        raise SystemExit(f"{len(refused)} messages not acknowledged AA: {refused[0]!r}")
    return len(batch) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--open-tasks", type=int, default=0, help="open staff tasks first")
    parser.add_argument(
        "--listeners",
        type=int,
        default=1,
        help="listener processes sharing the port (as workers started with --share-port)",
    )
    args = parser.parse_args()
    batch = messages(args.messages)
    postgres = (
        os.environ.get("MEMBERCORE_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )
    for store in args.stores.split(","):
        for connections in map(int, args.connections.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                if store == "sqlite":
                    url = f"sqlite:///{folder}/bench.db"
                else:
                    url = f"{postgres}?schema=mc_bench_{uuid.uuid4().hex[:10]}"
                if args.listeners > 1:
                    rate = run_shared(url, batch, connections, args.listeners, args.open_tasks)
                else:
                    rate = run(url, batch, connections, args.open_tasks)
            print(
                f"{store:<9} {connections} connection(s), {args.listeners} listener(s): "
                f"{rate:7.0f} messages/s acknowledged"
            )


if __name__ == "__main__":
    main()
