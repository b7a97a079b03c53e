"""The MLLP listener: messages in over TCP, committed together, then acknowledged.

Each connection reads one MLLP block after another (python-hl7's asyncio streams) and
waits for its acknowledgement before reading the next, as MLLP senders do. The messages
waiting on every connection are committed together, in one call of
:meth:`~membercore.Engine.ingest` (one unit of work per ``batch_size`` inputs: group
commit), and only then acknowledged: AA when every fact is committed (or was taken
before), AE with the reason when the message is a dead letter, AR when it cannot be
parsed or the store failed (nothing of the group was committed: the sender sends it
again). The engine runs on the event loop's thread, where it was opened (a SQLite
connection belongs to its thread): while a group commits, the next one gathers in the
sockets' buffers.

:meth:`Listener.stop` stops accepting, lets the group in flight commit (or roll back),
acknowledges it, and closes the connections; messages received but not committed are
not acknowledged, so their senders send them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from hl7.mllp import InvalidBlockError, start_hl7_server

from membercore.errors import ConfigError, MembercoreError
from membercore.ports import Positioned
from membercore.service.engine import Engine
from membercore_adapters.his.exports import encoding_named
from membercore_hl7v2.acks import acknowledgement
from membercore_hl7v2.intake import Received, receive
from membercore_hl7v2.mapping import Hl7Mapping, mapping_option

__all__ = ["Listener"]

log = logging.getLogger("membercore.hl7v2")

#: Seconds between the log's summaries of the acknowledgements given (each group
#: committed is logged at DEBUG).
SUMMARY = 60.0


@attrs.define
class _Waiting:
    received: Received
    acked: asyncio.Future[str]


class Listener:
    """An MLLP listener feeding an engine.

    Args:
        engine: the engine the facts go to (used on the event loop's thread only).
        mapping: the hospital's mapping.
        host: the address to listen on.
        port: the port (0: any free one; :attr:`port` says which).
        encoding: the messages' character encoding.
        max_group: the most messages committed together.
        shared: bind the port so that other processes may listen on it too
            (``SO_REUSEPORT``: the system spreads the connections between them), for
            one worker per processor.
        on_commit: called after each group with the messages and their codes (for
            figures); it must not fail.
    """

    def __init__(
        self,
        engine: Engine,
        mapping: Hl7Mapping,
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        encoding: str = "utf-8",
        max_group: int = 1000,
        shared: bool = False,
        on_commit: Callable[[list[tuple[Received, str]]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.mapping = mapping
        self.host = host
        self.port = port
        self.encoding = encoding
        self.max_group = max_group
        self.shared = shared
        self.on_commit = on_commit
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._committer: asyncio.Task[None] | None = None
        self._summaries: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._received = 0
        self._tally: Counter[str] = Counter()
        self._summarised = time.monotonic()

    @classmethod
    def from_options(cls, engine: Engine, options: Mapping[str, str]) -> Listener:
        """Build one from options.

        ``host``, ``port``, ``mapping`` (a TOML file), ``encoding`` and ``shared``
        (``true``: the port is shared with other processes), each when given.

        Raises:
            ConfigError: the mapping file is invalid (naming the key), the port is not
                a port number, no encoding has the name ``encoding`` gives, or
                ``shared`` is neither ``true`` nor ``false``.
            OSError: the mapping file cannot be read.
        """
        mapping = mapping_option(options)
        port = options.get("port", "2575")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError("port", f"{port!r} is not a port number (0 to 65535)")
        shared = options.get("shared", "false")
        if shared not in ("true", "false"):
            raise ConfigError("shared", f"{shared!r} is neither true nor false")
        encoding = options.get("encoding", "utf-8")
        encoding_named(encoding, "encoding")  # the acknowledgements are written in it
        return cls(
            engine,
            mapping,
            host=options.get("host", "127.0.0.1"),
            port=int(port),
            encoding=encoding,
            shared=shared == "true",
        )

    async def start(self) -> None:
        """Listen (the port is known once this returns)."""
        self._server = await start_hl7_server(
            self._serve,
            self.host,
            self.port,
            encoding=self.encoding,
            limit=16 << 20,
            reuse_port=self.shared or None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._committer = asyncio.create_task(self._commit_groups())
        self._summaries = asyncio.create_task(self._summarise_every_minute())
        shared = ", the port shared with other processes" if self.shared else ""
        log.info("listening for HL7 v2 over MLLP on %s:%s%s", self.host, self.port, shared)

    async def serve_forever(self) -> None:
        """Listen until cancelled (or :meth:`stop`)."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    async def stop(self) -> None:
        """Stop accepting, finish the group in flight, close every connection.

        A message of a group committed is acknowledged before its connection closes; a
        message received but not committed is not (its sender sends it again), and a
        connection that comes meanwhile is closed without reading it.
        """
        if self._server is not None:
            self._server.close()  # no longer serving: a connection that comes is not read
        if self._summaries is not None:
            self._summaries.cancel()
        if self._committer is not None:
            # While it ends, the connections of the group it committed last write their
            # acknowledgements (they are woken first).
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        while not self._queue.empty():
            self._queue.get_nowait().acked.cancel()  # not committed: not acknowledged
        for task in list(self._connections):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        self._summarise(now=True)
        log.info("stopped listening on %s:%s", self.host, self.port)

    # -- connections ------------------------------------------------------------------

    async def _serve(self, reader: Any, writer: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    block: bytes = await reader.readblock()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except (InvalidBlockError, ValueError) as error:
                    # Not MLLP, or a block past the limit: nothing to acknowledge it by.
                    log.warning("%s sent a block that cannot be read: %s", peer, error)
                    return
                if self._server is not None and not self._server.is_serving():
                    return  # stopping: not taken, its sender sends it again
                acked: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                self._received += 1
                where = f"MLLP message {self._received} from {peer[0]}"
                received = receive(block, self.mapping, encoding=self.encoding, where=where)
                await self._queue.put(_Waiting(received, acked))
                ack = await acked
                writer.writeblock(ack.encode(self.encoding, "replace"))
                await writer.drain()
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    # -- group commit -----------------------------------------------------------------

    async def _commit_groups(self) -> None:
        while True:
            group = [await self._queue.get()]
            await asyncio.sleep(0)  # let every connection with a message in put it in
            while len(group) < self.max_group and not self._queue.empty():
                group.append(self._queue.get_nowait())
            codes = self._commit(group)
            for waiting, ack in zip(group, codes, strict=True):
                if not waiting.acked.done():
                    waiting.acked.set_result(ack)

    def _commit(self, group: list[_Waiting]) -> list[str]:
        """Commit a group's inputs at once; each message's acknowledgement."""
        inputs: list[Positioned] = []
        spans: list[range] = []
        for waiting in group:
            spans.append(range(len(inputs), len(inputs) + len(waiting.received.inputs)))
            inputs += waiting.received.inputs
        now = self.engine.now()
        try:
            report = self.engine.ingest(inputs)
        except MembercoreError as error:
            log.error("a group of %d messages was not committed: %s", len(group), error)
            why = f"not committed, send it again: {error}"
            return [self._ack(w.received, "AR", why, now) for w in group]
        refused = dict(report.refusals)
        acks, outcomes = [], []
        for waiting, span in zip(group, spans, strict=True):
            code, text = waiting.received.outcome([refused[n] for n in span if n in refused])
            outcomes.append((waiting.received, code))
            acks.append(self._ack(waiting.received, code, text, now))
        log.debug(
            "committed %d messages (%d facts applied, %d duplicates, %d refused)",
            len(group),
            report.applied,
            report.duplicates,
            report.rejected,
        )
        self._tally.update(code for _, code in outcomes)
        self._summarise()
        if self.on_commit is not None:
            self.on_commit(outcomes)
        return acks

    async def _summarise_every_minute(self) -> None:
        while True:
            await asyncio.sleep(SUMMARY)
            self._summarise()

    def _summarise(self, *, now: bool = False) -> None:
        """Log the acknowledgements given since the last summary, once a minute."""
        if not self._tally or (not now and time.monotonic() < self._summarised + SUMMARY):
            return
        counts = ", ".join(f"{self._tally[code]} {code}" for code in ("AA", "AE", "AR"))
        log.info("acknowledged %s", counts)
        self._tally.clear()
        self._summarised = time.monotonic()

    def _ack(self, received: Received, code: str, text: str, now: Any) -> str:
        message = received.translated.message if received.translated else None
        # The kind of mistake is the message's only when it is the reason for an AE.
        condition = received.condition if code == "AE" else None
        return acknowledgement(
            code, now, message=message, text=text, raw=received.text, condition=condition
        )
