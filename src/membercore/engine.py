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

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any, TypeVar

import attrs
import pluggy

from membercore import households, pipeline
from membercore.clinical import PatientRegistered
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import (
    EngineError,
    MembercoreError,
    UnknownMemberError,
    UnknownStoreError,
    VersionConflictError,
)
from membercore.facts import Fact
from membercore.idempotency import fingerprint
from membercore.member import Member
from membercore.member import evolve as evolve_member
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import Clock, Record, Store
from membercore.recording import (
    HOUSEHOLD,
    MEMBER,
    Working,
    Workspace,
    dead_letter,
    household_key,
    member_key,
)
from membercore.segments import FamilyStatus
from membercore.serialization import message_from_dict, message_from_json

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


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Engine:
    """The membership programme over a store: ingestion, time, views and commands.

    Args:
        store: where records live.
        config: the programme (plugin journeys are added to its own).
        clock: where ``now`` comes from.
        plugins: what the installed plugins contribute.
        batch_size: inputs per ingestion commit.
        require_registration: refuse facts about a patient never registered.
        retries: attempts of a unit of work that meets version conflicts.
        cache_size: decoded member records kept between units of work.
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
        retries: int = 8,
        cache_size: int = 20_000,
    ) -> None:
        if batch_size < 1:
            raise EngineError(f"batch_size must be at least 1, got {batch_size}")
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
        self.context = pipeline.Context(
            config=self.config,
            registry=plugins.registry,
            journeys=self.config.journeys,
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
        records = self.store.load(wanted)
        decoded = {}
        for key, record in records.items():
            cached = self._cache.get(key)
            if cached is not None and cached[0] == record.version:
                decoded[key] = cached[1]
        space.add_loaded(records, decoded)

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
        for key, entry in written.items():
            if key.startswith(MEMBER):
                self._cache[key] = entry
                self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return True

    def _retrying(self, work: Callable[[], T]) -> tuple[T, int]:
        for attempt in range(self.retries):
            try:
                return work(), attempt
            except VersionConflictError:
                continue
        raise EngineError(f"gave up after {self.retries} version conflicts in a row")

    # -- ingestion -----------------------------------------------------------------------

    def ingest(self, inputs: Iterable[object], *, now: datetime | None = None) -> IngestReport:
        """Take facts (and member or household commands) in batches.

        Args:
            inputs: facts, commands, or tagged dicts (JSON objects with a ``type``).
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
        read: list[tuple[object, object]] = []
        refused = []
        for raw in raws:
            try:
                message = _read(raw)
                _routing_key(message)
            except MembercoreError as error:
                refused.append(dead_letter(None, raw, str(error), now))
                continue
            read.append((message, raw))
        (report, retries) = self._retrying(lambda: self._apply(read, refused, now))
        return attrs.evolve(report, retries=retries)

    def _apply(
        self, read: list[tuple[object, object]], refused: list[Any], now: datetime
    ) -> IngestReport:
        space = Workspace(self.config, now)
        space.dead.extend(refused)
        facts = [message for message, _ in read if isinstance(message, Fact)]
        stored = self.store.seen([fact.fact_id for fact in facts]) if facts else {}
        taken: dict[str, str] = dict(stored)
        fresh: list[tuple[object, object, str | None]] = []
        duplicates = 0
        for message, raw in read:
            digest = None
            if isinstance(message, Fact):
                digest = fingerprint(message)
                prior = taken.get(message.fact_id)
                if prior == digest:
                    duplicates += 1
                    continue
                if prior is not None:
                    reason = f"fact id {message.fact_id!r} was taken before with other content"
                    space.dead.append(dead_letter(message, raw, reason, now))
                    continue
                taken[message.fact_id] = digest
            fresh.append((message, raw, digest))
        self._load(space, [key for message, _, _ in fresh for key in _routing_key(message)])
        self._households_of(space)
        applied = 0
        ordered = [item for item in fresh if isinstance(item[0], _HOUSEHOLD_COMMANDS)]
        ordered += [item for item in fresh if not isinstance(item[0], _HOUSEHOLD_COMMANDS)]
        for message, raw, digest in ordered:
            try:
                self._decide(space, message, now)
            except MembercoreError as error:
                space.dead.append(dead_letter(message, raw, str(error), now))
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
        outcome = pipeline.run(message, member, self.context, now, household=view)
        held.state = outcome.member
        held.events.extend(outcome.events)

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
            if member_id and space.member(member_id) is None:
                raise UnknownMemberError(member_id)
        for event in events:
            held.state = households.evolve(held.state, event)
            held.events.append(event)
            member_id = _concerns(event)
            working = space.member(member_id) if member_id else None
            if working is not None:
                working.state = evolve_member(working.state, event)
                working.events.append(event)

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None, *, limit: int = 1000) -> TickReport:
        """Run everything due by ``now``: journey timers, plan terms, expiry, tier reviews.

        Records are taken earliest due first, ``limit`` per commit, until none is due.
        """
        at = require_aware("now", now) if now is not None else self.now()
        records = events = 0
        while True:
            due = self.store.due(at, limit)
            if not due:
                break
            keys = [key for key, _ in due]
            count, _ = self._retrying(partial(self._tick_batch, keys, at))
            records += len(due)
            events += count
            if len(due) < limit:
                break
        return TickReport(records=records, events=events)

    def _tick_batch(self, keys: list[str], now: datetime) -> int:
        space = Workspace(self.config, now)
        self._load(space, keys)
        self._households_of(space)
        count = 0
        for key in keys:
            held = space.records.get(key)
            if held is None or not isinstance(held.state, Member):
                continue
            view = self._household_view(space, held.state)
            outcome = pipeline.tick(held.state, self.context, now, household=view)
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
            space = Workspace(self.config, at)
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
        space = Workspace(self.config, self.now())
        self._load(space, [key])
        held = space.records.get(key)
        if held is None:
            raise UnknownMemberError(member_id)
        state: Member = held.state
        return state

    def household(self, household_id: str) -> households.HouseholdState | None:
        """A household's record, if it is stored."""
        record: Record | None = self.store.load([household_key(household_id)]).get(
            household_key(household_id)
        )
        if record is None:
            return None
        space = Workspace(self.config, self.now())
        space.add_loaded({record.key: record}, {})
        state: households.HouseholdState = space.records[record.key].state
        return state

    def members(self) -> Iterator[Member]:
        """Every member's record, streamed in id order."""
        space = Workspace(self.config, self.now())
        for record in self.store.scan(MEMBER):
            space.add_loaded({record.key: record}, {})
            yield space.records.pop(record.key).state

    def households(self) -> Iterator[households.HouseholdState]:
        """Every household's record, streamed in id order."""
        space = Workspace(self.config, self.now())
        for record in self.store.scan(HOUSEHOLD):
            space.add_loaded({record.key: record}, {})
            yield space.records.pop(record.key).state


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
