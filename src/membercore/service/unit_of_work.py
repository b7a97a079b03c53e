"""One unit of work: the records a call loads, what it decides about them, one commit.

A :class:`UnitOfWork` loads records from the store in batches (members, their
households, a gift's stock), keeps each with the version it was loaded at and the
events decided since, and commits them all — events, snapshots, next due instants,
inbox, outbox, staff tasks and dead letters — in one transaction with an optimistic
version check (:mod:`membercore.service.recording` builds the commit). Decoded records are
kept between units of work in a :class:`RecordCache`, by version, so that a record
read again is not decoded again. The engine's use cases run over it.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from membercore import households, rewards
from membercore.config import ProgrammeConfig
from membercore.errors import (
    MembercoreError,
    StorageError,
    VersionConflictError,
)
from membercore.facts import Fact
from membercore.ports import (
    DeadLetter,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    Record,
    SourcePosition,
    Store,
    StoredEvent,
)
from membercore.serialization import message_to_json
from membercore.serialization.problems import not_the_data
from membercore.service.erased import unknown
from membercore.service.member import Member, new_member
from membercore.service.recording import (
    Working,
    build_commit,
    clock_of,
    household_key,
    member_key,
    read_state,
    stock_key,
)

if TYPE_CHECKING:
    from membercore.service.identities import Index

__all__ = ["Loads", "Mark", "RecordCache", "UnitOfWork"]


class Mark(NamedTuple):
    """Where a unit of work stood: the staff and case loads and how many facts it took."""

    loads: Counter[str] | None
    inbox: int
    cases: Counter[str] | None = None
    logged: int = 0


class Loads(Mapping[str, int]):
    """A unit of work's staff or case loads as a mapping, counted when first looked at.

    Counting them reads every open task or managed record (a query of a SQL store);
    most units of work assign nobody and never look.

    Args:
        counted: the loads as the unit of work counts them (read from the store on the
            first call).
    """

    def __init__(self, counted: Callable[[], Mapping[str, int]]) -> None:
        self._counted = counted

    def __getitem__(self, staff_id: str) -> int:
        return self._counted()[staff_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counted())

    def __len__(self) -> int:
        return len(self._counted())


class RecordCache:
    """Decoded record states by key, each for the version it was decoded at (LRU).

    Args:
        size: how many records to keep.
    """

    def __init__(self, size: int) -> None:
        self._held: OrderedDict[str, tuple[int, Any, int]] = OrderedDict()
        self._size = size

    def get(self, key: str, version: int) -> Any | None:
        """The state kept for ``key`` at ``version``, if any."""
        held = self.held(key, version)
        return held[0] if held is not None else None

    def held(self, key: str, version: int) -> tuple[Any, int] | None:
        """The state kept for ``key`` at ``version`` and its journal's length, if any."""
        held = self._held.get(key)
        return (held[1], held[2]) if held is not None and held[0] == version else None

    def put(self, key: str, version: int, state: Any, journal_size: int = 0) -> None:
        """Keep a record's state at a version, and its journal's length since its snapshot."""
        self._held[key] = (version, state, journal_size)
        self._held.move_to_end(key)
        while len(self._held) > self._size:
            self._held.popitem(last=False)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget records (another worker changed them)."""
        for key in keys:
            self._held.pop(key, None)


# What reading a stored record meets when its text is not what membercore wrote (the
# converter's validation errors are exception groups).
_UNREADABLE = (ValueError, TypeError, KeyError, AttributeError, ExceptionGroup)


def decode(
    store: Store, cache: RecordCache, record: Record, whole: Sequence[StoredEvent] | None = None
) -> Any:
    """A stored record's state: the one kept for its version, else read and decoded.

    Args:
        store: the store the record was read from.
        cache: the states already decoded, by key and version.
        record: the stored record.
        whole: the record's whole journal, when the caller has read it already (its
            events since the snapshot are not read again).
    """
    return decoded(store, cache, record, whole)[0]


def decoded(
    store: Store, cache: RecordCache, record: Record, whole: Sequence[StoredEvent] | None = None
) -> tuple[Any, int]:
    """:func:`decode`, with the length of the journal since the snapshot (characters)."""
    held = cache.held(record.key, record.version)
    if held is not None:
        return held
    journal: tuple[StoredEvent, ...] = ()
    if whole is not None:
        journal = tuple(event for event in whole if event.version > record.snapshot_version)
    elif record.snapshot_version < record.version:
        journal = tuple(store.events(record.key, after_version=record.snapshot_version))
    try:
        state = read_state(record, journal)
        if isinstance(state, Member) and record.version and '"as_of"' not in record.snapshot:
            # A snapshot an earlier release wrote has no clock: the whole journal gives it.
            every = store.events(record.key) if whole is None else whole
            state = attrs.evolve(state, as_of=clock_of(every))
    except MembercoreError:
        raise  # membercore's own words (a newer release's data above all)
    except _UNREADABLE as error:
        if isinstance(error, ExceptionGroup) and (cause := not_the_data(error)) is not None:
            raise cause from error  # not the record's fault: no memory left, an interruption
        problem = (
            f"reading record {record.key}: its snapshot or journal could not be read back "
            f"(damaged, or not what this membercore wrote: {error})"
        )
        raise StorageError(store.url, problem) from error
    return state, sum(len(event.payload) for event in journal)


class UnitOfWork:
    """The records one call works on, loaded from ``store``, committed once.

    Args:
        store: where the records live.
        cache: decoded records kept between units of work.
        config: the programme.
        now: the instant of the decisions.
        snapshot_every: write a record's snapshot again after this many commits.
        observers: called after the commit with the events it stored.
    """

    def __init__(
        self,
        store: Store,
        cache: RecordCache,
        config: ProgrammeConfig,
        now: datetime,
        *,
        snapshot_every: int,
        observers: Sequence[Callable[[Sequence[object]], None]] = (),
    ) -> None:
        self.config = config
        self.now = now
        self.snapshot_every = snapshot_every
        self.records: dict[str, Working] = {}
        # What changed since the last mark: (record's key, state, events, touched), or the
        # key of a record made.
        self._undo: list[Any] = []
        self.inbox: list[InboxEntry] = []
        self.dead: list[DeadLetter] = []
        self.identifiers: list[IdentifierLink] = []
        #: The identifiers an ingestion's batch knows (``service.identities.Index``), so
        #: that what a decision retires (a merge) reaches the facts after it.
        self.index: Index | None = None
        self.positions: list[SourcePosition] = []
        #: The inputs decided, in order: the commit appends them to the input log.
        self.logged: list[LoggedInput] = []
        self.store = store
        self.cache = cache
        self.observers = observers
        self._loads: Counter[str] | None = None  # read when a decision first needs them
        self._cases: Counter[str] | None = None  # read when an assignment first needs them

    @property
    def loads(self) -> Counter[str]:
        """Open tasks per member of staff, to balance the work a decision assigns.

        As the store counts them when a decision first asks (a view never does), then as
        this unit of work assigns more.
        """
        if self._loads is None:
            staffed = self.config.staff.staff
            self._loads = Counter(self.store.task_loads()) if staffed else Counter()
        return self._loads

    @property
    def cases(self) -> Counter[str]:
        """Members per health manager (case loads), to balance health-manager assignment.

        As the store counts them when an assignment first asks, then as this unit of
        work assigns more.
        """
        if self._cases is None:
            staffed = self.config.staff.staff
            self._cases = Counter(self.store.case_loads()) if staffed else Counter()
        return self._cases

    # -- loading -------------------------------------------------------------------------

    def load(self, keys: Iterable[str]) -> None:
        """Read the records not yet held, in one batch, in the order asked for."""
        wanted = [key for key in dict.fromkeys(keys) if key not in self.records]
        if not wanted:
            return
        found = self.store.load(wanted)
        # In the order asked for, whatever order the store answers in: what a unit of work
        # writes (the outbox above all) must not depend on it.
        records = {key: found[key] for key in wanted if key in found}
        for key, record in records.items():
            state, journal_size = decoded(self.store, self.cache, record)
            self.records[key] = Working(
                key,
                state,
                record.version,
                record.snapshot_version,
                undo=self._undo,
                snapshot_size=len(record.snapshot),
                journal_size=journal_size,
            )
            self.cache.put(key, record.version, state, journal_size)

    def survivor(self, member_id: str) -> str | None:
        """The record that stands for ``member_id`` now, or None when it has none held.

        Its own, or the last of the records it was merged into, one after another (each
        read as need be).
        """
        held = self.member(member_id)
        if held is None:
            return None
        seen = {member_id}
        while (into := held.state.identity.merged_into) is not None and into not in seen:
            seen.add(into)
            self.load_members([into])
            following = self.member(into)
            if following is None:
                break
            held = following
        member: Member = held.state
        return member.member_id

    def load_members(self, member_ids: Iterable[str]) -> None:
        """Read members' records and the households they belong to."""
        keys = [member_key(member_id) for member_id in member_ids]
        self.load(keys)
        self.load_households(keys)

    def load_households(self, keys: Iterable[str] | None = None) -> None:
        """Read the household of every member held (of those ``keys`` name, when given)."""
        held = self.records.values() if keys is None else (self.records.get(k) for k in keys)
        self.load(
            household_key(record.state.household_id)
            for record in list(held)
            if record is not None and isinstance(record.state, Member) and record.state.household_id
        )

    def load_relatives(self, member: Member) -> list[Member]:
        """Read the records of everyone in the member's household; return the others."""
        held = self.household_of(member)
        if held is None:
            return []
        others = households.members(held.state) - {member.member_id}
        self.load(member_key(other) for other in sorted(others))
        found = (self.member(other) for other in sorted(others))
        return [working.state for working in found if working is not None]

    # -- records -------------------------------------------------------------------------

    def member(self, member_id: str, *, create: bool = False) -> Working | None:
        """The member's record if held; a new one when ``create`` and none is stored."""
        key = member_key(member_id)
        held = self.records.get(key)
        if held is None and create:
            held = self.records[key] = Working(key, new_member(member_id), 0, undo=self._undo)
            self._undo.append(key)
        return held

    def household(self, household_id: str) -> Working:
        """The household's record (a new, unformed one when none is stored)."""
        key = household_key(household_id)
        self.load([key])
        held = self.records.get(key)
        if held is None:
            state = households.HouseholdState(household_id=household_id)
            held = self.records[key] = Working(key, state, 0, undo=self._undo)
            self._undo.append(key)
        return held

    def require_member(self, member_id: str) -> Working:
        """The member's record, read if need be.

        Raises:
            UnknownMemberError: the store holds no record of the member.
        """
        held = self.member(member_id)
        if held is None:
            self.load_members([member_id])
            held = self.member(member_id)
        if held is None:
            raise unknown(self.store, member_id)
        return held

    def household_of(self, member: Member) -> Working | None:
        """The household record of a member, if they belong to one and it is held."""
        if member.household_id is None:
            return None
        return self.records.get(household_key(member.household_id))

    def stock(self, reward_key: str) -> Working:
        """A gift's stock record, read if need be (a new one when none is stored)."""
        key = stock_key(reward_key)
        self.load([key])
        held = self.records.get(key)
        if held is None:
            held = self.records[key] = Working(key, rewards.StockState(), 0, undo=self._undo)
            self._undo.append(key)
        return held

    def take_fact(self, fact_id: str, key: str, digest: str) -> None:
        """Record a fact as taken by the record ``key``."""
        self.inbox.append(InboxEntry(fact_id=fact_id, key=key, fingerprint=digest, at=self.now))

    def log_input(
        self,
        message: object,
        at: datetime,
        keys: Iterable[str],
        *,
        refused: str | None = None,
        cutoff: datetime | None = None,
    ) -> None:
        """Log an input decided at ``at`` (a fact or a command) as it was taken.

        Args:
            message: the fact or command, before any routing changed it.
            at: the instant it was decided at.
            keys: the records it changed (those it concerns, when refused).
            refused: why a part of the programme refused it, if it did.
            cutoff: the cutoff of the history it was loaded with, if it was.
        """
        own = getattr(message, "occurred_at", None)
        if not isinstance(own, datetime):
            paid = getattr(message, "paid_at", None)
            own = paid if isinstance(paid, datetime) else at
        kind = "fact" if isinstance(message, Fact) else "command"
        self.logged.append(
            LoggedInput(
                kind=kind,
                payload=message_to_json(message),
                keys=tuple(sorted(set(keys))),
                at=at,
                occurred_at=own,
                batch_at=self.now,
                refused=refused,
                cutoff=cutoff,
            )
        )

    def log_tick(self, keys: Iterable[str]) -> None:
        """Log a tick of the records of ``keys`` to this unit of work's instant."""
        self.logged.append(
            LoggedInput(
                kind="tick",
                keys=tuple(sorted(keys)),
                at=self.now,
                occurred_at=self.now,
                batch_at=self.now,
            )
        )

    def changed(self) -> list[str]:
        """The keys of the records changed (or made) since :meth:`mark`."""
        keys = (change if isinstance(change, str) else change[0] for change in self._undo)
        return list(dict.fromkeys(keys))

    # -- undoing one input ----------------------------------------------------------------

    def mark(self) -> Mark:
        """Where the unit of work stands, to go back to if the next input is refused.

        From here each change notes what it replaced (a record made notes its key), so
        that :meth:`restore` costs what the input changed, not what the unit of work holds.
        """
        self._undo.clear()
        loads = None if self._loads is None else Counter(self._loads)
        cases = None if self._cases is None else Counter(self._cases)
        return Mark(loads, len(self.inbox), cases, len(self.logged))

    def restore(self, mark: Mark) -> None:
        """Undo everything decided since :meth:`mark` (records read since stay, unchanged)."""
        for change in reversed(self._undo):
            if isinstance(change, str):
                del self.records[change]  # made by the input refused
            else:
                key, state, count, touched = change
                held = self.records[key]
                held.state, held.touched = state, touched
                del held.events[count:]
        self._undo.clear()
        self._loads = mark.loads
        self._cases = mark.cases
        del self.inbox[mark.inbox :]
        del self.logged[mark.logged :]

    # -- committing ----------------------------------------------------------------------

    def commit(self, *, after: datetime | None = None) -> bool:
        """Store everything decided in one transaction; whether there was anything.

        Args:
            after: for a tick, the instant ticked to: a record is next due after it.

        Raises:
            VersionConflictError: another worker changed a record first (nothing stored;
                the records it names are forgotten by the cache).
            StorageError: the store failed (nothing stored).
        """
        commit, written = build_commit(
            self.records.values(),
            self.config,
            self.now,
            inbox=self.inbox,
            dead=self.dead,
            identifiers=self.identifiers,
            positions=self.positions,
            inputs=self.logged,
            snapshot_every=self.snapshot_every,
            after=after,
        )
        if not commit:
            return False
        try:
            self.store.commit(commit)
        except VersionConflictError as conflict:
            self.cache.drop(conflict.conflicts)
            raise
        for key, (version, state, journal_size) in written.items():
            self.cache.put(key, version, state, journal_size)
        if self.observers:
            events = [event for held in self.records.values() for event in held.events]
            for observer in self.observers:
                observer(events)
        return True
