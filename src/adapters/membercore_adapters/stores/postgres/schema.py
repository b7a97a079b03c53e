"""The PostgreSQL store's schema: its migrations and the table that records them.

The schema is versioned in the table ``schema_version`` (one row per migration applied);
:data:`MIGRATIONS` are applied in order when a store opens, all in one transaction under
an advisory lock, so two processes opening at once migrate once.
"""

from __future__ import annotations

from typing import Final, LiteralString

__all__ = [
    "DEFAULT_SCHEMA",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_TABLE",
    "STORE_FUNCTIONS",
    "STORE_TABLES",
]

#: The schema, one migration per version: migration ``n`` takes the schema from version
#: n-1 to n. The statements run with ``search_path`` set to the store's schema. Append
#: only; never edit a released migration.
MIGRATIONS: Final[tuple[tuple[LiteralString, ...], ...]] = (
    (
        # Keys collate as "C": byte order of UTF-8 is code point order, as the port wants,
        # and comparisons skip the locale.
        """CREATE TABLE records (
            key              text COLLATE "C" PRIMARY KEY,
            version          bigint NOT NULL,
            snapshot         text NOT NULL,
            snapshot_version bigint NOT NULL,
            due_at           timestamptz
        )""",
        "CREATE INDEX records_due ON records (due_at, key) WHERE due_at IS NOT NULL",
        # The primary key is the journal's order: a member's events are one index range.
        """CREATE TABLE events (
            key     text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            seq     integer NOT NULL,
            type    text NOT NULL,
            at      timestamptz NOT NULL,
            payload text NOT NULL,
            PRIMARY KEY (key, version, seq)
        )""",
        """CREATE TABLE inbox (
            fact_id     text COLLATE "C" PRIMARY KEY,
            key         text COLLATE "C" NOT NULL,
            fingerprint text NOT NULL,
            at          timestamptz NOT NULL
        )""",
        # seq is allocated in insertion order; message_id is the idempotency key.
        """CREATE TABLE outbox (
            seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            message_id      text COLLATE "C" NOT NULL UNIQUE,
            key             text COLLATE "C" NOT NULL,
            channel         text NOT NULL,
            payload         text NOT NULL,
            send_at         timestamptz NOT NULL,
            status          text NOT NULL DEFAULT 'pending',
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            receipt         text,
            last_error      text,
            delivered_at    timestamptz
        )""",
        # The dispatcher reads pending messages in order and skips deferred ones from the
        # index alone.
        """CREATE INDEX outbox_pending ON outbox (seq) INCLUDE (send_at, next_attempt_at)
            WHERE status = 'pending'""",
        "CREATE INDEX outbox_member ON outbox (key)",
        """CREATE TABLE dead_letters (
            seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            fact_id   text COLLATE "C" NOT NULL,
            fact_type text NOT NULL,
            payload   text NOT NULL,
            reason    text NOT NULL,
            at        timestamptz NOT NULL
        )""",
        # A raw input may be far larger than a btree entry allows: unique on its digest.
        "CREATE UNIQUE INDEX dead_letters_input ON dead_letters (fact_id, md5(payload))",
        """CREATE TABLE tasks (
            task_key text COLLATE "C" PRIMARY KEY,
            key      text COLLATE "C" NOT NULL,
            kind     text NOT NULL,
            role     text NOT NULL,
            assignee text,
            due_at   timestamptz NOT NULL,
            status   text NOT NULL,
            payload  text NOT NULL
        )""",
        "CREATE INDEX tasks_due ON tasks (due_at, task_key)",
        "CREATE INDEX tasks_open ON tasks (due_at, task_key) WHERE status = 'open'",
        "CREATE INDEX tasks_load ON tasks (assignee) WHERE status = 'open'",
        "CREATE INDEX tasks_member ON tasks (key)",
    ),
    (
        # Claims: a dispatcher holds the messages it sends until its lease ends, so that
        # two dispatchers never send one message (see PostgresStore.claim_outbox).
        "ALTER TABLE outbox ADD COLUMN claimed_by text, ADD COLUMN claim_until timestamptz",
        # Still covering: claims skip messages under a live lease from the index alone.
        "DROP INDEX outbox_pending",
        """CREATE INDEX outbox_pending ON outbox (seq)
            INCLUDE (send_at, next_attempt_at, claim_until) WHERE status = 'pending'""",
    ),
    (
        # Claims on due records: an engine holds the members it ticks until its lease
        # ends, so that two tickers never decide one member at once (see
        # PostgresStore.claim_due). A commit of the record releases the claim.
        "ALTER TABLE records ADD COLUMN claimed_by text, ADD COLUMN claim_until timestamptz",
    ),
    (
        # Case loads: the member of staff who manages each record (a member's health
        # manager), counted by PostgresStore.case_loads.
        "ALTER TABLE records ADD COLUMN manager text",
        "CREATE INDEX records_manager ON records (manager) WHERE manager IS NOT NULL",
        # Records written before: the manager their journal last assigned, unless the
        # record was merged away or its member's death stands. The payload is read as
        # json, which keeps any text as it is (jsonb refuses some).
        """UPDATE records SET manager = (
            SELECT e.payload::json ->> 'staff_id' FROM events AS e
            WHERE e.key = records.key AND e.type = 'health_manager_assigned'
            ORDER BY e.version DESC, e.seq DESC LIMIT 1
        )
        WHERE NOT EXISTS (
            SELECT 1 FROM events AS m WHERE m.key = records.key AND m.type = 'merged_into'
        )
        AND coalesce((
            SELECT d.type FROM events AS d
            WHERE d.key = records.key AND d.type IN ('death_recorded', 'death_reversed')
            ORDER BY d.version DESC, d.seq DESC LIMIT 1
        ), '') != 'death_recorded'""",
    ),
    (
        # Packed storage (membercore_adapters.stores.packing): each commit's events of a
        # record are one row of the journal, and a snapshot is written packed; a record
        # written before keeps its text snapshot until it is next written whole. Packed
        # values are compressed already: EXTERNAL keeps TOAST from trying again.
        """CREATE TABLE journal (
            key     text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            events  bytea NOT NULL,
            PRIMARY KEY (key, version)
        )""",
        "ALTER TABLE journal ALTER COLUMN events SET STORAGE EXTERNAL",
        "ALTER TABLE records ADD COLUMN packed bytea",
        "ALTER TABLE records ALTER COLUMN packed SET STORAGE EXTERNAL",
        # The events written before stay where they are, read before the journal's. An
        # earlier release still running can write no events (there is no table
        # "events"); a text snapshot it writes all the same is read before a packed one.
        "ALTER TABLE events RENAME TO legacy_events",
    ),
    (
        # Patients' identifiers, found by value (any system), and the patient each names.
        """CREATE TABLE identifiers (
            value      text COLLATE "C" NOT NULL,
            system     text COLLATE "C" NOT NULL,
            patient_id text COLLATE "C" NOT NULL,
            PRIMARY KEY (value, system)
        )""",
        "CREATE INDEX identifiers_patient ON identifiers (patient_id)",
        # How far each source's inputs were committed.
        """CREATE TABLE positions (
            source   text COLLATE "C" PRIMARY KEY,
            position text NOT NULL
        )""",
    ),
    (
        # What became of a delivered message: the address its receipt named, and its
        # provider's final word, kept once (PostgresStore.record_outcome). Messages
        # delivered before have no address, and no outcome yet.
        """ALTER TABLE outbox ADD COLUMN address text, ADD COLUMN outcome text,
            ADD COLUMN outcome_at timestamptz""",
        # The delivered messages of a channel still awaiting their outcome, by when they
        # were delivered (PostgresStore.awaiting).
        """CREATE INDEX outbox_awaiting ON outbox (channel, delivered_at)
            WHERE status = 'delivered' AND outcome IS NULL""",
        # The messages delivered to an address, which a member's reply may answer
        # (PostgresStore.sent_to).
        """CREATE INDEX outbox_sent_to ON outbox (channel, address, delivered_at)
            WHERE address IS NOT NULL""",
    ),
    (
        # Who may use the programme (membercore.ports.AccountStore). API tokens keep
        # their secret's SHA-256 digest only, found by it; a revoked token keeps its row.
        """CREATE TABLE api_tokens (
            token_id   text COLLATE "C" PRIMARY KEY,
            name       text NOT NULL,
            scopes     text NOT NULL,
            digest     text COLLATE "C" NOT NULL UNIQUE,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        )""",
        # Staff accounts, by staff id: the password's scrypt hash, never the password.
        """CREATE TABLE staff_accounts (
            staff_id      text COLLATE "C" PRIMARY KEY,
            name          text NOT NULL,
            role          text NOT NULL,
            password_hash text NOT NULL,
            active        boolean NOT NULL,
            created_at    timestamptz NOT NULL
        )""",
        # Who looked at which member when, and why, in the order recorded.
        """CREATE TABLE lookups (
            seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at        timestamptz NOT NULL,
            who       text COLLATE "C" NOT NULL,
            member_id text COLLATE "C" NOT NULL,
            purpose   text NOT NULL,
            via       text NOT NULL
        )""",
        "CREATE INDEX lookups_member ON lookups (member_id, seq)",
        "CREATE INDEX lookups_who ON lookups (who, seq)",
        # Append-only: a trigger refuses every UPDATE, DELETE and TRUNCATE of a look-up,
        # whoever sends it (a rule would only turn them into nothing, silently). The
        # function lives in the store's schema; OR REPLACE, as a store dropped by
        # drop_store and made again finds it there when drop_store could not drop it.
        """CREATE OR REPLACE FUNCTION lookups_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'look-ups are append-only: no %', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$""",
        """CREATE TRIGGER lookups_append_only BEFORE UPDATE OR DELETE ON lookups
            FOR EACH ROW EXECUTE FUNCTION lookups_append_only()""",
        """CREATE TRIGGER lookups_no_truncate BEFORE TRUNCATE ON lookups
            FOR EACH STATEMENT EXECUTE FUNCTION lookups_append_only()""",
    ),
    (
        # The input log (membercore.ports.InputLog): every input the engine took, as it
        # took it, written in the commit of its decisions, in the order of its identity
        # column (allocated as each commit writes).
        """CREATE TABLE inputs (
            seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind        text NOT NULL,
            keys        text NOT NULL,
            at          timestamptz NOT NULL,
            occurred_at timestamptz NOT NULL,
            batch_at    timestamptz NOT NULL,
            cutoff      timestamptz,
            refused     text,
            payload     bytea NOT NULL
        )""",
        """CREATE OR REPLACE FUNCTION inputs_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the input log is append-only: no %', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$""",
        """CREATE TRIGGER inputs_append_only BEFORE UPDATE OR DELETE ON inputs
            FOR EACH ROW EXECUTE FUNCTION inputs_append_only()""",
        """CREATE TRIGGER inputs_no_truncate BEFORE TRUNCATE ON inputs
            FOR EACH STATEMENT EXECUTE FUNCTION inputs_append_only()""",
        # When the log began: how many records the store already held, whose history
        # before it no replay can know.
        "CREATE TABLE input_log (unlogged bigint NOT NULL)",
        "INSERT INTO input_log (unlogged) SELECT count(*) FROM records",
    ),
    (
        # Erasures (membercore.ports.ErasureStore): what was erased, when, why and by
        # whom, without the data; and digests of the erased people's ids, which find a
        # later fact about them.
        """CREATE TABLE erasures (
            seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at        timestamptz NOT NULL,
            reason    text NOT NULL,
            erased_by text NOT NULL,
            digests   text NOT NULL,
            counts    text NOT NULL
        )""",
        """CREATE TABLE erased (
            digest  text COLLATE "C" PRIMARY KEY,
            erasure bigint NOT NULL
        )""",
        # An erasure holds a row here for its transaction (no other transaction ever
        # sees one): the one time a look-up or a logged input may change (UPDATE only).
        # The functions find it in the store's schema, whatever the search_path of the
        # connection that fires them (the migration's is the store's).
        "CREATE TABLE erasing (marker text NOT NULL)",
        # A marker never outlives its transaction: at the commit of any transaction that
        # wrote one, the table must be empty again (an erasure removes its own last).
        """CREATE OR REPLACE FUNCTION erasing_ends() RETURNS trigger
            LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM erasing) THEN
                    RAISE EXCEPTION 'a marker of erasing may not outlive its transaction'
                        USING ERRCODE = 'restrict_violation';
                END IF;
                RETURN NULL;
            END
            $$""",
        """CREATE CONSTRAINT TRIGGER erasing_ends AFTER INSERT ON erasing
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION erasing_ends()""",
        """CREATE OR REPLACE FUNCTION lookups_append_only() RETURNS trigger
            LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM erasing) THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'look-ups are append-only: no %', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$""",
        """CREATE OR REPLACE FUNCTION inputs_append_only() RETURNS trigger
            LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM erasing) THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'the input log is append-only: no %', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$""",
    ),
    (
        # Keys that start with the record's key (membercore_adapters.stores.postgres.
        # distribution): a fact id, a message id and a task key are unique within their
        # record, so that these tables could be distributed by record as they are. The
        # ids alone stay indexed: the inbox screen and a channel's report name only them.
        "ALTER TABLE inbox DROP CONSTRAINT inbox_pkey, ADD PRIMARY KEY (key, fact_id)",
        "CREATE INDEX inbox_fact ON inbox (fact_id)",
        """ALTER TABLE outbox DROP CONSTRAINT outbox_pkey,
            DROP CONSTRAINT outbox_message_id_key,
            ADD PRIMARY KEY (key, seq),
            ADD CONSTRAINT outbox_message UNIQUE (key, message_id)""",
        "CREATE INDEX outbox_message_id ON outbox (message_id)",
        # The primary key leads with the record's key: the old index of it goes.
        "DROP INDEX outbox_member",
        # A task's key is unique within its record: two members' tasks may share one.
        "ALTER TABLE tasks DROP CONSTRAINT tasks_pkey, ADD PRIMARY KEY (key, task_key)",
        "DROP INDEX tasks_member",
        # The task lists' order: due, task key, then record.
        "DROP INDEX tasks_due",
        "DROP INDEX tasks_open",
        "CREATE INDEX tasks_due ON tasks (due_at, task_key, key)",
        "CREATE INDEX tasks_open ON tasks (due_at, task_key, key) WHERE status = 'open'",
    ),
)
#: The schema version this module writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)

#: The PostgreSQL schema the tables live in when the URL names none.
DEFAULT_SCHEMA: Final = "membercore"

# The first key of the two-key advisory lock that serialises migrations (the second is a
# hash of the schema's name): "mc" in ASCII, out of the way of an application's own.
MIGRATION_LOCK: Final = 0x6D63
SCHEMA_VERSION_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""

#: Every table a membercore store keeps in its schema, of any version (``events`` is
#: ``legacy_events`` from version 5): what :func:`~membercore_adapters.stores.postgres.drop_store`
#: drops. A migration that creates a table adds it here.
STORE_TABLES: Final = (
    "records",
    "journal",
    "legacy_events",
    "events",
    "inbox",
    "outbox",
    "dead_letters",
    "tasks",
    "identifiers",
    "positions",
    "api_tokens",
    "staff_accounts",
    "lookups",
    "inputs",
    "input_log",
    "erasures",
    "erased",
    "erasing",
    "schema_version",
)
#: The functions a membercore store keeps in its schema (the look-ups' trigger's), of
#: any version: what :func:`~membercore_adapters.stores.postgres.drop_store` drops with
#: the tables. A migration that creates a function adds it here.
STORE_FUNCTIONS: Final = ("lookups_append_only", "inputs_append_only", "erasing_ends")
