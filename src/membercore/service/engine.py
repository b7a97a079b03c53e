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

import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any, TypeVar

import attrs
import pluggy

from membercore import benefits, households
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    EngineError,
    GaveUpError,
    InvalidFactError,
    MembercoreError,
    StorageError,
    UnknownMemberError,
    UnknownStoreError,
    UnreadableError,
    VersionConflictError,
)
from membercore.facts import Fact, PatientRegistered
from membercore.idempotency import fingerprint, matches
from membercore.journeys import JourneyIndex, check_tags, validate
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import Clock, DeadLetter, Positioned, Store, Unreadable
from membercore.serialization import message_from_dict, message_to_dict, message_types
from membercore.service import pipeline, plausibility
from membercore.service.calls import MemberCalls
from membercore.service.limits import InputLimits, check, parse, printable, small, truncated
from membercore.service.member import Member, standing
from membercore.service.recording import HOUSEHOLD, MEMBER, dead_letter, household_key, member_key
from membercore.service.unit_of_work import RecordCache, UnitOfWork, decode
from membercore.service.use_cases import (
    AnyCommand,
    context,
    count_work,
    handle,
    household_view,
    route,
    run,
    view_of,
)
from membercore.text import brief

__all__ = ["Engine", "IngestReport", "Input", "Message", "TickReport", "household_view"]

T = TypeVar("T")

#: What ingestion takes: a fact or command, a tagged dict or JSON text; or one of those
#: with the instant to decide it at.
Message = Fact | AnyCommand | Mapping[str, Any] | str | Unreadable | Positioned
Input = Message | tuple[datetime, Message]


@attrs.frozen
class IngestReport:
    """What an ingestion did.

    Attributes:
        applied: facts and commands taken (including those that changed nothing new).
        duplicates: facts already taken before (same id, same content).
        rejected: inputs refused, now in the dead letters with their reason.
        commits: transactions committed.
        retries: commits retried after a version conflict.
    """

    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    commits: int = 0
    retries: int = 0

    def __add__(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            *(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )


@attrs.frozen
class TickReport:
    """What a tick did: records ticked and events decided."""

    records: int = 0
    events: int = 0


@attrs.frozen
class _Input:
    """One input read: the message, what was received, the instant to decide it at."""

    message: object
    raw: object
    at: datetime


def _timed(item: object, now: datetime) -> tuple[datetime, object]:
    """An input and the instant to decide it at: its own, when given as a pair."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], datetime):
        return item[0], item[1]
    return now, item


#: What reading or deciding a malformed input can raise besides membercore's own errors:
#: the input's fault, kept as a dead letter with its reason, never a reason to stop.
_INPUT_FAULTS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    UnicodeError,
    ValueError,
)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
            have changed it since (its events in between bring it up to date).
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
            PluginError: a plugin failed, naming it.
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

    def _unit(self, now: datetime) -> UnitOfWork:
        return UnitOfWork(
            self.store,
            self._records,
            self.config,
            now,
            snapshot_every=self.snapshot_every,
            observers=self.observers,
        )

    def _retrying(self, work: Callable[[], T], what: str) -> tuple[T, int]:
        """Run ``work`` until it commits without a version conflict, ``retries`` times at most.

        Raises:
            GaveUpError: every attempt met a conflict; names ``what`` and the records.
        """
        conflicts: Counter[str] = Counter()
        for attempt in range(self.retries):
            try:
                with self._collector_paused():
                    return work(), attempt
            except VersionConflictError as conflict:
                conflicts.update(conflict.conflicts.keys())
                self._pause(attempt)
        raise GaveUpError(what, self.retries, dict(conflicts))

    @contextmanager
    def _collector_paused(self) -> Iterator[None]:
        """Python's cyclic garbage collector off for the block, when ``pause_gc``."""
        if not (self.pause_gc and gc.isenabled()):
            yield
            return
        gc.disable()
        try:
            yield
        finally:
            gc.enable()

    def _pause(self, attempt: int) -> None:
        """Wait a little before trying again, longer each time, differently per engine.

        Writers that collided and retry at once collide again; a wait that grows and
        differs between engines (a spread drawn from the engine's identity, as the core
        draws no random numbers) lets one of them through. A clock without ``sleep``
        (a manual one) does not wait.
        """
        sleep = getattr(self.clock, "sleep", None)
        if not callable(sleep):
            return
        spread = 0.5 + (hash((id(self), attempt)) % 1000) / 1000
        sleep(min(0.002 * 2**attempt, 0.1) * spread)

    # -- ingestion -----------------------------------------------------------------------

    def ingest(self, inputs: Iterable[Input], *, now: datetime | None = None) -> IngestReport:
        """Take facts (and member or household commands) in batches.

        Args:
            inputs: facts, commands, tagged dicts (JSON objects with a ``type``) or JSON
                text; or ``(instant, input)`` pairs, each decided at its own instant (to
                replay history in order).
            now: the instant of the decisions (by default the clock's, per batch).

        Returns:
            Counts of inputs applied, duplicates and rejected, and commits made.
        """
        report = IngestReport()
        for chunk in _chunks(inputs, self.batch_size):
            at = require_aware("now", now) if now is not None else self.now()
            report += self._ingest_batch(chunk, at)
        return report

    def _ingest_batch(self, raws: Sequence[object], now: datetime) -> IngestReport:
        read: list[_Input] = []
        refused = []
        for item in raws:
            at, raw = _timed(item, now)
            data: object = None
            try:
                require_aware("the instant paired with an input", at)
                if at > now + self.clock_skew:
                    raise InvalidFactError(
                        "message",
                        "instant",
                        at.isoformat(),
                        f"an input is decided at an instant after the decision instant "
                        f"{now.isoformat()} (more than the clock skew): history is replayed, "
                        "never the future",
                    )
                data = _data(raw, self.limits)
                message = message_from_dict(data) if isinstance(data, Mapping) else data
                _routing_key(message)
            except (MembercoreError, *_INPUT_FAULTS) as error:
                refused.append(self._dead(data, raw, _reason(error), now))
                continue
            read.append(_Input(message, raw, at))
        what = f"ingesting a batch of {len(raws)} inputs"
        (report, retries) = self._retrying(lambda: self._apply(read, refused, now), what)
        return attrs.evolve(report, retries=retries)

    def _apply(self, read: list[_Input], refused: list[Any], now: datetime) -> IngestReport:
        uow = self._unit(now)
        uow.dead.extend(refused)
        facts = [item.message for item in read if isinstance(item.message, Fact)]
        stored = self.store.seen([fact.fact_id for fact in facts]) if facts else {}
        taken: dict[str, str] = dict(stored)
        fresh: list[tuple[_Input, str | None]] = []
        duplicates = 0
        for item in read:
            message, digest = item.message, None
            if isinstance(message, Fact):
                if message.occurred_at > item.at + self.clock_skew:
                    uow.dead.append(
                        self._dead(message, item.raw, _from_the_future(message, item.at), now)
                    )
                    continue
                digest = fingerprint(message)
                prior = taken.get(message.fact_id)
                if prior is not None and matches(prior, message):
                    duplicates += 1
                    continue
                if prior is not None:
                    reason = f"fact id {message.fact_id!r} was taken before with other content"
                    uow.dead.append(self._dead(message, item.raw, reason, now))
                    continue
                taken[message.fact_id] = digest
            fresh.append((item, digest))
        uow.load(key for item, _ in fresh for key in _routing_key(item.message))
        uow.load_households()
        applied = 0
        for item, digest in fresh:
            message = item.message
            mark = uow.mark()
            try:
                key, made = self._decide(uow, message, item.at)
            except StorageError:
                raise
            except (MembercoreError, *_INPUT_FAULTS) as error:
                # Whatever the input had changed before it was refused is undone.
                uow.restore(mark)
                uow.dead.append(self._dead(message, item.raw, _reason(error), now))
                continue
            if not made:
                duplicates += 1  # a command carried out before: nothing new
                continue
            applied += 1
            if isinstance(message, Fact) and digest is not None:
                uow.take_fact(message.fact_id, key, digest)
        committed = uow.commit()
        return IngestReport(
            applied=applied,
            duplicates=duplicates,
            rejected=len(uow.dead),
            commits=int(committed),
        )

    def _dead(self, message: object, raw: object, reason: str, now: datetime) -> DeadLetter:
        """A dead letter, its reason and the input it keeps cut to the limits.

        ``message`` is what could be read of the input (a message, or the tagged dict a
        text held), to name the dead letter by its fact id and type.
        """
        limits = self.limits
        if isinstance(raw, Positioned):
            reason, raw = f"{raw.position}: {reason}", raw.raw
        if not isinstance(raw, str) and not small(raw, limits.max_payload):
            # Too large to write out whole (it would cost more than refusing it did).
            message = raw if message is None and isinstance(raw, Mapping) else message
            raw = f"{brief(raw)} [too large to keep whole]"
        letter = dead_letter(message, raw, reason, now)
        return attrs.evolve(
            letter,
            fact_id=printable(truncated(letter.fact_id, limits.max_id)),
            fact_type=printable(truncated(letter.fact_type, limits.max_id)),
            payload=truncated(letter.payload, limits.max_payload),
            reason=printable(truncated(letter.reason, limits.max_reason)),
        )

    def _decide(self, uow: UnitOfWork, message: object, now: datetime) -> tuple[str, bool]:
        """Decide one input: the key of the record that took it, and whether it was new."""
        if not isinstance(message, Fact):
            events = handle(uow, self.context, message, now)
            # A command without a key (expire what is due...) is never a replay.
            return "", bool(events) or not getattr(message, "key", None)
        create = isinstance(message, PatientRegistered) or not self.require_registration
        held = uow.member(message.patient_id, create=create)
        if held is None:
            raise UnknownMemberError(message.patient_id)
        plausibility.check(message, held.state, self.config, now)
        survivor = held.state.identity.merged_into
        if survivor is not None:
            # The person's facts go on under the record they were merged into.
            held = uow.require_member(survivor)
            message = attrs.evolve(message, patient_id=survivor)
        run(uow, self.context, held, message, now)
        return held.key, True

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
        if where is None:
            return self._tick_claimed(at, limit)
        records = events = 0
        page = limit
        while True:
            due = self.store.due(at, page)
            keys = [key for key, _ in due if where is None or where(_member_id(key))]
            if keys:
                work = partial(self._tick_batch, keys[:limit], at)
                count, _ = self._retrying(work, f"ticking {len(keys[:limit])} records")
                records += len(keys[:limit])
                events += count
            if len(due) < page:
                break
            if not keys:
                # Every record due first is another worker's: look further ahead.
                page *= 2
        return TickReport(records=records, events=events)

    def _tick_claimed(self, at: datetime, limit: int) -> TickReport:
        """Tick pages of claimed due records until a claim comes back short.

        A worker takes its own claims back (it may have been started again under its
        name), so a record this call ticked and could not release ends the call.
        """
        records = events = 0
        ticked: set[str] = set()
        while True:
            claimed = self.store.claim_due(at, limit, worker=self.worker, lease=self.tick_lease)
            keys = [key for key, _ in claimed if key not in ticked]
            ticked.update(keys)
            if not keys:
                break
            if keys:
                work = partial(self._tick_batch, keys, at)
                count, _ = self._retrying(work, f"ticking {len(keys)} records")
                records += len(keys)
                events += count
            if not claimed or len(claimed) < limit:
                break
        return TickReport(records=records, events=events)

    def _tick_batch(self, keys: list[str], now: datetime) -> int:
        uow = self._unit(now)
        uow.load(keys)
        uow.load_households()
        count = 0
        for key in keys:
            held = uow.records.get(key)
            if held is None or not isinstance(held.state, Member):
                continue
            view = view_of(uow, held.state)
            # A record ticked with nothing to do still has its due instant moved on.
            held.touched = True
            try:
                outcome = pipeline.tick(held.state, context(uow, self.context), now, household=view)
            except (MembercoreError, *_INPUT_FAULTS) as error:
                # One member's failure never holds the others up: kept with its reason.
                note = f"tick of member {held.state.member_id} failed: {_reason(error)}"
                uow.dead.append(self._dead(None, f"tick {key} at {now.isoformat()}", note, now))
                continue
            count_work(uow.loads, outcome.events)
            held.take(outcome.member, outcome.events)
            count += len(outcome.events)
        uow.commit(after=now)
        return count

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
            uow = self._unit(at)
            uow.load(keys)
            uow.load_households()
            events = handle(uow, self.context, command, at)
            uow.commit()
            return events

        events, _ = self._retrying(work, _describe(command))
        return events

    # -- views ---------------------------------------------------------------------------

    def member(self, member_id: str) -> Member:
        """A member's whole record.

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        uow = self._unit(self.now())
        state: Member = uow.require_member(member_id).state
        return state

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
        uow = self._unit(self.now())
        member: Member = uow.require_member(member_id).state
        held = standing(member, self.config, uow.now, relatives=uow.load_relatives(member))
        household = uow.household_of(member)
        shared = (household.state.quotas,) if household is not None else ()
        return held, (member.quotas, *shared)

    def household(self, household_id: str) -> households.HouseholdState | None:
        """A household's record, if it is stored."""
        key = household_key(household_id)
        record = self.store.load([key]).get(key)
        if record is None:
            return None
        state: households.HouseholdState = decode(self.store, self._records, record)
        return state

    def members(self, where: Callable[[str], bool] | None = None) -> Iterator[Member]:
        """Every member's record, streamed in id order.

        Args:
            where: keep only the members whose id it accepts (checked before a record
                is read, so that the others cost nothing).
        """
        for record in self.store.scan(MEMBER):
            if where is None or where(_member_id(record.key)):
                yield decode(self.store, self._records, record)

    def households(self) -> Iterator[households.HouseholdState]:
        """Every household's record, streamed in id order."""
        for record in self.store.scan(HOUSEHOLD):
            yield decode(self.store, self._records, record)


def _member_id(key: str) -> str:
    return key.removeprefix(MEMBER)


def _data(raw: object, limits: InputLimits) -> object:
    """What an input holds, read and checked within the limits: a tagged dict or a message."""
    if isinstance(raw, Positioned):
        return _data(raw.raw, limits)
    if isinstance(raw, Unreadable):
        raise UnreadableError(raw.reason)
    if isinstance(raw, str):
        data = parse(raw, limits)
        if not isinstance(data, dict):
            raise InvalidFactError("message", "json", raw, "a message is a JSON object")
        return data
    if isinstance(raw, Mapping):
        tag = raw.get("type")
        check(raw, limits, kind=tag if isinstance(tag, str) else "message")
        return raw
    return as_typed(raw, limits)


def as_typed(message: object, limits: InputLimits | None = None) -> object:
    """A fact or command built in code, checked as strictly as one read from JSON.

    attrs does not check types: a fact built with ``amount_fen=12.5`` or ``lines="x"``
    would be decided and stored, and its record could not be read again. Written out,
    checked within ``limits`` (when given) and read back through the strict converter,
    it is refused instead, naming the field.

    Raises:
        InvalidFactError: a field holds a value its type does not take, or one past
            the limits.
    """
    tag = getattr(message, "TYPE", None)
    if not isinstance(tag, str):
        if limits is not None:
            check(message, limits)
        return message
    try:
        data = message_to_dict(message)
    except TypeError as error:
        if "is not a membercore message type" in str(error):
            return message  # not a message: the routing refuses it, saying so
        raise InvalidFactError(tag, "message", message, f"cannot be written: {error}") from None
    except (ValueError, AttributeError, RecursionError) as error:
        raise InvalidFactError(tag, "message", message, f"cannot be written: {error}") from None
    if limits is not None:
        check(data, limits, kind=tag)
    return message_from_dict(data)


def _reason(error: BaseException) -> str:
    """Why an input was refused: membercore's own words, else what went wrong where."""
    if isinstance(error, MembercoreError):
        return str(error)
    return f"could not be read or decided ({type(error).__name__}: {brief(str(error))[1:-1]})"


def _describe(command: object) -> str:
    named = [
        f"{name} {value!r}"
        for name in ("member_id", "household_id", "key")
        if isinstance(value := getattr(command, name, None), str)
    ]
    return f"{getattr(command, 'TYPE', type(command).__name__)} ({', '.join(named)})"


def _from_the_future(fact: Fact, at: datetime) -> str:
    return (
        f"occurred_at {fact.occurred_at.isoformat()} is {fact.occurred_at - at} after the "
        f"decision instant {at.isoformat()}: more than the clock skew allowed"
    )


def _routing_key(message: object) -> list[str]:
    """The records a message needs, or an error saying why it cannot be taken."""
    if isinstance(message, Fact):
        return [member_key(message.patient_id)]
    return route(message)
