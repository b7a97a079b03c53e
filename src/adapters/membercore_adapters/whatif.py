"""What-if: a store's history replayed under another programme, beside its own.

:func:`whatif` opens the store read-only (a URL) or takes an open one, reads its input
log, splits it by connected members (:func:`membercore.service.whatif.partitions`) and
replays each partition twice — under the store's own programme (the baseline) and under
the proposed one — in as many processes as asked, each on a ``memory://`` store of its
own. Nothing is written to the store. The result is a
:class:`~membercore.analytics.whatif.WhatIf`: the two replays' figures, what differs,
whether the baseline replay came to the store's own figures, and a sample of members
with the lines that explain their differences.

Comparing the proposed replay with the baseline replay, not with the store, keeps the
comparison about the rules alone: both replays take the same inputs the same way (the
hand-over to channels, for one, is not replayed), so what differs is what the
programmes decide differently.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

import attrs
import pluggy

from membercore import reference_config
from membercore.analytics import figures
from membercore.analytics.whatif import MemberDifference, MemberRun, Run, WhatIf
from membercore.config import ProgrammeConfig
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import LoggedInput, Store
from membercore.service.engine import Engine
from membercore.service.retrying import collector_paused
from membercore.service.whatif import end_of, partitions, replay, sample_of
from membercore.testing.clock import ManualClock
from membercore_adapters.stores.sql import read_only

__all__ = ["whatif"]

#: What the baseline replay must reproduce of the store for it to count as reproduced.
_REPRODUCED = ("patients", "points", "by_tier", "paid_by_plan")


@attrs.frozen
class _Job:
    entries: Sequence[LoggedInput]
    config: ProgrammeConfig
    sample: tuple[str, ...]
    end: datetime


@cache
def _plugins() -> pluggy.PluginManager:
    """The installed plugins, loaded once a process (loading them takes a second or two)."""
    return make_plugin_manager()


def _run(job: _Job) -> Run:
    # A replay's records hold no cycles (reference counting frees them): the collector
    # stays off for the whole replay, not only for each unit of work, and its passes over
    # every record held are saved (about a seventh of a replay's time).
    with collector_paused(True):
        return replay(
            job.entries, job.config, sample=job.sample, end=job.end, plugin_manager=_plugins()
        )


def whatif(
    store: str | Store,
    config: ProgrammeConfig,
    *,
    baseline: ProgrammeConfig | None = None,
    workers: int = 1,
    sample: int = 5,
) -> WhatIf:
    """Replay the store's history under ``config`` and under ``baseline``, and compare.

    Args:
        store: the store's URL (opened read-only: nothing is created, migrated or
            written) or an open store (only read).
        config: the proposed programme.
        baseline: the programme the store ran under (by default the reference one).
        workers: processes to replay in (1: in this one).
        sample: how many members to compare one by one (chosen by a digest of their id).

    Returns:
        The comparison; ``unlogged`` says how many records hold history from before the
        store's input log began, which no replay can know.

    Raises:
        StorageError: the store cannot be opened or read (an earlier release's store
            must be migrated first: ``OutdatedSchemaError``).
    """
    started = time.perf_counter()
    base = baseline if baseline is not None else reference_config()
    with _opened(store, base) as engine:
        entries = list(engine.store.inputs())
        unlogged = engine.store.unlogged()
        end = end_of(entries) or engine.now()
        parts = partitions(entries, workers) if entries else []
        chosen = tuple(sample_of(entries, sample))
        jobs = [
            _Job(part, programme, chosen, end) for programme in (base, config) for part in parts
        ]
        if workers > 1 and len(jobs) > 1:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                replaying = pool.map(_run, jobs)
                try:
                    # The store's own figures are read while the processes replay.
                    stored = Run.of(figures(engine.members(), engine.config, end))
                except BaseException:
                    pool.shutdown(cancel_futures=True)  # what has not started, not at all
                    raise
                runs = list(replaying)
        else:
            stored = Run.of(figures(engine.members(), engine.config, end))
            runs = [_run(job) for job in jobs]
    half = len(parts)
    baseline_run = sum(runs[:half], Run())
    proposed_run = sum(runs[half:], Run())
    return WhatIf(
        baseline_name=f"{base.name} v{base.version}",
        proposed_name=f"{config.name} v{config.version}",
        inputs=len(entries),
        unlogged=unlogged,
        workers=max(workers, 1),
        partitions=len(parts),
        stored=stored,
        baseline=baseline_run,
        proposed=proposed_run,
        reproduces=bool(entries)
        and all(getattr(stored, name) == getattr(baseline_run, name) for name in _REPRODUCED),
        members=_compared(baseline_run.members, proposed_run.members),
        seconds=round(time.perf_counter() - started, 3),
    )


@contextmanager
def _opened(store: str | Store, config: ProgrammeConfig) -> Iterator[Engine]:
    """An engine to read the store by: opened read-only from a URL (and closed after)."""
    if not isinstance(store, str):
        plugins = collect(_plugins(), config)
        yield Engine(store, config, clock=ManualClock(datetime.now(UTC)), plugins=plugins)
        return
    with read_only():
        clock = ManualClock(datetime.now(UTC))
        engine = Engine.open(store, config=config, clock=clock, plugin_manager=_plugins())
    with engine:
        yield engine


def _compared(
    baseline: Sequence[MemberRun], proposed: Sequence[MemberRun]
) -> tuple[MemberDifference, ...]:
    before = {member.member_id: member for member in baseline}
    return tuple(
        MemberDifference.between(
            before.get(member.member_id, MemberRun(member_id=member.member_id)), member
        )
        for member in proposed
    )
