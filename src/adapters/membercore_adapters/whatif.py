"""What-if: a store's history replayed under another programme, beside its own.

:func:`whatif` opens the store read-only (a URL) or takes an open one, reads its input
log, splits it by connected members (:class:`membercore.service.whatif.Grouping`) into
partitions of at most :data:`~membercore.service.whatif.MOST_INPUTS` inputs where the
groups allow (and at least one a process), and replays each partition twice — under the
store's own programme (the baseline) and under the proposed one — in as many processes
as asked, each on a ``memory://`` store of its own, a partition after another. The log
is read once and never held whole: a copy of it goes to a file in a temporary folder
as it is grouped, and each partition's inputs go from that copy to a file of their own,
so that what a process holds grows with its partition, not with the store's history.
Nothing is written to the store. The result is a
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
import multiprocessing.pool
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from multiprocessing import resource_tracker
from pathlib import Path
from typing import BinaryIO

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
from membercore.service.whatif import MOST_INPUTS, Grouping, replay, sample_of
from membercore.testing.clock import ManualClock
from membercore_adapters.stores.sql import read_only

__all__ = ["whatif"]

#: What the baseline replay must reproduce of the store for it to count as reproduced.
_REPRODUCED = ("patients", "points", "by_tier", "paid_by_plan")


@attrs.frozen
class _Job:
    part: Path  # the partition's inputs, as _split wrote them
    config: ProgrammeConfig
    sample: tuple[str, ...]
    end: datetime


@cache
def _plugins() -> pluggy.PluginManager:
    """The installed plugins, loaded once a process (loading them takes a second or two)."""
    return make_plugin_manager()


def _run(job: _Job) -> Run:
    entries = list(_loaded(job.part))
    # A replay's records hold no cycles (reference counting frees them): the collector
    # stays off for the whole replay, not only for each unit of work, and its passes over
    # every record held are saved (about a seventh of a replay's time).
    with collector_paused(True):
        return replay(
            entries, job.config, sample=job.sample, end=job.end, plugin_manager=_plugins()
        )


def whatif(
    store: str | Store,
    config: ProgrammeConfig,
    *,
    baseline: ProgrammeConfig | None = None,
    workers: int = 1,
    sample: int = 5,
    most_inputs: int = MOST_INPUTS,
) -> WhatIf:
    """Replay the store's history under ``config`` and under ``baseline``, and compare.

    The store's input log is read once, never held whole: as its records are grouped,
    a copy of it is written to a temporary folder (removed after), and from that copy
    each partition's inputs to a file of its own, which the replay of that partition
    reads.

    Args:
        store: the store's URL (opened read-only: nothing is created, migrated or
            written) or an open store (only read).
        config: the proposed programme.
        baseline: the programme the store ran under (by default the reference one).
        workers: processes to replay in (1: in this one). More than one spawns
            processes: a script calling this runs under ``if __name__ == "__main__":``.
        sample: how many members to compare one by one (chosen by a digest of their id).
        most_inputs: the inputs a partition holds at most, where its groups of
            connected records allow: what one replay holds in memory grows with them
            (:data:`~membercore.service.whatif.MOST_INPUTS`).

    Returns:
        The comparison; ``unlogged`` says how many records hold history from before the
        store's input log began, which no replay can know.

    Raises:
        StorageError: the store cannot be opened or read (an earlier release's store
            must be migrated first: ``OutdatedSchemaError``).
        TypeError: ``workers``, ``sample`` or ``most_inputs`` is not a whole number.
        ValueError: ``workers`` or ``most_inputs`` is below 1, or ``sample`` below 0.
    """
    _check(workers=workers, sample=sample, most_inputs=most_inputs)
    started = time.perf_counter()
    base = baseline if baseline is not None else reference_config()
    with ExitStack() as stack:
        # The processes start (and load the plugins) while the log is read; leaving the
        # block for any reason (an error, Ctrl-C, SIGTERM made an abort) ends them: none
        # is left replaying what nobody will read.
        engine = stack.enter_context(_opened(store, base))
        pool = stack.enter_context(_pool(workers)) if workers > 1 else None
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        grouping, parts = _split(engine.store, workers, most_inputs, folder)
        unlogged = engine.store.unlogged()
        end = grouping.end or engine.now()
        chosen = tuple(sample_of(grouping.members, sample))
        jobs = [
            _Job(part, programme, chosen, end) for programme in (base, config) for part in parts
        ]
        if pool is not None and len(jobs) > 1:
            replaying = pool.map_async(_run, jobs, chunksize=1)
            # The store's own figures are read while the processes replay.
            stored = Run.of(figures(engine.members(), engine.config, end))
            runs = replaying.get()
        else:
            stored = Run.of(figures(engine.members(), engine.config, end))
            runs = [_run(job) for job in jobs]
        # Inputs the store took while it was read: its own figures may then be later
        # than the log the replays took.
        later = sum(1 for _ in engine.store.inputs(after=grouping.last)) if grouping.inputs else 0
    half = len(parts)
    baseline_run = sum(runs[:half], Run())
    proposed_run = sum(runs[half:], Run())
    return WhatIf(
        baseline_name=f"{base.name} v{base.version}",
        proposed_name=f"{config.name} v{config.version}",
        inputs=grouping.inputs,
        unlogged=unlogged,
        workers=workers,
        partitions=len(parts),
        stored=stored,
        baseline=baseline_run,
        proposed=proposed_run,
        later=later,
        reproduces=bool(grouping.inputs)
        and not later
        and all(getattr(stored, name) == getattr(baseline_run, name) for name in _REPRODUCED),
        members=_compared(baseline_run.members, proposed_run.members),
        seconds=round(time.perf_counter() - started, 3),
    )


@contextmanager
def _pool(processes: int) -> Iterator[multiprocessing.pool.Pool]:
    """A pool of spawned processes, ended when the block is left.

    An interruption while the pool starts a process would leave that process half
    started, outside the pool, to fail on the terminal: the interrupting signals that
    come while the pool starts are taken once it has, and then end it. Ctrl-C reaches
    every process of the terminal's foreground group: the processes start with it
    blocked (a mask a process inherits), so that only this one takes it and ends them,
    none saying on the terminal that it was interrupted too.
    """
    context = multiprocessing.get_context("spawn")
    # Started now, not while the pool starts: starting it unblocks SIGINT in this thread.
    resource_tracker.ensure_running()
    with ExitStack() as stack:
        with _interruptions_held():
            pool = stack.enter_context(context.Pool(processes, initializer=_plugins))
        yield pool


@contextmanager
def _interruptions_held() -> Iterator[None]:
    """The interrupting signals that come in the block, taken (by the handlers in force) after.

    SIGINT is blocked in this thread (and so in the processes it starts); SIGTERM, whose
    handler only the main thread can set, is held there by a handler that notes it.
    """
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    came: list[int] = []
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGTERM, lambda number, _: came.append(number))
    try:
        yield
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, before)  # a Ctrl-C waiting is taken here
        for number in came:
            signal.raise_signal(number)


def _check(**numbers: int) -> None:
    """Refuse a count that is not a whole number, or below what it may be."""
    least = {"workers": 1, "most_inputs": 1, "sample": 0}
    for name, value in numbers.items():
        if type(value) is not int:
            raise TypeError(f"whatif: {name} is a whole number, got {value!r}")
        if value < least[name]:
            raise ValueError(f"whatif: {name} is at least {least[name]}, got {value}")


def _split(store: Store, workers: int, most: int, folder: Path) -> tuple[Grouping, list[Path]]:
    """The store's input log, read once, grouped and written to ``folder`` by partition.

    A copy of each input goes to ``folder`` as the records are grouped; each
    partition's inputs go from that copy to a file of their own (at least ``workers``
    partitions, of at most ``most`` inputs where the groups allow). A store taking
    inputs meanwhile is replayed as it stood when read.

    Returns:
        The grouping, and the partitions' files (in the order of their places).
    """
    log = folder / "log.pickle"
    with log.open("wb") as copy:
        grouping = Grouping(_copied(store.inputs(), copy))
    if not grouping.inputs:
        return grouping, []
    home = grouping.placed(workers, most)
    count = max(home.values(), default=0) + 1
    paths = [folder / f"partition-{place}.pickle" for place in range(count)]
    written = [0] * count
    with ExitStack() as files:
        outs = [files.enter_context(path.open("wb")) for path in paths]
        for fields in _written(log):
            keys = fields[2]
            for place, kept in grouping.places(fields[0], keys, home):
                _write(fields if kept is keys else (*fields[:2], kept, *fields[3:]), outs[place])
                written[place] += 1
    return grouping, [path for path, many in zip(paths, written, strict=True) if many]


def _copied(entries: Iterable[LoggedInput], copy: BinaryIO) -> Iterator[LoggedInput]:
    """``entries`` as they are read, each written to ``copy`` as it passes."""
    for entry in entries:
        _write(_fields(entry), copy)
        yield entry


#: An input as the what-if's files hold it: its fields in :class:`LoggedInput`'s order,
#: its instants (UTC) as microseconds since the epoch (pickling a ``datetime`` costs as
#: much as the rest of an input together).
_Fields = tuple[str, str, tuple[str, ...], int, int, int, str | None, int | None, int]


def _fields(entry: LoggedInput) -> _Fields:
    return (
        entry.kind,
        entry.payload,
        entry.keys,
        _micros(entry.at),
        _micros(entry.occurred_at),
        _micros(entry.batch_at),
        entry.refused,
        None if entry.cutoff is None else _micros(entry.cutoff),
        entry.seq,
    )


def _entry(fields: _Fields) -> LoggedInput:
    kind, payload, keys, at, occurred_at, batch_at, refused, cutoff, seq = fields
    return LoggedInput(
        kind=kind,
        payload=payload,
        keys=keys,
        at=_instant(at),
        occurred_at=_instant(occurred_at),
        batch_at=_instant(batch_at),
        refused=refused,
        cutoff=None if cutoff is None else _instant(cutoff),
        seq=seq,
    )


def _write(fields: _Fields, out: BinaryIO) -> None:
    out.write(pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL))


def _written(path: Path) -> Iterator[_Fields]:
    """What :func:`_write` wrote to ``path``, in order."""
    with path.open("rb") as spilled:
        while True:
            try:
                yield pickle.load(spilled)
            except EOFError:
                return


def _loaded(path: Path) -> Iterator[LoggedInput]:
    """The inputs written to ``path``, in order."""
    return map(_entry, _written(path))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


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
