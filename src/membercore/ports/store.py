"""The store port, one ``typing.Protocol`` per role, and :class:`Store` combining them.

The engine uses a store in nine roles, each a protocol of its own, the way eventsourcing
splits its recorders; every role shares :class:`Recorder`, the store's one transaction:

- :class:`RecordStore`: records and their journals, read back after the commits that
  wrote them with the optimistic-concurrency check (the engine's unit of work);
- :class:`TimerStore`: the instant each record next needs a tick, listed and claimed
  (the engine's tick);
- :class:`InboxStore`: the facts taken, by id, with their fingerprints (idempotent
  ingestion);
- :class:`OutboxStore`: the messages to deliver, claimed by dispatchers and marked
  delivered or failed (the dispatcher), and what providers reported of them after;
- :class:`DeadLetterStore`: the inputs refused, with the reason (reports);
- :class:`TaskStore`: the staff tasks and case loads (staff work).
- :class:`IdentityStore`: patients' identifiers and the patient each names (connectors'
  patient identity);
- :class:`PositionStore`: how far each source's inputs were committed (where a
  connector resumes);
- :class:`InputLog`: every input the engine took, as it took it, in order (what a
  what-if replays).

A commit writes to every role at once (all of it or none of it), so each role's rows
arrive through :meth:`Recorder.commit`. A backend checks each role with its contract in
:mod:`membercore.testing.contracts`, and the whole store with ``StoreContract``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from membercore.ports.stored import (
    Commit,
    DeadLetter,
    Delivery,
    IdentifierLink,
    LoggedInput,
    OutboxMessage,
    Record,
    StoredEvent,
    TaskRow,
)

__all__ = [
    "ROLES",
    "DeadLetterStore",
    "IdentityStore",
    "InboxStore",
    "InputLog",
    "OutboxStore",
    "PositionStore",
    "RecordStore",
    "Recorder",
    "Store",
    "TaskStore",
    "TimerStore",
    "lacks",
    "plays",
]


@runtime_checkable
class Recorder(Protocol):
    """What every role shares: the store's name, its one transaction, and its end.

    Every method of every role may raise :class:`~membercore.errors.StorageError`; a
    driver's own errors never escape.
    """

    url: str

    def commit(self, commit: Commit) -> None:
        """Write everything in ``commit`` in one transaction.

        A change whose ``expected_version`` is not the record's stored version (0 for a
        record not stored) fails the whole commit. An inbox entry, outbox message, dead
        letter or event already stored is kept as it was (writing it again is no error).
        A change without a snapshot keeps the stored one and its ``snapshot_version``.

        Raises:
            VersionConflictError: naming every conflicting key; nothing was written.
            StorageError: the commit is malformed (a change expecting version 0 without a
                snapshot, a change without a snapshot of a record not stored, an event
                that is not of its change's key and version), or the store failed;
                nothing was written.
        """
        ...

    def close(self) -> None:
        """Release connections and files; the store is unusable afterwards."""
        ...


@runtime_checkable
class RecordStore(Recorder, Protocol):
    """Records and their journals: what the engine's unit of work loads and commits."""

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        """The records stored under ``keys`` (absent keys are left out)."""
        ...

    def events(self, key: str, *, after_version: int = 0) -> list[StoredEvent]:
        """A record's journal in order, from the commit after ``after_version``."""
        ...

    def scan(self, prefix: str = "") -> Iterator[Record]:
        """Every record whose key starts with ``prefix``, in key order, streamed."""
        ...


@runtime_checkable
class TimerStore(Recorder, Protocol):
    """When each record next needs a tick (a change's ``due_at``): what the tick reads."""

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first.

        A listing: it claims nothing, and lists claimed records too. An engine ticking
        beside others uses :meth:`claim_due`.
        """
        ...

    def claim_due(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[tuple[str, datetime]]:
        """Claim up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first.

        One atomic step: the records :meth:`due` would list, less those under another
        worker's claim whose lease has not ended, are marked claimed by ``worker`` until
        ``now + lease`` and returned, earliest first then by key. Two claimers never get
        the same record while its lease runs; a worker started again under its name takes
        its own claims back at once (worker names must be unique among running engines;
        the version check still keeps two engines named alike from deciding twice). A
        commit that changes the record releases its claim; a lease that ends (its engine
        crashed, or is slower than the lease) makes the record claimable again, so the
        lease must outlast ticking one page.

        Args:
            now: the instant of the claim (aware).
            limit: how many records at most (none when not positive).
            worker: who claims them (an engine's name, for the record).
            lease: how long the claim holds (positive).

        Raises:
            NaiveInstantError: ``now`` is naive.
            StorageError: ``worker`` is empty or ``lease`` not positive, or the store
                failed (nothing was claimed).
        """
        ...


@runtime_checkable
class InboxStore(Recorder, Protocol):
    """The facts taken, by id: what makes taking a fact twice change nothing."""

    def seen(self, fact_ids: Collection[str]) -> dict[str, str]:
        """Of ``fact_ids``, those in the inbox, with the fingerprint they were taken with."""
        ...


@runtime_checkable
class OutboxStore(Recorder, Protocol):
    """The messages to deliver, in commit order: what dispatchers claim and mark.

    A delivered message keeps the address it went to and, once its provider reports
    what became of it (reached the handset, undeliverable), that outcome.
    """

    def pending_outbox(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` pending messages to send by ``now``, in commit order.

        A listing: it claims nothing, and lists claimed messages too (they are still
        pending). A dispatcher uses :meth:`claim_outbox`.
        """
        ...

    def claim_outbox(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[OutboxMessage]:
        """Claim up to ``limit`` pending messages to send by ``now``, in commit order.

        One atomic step: the messages :meth:`pending_outbox` would list, less those under
        a claim whose lease has not ended (whoever holds it, the same ``worker`` too: two
        processes given one name still never share a message), are marked claimed by
        ``worker`` until ``now + lease`` and returned. Two claimers never get the same
        message while its lease runs. :meth:`record_delivery` releases the claim; a lease
        that ends (its dispatcher crashed, or is slower than the lease) makes the message
        claimable again, so the lease must outlast sending one batch.

        Args:
            now: the instant of the claim (aware).
            limit: how many messages at most (none when not positive).
            worker: who claims them (a dispatcher's name, for the record).
            lease: how long the claim holds (positive).

        Raises:
            NaiveInstantError: ``now`` is naive.
            StorageError: ``worker`` is empty or ``lease`` not positive, or the store
                failed (nothing was claimed).
        """
        ...

    def record_delivery(self, delivery: Delivery) -> None:
        """Mark a message delivered (a receipt), failed for now (retry_at) or given up.

        A receipt marks the message delivered at ``delivery.at`` unless it already is
        (the first receipt is kept, with its address). A failure counts an attempt of a
        pending message and either schedules the next one (``retry_at``) or gives up
        (status ``failed``); it changes nothing once the message is delivered or given
        up. A message ``held`` back (quiet hours at the hand-over) waits for ``retry_at``
        with no failure counted. Whatever it records releases the message's claim (see
        :meth:`claim_outbox`). A delivery that names its message's record
        (``delivery.key``, which a dispatcher knows) is found in that record alone.

        Raises:
            UnknownMessageError: no message has that id (in the record named, if any):
                never queued, or erased since it was claimed.
            StorageError: the store failed.
        """
        ...

    def outbox(self, status: str | None = None) -> Iterator[OutboxMessage]:
        """Every outbox message (of one status when given), in commit order."""
        ...

    def awaiting(self, channel: str, since: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` delivered messages of ``channel`` awaiting their outcome.

        The messages delivered (given a receipt) at or after ``since`` and with no
        outcome recorded (see :meth:`record_outcome`), in commit order: what a channel
        still expects its provider to report on.

        Args:
            channel: the channel they were delivered on.
            since: the earliest delivery instant listed (aware).
            limit: how many messages at most (none when not positive).

        Raises:
            NaiveInstantError: ``since`` is naive.
            StorageError: the store failed.
        """
        ...

    def record_outcome(
        self, message_id: str, outcome: str, at: datetime, *, key: str | None = None
    ) -> None:
        """Record the provider's final word on a delivered message (``outcome_at`` is ``at``).

        The first outcome is kept: recording another changes nothing.

        Args:
            message_id: the message (delivered: it has a receipt).
            outcome: what became of it (``delivered``, ``undeliverable``...; not empty).
            at: when the provider said so (aware).
            key: the message's record, when the caller knows it: the message is found
                in that record alone.

        Raises:
            NaiveInstantError: ``at`` is naive.
            UnknownMessageError: no message has that id (in the record named, if any).
            StorageError: naming the message, when the message
                was not delivered or ``outcome`` is empty (nothing was recorded); or the
                store failed.
        """
        ...

    def sent_to(self, channel: str, address: str, since: datetime) -> list[OutboxMessage]:
        """The messages of ``channel`` delivered to ``address`` at or after ``since``.

        In commit order, whether their outcome is recorded or not: what a member's reply
        from that address may answer. A message whose delivery named no address is never
        listed.

        Args:
            channel: the channel they were delivered on.
            address: the address their delivery named (as the channel gave it).
            since: the earliest delivery instant listed (aware).

        Raises:
            NaiveInstantError: ``since`` is naive.
            StorageError: the store failed.
        """
        ...


@runtime_checkable
class DeadLetterStore(Recorder, Protocol):
    """The inputs refused, with the reason: what reports and operators read."""

    def dead_letters(self) -> Iterator[DeadLetter]:
        """Every dead letter, oldest first (the same input refused again is kept once)."""
        ...


@runtime_checkable
class TaskStore(Recorder, Protocol):
    """The staff tasks and case loads: what staff work lists and what assignment balances by.

    Tasks are balanced by the open tasks of each member of staff; health managers by the
    members they manage.
    """

    def tasks(self, status: str | None = "open") -> Iterator[TaskRow]:
        """Staff tasks of a status (every task when None), by due instant, task key, record."""
        ...

    def task_loads(self) -> dict[str, int]:
        """Open tasks per assignee."""
        ...

    def case_loads(self) -> dict[str, int]:
        """Records per manager: how many records each member of staff manages.

        A record counts for the ``manager`` its last change named (a change naming none
        takes it off its manager's load); records never changed with one count for
        nobody.
        """
        ...


@runtime_checkable
class IdentityStore(Recorder, Protocol):
    """Patients' identifiers (a commit's ``identifiers``): any of them finds the patient.

    An identifier is stored once: the first patient it named keeps it.
    """

    def identified(self, values: Collection[str]) -> list[IdentifierLink]:
        """The stored identifiers whose value is one of ``values``, of any system."""
        ...

    def identifiers_of(self, patient_id: str) -> list[IdentifierLink]:
        """The identifiers that name ``patient_id``, by system then value."""
        ...


@runtime_checkable
class PositionStore(Recorder, Protocol):
    """How far each source's inputs were committed (a commit's ``positions``)."""

    def position(self, source: str) -> str | None:
        """The position ``source`` last committed, or None if it never committed one."""
        ...


@runtime_checkable
class InputLog(Recorder, Protocol):
    """Every input the engine took, as it took it (a commit's ``inputs``), in commit order.

    Append-only: a commit appends its inputs after those of every commit before it, and
    nothing changes or removes them. A store an earlier release wrote keeps records
    from before its log began: :meth:`unlogged` says how many.
    """

    def inputs(self, *, after: int = 0) -> Iterator[LoggedInput]:
        """The logged inputs after the ``seq`` ``after``, in order (``seq`` from 1), streamed."""
        ...

    def unlogged(self) -> int:
        """How many records the store held when its input log began (0: it began with it)."""
        ...


@runtime_checkable
class Store(
    RecordStore,
    TimerStore,
    InboxStore,
    OutboxStore,
    DeadLetterStore,
    TaskStore,
    IdentityStore,
    PositionStore,
    InputLog,
    Protocol,
):
    """Where the programme's records live: every role, a unit of work per :meth:`commit`.

    The engine and its callers take a whole store; a backend may be checked a role at a
    time (see :mod:`membercore.testing.contracts`).
    """


#: The store port's roles, :class:`Recorder` first.
ROLES: tuple[type, ...] = (
    Recorder,
    RecordStore,
    TimerStore,
    InboxStore,
    OutboxStore,
    DeadLetterStore,
    TaskStore,
    IdentityStore,
    PositionStore,
    InputLog,
)


def lacks(store: object) -> list[str]:
    """What ``store`` lacks of the store port, by role: ``["TaskStore (tasks)"]``, or none."""
    missing = []
    for role in ROLES:
        own = set(getattr(role, "__annotations__", {}))
        own |= {name for name, value in vars(role).items() if callable(value) and name[0] != "_"}
        lacking = sorted(name for name in own if not hasattr(store, name))
        if lacking:
            missing.append(f"{role.__name__} ({', '.join(lacking)})")
    return missing


def plays(store: object, role: type[Any]) -> bool:
    """Whether ``store`` plays ``role`` (a runtime-checkable protocol, e.g. ``ErasureStore``).

    ``isinstance`` with a protocol looks up each of its methods on the store at every
    call (about 16 µs for a role of a dozen methods); the answer for the first store of
    a class is kept for the class. A store that answers for another (``__getattr__``) is
    asked each time.
    """
    kind = type(store)
    if hasattr(kind, "__getattr__"):
        return isinstance(store, role)
    known: bool | None = _PLAYED.get((kind, role))
    if known is None:
        known = _PLAYED[kind, role] = isinstance(store, role)
    return known


#: Whether the stores of a class play a role, by (class, role).
_PLAYED: dict[tuple[type[Any], type[Any]], bool] = {}
