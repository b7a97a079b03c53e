"""The engine: the programme run over a store, a clock and the installed plugins.

``Engine.open("sqlite:///membercore.db", config=reference_config())`` opens a store by
its URL through the plugin that serves the scheme. Every call is a unit of work: it
loads the records it needs, runs the pure pipeline, and commits the records' events
and new snapshots, the outbox, the staff tasks and the inbox of facts taken in one
transaction with an optimistic version check; a conflict is retried, never lost.
Ingestion takes facts in batches, grouped per member; a fact that cannot be taken goes
to the dead letters with its reason and ingestion goes on.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
import pluggy

from membercore import benefits
from membercore.config import ProgrammeConfig
from membercore.config.experiments import check_experiment_tags
from membercore.dates import require_aware
from membercore.errors import (
    EngineError,
    GaveUpError,
    PluginError,
    UnknownStoreError,
    VersionConflictError,
)
from membercore.journeys import JourneyIndex, check_tags, validate
from membercore.outreach import NoteDelivery
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import Channel, Clock, Positioned, SourcePosition, Store, lacks
from membercore.serialization import message_types
from membercore.service import outcomes, pipeline, reading, ticking
from membercore.service.calls import MemberCalls
from membercore.service.channels import build_channels
from membercore.service.delivery import deliver
from membercore.service.dispatch import DEFAULT_LEASE, Backoff, DispatchReport
from membercore.service.handling import household_view
from membercore.service.ingestion import ingest_batch
from membercore.service.inputs import Input, Message, as_typed, chunks, describe
from membercore.service.limits import InputLimits
from membercore.service.member import Member, standing
from membercore.service.outcomes import ReportsRead
from membercore.service.reading import noted
from membercore.service.reports import IngestReport, TickReport
from membercore.service.retrying import collector_paused, pause
from membercore.service.unit_of_work import RecordCache, UnitOfWork
from membercore.service.use_cases import AnyCommand, handle, route

__all__ = ["Engine", "IngestReport", "Input", "Message", "TickReport", "household_view"]

T = TypeVar("T")

log = logging.getLogger("membercore.engine")


class Engine(MemberCalls):
    """The membership programme over a store: ingestion, time, views and commands.

    Args:
        store: where records live.
        config: the programme (plugin journeys are added to its own).
        clock: where ``now`` comes from.
        plugins: what the installed plugins contribute.
        batch_size: inputs per ingestion commit.
        require_registration: refuse facts about a patient never registered.
        retries: attempts of a unit of work that meets version conflicts.
        cache_size: decoded records (members, households) kept between units of work.
        snapshot_every: a record's snapshot is written again once this many commits
            have changed it since and the journal written since is at least as long
            as the snapshot (its events in between bring it up to date).
        observers: called after each commit with the events it stored (for figures,
            exports, notifications); an observer must not fail.
        worker: the name this engine claims due records under when it ticks (by
            default one unique to this engine instance).
        tick_lease: how long a tick's claim on a due record holds: it must outlast
            ticking one page (``limit`` records); a claim left by a crashed engine
            is taken over once it ends.
        clock_skew: how far after the decision instant a fact may be dated (the HIS's
            clock may run a little ahead); a fact dated later is refused as a dead letter.
        limits: how large an input may be (:class:`~membercore.service.limits.InputLimits`);
            an input past them is a dead letter naming the field and the limit.
        pause_gc: pause Python's cyclic garbage collector while a unit of work runs
            (it is turned back on after, if it was on). Records are immutable and hold
            no cycles, so reference counting frees what a decision drops; the
            collector's passes over every cached record would otherwise take about a
            fifth of ingestion's time.
    """

    def __init__(
        self,
        store: Store,
        config: ProgrammeConfig,
        *,
        clock: Clock,
        plugins: Plugins,
        batch_size: int = 1000,
        require_registration: bool = True,
        retries: int = 16,
        cache_size: int = 20_000,
        snapshot_every: int = 16,
        observers: Sequence[Callable[[Sequence[object]], None]] = (),
        worker: str | None = None,
        tick_lease: timedelta = timedelta(minutes=5),
        clock_skew: timedelta = timedelta(minutes=5),
        limits: InputLimits | None = None,
        pause_gc: bool = True,
    ) -> None:
        if batch_size < 1:
            raise EngineError(f"batch_size must be at least 1, got {batch_size}")
        if worker is not None and not worker:
            raise EngineError("worker must not be empty")
        if tick_lease <= timedelta(0):
            raise EngineError(f"tick_lease must be positive, got {tick_lease}")
        extra = tuple(found.value for found in plugins.journeys)
        self.config = attrs.evolve(config, journeys=config.journeys + extra) if extra else config
        self.store = store
        self.clock = clock
        self.plugins = plugins
        self.batch_size = batch_size
        self.require_registration = require_registration
        self.retries = retries
        self._records = RecordCache(cache_size)
        if snapshot_every < 1:
            raise EngineError(f"snapshot_every must be at least 1, got {snapshot_every}")
        self.snapshot_every = snapshot_every
        self.observers = tuple(observers)
        self.worker = worker if worker is not None else f"engine-{id(self):x}"
        self.tick_lease = tick_lease
        if clock_skew < timedelta(0):
            raise EngineError(f"clock_skew must not be negative, got {clock_skew}")
        self.clock_skew = clock_skew
        if limits is not None and not isinstance(limits, InputLimits):
            raise EngineError(
                f"limits must be membercore.service.limits.InputLimits, got {limits!r}"
            )
        self.limits = limits or InputLimits()
        self.pause_gc = pause_gc
        known = message_types()
        check_experiment_tags(self.config.experiments, known)
        for definition in self.config.journeys:
            check_tags(validate(definition, plugins.registry), known)
        self.context = pipeline.Context(
            config=self.config,
            registry=plugins.registry,
            journeys=JourneyIndex(self.config.journeys),
            triggers=pipeline.journey_triggers(self.config.journeys),
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        config: ProgrammeConfig,
        clock: Clock | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        **options: Any,
    ) -> Engine:
        """Open the store at ``url`` through the plugin serving its scheme.

        Args:
            url: ``memory://``, ``sqlite:///path/to/file.db``, or a plugin's scheme.
            config: the programme.
            clock: where ``now`` comes from; by default the clock a plugin provides.
            plugin_manager: the plugins to use (by default the installed ones).
            options: passed to :class:`Engine` (``batch_size``...).

        Raises:
            UnknownStoreError: no plugin serves the URL's scheme.
            EngineError: no clock was given and no plugin provides one.
            PluginError: a plugin failed, naming it (a store lacking a role of the
                store port included, naming what it lacks).
            JourneyDefinitionError: a journey names a condition or action no plugin has.
        """
        manager = plugin_manager or make_plugin_manager()
        plugins = collect(manager, config)
        scheme = url.partition(":")[0]
        opener = plugins.stores.get(scheme)
        if opener is None:
            raise UnknownStoreError(url, scheme, tuple(sorted(plugins.stores)))
        clock = clock or plugins.clock
        if clock is None:
            raise EngineError("no clock given and no installed plugin provides one")
        store = opener.value(url)
        missing = lacks(store)
        if missing:
            closing = getattr(store, "close", None)
            if callable(closing):
                closing()
            problem = f"the store it opened for {scheme}:// lacks {'; '.join(missing)}"
            raise PluginError(opener.plugin, problem)
        return cls(store, config, clock=clock, plugins=plugins, **options)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        """The clock's instant (timezone-aware)."""
        return require_aware("clock", self.clock.now())

    # -- units of work -------------------------------------------------------------------

    def unit_of_work(self, now: datetime) -> UnitOfWork:
        """A unit of work over the engine's store and record cache, deciding at ``now``."""
        return UnitOfWork(
            self.store,
            self._records,
            self.config,
            now,
            snapshot_every=self.snapshot_every,
            observers=self.observers,
        )

    def retrying(self, work: Callable[[], T], what: str) -> tuple[T, int]:
        """Run ``work`` until it commits without a version conflict, ``retries`` times at most.

        Raises:
            GaveUpError: every attempt met a conflict; names ``what`` and the records.
        """
        conflicts: Counter[str] = Counter()
        for attempt in range(self.retries):
            try:
                with collector_paused(self.pause_gc):
                    return work(), attempt
            except VersionConflictError as conflict:
                conflicts.update(conflict.conflicts.keys())
                log.debug(
                    "%s: version conflict on %d records, retried", what, len(conflict.conflicts)
                )
                pause(self.clock, id(self), attempt)
        log.warning("%s: gave up after %d conflicts", what, self.retries)
        raise GaveUpError(what, self.retries, dict(conflicts))

    # -- ingestion -----------------------------------------------------------------------

    def ingest(
        self,
        inputs: Iterable[Input],
        *,
        now: datetime | None = None,
        history: bool = False,
        cutoff: datetime | None = None,
        source: str | None = None,
    ) -> IngestReport:
        """Take facts (and member or household commands) in batches.

        Each fact is decided at the instant it happened (never before what its member's
        record has already decided), and within a batch in that order; timers and
        everything else due on the record before it run first, at their own instants
        (what falls due after the last fact is the next tick's). A message or task a
        journey step asks for goes out only while the step is still useful (its
        ``stale_after``).

        With ``history``, the inputs are a hospital's past, in the order it happened
        (``membercore import`` sorts a file so): each fact is decided as if the
        programme had run at the time, ticks in between, to the same points, tiers,
        plans and journey states; a message or task dated before ``cutoff`` is recorded
        as skipped because historical and given to no one. At the end every record the
        history touched is brought up to ``cutoff`` the same way.

        Args:
            inputs: facts, commands, tagged dicts (JSON objects with a ``type``) or JSON
                text; or ``(instant, input)`` pairs, each learnt of at its own instant.
            now: when the programme learns of them (by default the clock's, per batch).
            history: load history (see above).
            cutoff: for history, the instant before which nothing reaches anyone (by
                default ``now``: the import's start).
            source: the name of the source the inputs come from: each batch's commit
                stores, with its facts, the position of its last input wrapped in
                :class:`~membercore.ports.Positioned` (:meth:`position` reads it back:
                where the source resumes after a restart, nothing twice, nothing lost).

        Returns:
            Counts of inputs applied, duplicates and rejected, commits made, and each
            input refused with its place among ``inputs`` and the reason.
        """
        ctx = self.context
        touched: set[str] = set()
        if history:
            start = require_aware("now", now) if now is not None else self.now()
            cutoff = require_aware("cutoff", cutoff) if cutoff is not None else start
            if cutoff > start + self.clock_skew:
                problem = f"the cutoff {cutoff.isoformat()} is after now ({start.isoformat()})"
                raise EngineError(f"{problem}: a history ends before the programme's present")
            ctx = attrs.evolve(ctx, history=True, cutoff=cutoff, imported_at=start)
        elif cutoff is not None:
            raise EngineError("a cutoff is for loading history: pass history=True")
        report = IngestReport()
        first = 0
        for chunk in chunks(inputs, self.batch_size):
            at = require_aware("now", now) if now is not None else self.now()
            reached = _reached(source, chunk) if source is not None else None
            batch = ingest_batch(self, chunk, at, ctx, touched, reached=reached, first=first)
            _log_batch(batch, len(chunk), source)
            report += batch
            first += len(chunk)
        if history and cutoff is not None:
            ticking.tick_keys(self, sorted(touched), cutoff, ctx)
        return report

    def position(self, source: str) -> str | None:
        """The position ``source`` last committed (see :meth:`ingest`), or None."""
        return self.store.position(source)

    # -- time ----------------------------------------------------------------------------

    def tick(
        self,
        now: datetime | None = None,
        *,
        limit: int = 1000,
        where: Callable[[str], bool] | None = None,
    ) -> TickReport:
        """Run everything due by ``now``: journey timers, plan terms, expiry, tier reviews.

        Records are taken earliest due first, ``limit`` per commit, until none is due.
        Each page is claimed (:meth:`~membercore.ports.Store.claim_due`) under
        :attr:`worker` for :attr:`tick_lease`, so engines ticking one store at once
        never decide the same member together; committing a ticked record releases its
        claim. With ``where``, the due records are listed instead, unclaimed: the
        workers' shares are disjoint already.

        Args:
            now: the instant to run to (by default the clock's).
            limit: records per commit.
            where: tick only the members whose id it accepts (a worker's share).
        """
        at = require_aware("now", now) if now is not None else self.now()
        ticked = ticking.tick(self, at, limit, where)
        if ticked.records:
            log.info(
                "ticked %d records to %s: %d events", ticked.records, at.isoformat(), ticked.events
            )
        return ticked

    # -- commands ------------------------------------------------------------------------

    def execute(self, command: AnyCommand, *, now: datetime | None = None) -> tuple[object, ...]:
        """Carry out one command at once and return the events it made.

        Every command the library exports is carried out here (see
        :data:`membercore.service.use_cases.HANDLERS`), those that touch several records (a
        transfer, a merge, a gift from the stock, a quota the household shares) in one
        unit of work.

        Raises:
            MembercoreError: the command was refused (the error says why); nothing changed.
        """
        at = require_aware("now", now) if now is not None else self.now()
        keys = route(command)
        command = as_typed(command)  # type: ignore[assignment]

        def work() -> tuple[object, ...]:
            uow = self.unit_of_work(at)
            uow.load(keys)
            uow.load_households()
            uow.mark()
            events = handle(uow, self.context, command, at)
            if events:
                uow.log_input(command, at, [*uow.changed(), *keys])
            uow.commit()
            return events

        events, _ = self.retrying(work, describe(command))
        return events

    # -- delivery ------------------------------------------------------------------------

    def dispatch(
        self,
        channels: Mapping[str, Channel],
        now: datetime | None = None,
        *,
        limit: int = 1000,
        backoff: Backoff | None = None,
        worker: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
    ) -> DispatchReport:
        """Hand the messages due by ``now`` to their channels, each checked again first.

        Each claimed message is checked on its member's record at that instant — still
        queued, the member alive, consent for its purpose on its channel, outside quiet
        hours, within the weekly cap (:mod:`membercore.service.delivery`); what fails is
        cancelled with the reason and never sent.

        Args:
            channels: the channels by name (``wecom``, ``sms``, ``email``).
            now: the instant of the hand-over (by default the clock's).
            limit: how many messages at most.
            backoff: the retry policy for failed deliveries.
            worker: the name this dispatcher claims under (by default the engine's).
            lease: how long its claims hold.
        """
        at = require_aware("now", now) if now is not None else self.now()
        sent = deliver(
            self,
            channels,
            at,
            limit=limit,
            backoff=backoff or Backoff(),
            worker=worker or self.worker,
            lease=lease,
        )
        if sent != DispatchReport():
            log.info(
                "handed over: %d delivered, %d to retry, %d given up, %d cancelled, "
                "%d held for quiet hours",
                sent.delivered,
                sent.retrying,
                sent.failed,
                sent.cancelled,
                sent.held,
            )
        return sent

    def channels(self) -> dict[str, Channel]:
        """The channels the programme's ``[channels]`` tables configure, built by the plugins.

        Raises:
            ConfigError: a table names a factory no plugin registered, an option is
                refused (``channels.<name>.<option>``), or a channel cannot carry a
                template that may go by it.
            PluginError: a plugin's factory failed.
        """
        return build_channels(self.config, self.plugins)

    def note_deliveries(
        self, notes: Sequence[NoteDelivery], now: datetime | None = None
    ) -> tuple[object, ...]:
        """Note on each member's record what became of a message handed to its channel.

        :meth:`dispatch` notes its failed deliveries so; a hospital's own delivery
        receipts (a provider's callback its web server takes) may be noted the same
        way. A message given up falls back to the member's next channel; one that the
        record no longer holds or already knows delivered is passed over.

        Returns:
            The events the notes made (the failures, deliveries and fallbacks).
        """
        at = require_aware("now", now) if now is not None else self.now()
        return outcomes.note(self, notes, at)

    def read_reports(
        self,
        channels: Mapping[str, Channel],
        now: datetime | None = None,
        *,
        window: timedelta = timedelta(days=3),
        limit: int = 1000,
    ) -> ReportsRead:
        """Ask the channels what their providers said since, and note it on the records.

        Each channel that reads reports (:class:`~membercore.ports.ReportingChannel`)
        is handed the messages it acknowledged in the last ``window`` that have no
        report yet (``limit`` at most); a message reported delivered becomes a
        ``message_delivered`` event, one reported undeliverable a failure that falls
        back; a reply that is an opt-out word withdraws marketing consent on the
        channel for the members a marketing message went to at that address
        (:mod:`membercore.service.outcomes`).
        """
        at = require_aware("now", now) if now is not None else self.now()
        read = outcomes.read_reports(self, channels, at, window=window, limit=limit)
        if read != ReportsRead():
            log.info(
                "reports: %d delivered, %d undeliverable, %d replies, %d opted out, "
                "%d channels not read",
                read.delivered,
                read.undeliverable,
                read.replies,
                read.opted_out,
                read.unreadable,
            )
        return read

    # -- views ---------------------------------------------------------------------------

    def member(self, member_id: str) -> Member:
        """A member's whole record.

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        at = self.now()
        uow = self.unit_of_work(at)
        state: Member = uow.require_member(member_id).state
        noted(self.store, member_id, at)
        return state

    def reading_as(
        self, who: str, purpose: str
    ) -> contextlib.AbstractContextManager[reading.Reader]:
        """Within the block, record a look-up of each member the views read, once each.

        For a hospital's own code reading members' records on someone's behalf
        (:mod:`membercore.service.reading`): ``who`` reads (a staff id, a system's
        name), ``purpose`` says why; each look-up is ``via="engine"``.

        Raises:
            InvalidFactError: ``who`` or ``purpose`` is empty.
        """
        return reading.reading_as(who, purpose)

    def standing(self, member_id: str) -> benefits.Standing:
        """What the member holds now for benefits.

        Tier, plans with their terms (a relative's family plan that covers them
        included), programmes and household: the same standing the commands use.

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        return self.benefits_held(member_id)[0]

    def shared_quotas(self, member_id: str) -> tuple[benefits.QuotaState, ...]:
        """The quota uses the member draws on: their own, and their household's."""
        return self.benefits_held(member_id)[1]

    def benefits_held(
        self, member_id: str
    ) -> tuple[benefits.Standing, tuple[benefits.QuotaState, ...]]:
        """The member's standing now and the quota uses they draw on, read at once.

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        uow = self.unit_of_work(self.now())
        member: Member = uow.require_member(member_id).state
        held = standing(member, self.config, uow.now, relatives=uow.load_relatives(member))
        household = uow.household_of(member)
        shared = (household.state.quotas,) if household is not None else ()
        return held, (member.quotas, *shared)


def _log_batch(batch: IngestReport, size: int, source: str | None) -> None:
    """What one batch did, at INFO: counts, never a patient's details.

    The core reads no clock for durations: the log record's own time stamps the call.
    Each refusal's reason (which may quote what was sent) is logged at DEBUG; the dead
    letter keeps it.
    """
    log.info(
        "ingested %d inputs%s: %d applied, %d duplicates, %d refused, %d commits, %d retries",
        size,
        f" from {source}" if source else "",
        batch.applied,
        batch.duplicates,
        batch.rejected,
        batch.commits,
        batch.retries,
    )
    for place, reason in batch.refusals:
        log.debug("input %d refused: %s", place, reason)


def _reached(source: str, chunk: Sequence[object]) -> SourcePosition | None:
    """The position of the last input of ``chunk`` that names one, for ``source``."""
    for item in reversed(chunk):
        held = item[1] if isinstance(item, tuple) and len(item) == 2 else item
        if isinstance(held, Positioned):
            return SourcePosition(source=source, position=held.position)
    return None
