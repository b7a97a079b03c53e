"""The SQLite store's schema: its migrations, and the settings of every connection.

The schema is versioned with ``PRAGMA user_version``: migration ``n`` takes the file from
version n-1 to n, inside the same transaction as the version bump.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "PRAGMAS", "SCHEMA_VERSION"]

# The staff id of the latest health manager a record's journal assigned.
_ASSIGNED: Final = """(
    SELECT json_extract(e.payload, '$.staff_id') FROM events AS e
    WHERE e.key = records.key AND e.type = 'health_manager_assigned'
    ORDER BY e.version DESC, e.seq DESC LIMIT 1
)"""
# Neither merged into another record nor of a member whose death was not reversed.
_STILL_MANAGED: Final = """
    NOT EXISTS (
        SELECT 1 FROM events AS m WHERE m.key = records.key AND m.type = 'merged_into'
    )
    AND coalesce((
        SELECT d.type FROM events AS d
        WHERE d.key = records.key AND d.type IN ('death_recorded', 'death_reversed')
        ORDER BY d.version DESC, d.seq DESC LIMIT 1
    ), '') != 'death_recorded'
"""

#: The schema, one migration per version: migration ``n`` takes ``user_version`` n-1 to n.
#: Append only; never edit a released migration.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        # Rowid table: snapshots are large, so the key index stays small and dense.
        """CREATE TABLE records (
            key      TEXT PRIMARY KEY NOT NULL,
            version  INTEGER NOT NULL,
            snapshot TEXT NOT NULL,
            snapshot_version INTEGER NOT NULL,
            due_at   INTEGER
        )""",
        "CREATE INDEX records_due ON records (due_at, key) WHERE due_at IS NOT NULL",
        # Clustered on (key, version, seq): a member's journal is one contiguous range.
        """CREATE TABLE events (
            key     TEXT NOT NULL,
            version INTEGER NOT NULL,
            seq     INTEGER NOT NULL,
            type    TEXT NOT NULL,
            at      INTEGER NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (key, version, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE inbox (
            fact_id     TEXT PRIMARY KEY NOT NULL,
            key         TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            at          INTEGER NOT NULL
        )""",
        # seq is the rowid: max + 1 on insert, so it is commit order (rows are never
        # renumbered); message_id is the external idempotency key.
        """CREATE TABLE outbox (
            seq             INTEGER PRIMARY KEY,
            message_id      TEXT NOT NULL UNIQUE,
            key             TEXT NOT NULL,
            channel         TEXT NOT NULL,
            payload         TEXT NOT NULL,
            send_at         INTEGER NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending',
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            receipt         TEXT,
            last_error      TEXT,
            delivered_at    INTEGER
        )""",
        # Covering: the dispatcher skips deferred messages without touching the table.
        """CREATE INDEX outbox_pending ON outbox (seq, send_at, next_attempt_at)
            WHERE status = 'pending'""",
        "CREATE INDEX outbox_member ON outbox (key)",
        """CREATE TABLE dead_letters (
            seq       INTEGER PRIMARY KEY,
            fact_id   TEXT NOT NULL,
            fact_type TEXT NOT NULL,
            payload   TEXT NOT NULL,
            reason    TEXT NOT NULL,
            at        INTEGER NOT NULL,
            UNIQUE (fact_id, payload)
        )""",
        """CREATE TABLE tasks (
            task_key TEXT PRIMARY KEY NOT NULL,
            key      TEXT NOT NULL,
            kind     TEXT NOT NULL,
            role     TEXT NOT NULL,
            assignee TEXT,
            due_at   INTEGER NOT NULL,
            status   TEXT NOT NULL,
            payload  TEXT NOT NULL
        )""",
        "CREATE INDEX tasks_due ON tasks (due_at, task_key)",
        "CREATE INDEX tasks_open ON tasks (due_at, task_key) WHERE status = 'open'",
        "CREATE INDEX tasks_load ON tasks (assignee) WHERE status = 'open'",
        "CREATE INDEX tasks_member ON tasks (key)",
    ),
    (
        # Claims: a dispatcher holds the messages it sends until its lease ends, so that
        # two dispatchers never send one message (see SqliteStore.claim_outbox).
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claim_until INTEGER",
        # Still covering: claims skip messages under a live lease from the index alone.
        "DROP INDEX outbox_pending",
        """CREATE INDEX outbox_pending ON outbox (seq, send_at, next_attempt_at, claim_until)
            WHERE status = 'pending'""",
    ),
    (
        # Claims on due records: an engine holds the members it ticks until its lease
        # ends, so that two tickers never decide one member at once (see
        # SqliteStore.claim_due). A commit of the record releases the claim.
        "ALTER TABLE records ADD COLUMN claimed_by TEXT",
        "ALTER TABLE records ADD COLUMN claim_until INTEGER",
    ),
    (
        # Case loads: the member of staff who manages each record (a member's health
        # manager), counted by SqliteStore.case_loads.
        "ALTER TABLE records ADD COLUMN manager TEXT",
        "CREATE INDEX records_manager ON records (manager) WHERE manager IS NOT NULL",
        # Records written before: the manager their journal last assigned, unless the
        # record was merged away or its member's death stands.
        f"UPDATE records SET manager = {_ASSIGNED} WHERE {_STILL_MANAGED}",
    ),
    (
        # Packed storage (membercore_adapters.stores.packing): each commit's events of a
        # record are one row of the journal, and a snapshot is written packed; a record
        # written before keeps its text snapshot until it is next written whole.
        """CREATE TABLE journal (
            key     TEXT NOT NULL,
            version INTEGER NOT NULL,
            events  BLOB NOT NULL,
            PRIMARY KEY (key, version)
        ) WITHOUT ROWID""",
        "ALTER TABLE records ADD COLUMN packed BLOB",
        # The events written before stay where they are, read before the journal's. An
        # earlier release still running can write no events (there is no table
        # "events"); a text snapshot it writes all the same is read before a packed one.
        "ALTER TABLE events RENAME TO legacy_events",
    ),
    (
        # Patients' identifiers, found by value (any system), and the patient each names.
        """CREATE TABLE identifiers (
            value      TEXT NOT NULL,
            system     TEXT NOT NULL,
            patient_id TEXT NOT NULL,
            PRIMARY KEY (value, system)
        ) WITHOUT ROWID""",
        "CREATE INDEX identifiers_patient ON identifiers (patient_id)",
        # How far each source's inputs were committed.
        """CREATE TABLE positions (
            source   TEXT PRIMARY KEY NOT NULL,
            position TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # What became of a delivered message: the address its receipt named, and its
        # provider's final word, kept once (SqliteStore.record_outcome). Messages
        # delivered before have no address, and no outcome yet.
        "ALTER TABLE outbox ADD COLUMN address TEXT",
        "ALTER TABLE outbox ADD COLUMN outcome TEXT",
        "ALTER TABLE outbox ADD COLUMN outcome_at INTEGER",
        # The delivered messages of a channel still awaiting their outcome, by when they
        # were delivered (SqliteStore.awaiting).
        """CREATE INDEX outbox_awaiting ON outbox (channel, delivered_at)
            WHERE status = 'delivered' AND outcome IS NULL""",
        # The messages delivered to an address, which a member's reply may answer
        # (SqliteStore.sent_to).
        """CREATE INDEX outbox_sent_to ON outbox (channel, address, delivered_at)
            WHERE address IS NOT NULL""",
    ),
    (
        # Who may use the programme (membercore.ports.AccountStore). API tokens keep
        # their secret's SHA-256 digest only, found by it; a revoked token keeps its row.
        """CREATE TABLE api_tokens (
            token_id   TEXT PRIMARY KEY NOT NULL,
            name       TEXT NOT NULL,
            scopes     TEXT NOT NULL,
            digest     TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        )""",
        # Staff accounts, by staff id: the password's scrypt hash, never the password.
        """CREATE TABLE staff_accounts (
            staff_id      TEXT PRIMARY KEY NOT NULL,
            name          TEXT NOT NULL,
            role          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            active        INTEGER NOT NULL,
            created_at    INTEGER NOT NULL
        )""",
        # Who looked at which member when, and why: seq is the rowid, so the order
        # recorded (no row is ever deleted, so none is renumbered).
        """CREATE TABLE lookups (
            seq       INTEGER PRIMARY KEY,
            at        INTEGER NOT NULL,
            who       TEXT NOT NULL,
            member_id TEXT NOT NULL,
            purpose   TEXT NOT NULL,
            via       TEXT NOT NULL
        )""",
        "CREATE INDEX lookups_member ON lookups (member_id, seq)",
        "CREATE INDEX lookups_who ON lookups (who, seq)",
        # Append-only: a look-up once recorded is neither changed nor removed, by
        # membercore or anyone else writing to the file through SQLite.
        """CREATE TRIGGER lookups_no_update BEFORE UPDATE ON lookups
            BEGIN SELECT RAISE(ABORT, 'look-ups are append-only: no UPDATE'); END""",
        """CREATE TRIGGER lookups_no_delete BEFORE DELETE ON lookups
            BEGIN SELECT RAISE(ABORT, 'look-ups are append-only: no DELETE'); END""",
    ),
    (
        # The input log (membercore.ports.InputLog): every input the engine took, as it
        # took it, written in the commit of its decisions; seq is the rowid, so commit
        # order (no row is ever deleted, so none is renumbered). The message is packed as
        # a commit's events are (membercore_adapters.stores.packing).
        """CREATE TABLE inputs (
            seq         INTEGER PRIMARY KEY,
            kind        TEXT NOT NULL,
            keys        TEXT NOT NULL,
            at          INTEGER NOT NULL,
            occurred_at INTEGER NOT NULL,
            batch_at    INTEGER NOT NULL,
            cutoff      INTEGER,
            refused     TEXT,
            payload     BLOB NOT NULL
        )""",
        """CREATE TRIGGER inputs_no_update BEFORE UPDATE ON inputs
            BEGIN SELECT RAISE(ABORT, 'the input log is append-only: no UPDATE'); END""",
        """CREATE TRIGGER inputs_no_delete BEFORE DELETE ON inputs
            BEGIN SELECT RAISE(ABORT, 'the input log is append-only: no DELETE'); END""",
        # When the log began: how many records the store already held, whose history
        # before it no replay can know.
        "CREATE TABLE input_log (unlogged INTEGER NOT NULL)",
        "INSERT INTO input_log (unlogged) SELECT count(*) FROM records",
    ),
    (
        # Erasures (membercore.ports.ErasureStore): what was erased, when, why and by
        # whom, without the data; and digests of the erased people's ids, which find a
        # later fact about them.
        """CREATE TABLE erasures (
            seq       INTEGER PRIMARY KEY,
            at        INTEGER NOT NULL,
            reason    TEXT NOT NULL,
            erased_by TEXT NOT NULL,
            digests   TEXT NOT NULL,
            counts    TEXT NOT NULL
        )""",
        """CREATE TABLE erased (
            digest  TEXT PRIMARY KEY NOT NULL,
            erasure INTEGER NOT NULL
        ) WITHOUT ROWID""",
        # An erasure holds a row here for its transaction (no other connection ever
        # sees one): the one time a look-up or a logged input may change.
        "CREATE TABLE erasing (marker TEXT NOT NULL)",
        "DROP TRIGGER lookups_no_update",
        """CREATE TRIGGER lookups_no_update BEFORE UPDATE ON lookups
            WHEN NOT EXISTS (SELECT 1 FROM erasing)
            BEGIN SELECT RAISE(ABORT, 'look-ups are append-only: no UPDATE'); END""",
        "DROP TRIGGER inputs_no_update",
        """CREATE TRIGGER inputs_no_update BEFORE UPDATE ON inputs
            WHEN NOT EXISTS (SELECT 1 FROM erasing)
            BEGIN SELECT RAISE(ABORT, 'the input log is append-only: no UPDATE'); END""",
    ),
    (
        # A task's key is unique within its record: two members' tasks may share one. The
        # table is made anew with its key (SQLite changes no primary key in place); the
        # task lists' order is due, task key, then record.
        """CREATE TABLE tasks_by_record (
            task_key TEXT NOT NULL,
            key      TEXT NOT NULL,
            kind     TEXT NOT NULL,
            role     TEXT NOT NULL,
            assignee TEXT,
            due_at   INTEGER NOT NULL,
            status   TEXT NOT NULL,
            payload  TEXT NOT NULL,
            PRIMARY KEY (key, task_key)
        )""",
        """INSERT INTO tasks_by_record
            SELECT task_key, key, kind, role, assignee, due_at, status, payload FROM tasks""",
        "DROP TABLE tasks",
        "ALTER TABLE tasks_by_record RENAME TO tasks",
        "CREATE INDEX tasks_due ON tasks (due_at, task_key, key)",
        "CREATE INDEX tasks_open ON tasks (due_at, task_key, key) WHERE status = 'open'",
        "CREATE INDEX tasks_load ON tasks (assignee) WHERE status = 'open'",
    ),
)
#: The schema version this module writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)

# Batch commits of ~1,000 facts dirty thousands of pages: a 64 MiB page cache and a
# checkpoint every 16,000 pages (64 MiB of WAL, cut back to that size afterwards)
# measured 1.2-1.5x faster than the defaults (2 MiB, 1,000 pages).
PRAGMAS: Final = (
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536",
    "PRAGMA wal_autocheckpoint = 16000",
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA temp_store = MEMORY",
)
