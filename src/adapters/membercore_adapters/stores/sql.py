"""What the SQL stores share: every read, the listings' paging, claims and deliveries.

:class:`~membercore_adapters.stores.sqlite.SqliteStore` and
:class:`~membercore_adapters.stores.postgres.PostgresStore` keep the same tables and
answer the port the same way; each subclasses :class:`SqlStore` and keeps only what
truly differs: how a statement runs (one connection, or a pool), how it selects rows by
a set of keys, its claims' locking statements, how it records a delivery or an outcome
in one go, and how its commit writes. The statements here are written with ``?`` placeholders, which
the PostgreSQL store spells ``%s``; how each dialect holds text and instants is its
:class:`~membercore_adapters.stores.rows.Rows`.

How a SQL store opened within a block treats its schema is one setting of the context
(:class:`Opening`): by default it creates and migrates the schema;
:func:`without_migrating` refuses a store an earlier release wrote; :func:`read_only`
creates, migrates and writes nothing, and refuses a store that is not there. The stores
log under ``membercore.store``.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar, Final

from membercore.dates import require_aware
from membercore.errors import (
    OutdatedSchemaError,
    StorageError,
    StoreUnavailableError,
    UnknownMessageError,
    VersionConflictError,
)
from membercore.ports import (
    Commit,
    DeadLetter,
    Delivery,
    IdentifierLink,
    LoggedInput,
    OutboxMessage,
    Record,
    StoredEvent,
    TaskRow,
)
from membercore.ports.commits import CheckedCommit, check_commit
from membercore_adapters.stores.accounts import SqlAccounts
from membercore_adapters.stores.base import Closing, claim_until, outcome_at, undelivered
from membercore_adapters.stores.erasing import SqlErasure
from membercore_adapters.stores.packing import RECORD, PackingError, Unpacked, pack
from membercore_adapters.stores.rows import (
    INPUT_COLUMNS,
    OUTBOX_COLUMNS,
    TASK_COLUMNS,
    CommitRows,
    Rows,
)

__all__ = [
    "PAGE",
    "Opening",
    "SqlStore",
    "log",
    "log_opened",
    "migrate",
    "opened_as",
    "opening",
    "prefix_end",
    "read_only",
    "without_migrating",
]

#: Rows per page of a streamed listing.
PAGE: Final = 500

# Each ``WHERE`` is completed by the dialect's ``_select_in``.
_RECORD: Final = "SELECT key, version, snapshot, snapshot_version, packed FROM records"
_LOAD: Final = f"{_RECORD} WHERE key"
_SEEN: Final = "SELECT fact_id, fingerprint FROM inbox WHERE fact_id"
_JOURNAL: Final = (
    "SELECT version, events FROM journal WHERE key = ? AND version > ? ORDER BY version"
)
# The journal as releases before schema 5 wrote it, one row per event.
_LEGACY_EVENTS: Final = (
    "SELECT version, type, at, payload FROM legacy_events "
    "WHERE key = ? AND version > ? ORDER BY version, seq"
)
_ANY_LEGACY_EVENT: Final = "SELECT EXISTS (SELECT 1 FROM legacy_events)"
# Repacking: the next keys of the legacy journal, their events, what replaces them.
_LEGACY_KEYS: Final = (
    f"SELECT DISTINCT key FROM legacy_events WHERE key > ? ORDER BY key LIMIT {PAGE}"
)
_LEGACY_OF: Final = "SELECT key, version, seq, type, at, payload FROM legacy_events WHERE key"
# No ON CONFLICT: a version the journal holds already (another repack's, or damage) fails
# the page's transaction, and its legacy rows stay.
_PACKED_JOURNAL: Final = "INSERT INTO journal (key, version, events) VALUES (?, ?, ?)"
_DROP_LEGACY: Final = "DELETE FROM legacy_events WHERE key = ?"
_TEXT_SNAPSHOTS: Final = (
    "SELECT key, snapshot, snapshot_version FROM records "
    f"WHERE key > ? AND snapshot != '' ORDER BY key LIMIT {PAGE}"
)
# A snapshot another writer replaced meanwhile is left as that writer left it.
_PACK_SNAPSHOT: Final = (
    "UPDATE records SET packed = ?, snapshot = '' "
    "WHERE key = ? AND snapshot_version = ? AND snapshot != ''"
)
_SCAN: Final = f"{_RECORD} WHERE key "
_DUE: Final = (
    "SELECT key, due_at FROM records WHERE due_at IS NOT NULL AND due_at <= ? "
    "ORDER BY due_at, key LIMIT ?"
)
_PENDING: Final = (
    f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND send_at <= ? "
    "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY seq LIMIT ?"
)
_OUTBOX: Final = f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE seq > ?"
# Served by the partial indexes outbox_awaiting and outbox_sent_to.
_AWAITING: Final = (
    f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'delivered' AND outcome IS NULL "
    "AND channel = ? AND delivered_at >= ? ORDER BY seq LIMIT ?"
)
_SENT_TO: Final = (
    f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'delivered' "
    "AND channel = ? AND address = ? AND delivered_at >= ? ORDER BY seq"
)
_DEAD_LETTERS: Final = (
    "SELECT seq, fact_id, fact_type, payload, reason, at FROM dead_letters "
    f"WHERE seq > ? ORDER BY seq LIMIT {PAGE}"
)
_TASKS: Final = f"SELECT {TASK_COLUMNS} FROM tasks"
_IDENTIFIED: Final = "SELECT value, system, patient_id FROM identifiers WHERE value"
_IDENTIFIERS_OF: Final = (
    "SELECT value, system, patient_id FROM identifiers WHERE patient_id = ? ORDER BY system, value"
)
_POSITION: Final = "SELECT position FROM positions WHERE source = ?"
_INPUTS: Final = f"SELECT {INPUT_COLUMNS} FROM inputs WHERE seq > ? ORDER BY seq LIMIT {PAGE}"
_UNLOGGED: Final = "SELECT unlogged FROM input_log"
_TASK_LOADS: Final = (
    "SELECT assignee, count(*) FROM tasks WHERE status = 'open' "
    "AND assignee IS NOT NULL GROUP BY assignee ORDER BY assignee"
)
_CASE_LOADS: Final = (
    "SELECT manager, count(*) FROM records WHERE manager IS NOT NULL "
    "GROUP BY manager ORDER BY manager"
)
# A delivery: its parameters come first, the message's record and id last. Each
# releases the claim.
_DELIVERED: Final = """
    UPDATE outbox SET status = 'delivered', receipt = ?, address = ?, delivered_at = ?,
        next_attempt_at = NULL, claimed_by = NULL, claim_until = NULL
    WHERE key = ? AND message_id = ? AND status != 'delivered'
"""
_RETRY: Final = """
    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?,
        last_error = ?, claimed_by = NULL, claim_until = NULL
    WHERE key = ? AND message_id = ? AND status = 'pending'
"""
_HOLD: Final = """
    UPDATE outbox SET next_attempt_at = ?, last_error = ?, claimed_by = NULL,
        claim_until = NULL
    WHERE key = ? AND message_id = ? AND status = 'pending'
"""
_GIVE_UP: Final = """
    UPDATE outbox SET attempts = attempts + 1, status = 'failed', next_attempt_at = NULL,
        last_error = ?, claimed_by = NULL, claim_until = NULL
    WHERE key = ? AND message_id = ? AND status = 'pending'
"""
# An outcome: its parameters first, the message's record and id last. The first one is
# kept.
_OUTCOME: Final = """
    UPDATE outbox SET outcome = ?, outcome_at = ?
    WHERE key = ? AND message_id = ? AND status = 'delivered' AND outcome IS NULL
"""
# The record of a message named by its id alone (a caller that did not say it).
_RECORD_OF_MESSAGE: Final = "SELECT key FROM outbox WHERE message_id = ?"


class Opening(enum.IntEnum):
    """How a SQL store opened within a block treats its schema, least allowed last.

    Blocks nest, and the stricter way holds: a store opened read-only inside a block
    that allows migrating is opened read-only, and a read-only block stays read-only
    whatever is asked inside it.
    """

    #: Create a missing schema, and migrate one an earlier release wrote (the default).
    MIGRATING = 0
    #: Create a missing schema; refuse one an earlier release wrote
    #: (:func:`without_migrating`).
    CURRENT = 1
    #: Create nothing and write nothing: refuse a missing store, one that is not
    #: membercore's, and one an earlier release wrote; every write to the open store
    #: fails (:func:`read_only`).
    READ_ONLY = 2


#: How SQL stores open in this context (see :func:`opening`).
_OPENING: ContextVar[Opening] = ContextVar("membercore_opening", default=Opening.MIGRATING)

#: The stores' logger: openings, schemas created and migrated, conflicts, repacks.
log = logging.getLogger("membercore.store")


def opened_as() -> Opening:
    """How a SQL store opened here and now treats its schema (:class:`Opening`)."""
    return _OPENING.get()


@contextmanager
def opening(way: Opening) -> Iterator[None]:
    """Open SQL stores within the block ``way`` says (or stricter, when nested in one).

    The way is read when a store opens, and the store keeps it: a store opened
    read-only stays read-only after the block. ``memory://`` stores are not SQL stores
    and take no notice.
    """
    token = _OPENING.set(max(_OPENING.get(), way))
    try:
        yield
    finally:
        _OPENING.reset(token)


def without_migrating() -> AbstractContextManager[None]:
    """Open SQL stores without migrating them: one an earlier release wrote is refused.

    A store with no schema yet is still created. Within the block, opening a store of an
    earlier schema raises :class:`~membercore.errors.OutdatedSchemaError` and changes
    nothing; the ``membercore`` command line opens stores so, except ``membercore
    migrate``.
    """
    return opening(Opening.CURRENT)


def read_only() -> AbstractContextManager[None]:
    """Open SQL stores read-only: nothing is created, migrated or written, ever.

    Within the block, opening a SQL store:

    - of a SQLite file that does not exist, or a PostgreSQL schema holding no
      membercore tables, raises :class:`~membercore.errors.StoreUnavailableError`
      saying there is no store there, and creates nothing (no file, no schema);
    - of a SQLite file that is not a membercore store raises
      :class:`~membercore.errors.StoreUnavailableError` too, and changes nothing;
    - of a store an earlier release wrote raises
      :class:`~membercore.errors.OutdatedSchemaError`, as :func:`without_migrating`
      does; of a later release's, :class:`~membercore.errors.StorageError`.

    The store opened reads as any other; every write to it (a commit, a claim, a
    delivery, an outcome, a repack) raises :class:`~membercore.errors.StorageError`,
    refused by the store and by the database itself (SQLite opens the file
    ``mode=ro``; PostgreSQL's sessions are ``default_transaction_read_only``).
    """
    return opening(Opening.READ_ONLY)


def migrate(
    url: str,
    where: str,
    found: int,
    migrations: Sequence[Sequence[str]],
    latest: int,
    execute: Callable[[str], object],
    record: Callable[[int], object],
    *,
    way: Opening | None = None,
) -> int:
    """Bring a schema from version ``found`` to ``latest``, one migration at a time.

    Args:
        url: the store's URL, for the error.
        where: what holds the schema, for the error (``schema membercore``).
        found: the version the schema is at.
        migrations: migration ``n`` (from 1) takes the schema from version n-1 to n.
        latest: the version this membercore writes.
        execute: runs one statement.
        record: records that the schema is at a version, after its migration.
        way: how the store is being opened (by default as :func:`opened_as` says).

    Returns:
        ``found``, for :func:`log_opened`.

    Raises:
        StorageError: the schema is newer than this membercore knows.
        OutdatedSchemaError: the schema is older and migrating is not allowed here
            (:func:`without_migrating`, :func:`read_only`).
        StoreUnavailableError: there is no schema (version 0) and the store is opened
            read-only.
    """
    way = opened_as() if way is None else way
    if 0 < found < latest and way > Opening.MIGRATING:
        raise OutdatedSchemaError(url, found=found, latest=latest)
    if found > latest:
        raise StorageError(
            url,
            f"{where} is at version {found}, newer than this membercore knows ({latest}); "
            "upgrade membercore",
        )
    if found < latest and way is Opening.READ_ONLY:  # the dialects say so before
        raise StoreUnavailableError(url, f"no membercore store in {where}: nothing was created")
    for number, statements in enumerate(migrations[found:], start=found + 1):
        for statement in statements:
            execute(statement)
        record(number)
    return found


def log_opened(url: str, found: int, latest: int, way: Opening) -> None:
    """Log a store's opening, with the schema it created or migrated, at INFO."""
    if way is Opening.READ_ONLY:
        log.info("opened store %s read-only (schema version %d)", url, found)
        return
    if found == 0:
        log.info("created the schema of store %s at version %d", url, latest)
    elif found < latest:
        log.info("migrated store %s from schema version %d to %d", url, found, latest)
    log.info("opened store %s (schema version %d)", url, latest)


def prefix_end(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            # Skip the surrogates, which UTF-8 (and so either database) cannot hold.
            following = last + 1 if not 0xD7FF <= last < 0xDFFF else 0xE000
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


class SqlStore(Closing, SqlAccounts, SqlErasure, ABC):
    """A :class:`~membercore.ports.Store` in SQL tables; a dialect supplies the rest.

    It keeps accounts too (:class:`~membercore.ports.AccountStore`, from
    :class:`~membercore_adapters.stores.accounts.SqlAccounts`) and erases a person's
    data (:class:`~membercore.ports.ErasureStore`, from
    :class:`~membercore_adapters.stores.erasing.SqlErasure`). Subclasses set ``url``
    and ``_rows`` and define the abstract methods.
    """

    _rows: ClassVar[Rows]
    #: Whether the store was opened read-only (:func:`read_only`): every write is refused.
    read_only: bool = False
    #: Whether the store holds events an earlier release wrote one row each (None: not
    #: looked yet). Nothing is added to ``legacy_events`` after the migration that made
    #: it: a release that would write there finds no ``events`` table.
    _legacy_events: bool | None = None
    #: The driver's errors, which never escape: each becomes a StorageError.
    _driver_error: ClassVar[tuple[type[Exception], ...]]

    # -- what a dialect does (and _query, _select_in, _write_all: SqlPart) ------------

    @abstractmethod
    def _translate(self, error: Exception, doing: str) -> StorageError:
        """A driver's error as the StorageError to raise (``doing`` names the work)."""

    @abstractmethod
    def _claim_due(self, now: Any, limit: int, worker: str, until: Any) -> list[Any]:
        """Claim due records (``limit`` positive): their ``key, due_at`` in due order."""

    @abstractmethod
    def _claim_outbox(self, now: Any, limit: int, worker: str, until: Any) -> list[Any]:
        """Claim due messages (``limit`` positive): their rows in commit order."""

    @abstractmethod
    def _deliver(self, update: str, parameters: tuple[object, ...], named: tuple[str, str]) -> bool:
        """Run a delivery's ``update``; whether the message (record, id as stored) exists."""

    @abstractmethod
    def _outcome(
        self, update: str, parameters: tuple[object, ...], named: tuple[str, str]
    ) -> str | None:
        """Run an outcome's ``update`` (it changes no status); the message's status, if any.

        ``named``: the message's record and id, as stored.
        """

    @abstractmethod
    def _write(self, checked: CheckedCommit, rows: CommitRows) -> None:
        """Write a checked commit in one transaction, checking the stored versions."""

    def _writable(self, doing: str) -> None:
        """Refuse a write to a store opened read-only.

        Raises:
            StorageError: the store was opened read-only (:func:`read_only`).
        """
        if self.read_only:
            raise StorageError(
                self.url, f"{doing} refused: the store was opened read-only; nothing was written"
            )

    @contextmanager
    def _driver_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._driver_error as e:
            raise self._translate(e, doing) from e

    def _pages(
        self,
        doing: str,
        first: tuple[str, Sequence[object]],
        following: Callable[[tuple[Any, ...]], tuple[str, Sequence[object]]],
    ) -> Iterator[tuple[Any, ...]]:
        """Stream a listing page by page (keyset pagination).

        Each page is its own short query, so nothing stays open between pages: the
        caller may commit while it iterates.
        """
        sql, parameters = first
        while True:
            rows = self._query(doing, sql, parameters)
            yield from rows
            if len(rows) < PAGE:
                return
            sql, parameters = following(rows[-1])

    # -- reading ----------------------------------------------------------------------

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        """The records stored under ``keys`` (absent keys are left out)."""
        rows = self._rows
        wanted = [rows.put(key) for key in dict.fromkeys(keys)]
        if not wanted:
            return {}
        found = map(self._record, self._select_in("loading records", _LOAD, wanted))
        return {record.key: record for record in found}

    def seen(self, fact_ids: Collection[str]) -> dict[str, str]:
        """Of ``fact_ids``, those in the inbox, with the fingerprint they were taken with."""
        got = self._rows.got
        wanted = [self._rows.put(fact_id) for fact_id in dict.fromkeys(fact_ids)]
        if not wanted:
            return {}
        rows = self._select_in("reading the inbox", _SEEN, wanted)
        return {got(fact_id): got(fingerprint) for fact_id, fingerprint in rows}

    def identified(self, values: Collection[str]) -> list[IdentifierLink]:
        """The stored identifiers whose value is one of ``values``, of any system."""
        wanted = [self._rows.put(value) for value in set(values)]
        if not wanted:
            return []
        rows = self._select_in("reading the identifiers", _IDENTIFIED, wanted)
        return [self._rows.link(row) for row in rows]

    def identifiers_of(self, patient_id: str) -> list[IdentifierLink]:
        """The identifiers that name ``patient_id``, by system then value."""
        rows = self._query(
            "reading the identifiers", _IDENTIFIERS_OF, (self._rows.put(patient_id),)
        )
        return [self._rows.link(row) for row in rows]

    def position(self, source: str) -> str | None:
        """The position ``source`` last committed, or None if it never committed one."""
        rows = self._query("reading a source's position", _POSITION, (self._rows.put(source),))
        return self._rows.got(rows[0][0]) if rows else None

    def inputs(self, *, after: int = 0) -> Iterator[LoggedInput]:
        """The logged inputs after the ``seq`` ``after``, in order, streamed page by page."""
        rows = self._pages(
            "reading the input log", (_INPUTS, (after,)), lambda last: (_INPUTS, (last[0],))
        )
        return map(self._rows.logged, rows)

    def unlogged(self) -> int:
        """How many records the store held when the migration that began its log ran."""
        rows = self._query("reading when the input log began", _UNLOGGED)
        return int(rows[0][0]) if rows else 0

    def events(self, key: str, *, after_version: int = 0) -> list[StoredEvent]:
        """A record's journal in order, from the commit after ``after_version``.

        Each commit's events are one packed row of ``journal``; a store an earlier
        release wrote keeps its events before that in ``legacy_events`` (their versions
        all come before the journal's).
        """
        rows, parameters = self._rows, (self._rows.put(key), after_version)
        found: list[StoredEvent] = []
        if self._legacy_events is None:
            ((legacy,),) = self._query("reading events", _ANY_LEGACY_EVENT)
            self._legacy_events = bool(legacy)
        doing = f"reading the events of {key}"
        legacy = self._query(doing, _LEGACY_EVENTS, parameters) if self._legacy_events else []
        journal = self._query(doing, _JOURNAL, parameters)
        # A repack committed between the two reads moved some of the legacy events into
        # the journal read after them: they are taken from there, once.
        moved = {row[0] for row in journal}
        found += [rows.event(key, row) for row in legacy if row[0] not in moved]
        for row in journal:
            try:
                found += rows.journal(key, row)
            except PackingError as e:
                raise StorageError(self.url, f"reading {key} v{row[0]}: {e}") from e
        return found

    def scan(self, prefix: str = "") -> Iterator[Record]:
        """Every record whose key starts with ``prefix``, in key order, streamed."""
        start = self._rows.put(prefix)
        end = prefix_end(start)
        below = "" if end is None else " AND key < ?"
        bound: tuple[str, ...] = () if end is None else (end,)
        order = f" ORDER BY key LIMIT {PAGE}"
        rows = self._pages(
            "scanning records",
            (_SCAN + ">= ?" + below + order, (start, *bound)),
            lambda last: (_SCAN + "> ?" + below + order, (last[0], *bound)),
        )
        return map(self._record, rows)

    @cached_property
    def _unpacked(self) -> Unpacked:
        """The snapshots this store unpacked last (a record read again unchanged)."""
        return Unpacked()

    def _record(self, row: tuple[Any, ...]) -> Record:
        try:
            return self._rows.record(row, self._unpacked)
        except PackingError as e:
            raise StorageError(self.url, f"reading record {self._rows.got(row[0])}: {e}") from e

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first."""
        moment = self._rows.instant(require_aware("now", now))
        if limit <= 0:  # SQLite reads a negative LIMIT as none, PostgreSQL refuses it
            return []
        rows = self._query("reading due records", _DUE, (moment, limit))
        return [(self._rows.got(key), self._rows.moment(due_at)) for key, due_at in rows]

    def claim_due(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[tuple[str, datetime]]:
        """Claim due records for ``worker`` as :meth:`~membercore.ports.Store.claim_due` says.

        The dialect's ``_claim_due`` takes them in one atomic step.

        Raises:
            StorageError: the claim has no worker or no positive lease, the database
                failed, or the store was opened read-only (nothing was claimed).
        """
        claimed = self._claiming(now, limit, worker, lease, self._claim_due)
        return [(self._rows.got(key), self._rows.moment(due_at)) for key, due_at in claimed]

    def pending_outbox(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` pending messages to send by ``now``, in commit order."""
        moment = self._rows.instant(require_aware("now", now))
        if limit <= 0:
            return []
        rows = self._query("reading the outbox", _PENDING, (moment, moment, limit))
        return [self._rows.message(row) for row in rows]

    def claim_outbox(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[OutboxMessage]:
        """Claim due messages for ``worker`` as :meth:`~membercore.ports.Store.claim_outbox` says.

        The dialect's ``_claim_outbox`` takes them in one atomic step.

        Raises:
            StorageError: the claim has no worker or no positive lease, the database
                failed, or the store was opened read-only (nothing was claimed).
        """
        claimed = self._claiming(now, limit, worker, lease, self._claim_outbox)
        return [self._rows.message(row) for row in claimed]

    def _claiming(
        self,
        now: datetime,
        limit: int,
        worker: str,
        lease: timedelta,
        claim: Callable[[Any, int, str, Any], list[Any]],
    ) -> list[Any]:
        """The rows ``claim`` takes, once the claim is checked (none for no ``limit``)."""
        self._writable("claiming")
        until = claim_until(self.url, now, worker, lease)
        if limit <= 0:
            return []
        rows = self._rows
        return claim(rows.instant(now), limit, rows.put(worker), rows.instant(until))

    def outbox(self, status: str | None = None) -> Iterator[OutboxMessage]:
        """Every outbox message (of one status when given), in commit order."""
        where = "" if status is None else " AND status = ?"
        wanted: tuple[str, ...] = () if status is None else (self._rows.put(status),)
        sql = f"{_OUTBOX}{where} ORDER BY seq LIMIT {PAGE}"
        rows = self._pages(
            "listing the outbox", (sql, (0, *wanted)), lambda last: (sql, (last[0], *wanted))
        )
        return map(self._rows.message, rows)

    def awaiting(self, channel: str, since: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages of ``channel`` delivered since ``since``, with no outcome."""
        moment = self._rows.instant(require_aware("since", since))
        if limit <= 0:
            return []
        parameters = (self._rows.put(channel), moment, limit)
        rows = self._query("reading the outbox", _AWAITING, parameters)
        return [self._rows.message(row) for row in rows]

    def sent_to(self, channel: str, address: str, since: datetime) -> list[OutboxMessage]:
        """The messages of ``channel`` delivered to ``address`` since ``since``, in commit order."""
        moment = self._rows.instant(require_aware("since", since))
        parameters = (self._rows.put(channel), self._rows.put(address), moment)
        rows = self._query("reading the outbox", _SENT_TO, parameters)
        return [self._rows.message(row) for row in rows]

    def dead_letters(self) -> Iterator[DeadLetter]:
        """Every dead letter, oldest (first written) first."""
        rows = self._pages(
            "listing dead letters",
            (_DEAD_LETTERS, (0,)),
            lambda last: (_DEAD_LETTERS, (last[0],)),
        )
        return map(self._rows.letter, rows)

    def tasks(self, status: str | None = "open") -> Iterator[TaskRow]:
        """Staff tasks of a status (every task when None), by due instant, task key, record."""
        wanted: tuple[str, ...] = () if status is None else (self._rows.put(status),)
        order = f" ORDER BY due_at, task_key, key LIMIT {PAGE}"
        after = "(due_at, task_key, key) > (?, ?, ?)"
        if status is None:
            first = _TASKS + order
            following = f"{_TASKS} WHERE {after}{order}"
        else:
            first = _TASKS + " WHERE status = ?" + order
            following = f"{_TASKS} WHERE status = ? AND {after}{order}"
        rows = self._pages(
            "listing tasks",
            (first, wanted),
            lambda last: (following, (*wanted, last[5], last[0], last[1])),
        )
        return map(self._rows.task, rows)

    def task_loads(self) -> dict[str, int]:
        """Open tasks per assignee (unassigned tasks are nobody's load)."""
        rows = self._query("counting tasks", _TASK_LOADS)
        return {self._rows.got(assignee): int(count) for assignee, count in rows}

    def case_loads(self) -> dict[str, int]:
        """Records per manager (records managed by nobody count for nobody)."""
        rows = self._query("counting case loads", _CASE_LOADS)
        return {self._rows.got(manager): int(count) for manager, count in rows}

    # -- repacking ----------------------------------------------------------------------

    def repack(self) -> tuple[int, int]:
        """Pack what an earlier release wrote: its events into the journal, its snapshots.

        Each record's events move in one transaction (their journal rows written, their
        legacy rows deleted), so a repack stopped part-way leaves every record whole and
        can be run again; records keep being read and written meanwhile. The room freed
        is the database's to give back (SQLite ``VACUUM``, PostgreSQL ``VACUUM FULL``).

        Returns:
            The events moved into the journal and the snapshots packed.

        Raises:
            StorageError: the database failed (what was repacked before stays), or the
                store was opened read-only.
        """
        self._writable("repacking")
        rows, moved, packed = self._rows, 0, 0
        last = ""
        while keys := [key for (key,) in self._query("repacking", _LEGACY_KEYS, (last,))]:
            found = self._select_in("repacking", _LEGACY_OF, keys)
            found.sort(key=lambda row: (row[0], row[1], row[2]))  # as they were written
            journal = rows.journal_rows(
                rows.event(rows.got(row[0]), (row[1], *row[3:])) for row in found
            )
            drop = [(key,) for key in keys]
            self._write_all("repacking", [(_PACKED_JOURNAL, journal), (_DROP_LEGACY, drop)])
            moved, last = moved + len(found), keys[-1]
        self._legacy_events = None
        last = ""
        while texts := self._query("repacking", _TEXT_SNAPSHOTS, (last,)):
            updates = [(pack(RECORD, rows.got(text)), key, at) for key, text, at in texts]
            self._write_all("repacking", [(_PACK_SNAPSHOT, updates)])
            packed, last = packed + len(texts), texts[-1][0]
        log.info(
            "repacked store %s: %d events moved into the journal, %d snapshots packed",
            self.url,
            moved,
            packed,
        )
        return moved, packed

    # -- writing ----------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        """Write everything in ``commit`` in one transaction.

        Raises:
            VersionConflictError: naming every conflicting key; nothing was written.
            StorageError: the database failed, the commit is malformed (see
                :func:`~membercore.ports.commits.check_commit`), or the store was opened
                read-only; nothing was written.
        """
        if not commit:
            return
        self._writable("committing")
        checked = check_commit(self.url, commit)
        try:
            self._write(checked, self._rows.commit(checked, commit))
        except VersionConflictError as conflict:
            log.debug(
                "commit to %s: version conflict on %d records (%s), nothing written",
                self.url,
                len(conflict.conflicts),
                ", ".join(sorted(conflict.conflicts)),
            )
            raise

    def record_delivery(self, delivery: Delivery) -> None:
        """Record what a channel said of a message, in one update that also ends its claim.

        The update's ``WHERE`` keeps the rules of
        :meth:`~membercore.ports.Store.record_delivery`: the first receipt wins, and a
        failure counts only while the message is pending.

        Raises:
            StorageError: no message has that id, the database failed, or the store
                was opened read-only.
        """
        self._writable("recording a delivery")
        rows = self._rows
        unknown = UnknownMessageError(url=self.url, message_id=delivery.message_id)
        named = self._message_named(delivery.message_id, delivery.key, "recording a delivery")
        if named is None:
            raise unknown
        error = rows.put_optional(delivery.error)
        update: str
        parameters: tuple[object, ...]
        if delivery.receipt is not None:
            update = _DELIVERED
            receipt, address = rows.put(delivery.receipt), rows.put_optional(delivery.address)
            parameters = (receipt, address, rows.instant(delivery.at), *named)
        elif delivery.retry_at is not None:
            update = _HOLD if delivery.held else _RETRY
            parameters = (rows.instant(delivery.retry_at), error, *named)
        else:
            update, parameters = _GIVE_UP, (error, *named)
        if not self._deliver(update, parameters, named):
            raise unknown

    def _message_named(
        self, message_id: str, key: str | None, doing: str
    ) -> tuple[str, str] | None:
        """A message's record and id as stored; its record found first when not given.

        None when no message has that id.
        """
        put = self._rows.put
        if key is not None:
            return put(key), put(message_id)
        found = self._query(doing, _RECORD_OF_MESSAGE, (put(message_id),))
        return None if not found else (found[0][0], put(message_id))

    def record_outcome(
        self, message_id: str, outcome: str, at: datetime, *, key: str | None = None
    ) -> None:
        """Record the provider's final word on a delivered message, in one update.

        The update's ``WHERE`` keeps the rules of
        :meth:`~membercore.ports.Store.record_outcome`: only a delivered message takes
        one, and the first one wins.

        Raises:
            NaiveInstantError: ``at`` is naive.
            StorageError: no message has that id, it was not delivered, ``outcome`` is
                empty, the database failed, or the store was opened read-only.
        """
        self._writable("recording an outcome")
        rows = self._rows
        moment = outcome_at(self.url, message_id, outcome, at)
        named = self._message_named(message_id, key, "recording an outcome")
        if named is None:
            raise undelivered(self.url, message_id, None)
        parameters = (rows.put(outcome), rows.instant(moment), *named)
        status = self._outcome(_OUTCOME, parameters, named)
        if status != "delivered":
            raise undelivered(self.url, message_id, status)
