"""The in-memory store: for tests, demos and a programme that needs no persistence.

``memory://`` (or ``memory://any-name``) opens a fresh, empty store each time: nothing
is shared between two opens, even of the same name, and everything is gone with the
object. It keeps the whole :class:`~membercore.ports.Store` contract, including the
all-or-nothing commit and the version check, keeps accounts
(:class:`~membercore.ports.AccountStore`: API tokens, staff accounts, look-ups) and
erases a person's data (:class:`~membercore.ports.ErasureStore`). It is
safe to share between threads (one lock; listings are copied under it, so iterating
never races a commit).
"""

from __future__ import annotations

import itertools
import re
import threading
from bisect import bisect_left, insort
from collections.abc import Callable, Collection, Iterator
from datetime import datetime, timedelta

import attrs

from membercore.dates import require_aware
from membercore.errors import StorageError, UnknownMessageError, VersionConflictError
from membercore.hookspecs import StoreOpener, hookimpl
from membercore.ports import (
    ApiToken,
    Commit,
    DeadLetter,
    Delivery,
    Erasure,
    ErasureNote,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    Lookup,
    OutboxMessage,
    Record,
    StaffAccount,
    StoredEvent,
    TaskRow,
)
from membercore.ports.commits import CheckedCommit, check_commit
from membercore_adapters.stores.base import Closing, claim_until, outcome_at, undelivered

__all__ = ["MemoryStore", "membercore_register_stores"]


@attrs.define
class _Outgoing:
    """An outbox message with its delivery bookkeeping."""

    message: OutboxMessage
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claim_until: datetime | None = None

    def ready(self, now: datetime) -> bool:
        """Pending and due by ``now`` (its send instant and any retry reached)."""
        retry = self.next_attempt_at
        return (
            self.message.status == "pending"
            and self.message.send_at <= now
            and (retry is None or retry <= now)
        )

    def release(self) -> None:
        """Drop the claim (a delivery was recorded)."""
        self.claimed_by = None
        self.claim_until = None

    def delivered_since(self, channel: str, since: datetime) -> bool:
        """Delivered on ``channel`` at or after ``since``."""
        message = self.message
        delivered_at = message.delivered_at
        return (
            message.status == "delivered"
            and message.channel == channel
            and delivered_at is not None
            and delivered_at >= since
        )


def _undelivered(message: OutboxMessage) -> OutboxMessage:
    """``message`` as a commit writes it: nothing of a delivery or an outcome."""
    return attrs.evolve(
        message, receipt=None, address=None, delivered_at=None, outcome=None, outcome_at=None
    )


class _Schedule:
    """The records' due instants, kept in order: those due first are found without a scan.

    A tick asks for the earliest few records due (a page), and a store of many records
    has few due at once: a scan of every record's instant each time would cost in
    proportion to the records, not to the page.
    """

    def __init__(self) -> None:
        self._at: dict[str, datetime] = {}
        self._order: list[tuple[datetime, str]] = []  # (due, key), earliest first

    def __setitem__(self, key: str, at: datetime) -> None:
        self.pop(key)
        self._at[key] = at
        insort(self._order, (at, key))

    def pop(self, key: str, default: datetime | None = None) -> datetime | None:
        """Take ``key`` off the schedule: its due instant (``default`` if it had none)."""
        at = self._at.pop(key, None)
        if at is None:
            return default
        del self._order[bisect_left(self._order, (at, key))]
        return at

    def clear(self) -> None:
        """Take every record off."""
        self._at.clear()
        self._order.clear()

    def ready(self, now: datetime) -> Iterator[tuple[datetime, str]]:
        """(due, key) of each record due by ``now``, earliest first (then by key)."""
        for entry in self._order:
            if entry[0] > now:
                return
            yield entry


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class MemoryStore(Closing):
    """A :class:`~membercore.ports.Store` and :class:`~membercore.ports.AccountStore`.

    Everything is kept in dictionaries, guarded by one lock.

    Args:
        url: the URL to name the store by (``memory://`` unless given).
    """

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._closed = False
        self._records: dict[str, Record] = {}
        self._due = _Schedule()
        # The manager of each managed record (a member's health manager).
        self._managers: dict[str, str] = {}
        # Claims on due records: key -> (worker, until); a commit of the record drops it.
        self._claims: dict[str, tuple[str, datetime]] = {}
        self._events: dict[str, list[StoredEvent]] = {}
        self._inbox: dict[str, InboxEntry] = {}
        # Dictionaries keep insertion order: that is commit order.
        self._outbox: dict[str, _Outgoing] = {}
        self._dead_letters: dict[tuple[str, str], DeadLetter] = {}
        # By record, then task key: a task's key is unique within its record.
        self._tasks: dict[tuple[str, str], TaskRow] = {}
        # Patients' identifiers, (system, value) -> patient id; sources' positions.
        self._identifiers: dict[str, dict[str, str]] = {}  # value -> system -> patient
        self._positions: dict[str, str] = {}
        self._inputs: list[LoggedInput] = []  # the input log; seq is the place + 1
        # Accounts: tokens by id, staff accounts by staff id, look-ups as recorded.
        self._tokens: dict[str, ApiToken] = {}
        self._staff: dict[str, StaffAccount] = {}
        self._lookups: list[Lookup] = []
        # Erasures as carried out; the erasure of each digest of an erased person's ids.
        self._erasures: list[ErasureNote] = []
        self._erased: dict[str, int] = {}

    @classmethod
    def open(cls, url: str) -> MemoryStore:
        """Open a fresh, empty store for a ``memory://`` URL.

        Args:
            url: ``memory://`` or ``memory://name`` (the name only labels the store).

        Returns:
            The new store.

        Raises:
            StorageError: the URL is not a ``memory://`` URL.
        """
        scheme, separator, name = url.partition("://")
        if scheme != "memory" or not separator:
            raise StorageError(url, "not a memory URL (memory:// or memory://name)")
        if name and not _NAME.fullmatch(name):
            problem = "a memory store's name is letters, digits, '-', '_' or '.' (memory://name)"
            raise StorageError(url, problem)
        return cls(url)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(self.url, "the store is closed")

    # -- reading ----------------------------------------------------------------------

    def load(self, keys: Collection[str]) -> dict[str, Record]:
        """The records stored under ``keys`` (absent keys are left out)."""
        with self._lock:
            self._check_open()
            records = self._records
            return {key: records[key] for key in keys if key in records}

    def seen(self, fact_ids: Collection[str]) -> dict[str, str]:
        """Of ``fact_ids``, those in the inbox, with the fingerprint they were taken with."""
        with self._lock:
            self._check_open()
            inbox = self._inbox
            return {fact_id: inbox[fact_id].fingerprint for fact_id in fact_ids if fact_id in inbox}

    def identified(self, values: Collection[str]) -> list[IdentifierLink]:
        """The stored identifiers whose value is one of ``values``, of any system."""
        with self._lock:
            self._check_open()
            identifiers = self._identifiers
            return [
                IdentifierLink(system=system, value=value, patient_id=patient_id)
                for value in set(values)
                for system, patient_id in identifiers.get(value, {}).items()
            ]

    def identifiers_of(self, patient_id: str) -> list[IdentifierLink]:
        """The identifiers that name ``patient_id``, by system then value."""
        with self._lock:
            self._check_open()
            found = [
                IdentifierLink(system=system, value=value, patient_id=patient_id)
                for value, systems in self._identifiers.items()
                for system, named in systems.items()
                if named == patient_id
            ]
        return sorted(found, key=lambda link: (link.system, link.value))

    def position(self, source: str) -> str | None:
        """The position ``source`` last committed, or None if it never committed one."""
        with self._lock:
            self._check_open()
            return self._positions.get(source)

    def inputs(self, *, after: int = 0) -> Iterator[LoggedInput]:
        """The logged inputs after the ``seq`` ``after``, in order."""
        with self._lock:
            self._check_open()
            return iter(self._inputs[max(after, 0) :])

    def unlogged(self) -> int:
        """A memory store logs its inputs from the start: none held before."""
        with self._lock:
            self._check_open()
            return 0

    def events(self, key: str, *, after_version: int = 0) -> list[StoredEvent]:
        """A record's journal in order, from the commit after ``after_version``."""
        with self._lock:
            self._check_open()
            return [e for e in self._events.get(key, ()) if e.version > after_version]

    def scan(self, prefix: str = "") -> Iterator[Record]:
        """Every record whose key starts with ``prefix``, in key order."""
        with self._lock:
            self._check_open()
            keys = sorted(key for key in self._records if key.startswith(prefix))
            return iter([self._records[key] for key in keys])

    def due(self, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` records due a tick by ``now``: (key, due_at), earliest first."""
        require_aware("now", now)
        with self._lock:
            self._check_open()
            if limit <= 0:
                return []
            ready = self._due.ready(now)
            return [(key, at) for at, key in itertools.islice(ready, limit)]

    def claim_due(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[tuple[str, datetime]]:
        """Claim up to ``limit`` records due a tick by ``now``, under the lock.

        Records under another worker's claim whose lease has not ended are skipped (a
        worker started again under its name takes its own claims back); those claimed
        are held by ``worker`` until ``now + lease``. A commit of the record releases it.

        Raises:
            StorageError: ``worker`` is empty, ``lease`` not positive, or the store closed.
        """
        until = claim_until(self.url, now, worker, lease)
        with self._lock:
            self._check_open()
            if limit <= 0:
                return []
            claims = self._claims
            ready = (
                (at, key)
                for at, key in self._due.ready(now)
                if key not in claims or claims[key][1] <= now or claims[key][0] == worker
            )
            claimed = [(key, at) for at, key in itertools.islice(ready, limit)]
            for key, _ in claimed:
                claims[key] = (worker, until)
            return claimed

    def pending_outbox(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` pending messages to send by ``now``, in commit order (claims none)."""
        require_aware("now", now)
        with self._lock:
            self._check_open()
            ready: list[OutboxMessage] = []
            for outgoing in self._outbox.values():
                if len(ready) >= limit:
                    break
                if outgoing.ready(now):
                    ready.append(outgoing.message)
            return ready

    def claim_outbox(
        self, now: datetime, limit: int, *, worker: str, lease: timedelta
    ) -> list[OutboxMessage]:
        """Claim up to ``limit`` pending messages to send by ``now``, under the lock.

        Messages under a claim whose lease has not ended are skipped; those claimed are
        held by ``worker`` until ``now + lease``.

        Raises:
            StorageError: ``worker`` is empty, ``lease`` not positive, or the store closed.
        """
        until = claim_until(self.url, now, worker, lease)
        with self._lock:
            self._check_open()
            claimed: list[OutboxMessage] = []
            for outgoing in self._outbox.values():
                if len(claimed) >= limit:
                    break
                held = outgoing.claim_until
                if outgoing.ready(now) and (held is None or held <= now):
                    outgoing.claimed_by = worker
                    outgoing.claim_until = until
                    claimed.append(outgoing.message)
            return claimed

    def outbox(self, status: str | None = None) -> Iterator[OutboxMessage]:
        """Every outbox message (of one status when given), in commit order."""
        with self._lock:
            self._check_open()
            messages = [outgoing.message for outgoing in self._outbox.values()]
        return iter([m for m in messages if status is None or m.status == status])

    def awaiting(self, channel: str, since: datetime, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages of ``channel`` delivered since ``since``, with no outcome."""
        moment = require_aware("since", since)
        with self._lock:
            self._check_open()
            waiting: list[OutboxMessage] = []
            for outgoing in self._outbox.values():
                if len(waiting) >= limit:
                    break
                if outgoing.delivered_since(channel, moment) and outgoing.message.outcome is None:
                    waiting.append(outgoing.message)
            return waiting

    def sent_to(self, channel: str, address: str, since: datetime) -> list[OutboxMessage]:
        """The messages of ``channel`` delivered to ``address`` since ``since``, in commit order."""
        moment = require_aware("since", since)
        with self._lock:
            self._check_open()
            return [
                outgoing.message
                for outgoing in self._outbox.values()
                if outgoing.delivered_since(channel, moment) and outgoing.message.address == address
            ]

    def dead_letters(self) -> Iterator[DeadLetter]:
        """Every dead letter, oldest (first written) first."""
        with self._lock:
            self._check_open()
            return iter(list(self._dead_letters.values()))

    def tasks(self, status: str | None = "open") -> Iterator[TaskRow]:
        """Staff tasks of a status (every task when None), by due instant, task key, record."""
        with self._lock:
            self._check_open()
            rows = [t for t in self._tasks.values() if status is None or t.status == status]
        return iter(sorted(rows, key=lambda task: (task.due_at, task.task_key, task.key)))

    def task_loads(self) -> dict[str, int]:
        """Open tasks per assignee (unassigned tasks are nobody's load)."""
        loads: dict[str, int] = {}
        with self._lock:
            self._check_open()
            for task in self._tasks.values():
                if task.status == "open" and task.assignee is not None:
                    loads[task.assignee] = loads.get(task.assignee, 0) + 1
        return dict(sorted(loads.items()))

    def case_loads(self) -> dict[str, int]:
        """Records per manager (records managed by nobody count for nobody)."""
        loads: dict[str, int] = {}
        with self._lock:
            self._check_open()
            for manager in self._managers.values():
                loads[manager] = loads.get(manager, 0) + 1
        return dict(sorted(loads.items()))

    # -- writing ----------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        """Write everything in ``commit`` at once, or nothing.

        Raises:
            VersionConflictError: naming every conflicting key; nothing was written.
            StorageError: the store is closed, or the commit is malformed (see
                :func:`~membercore.ports.commits.check_commit`); nothing was written.
        """
        if not commit:
            with self._lock:
                self._check_open()
            return
        with self._lock:
            self._check_open()
            # Check everything first: once writing starts, nothing below can fail.
            checked = check_commit(self.url, commit)
            records = self._records
            stored = {key: records[key].version for key in checked.expected if key in records}
            checked.check(self.url, stored)
            self._apply(commit, checked)

    def _apply(self, commit: Commit, checked: CheckedCommit) -> None:
        self._apply_records(checked)
        for entry in commit.inbox:
            self._inbox.setdefault(entry.fact_id, entry)
        for message in commit.outbox:
            if message.message_id not in self._outbox:
                self._outbox[message.message_id] = _Outgoing(_undelivered(message))
        for letter in commit.dead_letters:
            self._dead_letters.setdefault((letter.fact_id, letter.payload), letter)
        for task in commit.tasks:
            self._tasks[task.key, task.task_key] = task
        for message_id in commit.cancelled:
            outgoing = self._outbox.get(message_id)
            if outgoing is not None and outgoing.message.status == "pending":
                outgoing.message = attrs.evolve(outgoing.message, status="cancelled")
        for link in commit.identifiers:
            systems = self._identifiers.setdefault(link.value, {})
            systems.setdefault(link.system, link.patient_id)
        for reached in commit.positions:
            self._positions[reached.source] = reached.position
        for taken in commit.inputs:
            self._inputs.append(attrs.evolve(taken, seq=len(self._inputs) + 1))

    def _apply_records(self, checked: CheckedCommit) -> None:
        for key, outcome in checked.outcomes.items():
            if outcome.snapshot is None:
                kept = self._records[key]
                self._records[key] = attrs.evolve(kept, version=outcome.version)
            else:
                self._records[key] = Record(
                    key=key,
                    version=outcome.version,
                    snapshot=outcome.snapshot,
                    snapshot_version=outcome.snapshot_version,
                )
            if outcome.due_at is None:
                self._due.pop(key, None)
            else:
                self._due[key] = outcome.due_at
            if outcome.manager is None:
                self._managers.pop(key, None)
            else:
                self._managers[key] = outcome.manager
            self._claims.pop(key, None)
        for _, event in checked.events:
            self._events.setdefault(event.key, []).append(event)

    def record_delivery(self, delivery: Delivery) -> None:
        """Mark a message delivered (a receipt), failed for now (retry_at) or given up.

        A receipt marks the message delivered unless it already is (the first receipt is
        kept, with its address). A failure counts an attempt of a pending message and
        either schedules the next one (``retry_at``) or gives up (status ``failed``); it
        changes nothing once the message is delivered or given up. Either releases the
        message's claim.

        Raises:
            StorageError: no message has that id, or the store is closed.
        """
        with self._lock:
            self._check_open()
            outgoing = self._outbox.get(delivery.message_id)
            if outgoing is None or delivery.key not in (None, outgoing.message.key):
                raise UnknownMessageError(url=self.url, message_id=delivery.message_id)
            message = outgoing.message
            if delivery.receipt is not None:
                if message.status != "delivered":
                    outgoing.release()
                    outgoing.message = attrs.evolve(
                        message,
                        status="delivered",
                        receipt=delivery.receipt,
                        address=delivery.address,
                        delivered_at=delivery.at,
                    )
                    outgoing.next_attempt_at = None
                return
            if message.status != "pending":
                return
            message = attrs.evolve(message, last_error=delivery.error)
            if delivery.held:  # held back, not tried: no failure counted
                outgoing.message = message
                outgoing.release()
                outgoing.next_attempt_at = delivery.retry_at
                return
            attempts = message.attempts + 1
            outgoing.release()
            if delivery.retry_at is not None:
                outgoing.message = attrs.evolve(message, attempts=attempts)
                outgoing.next_attempt_at = delivery.retry_at
            else:
                outgoing.message = attrs.evolve(message, attempts=attempts, status="failed")
                outgoing.next_attempt_at = None

    def record_outcome(
        self, message_id: str, outcome: str, at: datetime, *, key: str | None = None
    ) -> None:
        """Record the provider's final word on a delivered message; the first one is kept.

        Raises:
            NaiveInstantError: ``at`` is naive.
            StorageError: no message has that id, it was not delivered, ``outcome`` is
                empty, or the store is closed.
        """
        moment = outcome_at(self.url, message_id, outcome, at)
        with self._lock:
            self._check_open()
            outgoing = self._outbox.get(message_id)
            if outgoing is None or key not in (None, outgoing.message.key):
                raise undelivered(self.url, message_id, None)
            message = outgoing.message
            if message.status != "delivered":  # delivered only with a receipt
                raise undelivered(self.url, message_id, message.status)
            if message.outcome is None:
                outgoing.message = attrs.evolve(message, outcome=outcome, outcome_at=moment)

    # -- accounts ---------------------------------------------------------------------

    def add_token(self, token: ApiToken) -> None:
        """Keep a new token.

        Raises:
            StorageError: a token of its id or digest is kept already, or the store is
                closed.
        """
        with self._lock:
            self._check_open()
            tokens = self._tokens
            if token.token_id in tokens or any(t.digest == token.digest for t in tokens.values()):
                raise StorageError(self.url, f"token {token.token_id!r} is stored already")
            tokens[token.token_id] = token

    def revoke_token(self, token_id: str, at: datetime) -> ApiToken:
        """Revoke a token at ``at`` (the first revocation is kept); the token now.

        Raises:
            NaiveInstantError: ``at`` is naive.
            StorageError: no token has that id, or the store is closed.
        """
        moment = require_aware("at", at)
        with self._lock:
            self._check_open()
            token = self._tokens.get(token_id)
            if token is None:
                raise StorageError(self.url, f"no token {token_id!r}")
            if token.revoked_at is None:
                token = self._tokens[token_id] = attrs.evolve(token, revoked_at=moment)
            return token

    def token(self, token_id: str) -> ApiToken | None:
        """The token of ``token_id``, revoked or not."""
        with self._lock:
            self._check_open()
            return self._tokens.get(token_id)

    def token_by_digest(self, digest: str) -> ApiToken | None:
        """The token whose secret's digest is ``digest``, revoked or not."""
        with self._lock:
            self._check_open()
            return next((t for t in self._tokens.values() if t.digest == digest), None)

    def tokens(self) -> Iterator[ApiToken]:
        """Every token, by creation instant then id."""
        with self._lock:
            self._check_open()
            tokens = list(self._tokens.values())
        return iter(sorted(tokens, key=lambda token: (token.created_at, token.token_id)))

    def save_staff_account(self, account: StaffAccount) -> None:
        """Keep ``account``, replacing the account of its staff id."""
        with self._lock:
            self._check_open()
            self._staff[account.staff_id] = account

    def staff_account(self, staff_id: str) -> StaffAccount | None:
        """The account of ``staff_id``, active or not."""
        with self._lock:
            self._check_open()
            return self._staff.get(staff_id)

    def staff_accounts(self) -> Iterator[StaffAccount]:
        """Every staff account, by staff id."""
        with self._lock:
            self._check_open()
            accounts = sorted(self._staff.items())
        return iter([account for _, account in accounts])

    def record_lookup(self, lookup: Lookup) -> None:
        """Append a look-up."""
        with self._lock:
            self._check_open()
            self._lookups.append(lookup)

    def lookups(
        self,
        *,
        member_id: str | None = None,
        who: str | None = None,
        since: datetime | None = None,
    ) -> Iterator[Lookup]:
        """The look-ups recorded (of a member, by someone, since an instant), in order."""
        start = None if since is None else require_aware("since", since)
        with self._lock:
            self._check_open()
            found = [
                lookup
                for lookup in self._lookups
                if (member_id is None or lookup.member_id == member_id)
                and (who is None or lookup.who == who)
                and (start is None or lookup.at >= start)
            ]
        return iter(found)

    # -- erasure ----------------------------------------------------------------------

    def erase(self, erasure: Erasure) -> int:
        """Rewrite a person's rows at once (see :meth:`ErasureStore.erase`)."""
        with self._lock:
            self._check_open()
            records = self._records
            conflicts = {
                r.old_key: r.version
                for r in erasure.records
                if r.old_key not in records or records[r.old_key].version != r.version
            }
            if conflicts:
                raise VersionConflictError(self.url, conflicts)
            taken = [r.key for r in erasure.records if r.rekeyed and r.key in records]
            if taken:
                raise StorageError(self.url, f"erasing: keys already taken: {', '.join(taken)}")
            self._rewrite_records(erasure)
            self._rewrite_rows(erasure)
            if erasure.note is None:
                return 0
            note = attrs.evolve(erasure.note, seq=len(self._erasures) + 1)
            self._erasures.append(note)
            for digest in note.digests:
                self._erased.setdefault(digest, note.seq)
            return note.seq

    def _rewrite_records(self, erasure: Erasure) -> None:
        for r in erasure.records:
            del self._records[r.old_key]
            self._events.pop(r.old_key, None)
            self._claims.pop(r.old_key, None)
            due, manager = self._due.pop(r.old_key, None), self._managers.pop(r.old_key, None)
            if due is not None and not r.retire:
                self._due[r.key] = due
            if manager is not None and not r.retire:
                self._managers[r.key] = manager
            self._records[r.key] = Record(
                key=r.key,
                version=r.version,
                snapshot=r.snapshot,
                snapshot_version=r.snapshot_version,
            )
            self._events[r.key] = list(r.events)

    def _rewrite_rows(self, erasure: Erasure) -> None:
        for old, entry in erasure.inbox:
            self._inbox.pop(old, None)
            self._inbox[entry.fact_id] = entry
        outbox = dict(erasure.outbox)
        self._outbox = {
            (outbox[message_id].message_id if message_id in outbox else message_id): (
                _Outgoing(outbox[message_id]) if message_id in outbox else outgoing
            )
            for message_id, outgoing in self._outbox.items()
        }
        for old_letter, letter in erasure.dead_letters:
            if self._dead_letters.pop((old_letter.fact_id, old_letter.payload), None):
                self._dead_letters[(letter.fact_id, letter.payload)] = letter
        for old, task in erasure.tasks:
            self._tasks.pop((erasure.stored_key(task.key), old), None)
            self._tasks[task.key, task.task_key] = task
        for logged in erasure.inputs:
            self._inputs[logged.seq - 1] = logged
        for link in erasure.identifiers:
            systems = self._identifiers.get(link.value, {})
            systems.pop(link.system, None)
            if not systems:
                self._identifiers.pop(link.value, None)
        renamed = dict(erasure.lookups)
        self._lookups = [
            attrs.evolve(seen, member_id=renamed[seen.member_id])
            if seen.member_id in renamed
            else seen
            for seen in self._lookups
        ]

    def inbox_of(self, key: str) -> list[InboxEntry]:
        """The facts taken into the record ``key``, by fact id."""
        with self._lock:
            self._check_open()
            return sorted(
                (entry for entry in self._inbox.values() if entry.key == key),
                key=lambda entry: entry.fact_id,
            )

    def erasures(self) -> Iterator[ErasureNote]:
        """Every erasure, in the order carried out."""
        with self._lock:
            self._check_open()
            return iter(list(self._erasures))

    def erased(self, digests: Collection[str]) -> dict[str, ErasureNote]:
        """Of ``digests``, those of an erased person, each with its erasure."""
        with self._lock:
            self._check_open()
            return {
                digest: self._erasures[self._erased[digest] - 1]
                for digest in digests
                if digest in self._erased
            }

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Drop everything (again is harmless); the store is unusable afterwards."""
        with self._lock:
            self._closed = True
            self._records.clear()
            self._due.clear()
            self._managers.clear()
            self._claims.clear()
            self._events.clear()
            self._inbox.clear()
            self._outbox.clear()
            self._dead_letters.clear()
            self._tasks.clear()
            self._identifiers.clear()
            self._positions.clear()
            self._tokens.clear()
            self._staff.clear()
            self._lookups.clear()
            self._erasures.clear()
            self._erased.clear()


@hookimpl
def membercore_register_stores(register: Callable[[str, StoreOpener], None]) -> None:
    """Serve ``memory://`` URLs."""
    register("memory", MemoryStore.open)
