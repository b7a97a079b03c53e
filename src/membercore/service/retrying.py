"""Trying a unit of work again after a version conflict: the waits, and the collector.

Writers that collided and retry at once collide again; :func:`pause` waits a little,
longer each time and differently per engine. :func:`collector_paused` keeps Python's
cyclic garbage collector off while a unit of work runs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "pause"]


@contextmanager
def collector_paused(enabled: bool) -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, when ``enabled``.

    Records are immutable and hold no cycles, so reference counting frees what a
    decision drops; the collector's passes over every cached record would otherwise
    take about a fifth of ingestion's time. It is turned back on after, if it was on.
    """
    if not (enabled and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def pause(clock: object, seed: int, attempt: int) -> None:
    """Wait a little before trying again, longer each time, differently per engine.

    The spread is drawn from ``seed`` (the engine's identity), as the core draws no
    random numbers. A clock without ``sleep`` (a manual one) does not wait.
    """
    sleep = getattr(clock, "sleep", None)
    if not callable(sleep):
        return
    spread = 0.5 + (hash((seed, attempt)) % 1000) / 1000
    sleep(min(0.002 * 2**attempt, 0.1) * spread)
