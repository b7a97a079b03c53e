"""The one engine of the server process, on a thread of its own.

The engine is not shared between threads: a SQLite store is one connection that
``sqlite3`` lets only the thread that opened it use, and the engine's cache of decoded
records is not locked. So the engine is opened, used and closed on one dedicated thread,
and the request handlers (coroutines on the event loop) hand it each call and await the
answer: the event loop never blocks on a commit, and calls reach the engine one at a
time, in the order they came. A worker pool (``anyio.to_thread.run_sync``) would hand
calls to whichever thread is free, which SQLite refuses.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from membercore.errors import MembercoreError
from membercore.service.engine import Engine

__all__ = ["EngineClosedError", "EngineThread"]

T = TypeVar("T")

log = logging.getLogger("membercore.http")


class EngineClosedError(MembercoreError):
    """The engine is not open: the server is starting or stopping (answered 503)."""


class EngineThread:
    """The engine a factory opens, on a thread of its own, until :meth:`stop`.

    Args:
        factory: opens the engine; called on the engine's thread.
    """

    def __init__(self, factory: Callable[[], Engine]) -> None:
        self._factory = factory
        self._executor: ThreadPoolExecutor | None = None
        self._engine: Engine | None = None

    async def start(self) -> None:
        """Start the thread and open the engine on it.

        Raises:
            MembercoreError: the engine could not be opened (the thread is stopped).
        """
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="membercore-engine")
        try:
            self._engine = await self._run(self._factory)
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise
        log.info("engine opened on %s", self._engine.store.url)

    async def stop(self) -> None:
        """Close the engine on its thread, and end the thread."""
        executor, engine = self._executor, self._engine
        self._engine = None
        if executor is None:
            return
        try:
            if engine is not None:
                await self._run(engine.close)
        finally:
            executor.shutdown(wait=True)
            self._executor = None

    async def call(self, work: Callable[[Engine], T]) -> T:
        """Run ``work(engine)`` on the engine's thread; its result (or what it raised).

        Raises:
            EngineClosedError: the engine is not open (the server is starting or stopping).
        """
        engine = self._engine
        if engine is None:
            raise EngineClosedError("the engine is not open")
        return await self._run(functools.partial(work, engine))

    def call_blocking(self, work: Callable[[Engine], T]) -> T:
        """Run ``work(engine)`` on the engine's thread from a thread that may block.

        For code beside the server that is not a coroutine (a test ticking the
        programme between requests, say); never from the event loop.

        Raises:
            EngineClosedError: the engine is not open.
        """
        engine, executor = self._engine, self._executor
        if engine is None or executor is None:
            raise EngineClosedError("the engine is not open")
        context = contextvars.copy_context()
        return executor.submit(context.run, functools.partial(work, engine)).result()

    async def _run(self, work: Callable[[], T]) -> T:
        if self._executor is None:
            raise EngineClosedError("the engine's thread is not running")
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # a store opened on the thread sees the caller's
        return await loop.run_in_executor(self._executor, context.run, work)
