"""What decisions write: records being worked on, and the one commit that stores them.

A :class:`Workspace` holds the records a unit of work loaded (members and households),
each with the version it was loaded at and the events decided since. :meth:`Workspace.commit`
turns them into one :class:`~membercore.ports.Commit`: each changed record's snapshot,
events and next due instant, the inbox entries of the facts taken, the outbox messages
the outreach policy queued, the staff tasks created or changed, and the dead letters.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from membercore import households, outreach, tasks
from membercore.config import ProgrammeConfig
from membercore.idempotency import fingerprint
from membercore.member import Member, evolve_all, new_member, next_due
from membercore.ports import (
    Change,
    Commit,
    DeadLetter,
    InboxEntry,
    OutboxMessage,
    Record,
    StoredEvent,
    TaskRow,
)
from membercore.serialization import (
    message_from_stored,
    message_to_json,
    record_from_json,
    record_to_json,
)

__all__ = [
    "HOUSEHOLD",
    "MEMBER",
    "Working",
    "Workspace",
    "dead_letter",
    "household_key",
    "member_key",
    "read_state",
]

MEMBER = "member:"
HOUSEHOLD = "household:"


def member_key(member_id: str) -> str:
    """The store key of a member's record."""
    return MEMBER + member_id


def household_key(household_id: str) -> str:
    """The store key of a household's record."""
    return HOUSEHOLD + household_id


@attrs.define
class Working:
    """A record being worked on: its state, the version loaded, the events since.

    ``snapshot_version`` is the version of the stored snapshot; ``touched`` marks a
    record to write although nothing happened to it (its due instant moved on).
    """

    key: str
    state: Any
    version: int
    snapshot_version: int = 0
    events: list[object] = attrs.field(factory=list)
    touched: bool = False


def dead_letter(message: object, raw: object, reason: str, at: datetime) -> DeadLetter:
    """A dead letter for a refused input, named by its fact id or command key."""
    ident = getattr(message, "fact_id", None) or getattr(message, "key", None)
    if ident is None and isinstance(raw, Mapping):
        ident = raw.get("fact_id") or raw.get("key")
    payload = raw if isinstance(raw, str) else _json_or_repr(message if raw is None else raw)
    return DeadLetter(
        fact_id=str(ident) if ident else f"input:{fingerprint(payload)}",
        fact_type=str(getattr(message, "TYPE", "") or _tag(raw)),
        payload=payload,
        reason=reason,
        at=at,
    )


def _tag(raw: object) -> str:
    return str(raw.get("type", "")) if isinstance(raw, Mapping) else ""


def _json_or_repr(value: object) -> str:
    if hasattr(value, "TYPE"):
        try:
            return message_to_json(value)
        except TypeError:
            pass
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


class Workspace:
    """The records one unit of work loaded, and what it decided about them."""

    def __init__(self, config: ProgrammeConfig, now: datetime, *, snapshot_every: int = 1) -> None:
        self.config = config
        self.now = now
        self.snapshot_every = snapshot_every
        self.records: dict[str, Working] = {}
        self.inbox: list[InboxEntry] = []
        self.dead: list[DeadLetter] = []
        self.loads: Counter[str] = Counter()

    def add_loaded(self, records: Mapping[str, Record], states: Mapping[str, Any]) -> None:
        """Take records the store returned, with their states (decoded or kept).

        A record already being worked on is kept as it is.
        """
        for key, record in records.items():
            if key not in self.records:
                held = Working(key, states[key], record.version, record.snapshot_version)
                self.records[key] = held

    def member(self, member_id: str, *, create: bool = False) -> Working | None:
        """The member's record, a new one when ``create`` and none is stored."""
        key = member_key(member_id)
        held = self.records.get(key)
        if held is None and create:
            held = self.records[key] = Working(key, new_member(member_id), 0)
        return held

    def household(self, household_id: str) -> Working:
        """The household's record (a new, unformed one when none is stored)."""
        key = household_key(household_id)
        held = self.records.get(key)
        if held is None:
            state = households.HouseholdState(household_id=household_id)
            held = self.records[key] = Working(key, state, 0)
        return held

    def take_fact(self, fact_id: str, key: str, digest: str) -> None:
        """Record a fact as taken."""
        self.inbox.append(InboxEntry(fact_id=fact_id, key=key, fingerprint=digest, at=self.now))

    def commit(self, *, after: datetime | None = None) -> tuple[Commit, dict[str, tuple[int, Any]]]:
        """The commit of everything decided, and each changed record's new (version, state).

        Args:
            after: for a tick, the instant ticked to: a record is next due after it.
        """
        changes: list[Change] = []
        outbox: list[OutboxMessage] = []
        task_rows: list[TaskRow] = []
        written: dict[str, tuple[int, Any]] = {}
        cancelled: list[str] = []
        for held in self.records.values():
            if not held.events and not held.touched:
                continue
            version = held.version + 1
            state = held.state
            due = next_due(state, self.config, after=after) if isinstance(state, Member) else None
            fresh = held.version == 0 or version - held.snapshot_version >= self.snapshot_every
            changes.append(
                Change(
                    key=held.key,
                    expected_version=held.version,
                    snapshot=record_to_json(state) if fresh else None,
                    events=tuple(_stored(held.key, version, held.events, self.now)),
                    due_at=due,
                )
            )
            written[held.key] = (version, state)
            if isinstance(state, Member):
                outbox += _outbox(held.key, held.events)
                task_rows += _tasks(held.key, state, held.events)
                cancelled += [
                    event.message_id
                    for event in held.events
                    if isinstance(event, outreach.MessageCancelled)
                ]
        commit = Commit(
            changes=tuple(changes),
            inbox=tuple(self.inbox),
            outbox=tuple(outbox),
            dead_letters=tuple(self.dead),
            tasks=tuple(task_rows),
            cancelled=tuple(cancelled),
        )
        return commit, written


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
    for name in ("at", "decided_at", "recorded_at"):
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
            payload=message_to_json(event),
            send_at=event.send_at,
        )
        for event in events
        if isinstance(event, outreach.MessageQueued)
    ]


_TASK_EVENTS = (tasks.TaskCreated, tasks.TaskEscalated, tasks.TaskClosed)


def _tasks(key: str, member: Member, events: Iterable[object]) -> list[TaskRow]:
    rows: dict[str, TaskRow] = {}
    for event in events:
        if isinstance(event, _TASK_EVENTS):
            task = member.work.tasks[event.task_key]
            rows[task.key] = TaskRow(
                task_key=task.key,
                key=key,
                kind=task.kind,
                role=task.role,
                assignee=task.assignee,
                due_at=task.due_at,
                status=task.status,
                payload=message_to_json(event),
            )
        elif isinstance(event, outreach.PhoneTaskRequested):
            rows[event.message_id] = TaskRow(
                task_key=event.message_id,
                key=key,
                kind="call",
                role="call_centre",
                assignee=None,
                due_at=event.due_at,
                payload=message_to_json(event),
            )
    return list(rows.values())
