"""The SQLite store's own statements and how its columns hold instants.

Instants are integer microseconds since the Unix epoch, in UTC: they sort as instants
do, compare without parsing, and read back as aware UTC datetimes. Text is kept as it is.
A commit writes row by row (``executemany``) inside one ``BEGIN IMMEDIATE`` transaction;
a claim reads the claimable rows and marks them in another.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Final, TypeVar

from membercore_adapters.stores.rows import OUTBOX_COLUMNS, TASK_UPSERT, Rows, unchanged

__all__ = [
    "ADVANCE_RECORD",
    "CANCEL_OUTBOX",
    "CLAIM",
    "CLAIMABLE",
    "CLAIMABLE_DUE",
    "CLAIM_DUE",
    "INSERT_DEAD_LETTER",
    "INSERT_IDENTIFIER",
    "INSERT_INBOX",
    "INSERT_INPUT",
    "INSERT_JOURNAL",
    "INSERT_OUTBOX",
    "ROWS",
    "UPSERT_POSITION",
    "UPSERT_RECORD",
    "UPSERT_TASK",
    "VERSIONS",
    "chunks",
    "placeholders",
]

_T = TypeVar("_T")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
# Keys per ``IN (...)`` query: far below every SQLite build's variable limit (999 before
# 3.32), large enough that a 1,000-fact batch costs a couple of queries.
_CHUNK: Final = 500


def _to_us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


#: How the columns hold text (as it is) and instants (microseconds since 1970, UTC).
ROWS: Final = Rows(put=unchanged, got=unchanged, instant=_to_us, moment=_from_us)


@cache
def placeholders(count: int) -> str:
    """``count`` placeholders, for ``IN (...)``."""
    return ",".join("?" * count)


def chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in slices one ``IN (...)`` query takes."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: The version check, completed by ``IN (...)``.
VERSIONS: Final = "SELECT key, version FROM records WHERE key"
# A record with a snapshot is written whole (packed; the text column left empty); one
# without keeps the stored snapshot.
UPSERT_RECORD: Final = """
    INSERT INTO records (key, version, snapshot, packed, snapshot_version, due_at, manager)
    VALUES (?, ?, '', ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET
        version = excluded.version, snapshot = '', packed = excluded.packed,
        snapshot_version = excluded.snapshot_version, due_at = excluded.due_at,
        manager = excluded.manager, claimed_by = NULL, claim_until = NULL
"""
ADVANCE_RECORD: Final = """
    UPDATE records SET version = ?, due_at = ?, manager = ?, claimed_by = NULL,
        claim_until = NULL
    WHERE key = ?
"""
CANCEL_OUTBOX: Final = (
    "UPDATE outbox SET status = 'cancelled' WHERE message_id = ? AND status = 'pending'"
)
INSERT_JOURNAL: Final = """
    INSERT INTO journal (key, version, events) VALUES (?, ?, ?) ON CONFLICT DO NOTHING
"""
INSERT_INBOX: Final = """
    INSERT INTO inbox (fact_id, key, fingerprint, at) VALUES (?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
INSERT_OUTBOX: Final = """
    INSERT INTO outbox (message_id, key, channel, payload, send_at, status, attempts)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
INSERT_DEAD_LETTER: Final = """
    INSERT INTO dead_letters (fact_id, fact_type, payload, reason, at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING
"""
INSERT_IDENTIFIER: Final = """
    INSERT INTO identifiers (value, system, patient_id) VALUES (?, ?, ?)
    ON CONFLICT DO NOTHING
"""
INSERT_INPUT: Final = """
    INSERT INTO inputs (kind, keys, at, occurred_at, batch_at, cutoff, refused, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
UPSERT_POSITION: Final = """
    INSERT INTO positions (source, position) VALUES (?, ?)
    ON CONFLICT (source) DO UPDATE SET position = excluded.position
"""
UPSERT_TASK: Final = f"""
    INSERT INTO tasks (task_key, key, kind, role, assignee, due_at, status, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    {TASK_UPSERT}
"""
CLAIMABLE: Final = f"""
    SELECT {OUTBOX_COLUMNS} FROM outbox
    WHERE status = 'pending' AND send_at <= ?
        AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
        AND (claim_until IS NULL OR claim_until <= ?)
    ORDER BY seq LIMIT ?
"""
CLAIM: Final = "UPDATE outbox SET claimed_by = ?, claim_until = ? WHERE seq = ?"
CLAIMABLE_DUE: Final = """
    SELECT key, due_at FROM records
    WHERE due_at IS NOT NULL AND due_at <= ?
        AND (claim_until IS NULL OR claim_until <= ? OR claimed_by = ?)
    ORDER BY due_at, key LIMIT ?
"""
CLAIM_DUE: Final = "UPDATE records SET claimed_by = ?, claim_until = ? WHERE key = ?"
