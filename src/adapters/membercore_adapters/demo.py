"""The demo hospital: a synthetic private hospital run through the engine, then its figures.

:func:`run_demo` generates the seeded hospital of :mod:`membercore_adapters.hospital`,
feeds it to the engine on a store (SQLite by default) in slices of simulated time —
each slice's facts ingested at the slice's end, then a tick — and works out the
programme's figures. Households never span two workers, so the work can be split
between processes that share one store; :func:`dashboard` renders the figures.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import attrs

from membercore import reference_config
from membercore.analytics import Figures, Tally, figures, per_mille
from membercore.config import ProgrammeConfig
from membercore.dates import add_months
from membercore.service.engine import Engine, IngestReport, Message
from membercore.testing.clock import ManualClock
from membercore_adapters.hospital import HospitalSpec, shard_of, timed_messages

__all__ = ["DemoResult", "dashboard", "run_demo"]

Progress = Callable[[int, datetime], None]


@attrs.frozen(kw_only=True)
class DemoResult:
    """What a demo run did and found.

    Attributes:
        spec: the hospital.
        figures: the programme's figures at the end.
        tally: messages and tasks as they were decided.
        report: what ingestion did.
        rejected: dead letters by their reason's first words.
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


def _slices(
    spec: HospitalSpec, shard: int, shards: int, step: timedelta
) -> Iterator[tuple[datetime, list[tuple[datetime, Message]]]]:
    """The shard's messages with their instants in slices of ``step``, with each end.

    The first slice ends at 08:00 local time on the first day, so that with a step of
    twelve hours the ticks fall at 08:00 and 20:00, outside quiet hours.
    """
    end = spec.start.replace(hour=8, minute=0, second=0, microsecond=0)
    if end <= spec.start:
        end += step
    batch: list[tuple[datetime, Message]] = []
    for at, message in timed_messages(spec):
        while at >= end:
            yield end, batch
            batch = []
            end += step
        if shard_of(message) % shards == shard:
            batch.append((at, message))
    yield end, batch


def _work(
    spec: HospitalSpec,
    url: str,
    shard: int,
    shards: int,
    step: timedelta,
    progress: Progress | None,
) -> tuple[Figures, Tally, IngestReport, Counter[str], int, datetime]:
    config = reference_config()
    clock = ManualClock(spec.start)
    tally = Tally()
    report = IngestReport()
    count = 0

    def mine(member_id: str) -> bool:
        return shard_of_member(member_id, shards) == shard

    with Engine.open(url, config=config, clock=clock, observers=[tally]) as engine:
        at = spec.start
        for at, batch in _slices(spec, shard, shards, step):
            clock.set(at)
            if batch:
                report += engine.ingest(batch, now=at)
                count += len(batch)
            engine.tick(at, where=mine)
            if progress is not None:
                progress(count, at)
        owned = figures(engine.members(mine), config, at)
        rejected = Counter(_reason(letter.reason) for letter in engine.store.dead_letters())
    return owned, tally, report, rejected, count, at


def shard_of_member(member_id: str, shards: int) -> int:
    """The shard a member's record belongs to (that of its household)."""
    return shard_of(member_id) % shards


def _reason(text: str) -> str:
    return " ".join(text.split(":", maxsplit=1)[0].split()[:6])


def _in_process(args: tuple[HospitalSpec, str, int, int, timedelta, object]) -> object:
    spec, url, shard, shards, step, queue = args

    def progress(count: int, at: datetime) -> None:
        queue.put((shard, count, at))  # type: ignore[attr-defined]

    return _work(spec, url, shard, shards, step, progress)


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
        workers: processes sharing the work, households split between them.
        step: the slice of simulated time ingested at once, then ticked.
        progress: called with the messages taken so far and the simulated instant.
    """
    started = time.perf_counter()
    if workers <= 1:
        parts = [_work(spec, url, 0, 1, step, progress)]
        rejected = parts[0][3]
    else:
        parts = _parallel(spec, url, workers, step, progress)
        # Every worker saw the dead letters of those that finished before it: count once.
        with Engine.open(url, config=reference_config(), clock=ManualClock(spec.start)) as engine:
            rejected = Counter(_reason(letter.reason) for letter in engine.store.dead_letters())
    total = Figures()
    tally = Tally()
    report = IngestReport()
    for part_figures, part_tally, part_report, _, _, _ in parts:
        total += part_figures
        tally.merge(part_tally)
        report += part_report
    return DemoResult(
        spec=spec,
        figures=total,
        tally=tally,
        report=report,
        rejected=rejected,
        messages=sum(part[4] for part in parts),
        seconds=time.perf_counter() - started,
        end=max(part[5] for part in parts),
    )


def _parallel(
    spec: HospitalSpec, url: str, workers: int, step: timedelta, progress: Progress | None
) -> list[tuple[Figures, Tally, IngestReport, Counter[str], int, datetime]]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue = manager.Queue()
        with context.Pool(workers) as pool:
            jobs = [(spec, url, shard, workers, step, queue) for shard in range(workers)]
            pending = pool.map_async(_in_process, jobs)
            counts = [0] * workers
            latest = [spec.start] * workers
            while not pending.ready() or not queue.empty():
                while not queue.empty():
                    shard, count, at = queue.get()
                    counts[shard], latest[shard] = count, at
                    if progress is not None:
                        progress(sum(counts), min(latest))
                pending.wait(0.2)
            return list(pending.get())  # type: ignore[arg-type]


class ProgressBar:
    """A progress bar on standard error, by simulated time."""

    def __init__(self, spec: HospitalSpec, width: int = 30) -> None:
        self.start = spec.start
        self.span = add_months(spec.start, spec.months, reference_config().tz) - spec.start
        self.width = width
        self.began = time.perf_counter()
        self.shown = 0.0

    def __call__(self, count: int, at: datetime) -> None:
        """Redraw the bar (at most ten times a second)."""
        now = time.perf_counter()
        if now - self.shown < 0.1:
            return
        self.shown = now
        done = min(max((at - self.start) / self.span, 0.0), 1.0)
        filled = int(done * self.width)
        rate = count / max(now - self.began, 1e-9)
        bar = "█" * filled + "░" * (self.width - filled)
        sys.stderr.write(f"\r{bar} {done:4.0%} {at.date()} · {count:,} facts · {rate:,.0f}/s   ")
        sys.stderr.flush()

    def close(self) -> None:
        """End the bar's line."""
        sys.stderr.write("\n")
        sys.stderr.flush()


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}"


def dashboard(result: DemoResult, config: ProgrammeConfig) -> str:
    """The figures of a demo run as text."""
    fig = result.figures
    labels = {level.key: level.label for level in config.tiers.levels}
    plan_labels = {plan.key: plan.label for plan in config.plans.plans}
    lines = [
        f"仁和医院 demo hospital · {result.spec.patients:,} patients · "
        f"{result.spec.months} months · seed {result.spec.seed}",
        f"{result.messages:,} facts and commands in {result.seconds:.1f} s "
        f"({result.messages / max(result.seconds, 1e-9):,.0f}/s): "
        f"{result.report.applied:,} applied, {result.report.duplicates:,} duplicates, "
        f"{result.report.rejected:,} rejected",
        "",
        "Members by tier",
    ]
    lines += [
        f"  {key} {labels[key]:<4} {fig.by_tier.get(key, 0):>8,}" for key in config.tiers.keys
    ]
    lines.append("Paid members by plan (in force)")
    lines += [
        f"  {plan_labels.get(key, key):<12} {count:>8,}"
        for key, count in sorted(fig.paid_by_plan.items())
    ] or ["  none"]
    lines += [
        f"Renewal rate          {fig.renewal_per_mille / 10:5.1f}%  "
        f"({fig.renewed:,} of {fig.terms_ended:,} first terms ended)",
        "Loyalty ladder        "
        f"first visit {fig.first_visits:,} → member {fig.became_members:,} "
        f"({per_mille(fig.became_members, fig.first_visits) / 10:.1f}%) → family "
        f"{fig.became_family:,} ({per_mille(fig.became_family, fig.became_members) / 10:.1f}%)",
        f"Yearly spend          members {_yuan(fig.average_spend_fen(members=True))} · "
        f"non-members {_yuan(fig.average_spend_fen(members=False))} (out of pocket)",
        f"Points                issued {fig.points.get('earned', 0):,} · redeemed "
        f"{fig.points.get('redeemed', 0):,} · expired {fig.points.get('expired', 0):,} · "
        f"outstanding liability {fig.points.get('balance', 0):,}",
        "Messages by channel and purpose",
    ]
    tally = result.tally
    lines += [
        f"  {channel:<6} {purpose:<10} {count:>8,}"
        for (channel, purpose), count in sorted(tally.messages.items())
    ] or ["  none"]
    lines.append(
        f"  deferred by quiet hours {tally.deferred:,} · cancelled on withdrawal "
        f"{tally.cancelled:,}"
    )
    refused = ", ".join(f"{reason} {count:,}" for reason, count in tally.refused.most_common())
    lines.append(f"  refused: {refused or 'none'}")
    tasks = ", ".join(f"{kind} {count:,}" for kind, count in tally.tasks.most_common())
    lines.append(f"Staff tasks by kind   {tasks or 'none'}")
    if result.rejected:
        lines.append("Rejected inputs (dead letters) by reason")
        lines += [f"  {count:>6,} {reason}" for reason, count in result.rejected.most_common(8)]
    return "\n".join(lines)
