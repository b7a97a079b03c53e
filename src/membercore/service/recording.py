"""What decisions write: records being worked on, and the one commit that stores them.

A :class:`Working` record is one a unit of work loaded (a member, a household, a gift's
stock), with the version it was loaded at and the events decided since.
:func:`build_commit` turns them into one :class:`~membercore.ports.Commit`: each changed
record's snapshot, events and next due instant, the inbox entries of the facts taken,
the outbox messages the outreach policy queued, the staff tasks created or changed, and
the dead letters. :func:`read_state` turns a stored record back into its state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from membercore import households, outreach, rewards
from membercore.config import ProgrammeConfig
from membercore.idempotency import digest
from membercore.ports import (
    Change,
    Commit,
    DeadLetter,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    OutboxMessage,
    Record,
    SourcePosition,
    StoredEvent,
    TaskRow,
    Unreadable,
)
from membercore.serialization import (
    message_from_stored,
    message_to_json,
    record_from_json,
    record_to_json,
)
from membercore.service.member import INSTANT_FIELDS, Member, clock_after, evolve_all, next_due
from membercore.service.notices import STAFF, notices
from membercore.staff import tasks
from membercore.text import brief

__all__ = [
    "HOUSEHOLD",
    "MEMBER",
    "STOCK",
    "TASK_EVENTS",
    "Working",
    "build_commit",
    "clock_of",
    "dead_letter",
    "household_key",
    "manager_of",
    "member_key",
    "member_of",
    "read_state",
    "stock_key",
    "task_row",
]

MEMBER = "member:"
HOUSEHOLD = "household:"
STOCK = "stock:"


def member_key(member_id: str) -> str:
    """The store key of a member's record."""
    return MEMBER + member_id


def member_of(key: str) -> str:
    """The member a record's store key names (the inverse of :func:`member_key`)."""
    return key.removeprefix(MEMBER)


def household_key(household_id: str) -> str:
    """The store key of a household's record."""
    return HOUSEHOLD + household_id


def stock_key(reward_key: str) -> str:
    """The store key of a gift's stock record."""
    return STOCK + reward_key


@attrs.define
class Working:
    """A record being worked on: its state, the version loaded, the events since.

    ``snapshot_version`` is the version of the stored snapshot, ``snapshot_size`` its
    length and ``journal_size`` the length of the events stored since (in characters);
    ``touched`` marks a
    record to write although nothing happened to it (its due instant moved on);
    ``undo``, when given, is where each change notes what it replaced, so that a unit
    of work can take back what one refused input decided.
    """

    key: str
    state: Any
    version: int
    snapshot_version: int = 0
    events: list[object] = attrs.field(factory=list)
    snapshot_size: int = 0
    journal_size: int = 0
    touched: bool = False
    undo: list[Any] | None = None

    def take(self, state: Any, events: Iterable[object]) -> None:
        """The record's new state, and the events that made it."""
        if self.undo is not None:
            # By key, not by this record: the list must not hold the record that holds it
            # (a cycle only the garbage collector's passes would free).
            self.undo.append((self.key, self.state, len(self.events), self.touched))
        self.state = state
        self.events.extend(events)


def dead_letter(message: object, raw: object, reason: str, at: datetime) -> DeadLetter:
    """A dead letter for a refused input, named by its fact id or command key.

    Args:
        message: what could be read of the input: the message, or the tagged dict it
            held (None when nothing could be read).
        raw: the input as received.
        reason: why it was refused.
        at: when.
    """
    named = message if isinstance(message, Mapping) else raw
    ident = getattr(message, "fact_id", None) or getattr(message, "key", None)
    if ident is None and isinstance(named, Mapping):
        ident = named.get("fact_id") or named.get("key")
    payload = raw if isinstance(raw, str) else _json_or_repr(message if raw is None else raw)
    if isinstance(raw, Unreadable):
        payload = raw.raw  # what a source could not read, as it escaped it
    return DeadLetter(
        fact_id=_text(ident) if ident else f"input:{digest(payload)}",
        fact_type=_text(getattr(message, "TYPE", "") or _tag(named)),
        payload=payload,
        reason=reason,
        at=at,
    )


def _tag(raw: object) -> str:
    return _text(raw.get("type", "")) if isinstance(raw, Mapping) else ""


def _text(value: object) -> str:
    return value if isinstance(value, str) else brief(value)


def _json_or_repr(value: object) -> str:
    if hasattr(value, "TYPE"):
        try:
            return message_to_json(value)
        except (TypeError, ValueError, AttributeError, RecursionError):
            pass  # a message built with values its type does not take
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return brief(value)


def build_commit(
    records: Iterable[Working],
    config: ProgrammeConfig,
    now: datetime,
    *,
    inbox: Sequence[InboxEntry] = (),
    dead: Sequence[DeadLetter] = (),
    identifiers: Sequence[IdentifierLink] = (),
    positions: Sequence[SourcePosition] = (),
    inputs: Sequence[LoggedInput] = (),
    snapshot_every: int = 1,
    after: datetime | None = None,
) -> tuple[Commit, dict[str, tuple[int, Any, int]]]:
    """The commit of everything decided, and each changed record's new (version, state).

    Each changed record's snapshot (when due), events and next due instant, the inbox
    entries of the facts taken, the outbox messages the outreach policy queued, the
    staff tasks created or changed, and the dead letters.

    Args:
        records: the records worked on.
        config: the programme.
        now: the instant of the decisions.
        inbox: the facts taken.
        dead: the inputs refused.
        identifiers: patients' identifiers the facts taken named.
        positions: the positions the sources reached.
        inputs: the inputs decided, for the input log.
        snapshot_every: write a record's snapshot again after this many commits, once
            the journal since the last one is at least as long as it (see
            :func:`snapshot_due`).
        after: for a tick, the instant ticked to: a record is next due after it.

    Returns:
        The commit, and for each changed record its new version, its state and the
        length of its journal since its snapshot.
    """
    changes: list[Change] = []
    outbox: list[OutboxMessage] = []
    task_rows: list[TaskRow] = []
    written: dict[str, tuple[int, Any, int]] = {}
    cancelled: list[str] = []
    for held in records:
        if not held.events and not held.touched:
            continue
        version = held.version + 1
        state = held.state
        due = next_due(state, config, after=after) if isinstance(state, Member) else None
        events = tuple(_stored(held.key, version, held.events, now))
        journal = held.journal_size + sum(len(event.payload) for event in events)
        fresh = held.version == 0 or snapshot_due(held, version, journal, snapshot_every)
        changes.append(
            Change(
                key=held.key,
                expected_version=held.version,
                snapshot=record_to_json(state) if fresh else None,
                events=events,
                due_at=due,
                manager=manager_of(state) if isinstance(state, Member) else None,
            )
        )
        written[held.key] = (version, state, 0 if fresh else journal)
        if isinstance(state, Member):
            outbox += _outbox(held.key, held.events)
            if STAFF in config.channels:
                outbox += notices(held.key, state, held.events, config.tz)
            task_rows += _tasks(held.key, state, held.events)
            cancelled += [
                event.message_id
                for event in held.events
                if isinstance(event, outreach.MessageCancelled)
            ]
    commit = Commit(
        changes=tuple(changes),
        inbox=tuple(inbox),
        outbox=tuple(outbox),
        dead_letters=tuple(dead),
        tasks=tuple(task_rows),
        cancelled=tuple(cancelled),
        identifiers=tuple(identifiers),
        positions=tuple(positions),
        inputs=tuple(inputs),
    )
    return commit, written


def snapshot_due(held: Working, version: int, journal: int, snapshot_every: int) -> bool:
    """Whether a record's snapshot is written again with the commit making ``version``.

    Once the journal written since (``journal`` characters, this commit's included) is
    at least as long as the snapshot, and either ``snapshot_every`` commits have changed
    the record since its snapshot or the journal is past :data:`LONG_JOURNAL` (a history
    import's few commits of thousands of events each): a large record's snapshot is
    then written as seldom as its size pays for, and reading the record cold never
    replays much more journal than a snapshot's worth (or ``snapshot_every`` commits of
    a small one).
    """
    if journal < held.snapshot_size:
        return False
    return version - held.snapshot_version >= snapshot_every or journal >= LONG_JOURNAL


#: A journal this long (characters) since a record's snapshot is replayed no longer,
#: however few commits wrote it.
LONG_JOURNAL = 1 << 16


def manager_of(member: Member) -> str | None:
    """Whose case load the member counts in: their health manager's, while they live.

    A record merged away, or of a member whose death is recorded, counts for nobody.
    """
    identity = member.identity
    if identity.merged_into is not None or identity.died_at is not None:
        return None
    return member.work.health_manager


def clock_of(journal: Iterable[StoredEvent]) -> datetime | None:
    """A member record's clock (:attr:`Member.as_of`) as its whole journal gives it."""
    return clock_after(None, (message_from_stored(event.payload) for event in journal))


def read_state(record: Record, journal: Sequence[StoredEvent] = ()) -> Any:
    """The state of a stored record: its snapshot, brought up to date by its journal.

    Args:
        record: the record as the store returned it.
        journal: the events of the versions after ``record.snapshot_version``.
    """
    events = [message_from_stored(event.payload) for event in journal]
    if record.key.startswith(MEMBER):
        member: Member = record_from_json(record.snapshot, Member)
        return evolve_all(member, events)
    if record.key.startswith(STOCK):
        stock = record_from_json(record.snapshot, rewards.StockState)
        for event in events:
            stock = rewards.evolve_stock(stock, event)
        return stock
    household = record_from_json(record.snapshot, households.HouseholdState)
    for event in events:
        household = households.evolve(household, event)
    return household


def _stored(key: str, version: int, events: Iterable[object], now: datetime) -> list[StoredEvent]:
    return [
        StoredEvent(
            key=key,
            version=version,
            type=str(getattr(event, "TYPE", type(event).__name__)),
            at=_instant_of(event) or now,
            payload=message_to_json(event),
        )
        for event in events
    ]


def _instant_of(event: object) -> datetime | None:
    for name in INSTANT_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, datetime):
            return value
    return None


def _outbox(key: str, events: Iterable[object]) -> list[OutboxMessage]:
    return [
        OutboxMessage(
            message_id=event.message_id,
            key=key,
            channel=event.channel,
            payload=outreach.outgoing(event),
            send_at=event.send_at,
        )
        for event in events
        if isinstance(event, outreach.MessageQueued)
    ]


#: The events that change a task: a task's row carries the last of them.
TASK_EVENTS = (tasks.TaskCreated, tasks.TaskAssigned, tasks.TaskEscalated, tasks.TaskClosed)


def _tasks(key: str, member: Member, events: Iterable[object]) -> list[TaskRow]:
    rows: dict[str, TaskRow] = {}
    for event in events:
        if isinstance(event, TASK_EVENTS):
            task = member.work.tasks[event.task_key]
            rows[task.key] = task_row(key, task, message_to_json(event))
        elif isinstance(event, outreach.MessageCancelled) and event.channel == "phone":
            # The call task of a cancelled call is closed, saying why (a call an earlier
            # release asked for has no task on the record: only its row says it is open).
            rows[event.message_id] = _call(key, event, event.cancelled_at)
    return list(rows.values())


def task_row(key: str, task: tasks.Task, payload: str) -> TaskRow:
    """The row of the task the record ``key`` holds, carrying ``payload`` (the last event of it)."""
    return TaskRow(
        task_key=task.key,
        key=key,
        kind=task.kind,
        role=task.role,
        assignee=task.assignee,
        due_at=task.due_at,
        status=task.status,
        payload=payload,
    )


def _call(key: str, event: outreach.MessageCancelled, due_at: datetime) -> TaskRow:
    """The closed row of a cancelled staff call (its task key: the message id)."""
    return TaskRow(
        task_key=event.message_id,
        key=key,
        kind="call",
        role="call_centre",
        assignee=None,
        due_at=due_at,
        status="closed",
        payload=message_to_json(event),
    )
