"""The demo run: the synthetic hospital through the engine, then its figures.

:func:`run_demo` generates the seeded hospital of :mod:`membercore_adapters.demo.hospital`,
feeds it to the engine on a store (SQLite by default) in slices of simulated time —
each slice's facts ingested at the slice's end, then a tick — and works out the
programme's figures. Households never span two workers, so the work can be split
between processes that share one store, each taking its own households' messages in
time order.

One kind of fact involves two households: a referral pays the referrer, and the engine
takes it only once it knows the referred patient and their first visit, from that
patient's own messages, which may be another worker's, and the referred patient's
record is changed too. The workers run at their own pace, but around such a referral
the two workers concerned wait for each other: the referrer's takes it once the
referred patient's has taken all its messages before the referral's instant, and that
one goes past the instant once the referral is taken, as one worker alone would have
done. A run is the same, figure for figure, whatever the number of workers. (Which
member of staff is given a task or a member may differ: assignment balances the
staff's loads, which all workers share.)
"""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableSequence, Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.pool import AsyncResult
from queue import Queue

import attrs

from membercore.analytics import (
    Figures,
    Measurement,
    Tallies,
    Tally,
    ValueModel,
    counted,
    measurement_of,
)
from membercore.experiments import ExperimentCounts, ExperimentResult
from membercore.facts import ReferralQualified
from membercore.ports import DeadLetter
from membercore.service.engine import Engine, IngestReport, Message
from membercore.service.retrying import collector_paused
from membercore.testing.clock import ManualClock
from membercore_adapters.demo.hospital import HospitalSpec, shard_of, timed_messages
from membercore_adapters.demo.programme import demo_programme

__all__ = ["DemoResult", "Progress", "refusal_kind", "run_demo", "shard_of_member"]

#: Called with the messages taken so far and the simulated instant reached.
Progress = Callable[[int, datetime], None]


@attrs.frozen(kw_only=True)
class DemoResult:
    """What a demo run did and found.

    Attributes:
        spec: the hospital.
        figures: the programme's figures at the end.
        tally: messages and tasks as they were decided.
        report: what ingestion did.
        rejected: dead letters by the kind of their refusal (:func:`refusal_kind`): no
            patient's identifiers, one count for the same refusal of many patients.
        messages: facts and commands generated.
        seconds: wall-clock time of the run.
        end: the simulated instant the run ended at.
        measurement: the programme measured at the end (what ``engine.measure`` gives),
            each worker measuring its own members, whose records it holds decoded.
        experiments: the results of the programme's experiments (the price test).
    """

    spec: HospitalSpec
    figures: Figures
    tally: Tally
    report: IngestReport
    rejected: Counter[str]
    messages: int
    seconds: float
    end: datetime
    measurement: Measurement
    experiments: tuple[ExperimentResult, ...] = ()


@attrs.frozen(kw_only=True)
class _Job:
    """One worker's share of the run: the households of ``shard`` out of ``shards``."""

    spec: HospitalSpec
    url: str
    shard: int
    shards: int
    step: timedelta


@attrs.frozen(kw_only=True)
class _Part:
    """What one worker did and found, over its own members."""

    figures: Figures
    tally: Tally
    report: IngestReport
    rejected: Counter[str]
    messages: int
    end: datetime
    sums: Tallies
    tried: ExperimentCounts


#: Where a worker has got, as a number that orders: ``2 * µs + 1`` once it has taken its
#: messages at an instant, ``2 * µs`` once it has taken those before it (µs since 1970).
_Point = int

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _point(at: datetime, *, taken: bool) -> _Point:
    """The point of having taken the messages before ``at`` (and those at it, if ``taken``)."""
    return 2 * ((at - _EPOCH) // _MICROSECOND) + taken


@attrs.frozen(kw_only=True)
class _Piece:
    """A stretch of one worker's messages, ingested at once.

    Attributes:
        end: the end of the slice the stretch is in: the instant it is ingested at.
        batch: the worker's messages of the stretch, with their instants.
        waits: the workers that must have reached ``after`` before the stretch is taken.
        after: the point they must have reached.
        reaches: the point the worker has reached once the stretch is taken, if the
            stretch ends at a cut (before a referral's instant, or after it); a stretch
            that ends its slice is followed by a tick instead.
    """

    end: datetime
    batch: list[tuple[datetime, Message]] = attrs.field(factory=list)
    waits: frozenset[int] = frozenset()
    after: _Point = -1
    reaches: _Point | None = None


def _pieces(job: _Job) -> Iterator[_Piece]:
    """The shard's messages with their instants, in slices of ``step`` cut at referrals.

    The first slice ends at 08:00 local time on the first day, so that with a step of
    twelve hours the ticks fall at 08:00 and 20:00, outside quiet hours.

    A slice is cut around the instant of a referral whose referred patient is another
    worker's (:func:`_across`): the messages before it, those at it, those after it.
    The referrer's worker takes the referral once the referred patient's worker has
    taken its messages before the instant; that worker goes past the instant (its next
    messages, its tick) once the referrer's worker has taken the referral. The referral
    is thus decided on the referred patient's record as one worker alone would have
    left it. Every worker reads the whole stream, so all cut it at the same instants.
    """
    spec = job.spec
    end = spec.start.replace(hour=8, minute=0, second=0, microsecond=0)
    if end <= spec.start:
        end += job.step
    piece = _Piece(end=end)
    cut: datetime | None = None  # the instant whose messages ``piece`` holds, if any
    referrers: set[int] = set()  # the workers referring this worker's patients there
    for at, message in timed_messages(spec):
        if cut is not None and at > cut:
            yield attrs.evolve(piece, reaches=_point(cut, taken=True))
            after = _point(cut, taken=True)
            piece = _Piece(end=end, waits=frozenset(referrers), after=after)
            cut, referrers = None, set()
        while at >= end:
            yield piece
            end += job.step
            piece = _Piece(end=end)
        mine = shard_of(message) % job.shards == job.shard
        referred = _across(message, job.shards)
        if referred is not None:
            if at != cut:
                yield attrs.evolve(piece, reaches=_point(at, taken=False))
                piece = _Piece(end=end, after=_point(at, taken=False))
                cut = at
            if mine:
                piece = attrs.evolve(piece, waits=piece.waits | {referred})
            if referred == job.shard:
                referrers.add(shard_of(message) % job.shards)
        if mine:
            piece.batch.append((at, message))
    if cut is not None:
        yield attrs.evolve(piece, reaches=_point(cut, taken=True))
        piece = _Piece(end=end, waits=frozenset(referrers), after=_point(cut, taken=True))
    yield piece


def _across(message: Message, shards: int) -> int | None:
    """The other shard a message's referred patient is in, if it is a referral across two.

    The hospital's one message that names two households: the engine pays the referrer
    only if it knows the referred patient and their first visit, and notes the referrer
    on that patient's record (running what fell due on it).
    """
    if not isinstance(message, ReferralQualified):
        return None
    other = shard_of(message.referred_patient_id) % shards
    return other if other != shard_of(message) % shards else None


@attrs.frozen
class _Pace:
    """How far each worker has got, shared between them, for a worker to wait for another.

    Each worker notes the point it has reached at each cut (:meth:`reach`) and waits,
    where its pieces say so, for others to have reached one (:meth:`wait`). A worker
    only ever waits for others to reach a point it has reached itself, so the one
    furthest behind never waits: the run goes on, the others waiting only when ahead.

    Attributes:
        reached: by worker, the last point it reached.
        turn: notified whenever a worker gets further.
        failed: set by a worker that failed: nobody waits for it any more.
        done: where every worker waits for the others to finish before reading figures.
    """

    reached: MutableSequence[_Point]
    turn: threading.Condition
    failed: threading.Event
    done: threading.Barrier

    def reach(self, shard: int, point: _Point) -> None:
        """Worker ``shard`` has reached ``point``."""
        with self.turn:
            self.reached[shard] = point
            self.turn.notify_all()

    def wait(self, shards: Iterable[int], point: _Point) -> None:
        """Wait for the workers ``shards`` to have reached ``point``.

        Raises:
            BrokenBarrierError: another worker failed.
        """

        def ready() -> bool:
            return self.failed.is_set() or all(self.reached[s] >= point for s in shards)

        with self.turn:
            self.turn.wait_for(ready)
        if self.failed.is_set():
            raise threading.BrokenBarrierError

    def fail(self) -> None:
        """This worker failed: the others stop waiting for it."""
        with self.turn:
            self.failed.set()
            self.turn.notify_all()
        self.done.abort()


def _work(job: _Job, progress: Progress | None, pace: _Pace | None = None) -> _Part:
    """One worker's share; ``pace`` (for more than one worker) is how it waits for others."""
    config = demo_programme()
    clock = ManualClock(job.spec.start)
    tally = Tally()
    report = IngestReport()
    count = 0

    def mine(member_id: str) -> bool:
        return shard_of_member(member_id, job.shards) == job.shard

    # The demo's records hold no cycles: the collector stays off for the whole run (as a
    # what-if replay does), not only for each unit of work.
    engine_opened = Engine.open(job.url, config=config, clock=clock, observers=[tally])
    with collector_paused(True), engine_opened as engine:
        at = job.spec.start
        for piece in _pieces(job):
            at = piece.end
            clock.set(at)
            if piece.waits and pace is not None:
                pace.wait(piece.waits, piece.after)
            if piece.batch:
                report += engine.ingest(piece.batch, now=at)
                count += len(piece.batch)
            if piece.reaches is not None:
                if pace is not None:
                    pace.reach(job.shard, piece.reaches)
                continue
            engine.tick(at, where=mine)
            if progress is not None:
                progress(count, at)
        if pace is not None:
            pace.done.wait()  # every worker's referrals noted on these members too
        # Its own members, records still decoded: the dashboard, the measures and the
        # experiments in one pass.
        counts = counted(engine.histories(mine), config, at)
        rejected = _rejected(engine)
    return _Part(
        figures=counts.figures.figures(),
        tally=tally,
        report=report,
        rejected=rejected,
        messages=count,
        end=at,
        sums=counts.sums,
        tried=counts.tried,
    )


def shard_of_member(member_id: str, shards: int) -> int:
    """The shard a member's record belongs to (that of its household)."""
    return shard_of(member_id) % shards


def _rejected(engine: Engine) -> Counter[str]:
    """The store's dead letters, counted by the kind of their refusal."""
    return Counter(refusal_kind(letter) for letter in engine.store.dead_letters())


#: The fields of an input that name a patient, a record or a thing of theirs.
_NAMING = re.compile(r"(?:_id|_ids|_by|^dependents)$")
#: A value quoted in a reason (``'P000081'``, ``"V-12"``), not an apostrophe in a word.
_QUOTED = re.compile(r"""(?<!\w)(?:'[^']*'|"[^"]*")(?!\w)""")
#: A word holding a digit: an id, an amount, a date or an instant (a colon ending it kept).
_NUMBERED = re.compile(r"[^\s,;()]*\d[^\s,;()]*?(?=:?(?:[\s,;()]|$))")
#: What begins a refusal about one member's record (the ledger's, the plans'...).
_ABOUT_A_MEMBER = re.compile(r"^member …: ")


def refusal_kind(letter: DeadLetter) -> str:
    """The kind of refusal a dead letter records: its input's type and the reason, unnamed.

    The engine's reasons name the patients, records and amounts they are about
    (``member P000004: referral of P000025 refused: the referred patient is not
    known``). Each of those is left out, shown as ``…``: the ids the input itself gives
    (its fields ``patient_id``, ``given_by``...), quoted values, and every word holding
    a digit; so is the leading ``member …:`` of a refusal about a member's record. The
    same refusal of two patients is thus one kind (``referral_qualified: referral of …
    refused: the referred patient is not known``), and no kind names a patient.
    """
    reason = letter.reason
    for name in sorted(set(_named(_payload(letter.payload))), key=len, reverse=True):
        reason = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "…", reason)
    reason = _ABOUT_A_MEMBER.sub("", _NUMBERED.sub("…", _QUOTED.sub("…", reason)))
    kind = _NUMBERED.sub("…", letter.fact_type)
    return f"{kind}: {reason}" if kind else reason


def _payload(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None  # not JSON, or cut short: the reason's own words are all there is


def _named(data: object, naming: bool = False) -> Iterable[str]:
    """The text values of ``data`` under the fields that name someone or something."""
    if isinstance(data, str):
        if naming and data.strip():
            yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _named(value, naming or bool(_NAMING.search(str(key))))
    elif isinstance(data, list):
        for value in data:
            yield from _named(value, naming)


def _in_process(args: tuple[_Job, Queue[tuple[int, int, datetime]], _Pace]) -> _Part:
    job, queue, pace = args

    def progress(count: int, at: datetime) -> None:
        queue.put((job.shard, count, at))

    try:
        return _work(job, progress, pace)
    except BaseException:
        pace.fail()  # the others would wait for this worker for ever
        raise


def run_demo(
    spec: HospitalSpec,
    url: str,
    *,
    workers: int = 1,
    step: timedelta = timedelta(hours=12),
    progress: Progress | None = None,
) -> DemoResult:
    """Run the demo hospital through the engine on the store at ``url``.

    Args:
        spec: the hospital (patients, months, seed...).
        url: the store; with ``workers`` above 1 it must be shared (SQLite, PostgreSQL).
        workers: processes sharing the work, households split between them; the run
            is the same, figure for figure, whatever their number.
        step: the slice of simulated time ingested at once, then ticked.
        progress: called with the messages taken so far and the simulated instant.
    """
    started = time.perf_counter()
    jobs = [
        _Job(spec=spec, url=url, shard=shard, shards=max(workers, 1), step=step)
        for shard in range(max(workers, 1))
    ]
    if workers <= 1:
        parts = [_work(jobs[0], progress)]
        rejected = parts[0].rejected
    else:
        parts = _parallel(jobs, progress)
        # Every worker saw the dead letters of those that finished before it: count once.
        with Engine.open(url, config=demo_programme(), clock=ManualClock(spec.start)) as engine:
            rejected = _rejected(engine)
    return _result(spec, parts, rejected, time.perf_counter() - started)


def _result(
    spec: HospitalSpec, parts: list[_Part], rejected: Counter[str], seconds: float
) -> DemoResult:
    """The workers' parts put together."""
    config = demo_programme()
    total = Figures()
    tally = Tally()
    report = IngestReport()
    end = max(part.end for part in parts)
    sums = Tallies(now=end, tz=config.tz)
    tried = ExperimentCounts(config)
    for part in parts:
        total += part.figures
        tally.merge(part.tally)
        report += part.report
        sums.merge(part.sums)
        tried.merge(part.tried)
    return DemoResult(
        spec=spec,
        figures=total,
        tally=tally,
        report=report,
        rejected=rejected,
        messages=sum(part.messages for part in parts),
        seconds=seconds,
        end=end,
        measurement=measurement_of(sums, config, ValueModel()),
        experiments=tried.results(),
    )


def _parallel(jobs: list[_Job], progress: Progress | None) -> list[_Part]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue: Queue[tuple[int, int, datetime]] = manager.Queue()
        pace = _Pace(
            reached=manager.list([-1] * len(jobs)),
            turn=manager.Condition(),
            failed=manager.Event(),
            done=manager.Barrier(len(jobs)),
        )
        with context.Pool(len(jobs)) as pool:
            pending = [pool.apply_async(_in_process, ((job, queue, pace),)) for job in jobs]
            counts = [0] * len(jobs)
            latest = [job.spec.start for job in jobs]
            while not all(part.ready() for part in pending) or not queue.empty():
                while not queue.empty():
                    shard, count, at = queue.get()
                    counts[shard], latest[shard] = count, at
                    if progress is not None:
                        progress(sum(counts), min(latest))
                next((part for part in pending if not part.ready()), pending[0]).wait(0.2)
            return _parts(pending)


def _parts(pending: Sequence[AsyncResult[_Part]]) -> list[_Part]:
    """The workers' parts; if any failed, the error of one that failed of itself.

    When one fails, the others stop waiting for it with a broken barrier, an error that
    says nothing of what went wrong: it is raised only if there is no other.
    """
    broken: threading.BrokenBarrierError | None = None
    for part in pending:
        if not part.successful():
            try:
                part.get()
            except threading.BrokenBarrierError as error:
                broken = broken or error
    if broken is not None:
        raise broken
    return [part.get() for part in pending]
