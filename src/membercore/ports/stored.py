"""What a store keeps, as frozen values: records, their events and everything a commit writes.

A store knows nothing of the programme: snapshots and payloads are JSON text the engine
writes and reads. Instants are aware and kept in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware, aware_or_none

__all__ = [
    "Change",
    "Commit",
    "DeadLetter",
    "Delivery",
    "IdentifierLink",
    "InboxEntry",
    "LoggedInput",
    "OutboxMessage",
    "Record",
    "SourcePosition",
    "StoredEvent",
    "TaskRow",
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


def _links(items: Iterable[IdentifierLink]) -> tuple[IdentifierLink, ...]:
    return tuple(items)


def _positions(items: Iterable[SourcePosition]) -> tuple[SourcePosition, ...]:
    return tuple(items)


def _inputs(items: Iterable[LoggedInput]) -> tuple[LoggedInput, ...]:
    return tuple(items)


def _keys(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


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
        manager: the member of staff who manages the record (a member's health
            manager), or None; it replaces the stored one, and case loads count it
            (:meth:`~membercore.ports.TaskStore.case_loads`).
    """

    key: str = attrs.field(validator=non_empty)
    expected_version: int
    snapshot: str | None
    events: tuple[StoredEvent, ...] = attrs.field(default=(), converter=_events)
    due_at: datetime | None = attrs.field(default=None, converter=_optional_instant)
    manager: str | None = None


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

    The last five attributes are what the store recorded of the message since: a store
    fills them in when it lists the message, and a commit writes none of them (a message
    is committed undelivered).

    Attributes:
        message_id: unique id (the outreach decision's message id).
        key: the member's record.
        channel: the channel to deliver on (``wecom``, ``sms``, ``email``, ``console``...).
        payload: the message as JSON text.
        send_at: not before this instant (quiet hours defer it).
        attempts: how many deliveries failed so far.
        status: ``pending``, ``delivered``, ``failed`` (given up) or ``cancelled``.
        receipt: the channel's acknowledgment, once delivered (the first receipt).
        address: the address it was delivered to (a handset's number, a mailbox), when
            the delivery named one.
        delivered_at: when it was delivered.
        outcome: the provider's final word on the delivered message (``delivered`` to
            the handset, ``undeliverable``...), once recorded (the first one).
        outcome_at: when the provider said it.
        last_error: why the last delivery failed or was held back, when one was.
    """

    message_id: str = attrs.field(validator=non_empty)
    key: str
    channel: str
    payload: str
    send_at: datetime = attrs.field(converter=as_utc, validator=aware)
    attempts: int = 0
    status: str = "pending"
    receipt: str | None = None
    address: str | None = None
    delivered_at: datetime | None = attrs.field(
        default=None, converter=_optional_instant, validator=aware_or_none
    )
    outcome: str | None = None
    outcome_at: datetime | None = attrs.field(
        default=None, converter=_optional_instant, validator=aware_or_none
    )
    last_error: str | None = None


@attrs.frozen(kw_only=True)
class Delivery:
    """What a channel said of one delivery.

    Attributes:
        message_id: the message.
        at: when it was tried.
        receipt: the channel's acknowledgment (its message id), when delivered.
        address: where it was delivered (a handset's number, a mailbox), when the
            channel's acknowledgment names it; kept with the receipt, ignored otherwise.
        error: why it failed, when it failed (or why it was held back).
        retry_at: when to try again after a failure (None: give up).
        held: not an attempt: the message was held back before it reached its channel
            (quiet hours at the hand-over), to be tried at ``retry_at``; no failure is
            counted.
        key: the message's record, when the caller knows it (a dispatcher does): the
            message is found in that record alone, on the one node that holds it in a
            store distributed by record.
    """

    message_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    receipt: str | None = None
    address: str | None = None
    error: str | None = None
    retry_at: datetime | None = attrs.field(default=None, converter=_optional_instant)
    held: bool = attrs.field(default=False)
    key: str | None = None

    @held.validator
    def _held_until(self, _attribute: object, held: bool) -> None:
        if held and (self.retry_at is None or self.receipt is not None):
            raise ValueError("a message held back has a retry_at and no receipt")


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
class IdentifierLink:
    """One of a patient's identifiers, and the patient it names.

    Attributes:
        system: who issued it (``MR``, ``GHH-MR``, ``urn:oid:2.16.840...``, as the source
            names it); ``""`` for another patient id a source used for the patient.
        value: the identifier.
        patient_id: the patient it names (a member's id).
    """

    system: str
    value: str = attrs.field(validator=non_empty)
    patient_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class SourcePosition:
    """How far a source's inputs have been committed: where a restart resumes.

    Attributes:
        source: the source's name (``hl7v2:his-adt``, ``fhir:https://...``...).
        position: the source's own words for the place after its last input committed
            (an offset, a watermark, a page link).
    """

    source: str = attrs.field(validator=non_empty)
    position: str


#: The kinds of input the log keeps: a fact taken, a command carried out, a tick.
INPUT_KINDS = ("fact", "command", "tick")


@attrs.frozen(kw_only=True)
class LoggedInput:
    """One input the engine took, kept as it was taken, in the commit of its decisions.

    The input log is what a replay feeds an engine again (``membercore whatif``): each
    fact applied, each command carried out (or refused by a part of the programme, which
    another programme might carry out), and each tick, in the order they were decided.

    Attributes:
        kind: ``fact``, ``command`` or ``tick``.
        payload: the message in its stored form (JSON text with its ``type`` and schema
            version, :func:`membercore.serialization.message_to_json`); empty for a tick.
        keys: the records it changed (for a refused input, those it concerns).
        at: the instant it was decided at (a tick's: the instant ticked to).
        occurred_at: when it happened: a fact's ``occurred_at``, a command's own instant
            (``at`` when it has none).
        batch_at: the instant of the call that took it (an ingestion batch's ``now``).
        refused: why a part of the programme refused it (None: it was carried out).
        cutoff: for history loaded (``history=True``), the import's cutoff.
        seq: its place in the log, numbered by the store from 1 in commit order (0 in a
            commit being written).
    """

    kind: str = attrs.field(validator=attrs.validators.in_(INPUT_KINDS))
    payload: str = ""
    keys: tuple[str, ...] = attrs.field(default=(), converter=_keys)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    occurred_at: datetime = attrs.field(converter=as_utc, validator=aware)
    batch_at: datetime = attrs.field(converter=as_utc, validator=aware)
    refused: str | None = None
    cutoff: datetime | None = attrs.field(
        default=None, converter=_optional_instant, validator=aware_or_none
    )
    seq: int = 0


@attrs.frozen(kw_only=True)
class TaskRow:
    """A staff task as the store lists it (the member's record holds the task itself).

    Attributes:
        task_key: the task's key, unique within its record (two members' tasks may
            share one).
        key: the member's record.
        kind: what to do (``call``, ``follow_up``...).
        role: the role that does it.
        assignee: the member of staff it is assigned to, if any.
        due_at: when it is due.
        status: ``open`` or ``closed``.
        payload: the task as JSON text: the event that last changed it.
    """

    task_key: str
    key: str
    kind: str
    role: str
    assignee: str | None
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    status: str = "open"
    payload: str = "{}"

    @property
    def unassigned_reason(self) -> str | None:
        """Why an open task waits unassigned (nobody on the roster has its role), if it does."""
        if self.status != "open" or self.assignee is not None:
            return None
        try:
            reason = json.loads(self.payload).get("unassigned_reason")
        except (ValueError, AttributeError):  # not the engine's payload: nothing to say
            return None
        return reason if isinstance(reason, str) else None


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
        identifiers: patients' identifiers first seen (an identifier already stored
            keeps the patient it named first).
        positions: the positions sources reached with the inputs this commit takes
            (each replaces the source's stored one).
        inputs: the inputs this commit's decisions were taken on, in the order they
            were decided: appended to the input log.
    """

    changes: tuple[Change, ...] = attrs.field(default=(), converter=_changes)
    inbox: tuple[InboxEntry, ...] = attrs.field(default=(), converter=_inbox)
    outbox: tuple[OutboxMessage, ...] = attrs.field(default=(), converter=_outbox)
    dead_letters: tuple[DeadLetter, ...] = attrs.field(default=(), converter=_dead_letters)
    tasks: tuple[TaskRow, ...] = attrs.field(default=(), converter=_tasks)
    cancelled: tuple[str, ...] = attrs.field(default=(), converter=_cancelled)
    identifiers: tuple[IdentifierLink, ...] = attrs.field(default=(), converter=_links)
    positions: tuple[SourcePosition, ...] = attrs.field(default=(), converter=_positions)
    inputs: tuple[LoggedInput, ...] = attrs.field(default=(), converter=_inputs)

    def __bool__(self) -> bool:
        return bool(
            self.changes
            or self.inbox
            or self.outbox
            or self.dead_letters
            or self.tasks
            or self.cancelled
            or self.identifiers
            or self.positions
            or self.inputs
        )
