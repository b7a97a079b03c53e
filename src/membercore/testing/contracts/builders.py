"""What the contracts build their scenarios from, and what a backend's own tests reuse.

:func:`every_table` (a commit writing a row to every table) and :func:`assert_empty`
serve a backend's own tests too: migrations that must keep every row, failed commits
that must leave none.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import settings

from membercore.ports import (
    AccountStore,
    Change,
    Commit,
    DeadLetter,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    OutboxMessage,
    Recorder,
    SourcePosition,
    Store,
    StoredEvent,
    TaskRow,
)

__all__ = [
    "EXAMPLES",
    "LEASE",
    "MINUTE",
    "SECOND",
    "SHANGHAI",
    "T0",
    "assert_empty",
    "change_of",
    "create",
    "event_of",
    "every_table",
    "examples",
    "fact_of",
    "is_utc",
    "letter_of",
    "message_ids",
    "message_of",
    "task_of",
]

#: The instant the suite's scenarios start from.
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
#: A timezone other than UTC, for instants that must come back the same.
SHANGHAI = timezone(timedelta(hours=8), "CST")
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
#: The lease of the suite's claims.
LEASE = timedelta(minutes=5)
#: Numbers the examples of a property, so that each works under keys of its own.
EXAMPLES = itertools.count()


def event_of(key: str, version: int, n: int = 0, *, at: datetime = T0) -> StoredEvent:
    """A ``posting`` event of ``key`` at ``version`` (``n`` tells events apart)."""
    return StoredEvent(
        key=key, version=version, type="posting", at=at, payload=f'{{"key":"{key}","n":{n}}}'
    )


def change_of(
    key: str,
    expected_version: int = 0,
    *,
    snapshot: str | None = None,
    events: int = 1,
    due_at: datetime | None = None,
    manager: str | None = None,
) -> Change:
    """A change of ``key`` from ``expected_version``, with a snapshot and ``events`` events."""
    version = expected_version + 1
    return Change(
        key=key,
        expected_version=expected_version,
        snapshot=snapshot if snapshot is not None else f'{{"key":"{key}","v":{version}}}',
        events=[event_of(key, version, n) for n in range(events)],
        due_at=due_at,
        manager=manager,
    )


def fact_of(fact_id: str, key: str = "member:p-1", fingerprint: str = "f1") -> InboxEntry:
    """A fact taken into the inbox."""
    return InboxEntry(fact_id=fact_id, key=key, fingerprint=fingerprint, at=T0)


def message_of(
    message_id: str,
    *,
    key: str = "member:p-1",
    send_at: datetime = T0,
    payload: str = "{}",
    channel: str = "sms",
) -> OutboxMessage:
    """A message to deliver, by SMS unless ``channel`` says otherwise."""
    return OutboxMessage(
        message_id=message_id, key=key, channel=channel, payload=payload, send_at=send_at
    )


def letter_of(fact_id: str, reason: str = "unknown fact type", at: datetime = T0) -> DeadLetter:
    """A refused input."""
    return DeadLetter(
        fact_id=fact_id, fact_type="mystery", payload='{"type":"mystery"}', reason=reason, at=at
    )


def task_of(
    task_key: str,
    *,
    key: str = "member:p-1",
    due_at: datetime = T0,
    assignee: str | None = "nurse-li",
    status: str = "open",
    payload: str = "{}",
) -> TaskRow:
    """A call task for the health manager, about the member of the record ``key``."""
    return TaskRow(
        task_key=task_key,
        key=key,
        kind="call",
        role="health_manager",
        assignee=assignee,
        due_at=due_at,
        status=status,
        payload=payload,
    )


def every_table(key: str = "member:p-1", expected_version: int = 0) -> Commit:
    """A commit that writes a row to every table, for a backend's own tests.

    A record with one event, a fact in the inbox, an outbox message, a dead letter, a
    task, an identifier, a source's position and a logged input: what migrations must
    keep and failed commits must leave out.

    Args:
        key: the record it changes; the other rows' ids are made from it.
        expected_version: the record's version before the commit.
    """
    version = expected_version + 1
    return Commit(
        changes=[
            Change(
                key=key,
                expected_version=expected_version,
                snapshot='{"points":1}',
                events=[StoredEvent(key=key, version=version, type="posting", at=T0, payload="{}")],
                due_at=T0,
            )
        ],
        inbox=[InboxEntry(fact_id=f"fact-{key}-{version}", key=key, fingerprint="f", at=T0)],
        outbox=[
            OutboxMessage(
                message_id=f"m-{key}-{version}", key=key, channel="sms", payload="{}", send_at=T0
            )
        ],
        dead_letters=[
            DeadLetter(fact_id=f"bad-{key}", fact_type="x", payload="{", reason="not JSON", at=T0)
        ],
        tasks=[
            TaskRow(
                task_key=f"task-{key}", key=key, kind="call", role="nurse", assignee=None, due_at=T0
            )
        ],
        identifiers=[IdentifierLink(system="MR", value=f"mr-{key}", patient_id=key)],
        positions=[SourcePosition(source=f"source-{key}", position=str(version))],
        inputs=[
            LoggedInput(
                kind="fact",
                payload='{"type":"checked_in"}',
                keys=[key],
                at=T0,
                occurred_at=T0,
                batch_at=T0,
            )
        ],
    )


def assert_empty(store: Store) -> None:
    """Assert that ``store`` holds nothing :func:`every_table` would have written.

    A store that keeps accounts (:class:`~membercore.ports.AccountStore`) holds no
    token, staff account or look-up either.
    """
    assert list(store.scan()) == []
    assert store.events("member:p-1") == []
    assert store.seen(["fact-member:p-1-1"]) == {}
    assert list(store.outbox()) == []
    assert list(store.dead_letters()) == []
    assert list(store.tasks(None)) == []
    assert store.due(T0 + timedelta(days=1), 10) == []
    assert store.identified(["mr-member:p-1"]) == []
    assert store.position("source-member:p-1") is None
    assert list(store.inputs()) == []
    if isinstance(store, AccountStore):
        assert list(store.tokens()) == []
        assert list(store.staff_accounts()) == []
        assert list(store.lookups()) == []


def create(store: Recorder, *keys: str, due_at: datetime | None = None) -> None:
    """Commit a new record (version 1) under each of ``keys``."""
    store.commit(Commit(changes=[change_of(key, due_at=due_at) for key in keys]))


def message_ids(messages: Iterable[OutboxMessage]) -> list[str]:
    """The ids of ``messages``, in their order."""
    return [message.message_id for message in messages]


def is_utc(instant: datetime) -> bool:
    """Whether ``instant`` is aware and in UTC."""
    return instant.tzinfo is not None and instant.utcoffset() == timedelta(0)


def examples(test: Callable[..., None]) -> Callable[..., None]:
    """Hypothesis settings for a property, made from the profile loaded when it runs.

    Each property runs as an inner test, so that its settings are made when it runs
    (from the profile the suite's conftest loaded) and its examples share the one store
    without Hypothesis' fixture checks: each example works under keys of its own (see
    :data:`EXAMPLES`).
    """
    return settings(deadline=None)(test)
