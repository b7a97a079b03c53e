"""The demo run: the synthetic hospital through the engine, then its figures.

:func:`run_demo` generates the seeded hospital of :mod:`membercore_adapters.demo.hospital`,
feeds it to the engine on a store (SQLite by default) in slices of simulated time —
each slice's facts ingested at the slice's end, then a tick — and works out the
programme's figures. Households never span two workers, so the work can be split
between processes that share one store, each taking its own households' messages in
time order.

One kind of fact involves two households: a referral pays the referrer, and the engine
takes it only once it knows the referred patient and their first visit, from that
patient's own messages, which may be another worker's. The workers otherwise run at
their own pace; at the instant of such a referral they wait for each other
(a barrier), every one having taken all its messages before that instant, so the
referral is decided on what one worker alone would have known. A run is the same,
figure for figure, whatever the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from multiprocessing.pool import AsyncResult
from queue import Queue

import attrs

from membercore import reference_config
from membercore.analytics import Figures, Tally, figures
from membercore.facts import ReferralQualified
from membercore.ports import DeadLetter
from membercore.service.engine import Engine, IngestReport, Message
from membercore.testing.clock import ManualClock
from membercore_adapters.demo.hospital import HospitalSpec, shard_of, timed_messages

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
    """

    spec: HospitalSpec
    figures: Figures
    tally: Tally
    report: IngestReport
    rejected: Counter[str]
    messages: int
    seconds: float
    end: datetime


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


@attrs.frozen(kw_only=True)
class _Piece:
    """A stretch of one worker's messages, ingested at once.

    Attributes:
        end: the end of the slice the stretch is in: the instant it is ingested at.
        batch: the worker's messages of the stretch, with their instants.
        wait: the stretch starts at a referral across workers: every worker waits for
            the others to have taken their messages before it.
        tick: the stretch ends its slice: the worker's members are ticked to ``end``.
    """

    end: datetime
    batch: list[tuple[datetime, Message]]
    wait: bool
    tick: bool


def _pieces(job: _Job) -> Iterator[_Piece]:
    """The shard's messages with their instants, in slices of ``step`` cut at referrals.

    The first slice ends at 08:00 local time on the first day, so that with a step of
    twelve hours the ticks fall at 08:00 and 20:00, outside quiet hours. A slice is cut
    before a referral whose referred patient is another worker's (:func:`_across`), the
    piece after the cut to be taken once every worker has taken what came before it.
    Every worker reads the whole stream, so all cut it at the same instants and meet at
    each cut.
    """
    spec = job.spec
    end = spec.start.replace(hour=8, minute=0, second=0, microsecond=0)
    if end <= spec.start:
        end += job.step
    batch: list[tuple[datetime, Message]] = []
    wait = False
    cut: datetime | None = None
    for at, message in timed_messages(spec):
        while at >= end:
            yield _Piece(end=end, batch=batch, wait=wait, tick=True)
            batch, wait = [], False
            end += job.step
        if at != cut and _across(message, job.shards):
            # Another referral at the same instant needs no second cut.
            yield _Piece(end=end, batch=batch, wait=wait, tick=False)
            batch, wait, cut = [], True, at
        if shard_of(message) % job.shards == job.shard:
            batch.append((at, message))
    yield _Piece(end=end, batch=batch, wait=wait, tick=True)


def _across(message: Message, shards: int) -> bool:
    """Whether ``message`` is a referral of a patient of another shard than its referrer's.

    The hospital's one message that names two households: the engine pays the referrer
    only if it knows the referred patient's first visit, and notes the referrer on that
    patient's record.
    """
    return (
        isinstance(message, ReferralQualified)
        and shard_of(message.referred_patient_id) % shards != shard_of(message) % shards
    )


def _work(job: _Job, progress: Progress | None, barrier: threading.Barrier | None = None) -> _Part:
    """One worker's share; ``barrier`` (for more than one worker) is where they meet."""
    config = reference_config()
    clock = ManualClock(job.spec.start)
    tally = Tally()
    report = IngestReport()
    count = 0

    def mine(member_id: str) -> bool:
        return shard_of_member(member_id, job.shards) == job.shard

    with Engine.open(job.url, config=config, clock=clock, observers=[tally]) as engine:
        at = job.spec.start
        for piece in _pieces(job):
            at = piece.end
            clock.set(at)
            if piece.wait and barrier is not None:
                barrier.wait()
            if piece.batch:
                report += engine.ingest(piece.batch, now=at)
                count += len(piece.batch)
            if piece.tick:
                engine.tick(at, where=mine)
                if progress is not None:
                    progress(count, at)
        if barrier is not None:
            barrier.wait()  # the others' referrals noted on these members too
        owned = figures(engine.members(mine), config, at)
        rejected = _rejected(engine)
    return _Part(
        figures=owned, tally=tally, report=report, rejected=rejected, messages=count, end=at
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


def _in_process(
    args: tuple[_Job, Queue[tuple[int, int, datetime]], threading.Barrier],
) -> _Part:
    job, queue, barrier = args

    def progress(count: int, at: datetime) -> None:
        queue.put((job.shard, count, at))

    try:
        return _work(job, progress, barrier)
    except BaseException:
        barrier.abort()  # the others would wait for this worker for ever
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
        with Engine.open(url, config=reference_config(), clock=ManualClock(spec.start)) as engine:
            rejected = _rejected(engine)
    return _result(spec, parts, rejected, time.perf_counter() - started)


def _result(
    spec: HospitalSpec, parts: list[_Part], rejected: Counter[str], seconds: float
) -> DemoResult:
    """The workers' parts put together."""
    total = Figures()
    tally = Tally()
    report = IngestReport()
    for part in parts:
        total += part.figures
        tally.merge(part.tally)
        report += part.report
    return DemoResult(
        spec=spec,
        figures=total,
        tally=tally,
        report=report,
        rejected=rejected,
        messages=sum(part.messages for part in parts),
        seconds=seconds,
        end=max(part.end for part in parts),
    )


def _parallel(jobs: list[_Job], progress: Progress | None) -> list[_Part]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue: Queue[tuple[int, int, datetime]] = manager.Queue()
        barrier = manager.Barrier(len(jobs))
        with context.Pool(len(jobs)) as pool:
            pending = [pool.apply_async(_in_process, ((job, queue, barrier),)) for job in jobs]
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

    When one fails, the others stop waiting for it at the barrier with a broken barrier,
    an error that says nothing of what went wrong: it is raised only if there is no other.
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
