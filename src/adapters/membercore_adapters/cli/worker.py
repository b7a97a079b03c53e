"""``membercore worker``: one long-running process that listens, polls, ticks and dispatches.

It runs the listeners named by ``--listen`` (each an installed plugin's: ``hl7v2`` from
membercore-hl7v2), reads the files named by ``--poll SOURCE:FILE`` every
``--poll-every`` seconds from the position it last committed (a file the HIS appends
to, read once), ticks the store every ``--tick-every`` seconds and hands the outbox to
the channels every ``--dispatch-every`` seconds, all on one event loop, the engine on
its thread. The channels are those the programme's ``[channels]`` tables configure (the
console's when it configures none); every ``--reports-every`` seconds it reads back
what their providers reported and members replied. SIGTERM or SIGINT stops it cleanly:
the unit of work in flight commits or rolls back, what was committed is acknowledged,
and nothing else is; it exits 0. It logs what it does with the standard ``logging``
module (counts and ids, never a patient's details).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from membercore.errors import MembercoreError
from membercore.ports import Channel, Listening
from membercore.service.engine import Engine
from membercore_adapters.channels.console import programme_channels
from membercore_adapters.cli.arguments import UsageError, reading_options
from membercore_adapters.cli.logs import configure

__all__ = ["run_worker"]

log = logging.getLogger("membercore.worker")


def run_worker(engine: Engine, args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT; 0 when it stopped cleanly."""
    configure(json_lines=args.log_json)
    channels = programme_channels(engine)
    listeners = [_listener(engine, name, args) for name in args.listen or []]
    polled = [_polled(engine, named, args) for named in args.poll]
    asyncio.run(_work(engine, channels, listeners, polled, args))
    return 0


def _listener(engine: Engine, name: str, args: argparse.Namespace) -> Listening:
    found = engine.plugins.listeners.get(name)
    if found is None:
        known = ", ".join(sorted(engine.plugins.listeners)) or "none"
        raise UsageError(f"no listener is named {name!r} (installed: {known})")
    options = reading_options(args, host=args.host, port=str(args.port))
    return found.value(engine, options)


def _polled(engine: Engine, polled: str, args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """A ``--poll SOURCE:FILE``: the name its position is kept under, and its options.

    The source is built once here, so that a wrong name or mapping stops the worker
    before it starts.

    Raises:
        UsageError: no installed source has that name.
        ConfigError: the mapping is invalid, naming the key.
        OSError: the mapping cannot be read.
    """
    name, _, path = polled.partition(":")
    found = engine.plugins.sources.get(name)
    if found is None or not path:
        known = ", ".join(sorted(engine.plugins.sources)) or "none"
        raise UsageError(f"--poll {polled!r}: SOURCE:FILE with an installed source ({known})")
    options = reading_options(args, path=path, growing="true")
    found.value(options)
    return f"{name}:{Path(path).resolve()}", options


def _poll(engine: Engine, source: str, options: dict[str, str]) -> None:
    """Read what was added to one polled file since the position last committed."""
    name = source.partition(":")[0]
    position = engine.position(source)
    reading = {**options, "after": position} if position is not None else options
    try:
        # The engine logs what each batch did, under the source's name.
        engine.ingest(engine.plugins.sources[name].value(reading).read(), source=source)
    except OSError as error:
        log.warning("cannot read %s: %s", error.filename or options["path"], error.strerror)


def _read_reports(engine: Engine, channels: Mapping[str, Channel]) -> None:
    """What the providers said of the messages they took, and members' replies.

    The engine logs what it read; a store that failed is read again next time.
    """
    try:
        engine.read_reports(channels)
    except MembercoreError as error:
        log.warning("reports not read: %s", error)


async def _work(
    engine: Engine,
    channels: Mapping[str, Channel],
    listeners: list[Listening],
    polled: list[tuple[str, dict[str, str]]],
    args: argparse.Namespace,
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sign in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sign, stopping.set)
    for listener in listeners:
        await listener.start()
    log.info("worker started on %s, channels %s", engine.store.url, ", ".join(channels))
    due = {"poll": 0.0, "tick": 0.0, "dispatch": 0.0, "reports": 0.0}
    every = {
        "poll": args.poll_every if args.poll else 0.0,
        "tick": args.tick_every,
        "dispatch": args.dispatch_every,
        "reports": args.reports_every,
    }
    while not stopping.is_set():
        now = time.monotonic()
        if every["poll"] > 0 and now >= due["poll"]:
            for source, options in polled:
                _poll(engine, source, options)
            due["poll"] = now + every["poll"]
        if every["tick"] > 0 and now >= due["tick"]:
            engine.tick()  # the engine logs what it ticked, as what it hands over
            due["tick"] = now + every["tick"]
        if every["dispatch"] > 0 and now >= due["dispatch"]:
            engine.dispatch(channels)
            due["dispatch"] = now + every["dispatch"]
        if every["reports"] > 0 and now >= due["reports"]:
            _read_reports(engine, channels)
            due["reports"] = now + every["reports"]
        waits = [due[k] - time.monotonic() for k in due if every[k] > 0]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=max(0.05, min(waits, default=3600)))
    log.info("stopping")
    for listener in listeners:
        await listener.stop()
    log.info("worker stopped")
