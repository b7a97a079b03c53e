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
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any, TypeVar

import attrs
import pluggy

from membercore import households, pipeline
from membercore.calls import MemberCalls
from membercore.clinical import PatientRegistered
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    EngineError,
    HouseholdMembershipError,
    MembercoreError,
    UnknownMemberError,
    UnknownStoreError,
    VersionConflictError,
)
from membercore.facts import Fact
from membercore.idempotency import fingerprint, matches
from membercore.journeys import JourneyIndex, validate
from membercore.member import Member
from membercore.member import evolve as evolve_member
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import Clock, Record, Store, StoredEvent
from membercore.recording import (
    HOUSEHOLD,
    MEMBER,
    Working,
    Workspace,
    dead_letter,
    household_key,
    member_key,
    read_state,
)
from membercore.segments import FamilyStatus
from membercore.serialization import message_from_dict, message_from_json
from membercore.tasks import HealthManagerAssigned, TaskCreated

__all__ = ["Engine", "IngestReport", "TickReport", "household_view"]

T = TypeVar("T")
_HOUSEHOLD_COMMANDS = (
    households.FormHousehold,
    households.AddDependent,
    households.RemoveDependent,
)


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
        return require_aware("instant", item[0]), item[1]
    return now, item


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
        self._cache: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._cache_size = cache_size
        if snapshot_every < 1:
            raise EngineError(f"snapshot_every must be at least 1, got {snapshot_every}")
        self.snapshot_every = snapshot_every
        self.observers = tuple(observers)
        self.worker = worker if worker is not None else f"engine-{id(self):x}"
        self.tick_lease = tick_lease
        self.pause_gc = pause_gc
        for definition in self.config.journeys:
            validate(definition, plugins.registry)
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

    def _load(self, space: Workspace, keys: Iterable[str]) -> None:
        wanted = [key for key in dict.fromkeys(keys) if key not in space.records]
        if not wanted:
            return
        found = self.store.load(wanted)
        # In the order asked for, whatever order the store answers in: what a unit of work
        # writes (the outbox above all) must not depend on it.
        records = {key: found[key] for key in wanted if key in found}
        states = {key: self._state(record) for key, record in records.items()}
        space.add_loaded(records, states)
        for key, record in records.items():
            self._remember(key, record.version, states[key])

    def _remember(self, key: str, version: int, state: Any) -> None:
        self._cache[key] = (version, state)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _space(self, now: datetime) -> Workspace:
        space = Workspace(self.config, now, snapshot_every=self.snapshot_every)
        # Staff are balanced by their open tasks, as the store counts them when the unit
        # of work starts and as it assigns more.
        space.loads = Counter(self.store.task_loads()) if self.config.staff.staff else Counter()
        return space

    def _context(self, space: Workspace) -> pipeline.Context:
        if not space.loads:
            return self.context
        return attrs.evolve(self.context, loads=dict(space.loads))

    def _state(self, record: Record) -> Any:
        """A stored record's state: the one kept for its version, else decoded."""
        cached = self._cache.get(record.key)
        if cached is not None and cached[0] == record.version:
            return cached[1]
        journal: tuple[StoredEvent, ...] = ()
        if record.snapshot_version < record.version:
            journal = tuple(self.store.events(record.key, after_version=record.snapshot_version))
        return read_state(record, journal)

    def _households_of(self, space: Workspace) -> None:
        self._load(
            space,
            [
                household_key(held.state.household_id)
                for held in list(space.records.values())
                if isinstance(held.state, Member) and held.state.household_id
            ],
        )

    def _commit(self, space: Workspace, *, after: datetime | None = None) -> bool:
        commit, written = space.commit(after=after)
        if not commit:
            return False
        try:
            self.store.commit(commit)
        except VersionConflictError as conflict:
            for key in conflict.conflicts:
                self._cache.pop(key, None)
            raise
        for key, (version, state) in written.items():
            self._remember(key, version, state)
        if self.observers:
            events = [event for held in space.records.values() for event in held.events]
            for observer in self.observers:
                observer(events)
        return True

    def _retrying(self, work: Callable[[], T]) -> tuple[T, int]:
        for attempt in range(self.retries):
            try:
                with self._collector_paused():
                    return work(), attempt
            except VersionConflictError:
                self._pause(attempt)
        raise EngineError(f"gave up after {self.retries} version conflicts in a row")

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

    def ingest(self, inputs: Iterable[object], *, now: datetime | None = None) -> IngestReport:
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

    def _ingest_batch(self, raws: list[object], now: datetime) -> IngestReport:
        read: list[_Input] = []
        refused = []
        for item in raws:
            at, raw = _timed(item, now)
            try:
                message = _read(raw)
                _routing_key(message)
            except MembercoreError as error:
                refused.append(dead_letter(None, raw, str(error), now))
                continue
            read.append(_Input(message, raw, at))
        (report, retries) = self._retrying(lambda: self._apply(read, refused, now))
        return attrs.evolve(report, retries=retries)

    def _apply(self, read: list[_Input], refused: list[Any], now: datetime) -> IngestReport:
        space = self._space(now)
        space.dead.extend(refused)
        facts = [item.message for item in read if isinstance(item.message, Fact)]
        stored = self.store.seen([fact.fact_id for fact in facts]) if facts else {}
        taken: dict[str, str] = dict(stored)
        fresh: list[tuple[_Input, str | None]] = []
        duplicates = 0
        for item in read:
            message, digest = item.message, None
            if isinstance(message, Fact):
                digest = fingerprint(message)
                prior = taken.get(message.fact_id)
                if prior is not None and matches(prior, message):
                    duplicates += 1
                    continue
                if prior is not None:
                    reason = f"fact id {message.fact_id!r} was taken before with other content"
                    space.dead.append(dead_letter(message, item.raw, reason, now))
                    continue
                taken[message.fact_id] = digest
            fresh.append((item, digest))
        self._load(space, [key for item, _ in fresh for key in _routing_key(item.message)])
        self._households_of(space)
        applied = 0
        for item, digest in fresh:
            message = item.message
            try:
                self._decide(space, message, item.at)
            except MembercoreError as error:
                space.dead.append(dead_letter(message, item.raw, str(error), now))
                continue
            applied += 1
            if isinstance(message, Fact) and digest is not None:
                space.take_fact(message.fact_id, member_key(message.patient_id), digest)
        committed = self._commit(space)
        return IngestReport(
            applied=applied,
            duplicates=duplicates,
            rejected=len(space.dead),
            commits=int(committed),
        )

    def _decide(self, space: Workspace, message: object, now: datetime) -> None:
        if isinstance(message, _HOUSEHOLD_COMMANDS):
            self._household(space, message, now)
            return
        member_id = _member_of(message)
        create = isinstance(message, PatientRegistered) or not self.require_registration
        held = space.member(member_id, create=create)
        if held is None:
            raise UnknownMemberError(member_id)
        self._run(space, held, message, now)

    def _run(self, space: Workspace, held: Working, message: object, now: datetime) -> None:
        member: Member = held.state
        view = self._household_view(space, member)
        outcome = pipeline.run(message, member, self._context(space), now, household=view)
        held.state = outcome.member
        held.events.extend(outcome.events)
        _count_work(space.loads, outcome.events)

    def _household_view(self, space: Workspace, member: Member) -> pipeline.Household | None:
        if member.household_id is None:
            return None
        held = space.records.get(household_key(member.household_id))
        if held is None:
            return None
        return household_view(held.state, member.member_id)

    def _household(self, space: Workspace, command: Any, now: datetime) -> None:
        held = space.household(command.household_id)
        events = households.decide(command, held.state, now, self.config.tz)
        concerned = {_concerns(event) for event in events} - {None}
        self._load(space, [member_key(member_id) for member_id in concerned if member_id])
        for member_id in concerned:
            joining = space.member(member_id) if member_id else None
            if member_id and joining is None:
                raise UnknownMemberError(member_id)
            held_by = joining.state.household_id if joining is not None else None
            if member_id and held_by not in (None, command.household_id):
                leaving = any(isinstance(event, households.DependentRemoved) for event in events)
                if not leaving:
                    raise HouseholdMembershipError(
                        command.household_id, member_id, f"already belongs to household {held_by}"
                    )
        for event in events:
            held.state = households.evolve(held.state, event)
            held.events.append(event)
            member_id = _concerns(event)
            working = space.member(member_id) if member_id else None
            if working is not None:
                working.state = evolve_member(working.state, event)
                working.events.append(event)

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
                count, _ = self._retrying(partial(self._tick_batch, keys[:limit], at))
                records += len(keys[:limit])
                events += count
            if len(due) < page:
                break
            if not keys:
                # Every record due first is another worker's: look further ahead.
                page *= 2
        return TickReport(records=records, events=events)

    def _tick_claimed(self, at: datetime, limit: int) -> TickReport:
        """Tick pages of claimed due records until a claim comes back short."""
        records = events = 0
        while True:
            claimed = self.store.claim_due(at, limit, worker=self.worker, lease=self.tick_lease)
            keys = [key for key, _ in claimed]
            if keys:
                count, _ = self._retrying(partial(self._tick_batch, keys, at))
                records += len(keys)
                events += count
            if not claimed or len(claimed) < limit:
                break
        return TickReport(records=records, events=events)

    def _tick_batch(self, keys: list[str], now: datetime) -> int:
        space = self._space(now)
        self._load(space, keys)
        self._households_of(space)
        count = 0
        for key in keys:
            held = space.records.get(key)
            if held is None or not isinstance(held.state, Member):
                continue
            view = self._household_view(space, held.state)
            outcome = pipeline.tick(held.state, self._context(space), now, household=view)
            _count_work(space.loads, outcome.events)
            held.state = outcome.member
            held.events.extend(outcome.events)
            # A record ticked with nothing to do still has its due instant moved on.
            held.touched = True
            count += len(outcome.events)
        self._commit(space, after=now)
        return count

    # -- commands ------------------------------------------------------------------------

    def execute(self, command: object, *, now: datetime | None = None) -> tuple[object, ...]:
        """Carry out one command at once and return the events it made.

        Raises:
            MembercoreError: the command was refused (the error says why); nothing changed.
        """
        at = require_aware("now", now) if now is not None else self.now()

        def work() -> tuple[object, ...]:
            space = self._space(at)
            keys = _routing_key(command)
            self._load(space, keys)
            self._households_of(space)
            if isinstance(command, _HOUSEHOLD_COMMANDS):
                self._household(space, command, at)
                held = space.records[keys[0]]
            else:
                found = space.member(_member_of(command))
                if found is None:
                    raise UnknownMemberError(_member_of(command))
                held = found
                self._run(space, held, command, at)
            events = tuple(held.events)
            self._commit(space)
            return events

        events, _ = self._retrying(work)
        return events

    # -- views ---------------------------------------------------------------------------

    def member(self, member_id: str) -> Member:
        """A member's whole record.

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        key = member_key(member_id)
        space = self._space(self.now())
        self._load(space, [key])
        held = space.records.get(key)
        if held is None:
            raise UnknownMemberError(member_id)
        state: Member = held.state
        return state

    def household(self, household_id: str) -> households.HouseholdState | None:
        """A household's record, if it is stored."""
        key = household_key(household_id)
        record = self.store.load([key]).get(key)
        if record is None:
            return None
        state: households.HouseholdState = self._state(record)
        return state

    def members(self, where: Callable[[str], bool] | None = None) -> Iterator[Member]:
        """Every member's record, streamed in id order.

        Args:
            where: keep only the members whose id it accepts (checked before a record
                is read, so that the others cost nothing).
        """
        for record in self.store.scan(MEMBER):
            if where is None or where(_member_id(record.key)):
                yield self._state(record)

    def households(self) -> Iterator[households.HouseholdState]:
        """Every household's record, streamed in id order."""
        for record in self.store.scan(HOUSEHOLD):
            yield self._state(record)


def household_view(state: households.HouseholdState, member_id: str) -> pipeline.Household:
    """What a household tells the parts about one of its members."""
    dependent = state.dependents.get(member_id)
    guardians = [state.head_id] if state.head_id and state.head_id != member_id else []
    if dependent is not None and dependent.guardian_id and dependent.guardian_id not in guardians:
        guardians.append(dependent.guardian_id)
    everyone = households.members(state)
    return pipeline.Household(
        household_id=state.household_id,
        family=FamilyStatus(
            has_dependents=state.head_id == member_id and bool(state.dependents),
            is_dependent=dependent is not None,
        ),
        guardians=tuple(guardians),
        relatives=len(everyone - {member_id}),
    )


def _count_work(loads: Counter[str], events: Iterable[object]) -> None:
    """Add the tasks and members the events gave each member of staff."""
    for event in events:
        if isinstance(event, TaskCreated) and event.assignee:
            loads[event.assignee] += 1
        elif isinstance(event, HealthManagerAssigned):
            loads[event.staff_id] += 1


def _member_id(key: str) -> str:
    return key.removeprefix(MEMBER)


def _read(raw: object) -> object:
    if isinstance(raw, str):
        return message_from_json(raw)
    if isinstance(raw, Mapping):
        return message_from_dict(raw)
    return raw


def _member_of(message: object) -> str:
    if isinstance(message, Fact):
        return message.patient_id
    member_id = getattr(message, "member_id", None)
    if not isinstance(member_id, str):
        raise TypeError(f"{type(message).__name__} names no member")
    return member_id


def _routing_key(message: object) -> list[str]:
    """The records a message needs, or an error saying why it cannot be taken."""
    if isinstance(message, _HOUSEHOLD_COMMANDS):
        return [household_key(message.household_id)]
    if isinstance(message, Fact) or type(message) in pipeline.COMMAND_TYPES:
        return [member_key(_member_of(message))]
    raise EngineError(
        f"{type(message).__name__} is not a fact or a command of a member or a household"
    )


def _concerns(event: object) -> str | None:
    if isinstance(event, households.HouseholdFormed):
        return event.head_id
    if isinstance(event, households.DependentAdded):
        return event.dependent.member_id
    if isinstance(event, households.DependentRemoved):
        return event.member_id
    return None
