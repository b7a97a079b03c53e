"""How the PostgreSQL store's tables would be spread over the nodes of a distributed PostgreSQL.

Past one server, the store's tables can be distributed (Citus's ``create_distributed_table``
and ``create_reference_table``) as the schema has them: a record's rows — its journal,
the facts it took, its messages and its tasks — by the record's key, on the node that
holds the record; the identifiers by their value; the two append-only logs by their own
sequence; and the small tables read before any record is known copied to every node.
See docs/scaling.md.

:data:`DISTRIBUTED` names each distributed table's distribution column, which every
primary key and unique index of the table starts with, and which no statement of the
store ever updates. A statement that touches a distributed table names its distribution
column (an equality with a value the statement is given, or a column it inserts), so
that the database can send it to the node that holds the row, unless it is one of
:data:`EVERY_NODE`: the scans that read or change rows whatever their record, each with
the reason. :func:`on_every_node` tells whether a statement is one of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = ["DISTRIBUTED", "EVERY_NODE", "NUMBERED", "REFERENCE", "on_every_node", "spaced"]

#: The distributed tables and each one's distribution column.
DISTRIBUTED: Final[Mapping[str, str]] = {
    "records": "key",
    "journal": "key",
    "legacy_events": "key",
    "inbox": "key",
    "outbox": "key",
    "tasks": "key",
    # Found by value before the patient's record is known.
    "identifiers": "value",
    # A source's position, written by each of its commits: on one node, not on all.
    "positions": "source",
    # Append-only logs, read in the order of their sequence.
    "inputs": "seq",
    "lookups": "seq",
}

#: The distributed tables whose distribution column the database numbers their rows by
#: (an identity column): an insert names none, the database gives each row its own.
NUMBERED: Final = frozenset({"inputs", "lookups"})

#: The tables copied to every node: small, or read before any record is known.
REFERENCE: Final = frozenset(
    {
        "dead_letters",
        "api_tokens",
        "staff_accounts",
        "erasures",
        "erased",
        "erasing",
        "input_log",
        "schema_version",
    }
)

#: The statements that touch a distributed table on every node, by how each begins
#: (whitespace aside), with the reason.
EVERY_NODE: Final[Mapping[str, str]] = {
    # Claims and ticks: whatever is due, whoever it is about.
    "SELECT key, due_at FROM records WHERE due_at": "the records due a tick",
    "WITH claimable AS (SELECT key FROM records": "a claim of due records",
    "WITH claimable AS (SELECT seq FROM outbox": "a claim of due messages",
    "SELECT seq, message_id, key, channel, payload, send_at, attempts, status, receipt, "
    "address, delivered_at, outcome, outcome_at, last_error FROM outbox WHERE": (
        "the outbox's listings: pending, delivered and awaiting an outcome, by address"
    ),
    # Listings and reports over the whole programme.
    "SELECT key, version, snapshot, snapshot_version, packed FROM records WHERE key >": (
        "a scan of the records in key order, by prefix or whole"
    ),
    "SELECT task_key, key, kind, role, assignee, due_at, status, payload FROM tasks": (
        "the staff's task lists"
    ),
    "SELECT assignee, count(*) FROM tasks": "the staff's task loads",
    "SELECT manager, count(*) FROM records": "the health managers' case loads",
    "SELECT EXISTS (SELECT 1 FROM legacy_events)": "whether any journal is still unpacked",
    "SELECT DISTINCT key FROM legacy_events": "the records whose journal is still unpacked",
    "SELECT key, snapshot, snapshot_version FROM records WHERE key >": (
        "the snapshots still unpacked"
    ),
    # What the port names by an id of its own: the fact, the message, the person.
    "SELECT fact_id, fingerprint FROM inbox WHERE fact_id": (
        "the inbox screen: a fact is known by its id before its record is"
    ),
    "UPDATE outbox SET status = 'cancelled'": "a commit cancels messages by their ids",
    "SELECT key FROM outbox WHERE message_id": (
        "a delivery or an outcome that does not name its record (the engine's always do)"
    ),
    "SELECT value, system, patient_id FROM identifiers WHERE patient_id": (
        "a patient's identifiers, by patient"
    ),
    # The append-only logs, read in order or by who and whom.
    "SELECT seq, kind, keys, at, occurred_at, batch_at, cutoff, refused, payload FROM inputs": (
        "the input log, read in order"
    ),
    "SELECT seq, at, who, member_id, purpose, via FROM lookups": "the look-ups, by who or whom",
    "UPDATE lookups SET member_id": "an erasure renames the person in the look-ups",
}


def spaced(statement: str) -> str:
    """``statement`` spaced as :data:`EVERY_NODE` is: single spaces, none inside parentheses."""
    single = " ".join(statement.split())
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", single))


def on_every_node(statement: str) -> bool:
    """Whether ``statement`` is one of :data:`EVERY_NODE` (by how it begins, once spaced)."""
    text = spaced(statement)
    return any(text.startswith(opening) for opening in EVERY_NODE)
