"""``membercore worker --listen hl7v2`` as a process: stopped, killed, started again.

A sender that sends each message until it is acknowledged (as an MLLP sender does) ends
with the same store whether the worker ran throughout or was killed mid-stream and
started again; SIGTERM stops it cleanly, and every message it acknowledged is committed.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from hl7.client import MLLPClient

from membercore.facts import Fact
from membercore_hl7v2 import translate
from membercore_hl7v2.files import SETTLED

from .conftest import MAPPING, open_engine, sample, sample_names

_LISTENING = re.compile(r"listening for HL7 v2 over MLLP on [\d.]+:(\d+)")


def _messages() -> list[bytes]:
    """The samples three times over, each under a control id of its own."""
    names = [n for n in sample_names() if n != "ADT-A40-01.hl7"]
    made = []
    for round_ in range(3):
        for name in names:
            text = sample(name).decode("utf-8-sig")
            control = text.split("\n")[0].split("|")[9]
            made.append(text.replace(f"|{control}|", f"|{control}-{round_}|", 1).encode())
    return made


def _command(store: str, mapping: Path, *options: str) -> list[str]:
    """``membercore worker`` on ``store``, neither ticking nor dispatching, with ``options``."""
    return [
        sys.executable,
        "-m",
        "membercore_adapters.cli",
        "worker",
        "--store",
        store,
        "--mapping",
        str(mapping),
        "--tick-every",
        "0",
        "--dispatch-every",
        "0",
        *options,
    ]


@contextlib.contextmanager
def _worker(store: str, mapping: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    command = _command(store, mapping, "--listen", "hl7v2", "--port", "0")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    port = 0
    deadline = time.monotonic() + 30
    while not port and time.monotonic() < deadline:
        line = process.stderr.readline()
        if found := _LISTENING.search(line):
            port = int(found.group(1))
    assert port, "the worker did not start listening"
    drain = threading.Thread(target=process.stderr.read, daemon=True)
    drain.start()
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        drain.join(10)
        process.stderr.close()


def _send_until_acknowledged(port: int, messages: list[bytes], acked: list[int]) -> None:
    """Send from the first message not acknowledged; stop at a broken connection."""
    try:
        with MLLPClient("127.0.0.1", port) as client:
            for n in range(len(acked), len(messages)):
                reply = client.send_message(messages[n])
                if not reply:
                    return  # the worker went away before acknowledging it
                assert b"MSA|AA" in reply, reply
                acked.append(n)
    except (ConnectionError, OSError):
        return


def _state(store: str, messages: list[bytes]) -> dict[str, object]:
    facts = [
        item
        for message in messages
        for item in translate(message.decode(), MAPPING).inputs
        if isinstance(item, Fact)
    ]
    with open_engine(store) as engine:
        patients = sorted({f.patient_id for f in facts})
        return {
            "taken": sorted(engine.store.seen([f.fact_id for f in facts])),
            "dead": len(engine.dead_letters()),
            "members": {
                p: (
                    engine.member(p).identity.died_at,
                    sorted(engine.tags(p)),
                    sorted(i.journey for i in engine.member(p).journeys.instances.values()),
                )
                for p in patients
            },
        }


def _mapping(tmp_path: Path) -> Path:
    path = tmp_path / "his.toml"
    path.write_text('[hl7v2]\ncurrency = "USD"\n[hl7v2.departments]\ndefault = "outpatient"\n')
    return path


def test_a_worker_killed_mid_stream_and_started_again_ends_as_one_that_ran_throughout(
    tmp_path: Path,
) -> None:
    messages, mapping = _messages(), _mapping(tmp_path)
    whole = f"sqlite:///{tmp_path}/whole.db"
    with _worker(whole, mapping) as (process, port):
        acked: list[int] = []
        _send_until_acknowledged(port, messages, acked)
        assert len(acked) == len(messages)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    killed = f"sqlite:///{tmp_path}/killed.db"
    acked = []
    with _worker(killed, mapping) as (process, port):
        sender = threading.Thread(target=_send_until_acknowledged, args=(port, messages, acked))
        sender.start()
        while len(acked) < len(messages) // 2:
            time.sleep(0.001)
        process.kill()
        sender.join(30)
    assert len(acked) < len(messages)
    with _worker(killed, mapping) as (process, port):
        _send_until_acknowledged(port, messages, acked)  # from the first not acknowledged
        assert len(acked) == len(messages)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert _state(killed, messages) == _state(whole, messages)


def test_sigterm_stops_the_worker_and_every_acknowledged_message_is_committed(
    tmp_path: Path,
) -> None:
    messages = _messages()
    store = f"sqlite:///{tmp_path}/m.db"
    acked: list[int] = []
    with _worker(store, _mapping(tmp_path)) as (process, port):
        sender = threading.Thread(target=_send_until_acknowledged, args=(port, messages, acked))
        sender.start()
        while len(acked) < 5:
            time.sleep(0.001)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        sender.join(30)
    done = [m for n, m in enumerate(messages) if n in acked]
    state = _state(store, done)
    facts = [i for m in done for i in translate(m.decode(), MAPPING).inputs if isinstance(i, Fact)]
    assert state["taken"] == sorted({f.fact_id for f in facts})
    with socket.socket() as probe:  # the port is free again
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_polled_file_the_his_appends_to_is_read_once_even_a_message_half_written(
    tmp_path: Path,
) -> None:
    messages = [m.rstrip(b"\n") + b"\n" for m in _messages()[:6]]
    feed = tmp_path / "adt.hl7"
    feed.write_bytes(b"".join(messages[:3]))
    store = f"sqlite:///{tmp_path}/m.db"
    poll = ["--poll", f"hl7v2:{feed}", "--poll-every", "0.1"]
    command = _command(store, _mapping(tmp_path), *poll)
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        lines: list[str] = []

        def read_log() -> None:
            assert process.stderr is not None
            lines.extend(process.stderr)

        reader = threading.Thread(target=read_log)
        reader.start()
        time.sleep(1.0)
        half = len(messages[3]) // 2
        with feed.open("ab") as appending:
            appending.write(messages[3][:half])  # the HIS is writing it
            appending.flush()
            time.sleep(0.5)
            appending.write(messages[3][half:] + b"".join(messages[4:]))
        time.sleep(SETTLED + 1.0)  # the last message counts once the file settled
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        reader.join(10)
    assert not any("Traceback" in line for line in lines), "".join(lines)
    state = _state(store, messages)
    facts = [
        i for m in messages for i in translate(m.decode(), MAPPING).inputs if isinstance(i, Fact)
    ]
    assert state["taken"] == sorted({f.fact_id for f in facts})
    assert state["dead"] == 0
