"""The row mapping of the SQL stores: a commit as rows, and rows read back as port values.

SQLite and PostgreSQL keep the same tables with the same columns, in the same order.
What differs is how a column holds text and instants: SQLite keeps text as it is and
instants as integer microseconds; PostgreSQL keeps instants as ``timestamptz`` and text
with U+0000 escaped, as it cannot hold it. A :class:`Rows` is built with the four
conversions of one dialect and does the rest the same way for both.

A record's snapshot and each commit's events of a record are stored packed
(:mod:`~membercore_adapters.stores.packing`): bytes, which neither dialect changes. A
record written before keeps its snapshot as text until it is next written whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import groupby
from typing import Any

import attrs

from membercore.ports import (
    SCOPES,
    ApiToken,
    Commit,
    DeadLetter,
    IdentifierLink,
    LoggedInput,
    Lookup,
    OutboxMessage,
    Record,
    StaffAccount,
    StoredEvent,
    TaskRow,
)
from membercore.ports.commits import CheckedCommit
from membercore_adapters.stores.packing import (
    JOURNAL,
    RECORD,
    PackingError,
    Unpacked,
    pack,
    pack_events,
    unpack,
    unpack_events,
)

__all__ = [
    "INPUT_COLUMNS",
    "LOOKUP_COLUMNS",
    "OUTBOX_COLUMNS",
    "STAFF_COLUMNS",
    "TASK_COLUMNS",
    "TASK_UPSERT",
    "TOKEN_COLUMNS",
    "CommitRows",
    "Rows",
    "unchanged",
]

#: The columns an outbox message is read from (the first, its place in commit order).
OUTBOX_COLUMNS = (
    "seq, message_id, key, channel, payload, send_at, attempts, status, "
    "receipt, address, delivered_at, outcome, outcome_at, last_error"
)
#: The columns a task is read from.
TASK_COLUMNS = "task_key, key, kind, role, assignee, due_at, status, payload"
#: The columns an API token is read from.
TOKEN_COLUMNS = "token_id, name, scopes, digest, created_at, revoked_at"
#: The columns a staff account is read from.
STAFF_COLUMNS = "staff_id, name, role, password_hash, active, created_at"
#: The columns a logged input is read from (the first, its place in the log).
INPUT_COLUMNS = "seq, kind, keys, at, occurred_at, batch_at, cutoff, refused, payload"
#: The columns a look-up is read from (the first, its place in the order recorded).
LOOKUP_COLUMNS = "seq, at, who, member_id, purpose, via"
#: What writing a task of a stored key does: it replaces the stored row.
TASK_UPSERT = """ON CONFLICT (key, task_key) DO UPDATE SET
        kind = excluded.kind, role = excluded.role, assignee = excluded.assignee,
        due_at = excluded.due_at, status = excluded.status, payload = excluded.payload"""


def unchanged(text: str) -> str:
    """``text`` as it is: for a dialect that holds every text unchanged."""
    return text


@attrs.frozen
class Rows:
    """How one dialect's columns hold text and instants, and the rows that follow.

    Attributes:
        put: text as the column holds it.
        got: a column's text as it was written (the inverse of ``put``).
        instant: an aware instant as the column holds it.
        moment: a column's instant as an aware datetime in UTC.
    """

    put: Callable[[str], str]
    got: Callable[[str], str]
    instant: Callable[[datetime], Any]
    moment: Callable[[Any], datetime]

    def put_optional(self, text: str | None) -> str | None:
        """``put``, keeping None."""
        return None if text is None else self.put(text)

    def instant_optional(self, instant: datetime | None) -> Any:
        """``instant``, keeping None."""
        return None if instant is None else self.instant(instant)

    def got_optional(self, text: str | None) -> str | None:
        """``got``, keeping None."""
        return None if text is None else self.got(text)

    def moment_optional(self, value: Any) -> datetime | None:
        """``moment``, keeping None."""
        return None if value is None else self.moment(value)

    # -- read -------------------------------------------------------------------------

    def record(self, row: tuple[Any, ...], unpacked: Unpacked) -> Record:
        """A record from ``key, version, snapshot, snapshot_version, packed``.

        The text snapshot when there is one (an earlier release wrote it: this one
        leaves the column empty), else the packed one, unpacked by ``unpacked``.
        """
        key, version, snapshot, snapshot_version, packed = row
        key = self.got(key)
        if not snapshot and packed is None:
            raise PackingError("the record holds no snapshot, packed or as text")
        text = self.got(snapshot) if snapshot else unpacked.text(key, packed)
        return Record(key=key, version=version, snapshot=text, snapshot_version=snapshot_version)

    def event(self, key: str, row: tuple[Any, ...]) -> StoredEvent:
        """An event of ``key`` from ``version, type, at, payload`` (an earlier release's row)."""
        version, type_, at, payload = row
        got = self.got
        return StoredEvent(
            key=key, version=version, type=got(type_), at=self.moment(at), payload=got(payload)
        )

    def journal(self, key: str, row: tuple[Any, ...]) -> list[StoredEvent]:
        """The events of one commit of ``key``, from ``version, events`` (packed)."""
        version, packed = row
        return [
            StoredEvent(key=key, version=version, type=type_, at=at, payload=payload)
            for type_, at, payload in unpack_events(packed)
        ]

    def message(self, row: tuple[Any, ...]) -> OutboxMessage:
        """An outbox message from :data:`OUTBOX_COLUMNS`."""
        _, message_id, key, channel, payload, send_at, attempts, status = row[:8]
        receipt, address, delivered_at, outcome, outcome_at, last_error = row[8:]
        got, got_optional, moment_optional = self.got, self.got_optional, self.moment_optional
        return OutboxMessage(
            message_id=got(message_id),
            key=got(key),
            channel=got(channel),
            payload=got(payload),
            send_at=self.moment(send_at),
            attempts=attempts,
            status=got(status),
            receipt=got_optional(receipt),
            address=got_optional(address),
            delivered_at=moment_optional(delivered_at),
            outcome=got_optional(outcome),
            outcome_at=moment_optional(outcome_at),
            last_error=got_optional(last_error),
        )

    def letter(self, row: tuple[Any, ...]) -> DeadLetter:
        """A dead letter from ``seq, fact_id, fact_type, payload, reason, at``."""
        _, fact_id, fact_type, payload, reason, at = row
        got = self.got
        return DeadLetter(
            fact_id=got(fact_id),
            fact_type=got(fact_type),
            payload=got(payload),
            reason=got(reason),
            at=self.moment(at),
        )

    def logged(self, row: tuple[Any, ...]) -> LoggedInput:
        """A logged input from :data:`INPUT_COLUMNS`."""
        seq, kind, keys, at, occurred_at, batch_at, cutoff, refused, payload = row
        got = self.got
        return LoggedInput(
            seq=int(seq),
            kind=got(kind),
            keys=json.loads(got(keys)),
            at=self.moment(at),
            occurred_at=self.moment(occurred_at),
            batch_at=self.moment(batch_at),
            cutoff=self.moment_optional(cutoff),
            refused=self.got_optional(refused),
            payload=unpack(payload),
        )

    def link(self, row: tuple[Any, ...]) -> IdentifierLink:
        """An identifier from ``value, system, patient_id``."""
        value, system, patient_id = row
        got = self.got
        return IdentifierLink(system=got(system), value=got(value), patient_id=got(patient_id))

    def task(self, row: tuple[Any, ...]) -> TaskRow:
        """A task from :data:`TASK_COLUMNS`."""
        task_key, key, kind, role, assignee, due_at, status, payload = row
        got = self.got
        return TaskRow(
            task_key=got(task_key),
            key=got(key),
            kind=got(kind),
            role=got(role),
            assignee=None if assignee is None else got(assignee),
            due_at=self.moment(due_at),
            status=got(status),
            payload=got(payload),
        )

    def token(self, row: tuple[Any, ...]) -> ApiToken:
        """An API token from :data:`TOKEN_COLUMNS`.

        Its scopes are space-separated; a scope this release does not know (a later
        release's) grants nothing here and is left out.
        """
        token_id, name, scopes, digest, created_at, revoked_at = row
        got = self.got
        return ApiToken(
            token_id=got(token_id),
            name=got(name),
            scopes=[scope for scope in got(scopes).split() if scope in SCOPES],
            digest=got(digest),
            created_at=self.moment(created_at),
            revoked_at=self.moment_optional(revoked_at),
        )

    def staff(self, row: tuple[Any, ...]) -> StaffAccount:
        """A staff account from :data:`STAFF_COLUMNS`."""
        staff_id, name, role, password_hash, active, created_at = row
        got = self.got
        return StaffAccount(
            staff_id=got(staff_id),
            name=got(name),
            role=got(role),
            password_hash=got(password_hash),
            active=bool(active),
            created_at=self.moment(created_at),
        )

    def lookup(self, row: tuple[Any, ...]) -> Lookup:
        """A look-up from :data:`LOOKUP_COLUMNS`."""
        _, at, who, member_id, purpose, via = row
        got = self.got
        return Lookup(
            at=self.moment(at),
            who=got(who),
            member_id=got(member_id),
            purpose=got(purpose),
            via=got(via),
        )

    # -- write ------------------------------------------------------------------------

    def journal_rows(self, events: Iterable[StoredEvent]) -> list[tuple[Any, ...]]:
        """``(key, version, packed events)`` per commit, from events in commit order."""
        return [
            (self.put(key), version, pack_events((e.type, e.at, e.payload) for e in commit))
            for (key, version), commit in groupby(events, key=lambda e: (e.key, e.version))
        ]

    def commit(self, checked: CheckedCommit, commit: Commit) -> CommitRows:
        """``commit`` (checked as ``checked``) as rows for each table."""
        return CommitRows(self, checked, commit)


class CommitRows:
    """A commit as rows, one list per table, built before the transaction opens.

    Attributes:
        records: per record, ``(key, expected version, version, packed snapshot or
            None, snapshot version, due instant, manager or None)``, in the order of its
            first change.
        journal: ``(key, version, packed events)``, one per change that has events, in
            commit order.
        inbox: ``(fact_id, key, fingerprint, at)``.
        outbox: ``(message_id, key, channel, payload, send_at, status, attempts)``.
        dead_letters: ``(fact_id, fact_type, payload, reason, at)``.
        tasks: ``(task_key, key, kind, role, assignee, due_at, status, payload)``, one
            per task (its record and task key), the last one written (as upserts row by
            row would leave).
        cancelled: the message ids to cancel.
        identifiers: ``(value, system, patient_id)``.
        positions: ``(source, position)``, one per source, the last one written.
        inputs: ``(kind, keys, at, occurred_at, batch_at, cutoff, refused, payload)``,
            the keys as a JSON array, in the order the commit lists them.
    """

    __slots__ = (
        "cancelled",
        "dead_letters",
        "identifiers",
        "inbox",
        "inputs",
        "journal",
        "outbox",
        "positions",
        "records",
        "tasks",
    )

    def __init__(self, rows: Rows, checked: CheckedCommit, commit: Commit) -> None:
        put, instant, put_optional = rows.put, rows.instant, rows.put_optional
        expected = checked.expected
        self.records = [
            (
                put(key),
                expected[key],
                version,
                None if snapshot is None else pack(RECORD, snapshot),
                snapshot_version,
                rows.instant_optional(due_at),
                put_optional(manager),
            )
            for key, (version, snapshot, snapshot_version, due_at, manager) in (
                checked.outcomes.items()
            )
        ]
        self.journal = rows.journal_rows(e for _, e in checked.events)
        self.inbox = [
            (put(e.fact_id), put(e.key), put(e.fingerprint), instant(e.at)) for e in commit.inbox
        ]
        self.outbox = [
            (
                put(m.message_id),
                put(m.key),
                put(m.channel),
                put(m.payload),
                instant(m.send_at),
                put(m.status),
                m.attempts,
            )
            for m in commit.outbox
        ]
        self.dead_letters = [
            (put(d.fact_id), put(d.fact_type), put(d.payload), put(d.reason), instant(d.at))
            for d in commit.dead_letters
        ]
        tasks = {
            (t.key, t.task_key): (
                put(t.task_key),
                put(t.key),
                put(t.kind),
                put(t.role),
                put_optional(t.assignee),
                instant(t.due_at),
                put(t.status),
                put(t.payload),
            )
            for t in commit.tasks
        }
        self.tasks = list(tasks.values())
        self.cancelled = [put(message_id) for message_id in commit.cancelled]
        self.identifiers = [
            (put(link.value), put(link.system), put(link.patient_id)) for link in commit.identifiers
        ]
        positions = {reached.source: reached.position for reached in commit.positions}
        self.positions = [(put(source), put(position)) for source, position in positions.items()]
        self.inputs = [
            (
                put(i.kind),
                put(json.dumps(list(i.keys), ensure_ascii=False)),
                instant(i.at),
                instant(i.occurred_at),
                instant(i.batch_at),
                rows.instant_optional(i.cutoff),
                put_optional(i.refused),
                pack(JOURNAL, i.payload),
            )
            for i in commit.inputs
        ]
