"""The PostgreSQL store's own statements, and how its columns hold text.

PostgreSQL text cannot hold U+0000, which the port must keep: text is written with
U+0001 as an escape (U+0000 as U+0001 U+0001, U+0001 as U+0001 U+0002), which keeps the
order of keys and leaves every other text as it is. Instants are ``timestamptz`` and
come back in UTC. A commit writes each table with one statement over arrays
(``unnest``); a claim is one statement that locks the rows it takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, Final

from membercore_adapters.stores.rows import TASK_UPSERT, Rows

__all__ = [
    "CANCEL_OUTBOX",
    "CLAIM",
    "CLAIM_DUE",
    "CREATE_RECORDS",
    "DELIVERY",
    "INSERT_DEAD_LETTERS",
    "INSERT_IDENTIFIERS",
    "INSERT_INBOX",
    "INSERT_INPUTS",
    "INSERT_JOURNAL",
    "INSERT_OUTBOX",
    "LOCK_RECORDS",
    "OUTCOME",
    "ROWS",
    "UPDATE_RECORDS",
    "UPSERT_POSITIONS",
    "UPSERT_TASKS",
    "columns",
    "got",
    "put",
    "spelled",
]


def put(text: str) -> str:
    """``text`` as stored: U+0000 and U+0001 escaped, everything else as it is."""
    if "\x00" in text or "\x01" in text:
        return text.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")
    return text


def got(text: str) -> str:
    """Stored text as it was written (the inverse of :func:`put`)."""
    if "\x01" in text:
        # Left to right, replace() only ever meets whole escapes: see put.
        return text.replace("\x01\x01", "\x00").replace("\x01\x02", "\x01")
    return text


def _same(instant: datetime) -> datetime:
    return instant


#: How the columns hold text (U+0000 escaped) and instants (``timestamptz``).
ROWS: Final = Rows(put=put, got=got, instant=_same, moment=_same)


@cache
def spelled(sql: str) -> str:
    """A statement written with ``?`` placeholders as psycopg takes them (``%s``)."""
    return sql.replace("?", "%s")


def columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as columns, the form ``unnest`` takes them in (no rows: no columns)."""
    return [list(column) for column in zip(*rows, strict=True)]


# The version check: the changed records' rows, locked in key order for the transaction.
LOCK_RECORDS: Final = (
    "SELECT key, version FROM records WHERE key = ANY(%b::text[]) ORDER BY key FOR UPDATE"
)
# New records (their snapshot packed, the text column left empty); a key another writer
# stored in the meantime is not returned: a conflict.
CREATE_RECORDS: Final = """
    INSERT INTO records (key, version, snapshot, packed, snapshot_version, due_at, manager)
    SELECT c.key, c.version, '', c.packed, c.snapshot_version, c.due_at, c.manager
    FROM unnest(
        %b::text[], %b::int8[], %b::bytea[], %b::int8[], %b::timestamptz[], %b::text[])
        AS c (key, version, packed, snapshot_version, due_at, manager)
    ON CONFLICT DO NOTHING
    RETURNING key
"""
# Stored records, each only from the version the commit expects (else it conflicts, and
# the transaction is rolled back anyway); a change without a snapshot keeps the stored one.
# The keys are given again on their own (the last parameter), so that a store distributed
# by record finds each row's node from the statement.
UPDATE_RECORDS: Final = """
    UPDATE records AS r SET
        version = c.version,
        snapshot = CASE WHEN c.packed IS NULL THEN r.snapshot ELSE '' END,
        packed = coalesce(c.packed, r.packed),
        snapshot_version = CASE WHEN c.packed IS NULL
            THEN r.snapshot_version ELSE c.snapshot_version END,
        due_at = c.due_at,
        manager = c.manager,
        claimed_by = NULL,
        claim_until = NULL
    FROM unnest(%b::text[], %b::int8[], %b::int8[], %b::bytea[], %b::int8[],
                %b::timestamptz[], %b::text[])
        AS c (key, expected, version, packed, snapshot_version, due_at, manager)
    WHERE r.key = ANY(%b::text[]) AND r.key = c.key AND r.version = c.expected
"""
# Nothing can be stored under a version the check lets through; DO NOTHING keeps "writing
# an event again is no error" true all the same.
INSERT_JOURNAL: Final = """
    INSERT INTO journal (key, version, events)
    SELECT * FROM unnest(%b::text[], %b::int8[], %b::bytea[])
    ON CONFLICT DO NOTHING
"""
# A duplicate id within one statement meets the row inserted just before it: the first wins.
INSERT_INBOX: Final = """
    INSERT INTO inbox (fact_id, key, fingerprint, at)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[])
    ON CONFLICT DO NOTHING
"""
# ORDER BY the position: seq is allocated in the order the commit lists the messages.
INSERT_OUTBOX: Final = """
    INSERT INTO outbox (message_id, key, channel, payload, send_at, status, attempts)
    SELECT m.message_id, m.key, m.channel, m.payload, m.send_at, m.status, m.attempts
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],
                %b::text[], %b::int4[])
        WITH ORDINALITY AS m (message_id, key, channel, payload, send_at, status, attempts, n)
    ORDER BY m.n
    ON CONFLICT DO NOTHING
"""
# ORDER BY the position: seq is allocated in the order the commit lists the inputs.
INSERT_INPUTS: Final = """
    INSERT INTO inputs (kind, keys, at, occurred_at, batch_at, cutoff, refused, payload)
    SELECT i.kind, i.keys, i.at, i.occurred_at, i.batch_at, i.cutoff, i.refused, i.payload
    FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[],
                %b::timestamptz[], %b::timestamptz[], %b::text[], %b::bytea[])
        WITH ORDINALITY AS i (kind, keys, at, occurred_at, batch_at, cutoff, refused, payload, n)
    ORDER BY i.n
"""
INSERT_DEAD_LETTERS: Final = """
    INSERT INTO dead_letters (fact_id, fact_type, payload, reason, at)
    SELECT d.fact_id, d.fact_type, d.payload, d.reason, d.at
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[])
        WITH ORDINALITY AS d (fact_id, fact_type, payload, reason, at, n)
    ORDER BY d.n
    ON CONFLICT DO NOTHING
"""
INSERT_IDENTIFIERS: Final = """
    INSERT INTO identifiers (value, system, patient_id)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])
    ON CONFLICT DO NOTHING
"""
# One row per source (the commit keeps the last of each): DO UPDATE meets each once.
UPSERT_POSITIONS: Final = """
    INSERT INTO positions (source, position)
    SELECT * FROM unnest(%b::text[], %b::text[])
    ON CONFLICT (source) DO UPDATE SET position = excluded.position
"""
UPSERT_TASKS: Final = f"""
    INSERT INTO tasks (task_key, key, kind, role, assignee, due_at, status, payload)
    SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                         %b::timestamptz[], %b::text[], %b::text[])
    {TASK_UPSERT}
"""
CANCEL_OUTBOX: Final = """
    UPDATE outbox SET status = 'cancelled'
    WHERE message_id = ANY(%b::text[]) AND status = 'pending'
"""
# One statement, its own transaction: lock the claimable rows no one else is locking
# (another claimer's rows are skipped, not waited for), then mark them. A row another
# claimer marked after this statement's snapshot is locked, then re-checked against its
# new claim, and left out.
CLAIM: Final = """
    WITH claimable AS (
        SELECT seq FROM outbox
        WHERE status = 'pending' AND send_at <= %(now)s
            AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
            AND (claim_until IS NULL OR claim_until <= %(now)s)
        ORDER BY seq LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox AS o SET claimed_by = %(worker)s, claim_until = %(until)s
    FROM claimable WHERE o.seq = claimable.seq
    RETURNING o.seq, o.message_id, o.key, o.channel, o.payload, o.send_at, o.attempts,
        o.status, o.receipt, o.address, o.delivered_at, o.outcome, o.outcome_at, o.last_error
"""
# The same for due records: lock the claimable rows no one else is locking, then mark them.
CLAIM_DUE: Final = """
    WITH claimable AS (
        SELECT key FROM records
        WHERE due_at <= %(now)s
            AND (claim_until IS NULL OR claim_until <= %(now)s OR claimed_by = %(worker)s)
        ORDER BY due_at, key LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE records AS r SET claimed_by = %(worker)s, claim_until = %(until)s
    FROM claimable WHERE r.key = claimable.key
    RETURNING r.key, r.due_at
"""
# One round trip: how many rows the update changed, and whether the message exists at all
# (the subquery sees the table as the statement began, which is all it needs). Its
# parameters: the update's, then the message's record and id.
DELIVERY: Final = """
    WITH changed AS ({update} RETURNING 1)
    SELECT (SELECT count(*) FROM changed),
           EXISTS (SELECT 1 FROM outbox WHERE key = ? AND message_id = ?)
"""
# The same for an outcome, which changes no status: the message's status as the statement
# began (None: no message has that id), which the update met.
OUTCOME: Final = """
    WITH changed AS ({update} RETURNING 1)
    SELECT (SELECT count(*) FROM changed),
           (SELECT status FROM outbox WHERE key = ? AND message_id = ?)
"""
