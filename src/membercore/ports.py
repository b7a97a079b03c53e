"""The ports: what the engine needs from the world, as ``typing.Protocol`` roles.

The core never imports an adapter. A store keeps records (a member's state as a JSON
snapshot with a version), their events, the inbox of facts already taken, the outbox of
messages to deliver, the dead letters of facts refused, the staff tasks and the instant
each record next needs a tick. It knows nothing of the programme: snapshots and payloads
are JSON text the engine writes and reads. Behaviour is pinned by the conformance suite
in :mod:`membercore.testing.contract`, which every backend runs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware
from membercore.facts import Fact

__all__ = [
    "Change",
    "Channel",
    "Clock",
    "Commit",
    "DeadLetter",
    "Delivery",
    "HisSource",
    "InboxEntry",
    "OutboxMessage",
    "Positioned",
    "Record",
    "Store",
    "StoredEvent",
    "TaskRow",
    "Unreadable",
]


def _optional_instant(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _events(items: Iterable[StoredEvent]) -> tuple[StoredEvent, ...]:
    return tuple(items)


def _changes(items: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(items)


def _inbox(items: Iterable[InboxEntry]) -> tuple[InboxEntry, ...]:
    return tuple(items)


def _outbox(items: Iterable[OutboxMessage]) -> tuple[OutboxMessage, ...]:
    return tuple(items)


def _dead_letters(items: Iterable[DeadLetter]) -> tuple[DeadLetter, ...]:
    return tuple(items)


def _tasks(items: Iterable[TaskRow]) -> tuple[TaskRow, ...]:
    return tuple(items)


def _cancelled(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


@attrs.frozen(kw_only=True)
class Unreadable:
    r"""An input a source could not read as text: kept as a dead letter with the reason.

    Attributes:
        raw: what was received, the bytes that are not UTF-8 escaped as ``\xff``.
        reason: what was wrong and where (``line 12: not UTF-8 text...``).
    """

    raw: str
    reason: str


@attrs.frozen(kw_only=True)
class Positioned:
    """An input with where it was found in its source: what a refusal names first.

    Attributes:
        raw: the input (text, a tagged dict, a message, or :class:`Unreadable`).
        position: where it was found (``line 1204``, ``offset 88012``...).
    """

    raw: object
    position: str


@attrs.frozen(kw_only=True)
class Record:
    """A stored record: one member (or household, or catalogue) at one version.

    The snapshot may be older than the record: the events of the versions after
    ``snapshot_version`` bring it up to date (see :meth:`Store.events`).

    Attributes:
        key: the record's key (``member:P-000123``, ``household:H-1``...).
        version: how many commits changed it (1 after its first commit).
        snapshot: its state as JSON text, as of ``snapshot_version``.
        snapshot_version: the version the snapshot is of (``version`` when None).
    """

    key: str = attrs.field(validator=non_empty)
    version: int
    snapshot: str
    snapshot_version: int = attrs.field()

    @snapshot_version.default
    def _same_version(self) -> int:
        return self.version


@attrs.frozen(kw_only=True)
class StoredEvent:
    """One event of a record's journal, as the store keeps it.

    Attributes:
        key: the record the event belongs to.
        version: the version of the record the event's commit produced.
        type: the event's ``type`` tag (``posting``, ``tier_changed``...).
        at: when it was decided.
        payload: the event as JSON text.
    """

    key: str
    version: int
    type: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    payload: str


@attrs.frozen(kw_only=True)
class Change:
    """A record's new state, with the events that produced it.

    Attributes:
        key: the record.
        expected_version: the version the change was decided on (0: a new record).
        snapshot: the new state as JSON text; None keeps the stored snapshot, which the
            events of this and the versions since it bring up to date (a new record
            needs one).
        events: the events, in order (``version`` is ``expected_version + 1``).
        due_at: the next instant the record needs a tick, or None.
    """

    key: str = attrs.field(validator=non_empty)
    expected_version: int
    snapshot: str | None
    events: tuple[StoredEvent, ...] = attrs.field(default=(), converter=_events)
    due_at: datetime | None = attrs.field(default=None, converter=_optional_instant)


@attrs.frozen(kw_only=True)
class InboxEntry:
    """A fact taken (applied, or found to change nothing); its id is never taken twice.

    Attributes:
        fact_id: the fact's id.
        key: the record it was applied to.
        fingerprint: a digest of the fact's content (the same id with other content is
            refused, not taken).
        at: when it was taken.
    """

    fact_id: str = attrs.field(validator=non_empty)
    key: str
    fingerprint: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class OutboxMessage:
    """A message waiting for delivery, in the order it was committed.

    Attributes:
        message_id: unique id (the outreach decision's message id).
        key: the member's record.
        channel: the channel to deliver on (``wecom``, ``sms``, ``email``, ``console``...).
        payload: the message as JSON text.
        send_at: not before this instant (quiet hours defer it).
        attempts: how many deliveries failed so far.
        status: ``pending``, ``delivered``, ``failed`` (given up) or ``cancelled``.
    """

    message_id: str = attrs.field(validator=non_empty)
    key: str
    channel: str
    payload: str
    send_at: datetime = attrs.field(converter=as_utc, validator=aware)
    attempts: int = 0
    status: str = "pending"


@attrs.frozen(kw_only=True)
class Delivery:
    """What a channel said of one delivery.

    Attributes:
        message_id: the message.
        at: when it was tried.
        receipt: the channel's acknowledgment (its message id), when delivered.
        error: why it failed, when it failed.
        retry_at: when to try again after a failure (None: give up).
    """

    message_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    receipt: str | None = None
    error: str | None = None
    retry_at: datetime | None = attrs.field(default=None, converter=_optional_instant)


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A fact refused, kept with its reason.

    Attributes:
        fact_id: the fact's id when it could be read, else a digest of the input.
        fact_type: its ``type`` tag, when it could be read.
        payload: the input as received (JSON text, or the raw line).
        reason: why it was refused.
        at: when it was refused.
    """

    fact_id: str
    fact_type: str
    payload: str
    reason: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class TaskRow:
    """A staff task as the store lists it (the member's record holds the task itself).

    Attributes:
        task_key: the task's key (unique).
        key: the member's record.
        kind: what to do (``call``, ``follow_up``...).
        role: the role that does it.
        assignee: the member of staff it is assigned to, if any.
        due_at: when it is due.
        status: ``open`` or ``closed``.
        payload: the task as JSON text.
    """

    task_key: str
    key: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    status: str = "open"
    payload: str = "{}"


@attrs.frozen(kw_only=True)
class Commit:
    """Everything one transaction writes: all of it, or none of it.

    Attributes:
        changes: records changed, each with its expected version.
        inbox: facts taken.
        outbox: messages to deliver.
        dead_letters: facts refused.
        tasks: staff tasks created or changed (replacing the row of the same key).
        cancelled: ids of outbox messages not to send any more (consent withdrawn);
            a message already delivered or given up stays as it is.
    """

    changes: tuple[Change, ...] = attrs.field(default=(), converter=_changes)
    inbox: tuple[InboxEntry, ...] = attrs.field(default=(), converter=_inbox)
    outbox: tuple[OutboxMessage, ...] = attrs.field(default=(), converter=_outbox)
    dead_letters: tuple[DeadLetter, ...] = attrs.field(default=(), converter=_dead_letters)
    tasks: tuple[TaskRow, ...] = attrs.field(default=(), converter=_tasks)
    cancelled: tuple[str, ...] = attrs.field(default=(), converter=_cancelled)

    def __bool__(self) -> bool:
        return bool(
            self.changes
            or self.inbox
            or self.outbox
            or self.dead_letters
            or self.tasks
            or self.cancelled
        )


@runtime_checkable
class Store(Protocol):
    """Where the programme's records live: a unit of work per :meth:`commit`.

    Every method may raise :class:`~membercore.errors.StorageError`; a driver's own
    errors never escape.
    """

    url: str

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        """The records stored under ``keys`` (absent keys are left out)."""
        ...

    def seen(self, fact_ids: Collection[str]) -> dict[str, str]:
        """Of ``fact_ids``, those in the inbox, with the fingerprint they were taken with."""
        ...

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

    def events(self, key: str, *, after_version: int = 0) -> list[StoredEvent]:
        """A record's journal in order, from the commit after ``after_version``."""
        ...

    def scan(self, prefix: str = "") -> Iterator[Record]:
        """Every record whose key starts with ``prefix``, in key order, streamed."""
        ...

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
        the version check still keeps two engines named alike from deciding twice). A commit that
        changes the record releases its claim; a lease that ends (its engine crashed, or
        is slower than the lease) makes the record claimable again, so the lease must
        outlast ticking one page.

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

        Whatever it records releases the message's claim (see :meth:`claim_outbox`).
        """
        ...

    def outbox(self, status: str | None = None) -> Iterator[OutboxMessage]:
        """Every outbox message (of one status when given), in commit order."""
        ...

    def dead_letters(self) -> Iterator[DeadLetter]:
        """Every dead letter, oldest first (the same input refused again is kept once)."""
        ...

    def tasks(self, status: str | None = "open") -> Iterator[TaskRow]:
        """Staff tasks of a status (every task when None), by due instant then key."""
        ...

    def task_loads(self) -> dict[str, int]:
        """Open tasks per assignee."""
        ...

    def close(self) -> None:
        """Release connections and files; the store is unusable afterwards."""
        ...


@runtime_checkable
class Channel(Protocol):
    """A way to reach members: WeCom, SMS, e-mail, a console or file for testing."""

    name: str

    def send(self, message: OutboxMessage) -> str:
        """Deliver one message and return the channel's acknowledgment (its id).

        Raises:
            Exception: any failure; the dispatcher records it and retries with back-off.
        """
        ...


@runtime_checkable
class HisSource(Protocol):
    """Where facts come from: an HIS feed, a file of JSON lines, a message queue."""

    name: str

    def read(self) -> Iterable[Fact | Mapping[str, Any] | str | Unreadable | Positioned]:
        """Facts, tagged dicts or JSON text the engine reads (refused: dead letters).

        What the source cannot even turn into text (bytes that are not UTF-8) comes as
        :class:`Unreadable`, so that it is kept as a dead letter too, never dropped; an
        input wrapped in :class:`Positioned` has its position named in any refusal.
        """
        ...


@runtime_checkable
class Clock(Protocol):
    """The time, from outside: the core never reads a clock itself."""

    def now(self) -> datetime:
        """The current instant (timezone-aware).

        A clock may also offer ``sleep(seconds)``: the engine then waits between the
        retries of a unit of work that met a version conflict.
        """
        ...
