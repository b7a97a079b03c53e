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

import pytest
from hl7.client import MLLPClient

from membercore.facts import Fact
from membercore_adapters.testing import postgres_schema, server_url
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
def _worker(
    store: str, mapping: Path, *options: str, port: int = 0, said: list[str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A worker listening on ``port`` (0: any free one); its log's lines go to ``said``."""
    command = _command(store, mapping, "--listen", "hl7v2", "--port", str(port), *options)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines = [] if said is None else said
    port = 0
    deadline = time.monotonic() + 30
    while not port and time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if found := _LISTENING.search(line):
            port = int(found.group(1))
    assert port, f"the worker did not start listening: {''.join(lines)}"
    drain = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
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


def _fed_by_one_worker(store: str, mapping: Path, messages: list[bytes]) -> None:
    """Every message sent to one worker on one connection and acknowledged; the worker stopped."""
    with _worker(store, mapping) as (process, port):
        acked: list[int] = []
        _send_until_acknowledged(port, messages, acked)
        assert len(acked) == len(messages)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


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
    _fed_by_one_worker(whole, mapping, messages)
    killed = f"sqlite:///{tmp_path}/killed.db"
    acked: list[int] = []
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


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_workers_sharing_the_port_take_the_connections_between_them(
    tmp_path: Path, kind: str
) -> None:
    """One worker per processor: every worker started with --share-port listens on it.

    On PostgreSQL the two commit at once, a patient's messages on two connections at
    once being decided again by the worker that finds the record changed.
    """
    messages, mapping = _messages(), _mapping(tmp_path)
    alone = f"sqlite:///{tmp_path}/alone.db"
    _fed_by_one_worker(alone, mapping, messages)
    with contextlib.ExitStack() as stores:
        shared = (
            f"sqlite:///{tmp_path}/shared.db"
            if kind == "sqlite"
            else stores.enter_context(postgres_schema(server_url("postgresql"), "mc_share"))
        )
        _shared_by_two_workers(shared, alone, mapping, messages)


def _shared_by_two_workers(shared: str, alone: str, mapping: Path, messages: list[bytes]) -> None:
    logs: list[list[str]] = [[], []]
    with contextlib.ExitStack() as workers:
        first, port = workers.enter_context(_worker(shared, mapping, "--share-port", said=logs[0]))
        second, _ = workers.enter_context(
            _worker(shared, mapping, "--share-port", port=port, said=logs[1])
        )
        # Each connection sends a share of the messages, all at once.
        shares = [messages[n::24] for n in range(24)]
        done: list[list[int]] = [[] for _ in shares]
        senders = [
            threading.Thread(target=_send_until_acknowledged, args=(port, share, sent))
            for share, sent in zip(shares, done, strict=True)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
        assert [len(sent) for sent in done] == [len(share) for share in shares]
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
    assert _state(shared, messages) == _state(alone, messages)
    # Both took messages: each summarises the acknowledgements it gave as it stops.
    given = [_acknowledged("".join(log)) for log in logs]
    assert all(given), given
    assert all("the port shared with other processes" in "".join(log) for log in logs)
    assert sum(given) == len(messages)


def _acknowledged(log: str) -> int:
    return sum(int(n) for n in re.findall(r"acknowledged (\d+) AA", log))


def test_a_second_worker_on_a_port_not_shared_says_so(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path)
    store = f"sqlite:///{tmp_path}/m.db"
    other = tmp_path / "other.db"  # a store the refused worker would have created
    with _worker(store, mapping) as (_, port):
        for options in ((), ("--share-port",)):  # the first was not started to share it
            command = _command(
                f"sqlite:///{other}", mapping, "--listen", "hl7v2", "--port", str(port)
            )
            ended = subprocess.run(
                [*command, *options], check=False, capture_output=True, text=True, timeout=60
            )
            assert ended.returncode == 2, ended.stderr
            assert f"端口 127.0.0.1:{port} 已被占用" in ended.stderr
            assert "--share-port" in ended.stderr
            assert not other.exists()  # refused before the store was opened


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--host", "192.0.2.1", "--host 192.0.2.1：不是本机的地址"),  # TEST-NET-1, nobody's
        ("--host", "no-such-host.invalid", "--host 'no-such-host.invalid'：无法解析为地址"),
        ("--encoding", "utf9", "没有名为 'utf9' 的字符编码"),
    ],
)
def test_an_address_the_worker_cannot_listen_on_is_named(
    tmp_path: Path, option: str, value: str, said: str
) -> None:
    command = _command(f"sqlite:///{tmp_path}/m.db", _mapping(tmp_path), "--listen", "hl7v2")
    ended = subprocess.run(
        [*command, "--port", "0", option, value],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ended.returncode == 2, ended.stderr
    assert said in ended.stderr
    assert "Traceback" not in ended.stderr
    assert not (tmp_path / "m.db").exists()  # refused before the store was opened


@pytest.mark.parametrize(
    ("options", "status", "said"),
    [
        (["--mapping", "{missing}"], 2, "无法读取 {missing}"),
        (["--mapping", "{invalid}"], 3, "{invalid}: config key 'hl7v2.timezone'"),
        (["--listen", "hl7v2x"], 2, "没有名为 'hl7v2x' 的监听器"),
        (["--poll", "nosuch:{missing}"], 2, "--poll 'nosuch:{missing}'"),
    ],
)
def test_a_listener_source_or_mapping_the_worker_cannot_use_is_named_before_its_store_opens(
    tmp_path: Path, options: list[str], status: int, said: str
) -> None:
    invalid = tmp_path / "invalid.toml"
    invalid.write_text('[hl7v2]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    files = {"missing": tmp_path / "missing.toml", "invalid": invalid}
    command = _command(f"sqlite:///{tmp_path}/m.db", _mapping(tmp_path), "--port", "0")
    if "--poll" not in options and "--listen" not in options:
        command += ["--listen", "hl7v2"]
    ended = subprocess.run(
        [*command, *(option.format(**files) for option in options)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ended.returncode == status, ended.stderr
    assert said.format(**files) in ended.stderr
    assert "Traceback" not in ended.stderr
    assert not list(tmp_path.glob("m.db*"))  # refused before the store was opened


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
