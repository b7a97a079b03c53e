"""The SQL stores' erasure: a person's rows rewritten in every table, in one transaction.

:class:`SqlErasure` is the :class:`~membercore.ports.ErasureStore` of
:class:`~membercore_adapters.stores.sql.SqlStore`, written once for both dialects with
``?`` placeholders, over the tables of schema 10 (``erasures``, ``erased``,
``erasing``). The input log and the look-ups stay append-only: their triggers let a row
change only while the transaction holds a row of ``erasing``, which an erasure writes
first and removes last (no other transaction ever sees it). No statement changes the
record key of a row: a record moved to a new key, and its facts taken, its tasks and (in
PostgreSQL) its messages, are written under the new key and removed from the old.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterator
from typing import Any, ClassVar, Final

from membercore.ports import Erasure, ErasureNote, InboxEntry, Rewrite, TaskRow
from membercore_adapters.stores.packing import JOURNAL, RECORD, pack
from membercore_adapters.stores.part import SqlPart

__all__ = ["SqlErasure"]

_BEGIN: Final = "INSERT INTO erasing (marker) VALUES (?)"
_END: Final = "DELETE FROM erasing WHERE marker = ?"
# A record keeps its key, or moves to a new one: written there from its stored row, and
# removed from the old (no statement ever changes a row's record key, which a store
# distributed by record could not do: membercore_adapters.stores.postgres.distribution).
# A record that moves needs no tick and has no manager any more.
_RECORD: Final = """
    UPDATE records SET snapshot = '', packed = ?, snapshot_version = ?,
        due_at = CASE WHEN ? = 1 THEN NULL ELSE due_at END,
        manager = CASE WHEN ? = 1 THEN NULL ELSE manager END,
        claimed_by = NULL, claim_until = NULL
    WHERE key = ?
"""
_MOVE_RECORD: Final = """
    INSERT INTO records (key, version, snapshot, packed, snapshot_version, due_at, manager)
    SELECT ?, version, '', ?, ?, CASE WHEN ? = 1 THEN NULL ELSE due_at END,
        CASE WHEN ? = 1 THEN NULL ELSE manager END
    FROM records WHERE key = ?
"""
_DROP_RECORD: Final = "DELETE FROM records WHERE key = ?"
_DROP_JOURNAL: Final = "DELETE FROM journal WHERE key = ?"
_DROP_LEGACY: Final = "DELETE FROM legacy_events WHERE key = ?"
_JOURNAL: Final = "INSERT INTO journal (key, version, events) VALUES (?, ?, ?)"
# The rows of a record's facts, messages and tasks are each removed and written anew,
# whole, in the record they now belong to.
_DROP_INBOX: Final = "DELETE FROM inbox WHERE key = ? AND fact_id = ?"
_INBOX: Final = "INSERT INTO inbox (fact_id, key, fingerprint, at) VALUES (?, ?, ?, ?)"
# A message keeps its place (seq) and what its delivery left. In a store that moves rows
# (:attr:`SqlErasure.moves_messages`), a message whose record moves is written there from
# its stored row and removed from the old; elsewhere, and when its record stays, it is
# changed where it is.
_MESSAGE: Final = """
    UPDATE outbox SET message_id = ?, payload = ?, status = ?, receipt = ?, address = ?,
        last_error = ?, claimed_by = NULL, claim_until = NULL
    WHERE key = ? AND message_id = ?
"""
_REKEY_MESSAGE: Final = """
    UPDATE outbox SET message_id = ?, key = ?, payload = ?, status = ?, receipt = ?,
        address = ?, last_error = ?, claimed_by = NULL, claim_until = NULL
    WHERE key = ? AND message_id = ?
"""
_MOVE_MESSAGE: Final = """
    INSERT INTO outbox (seq, message_id, key, channel, payload, send_at, status, attempts,
        next_attempt_at, receipt, address, delivered_at, outcome, outcome_at, last_error)
    OVERRIDING SYSTEM VALUE
    SELECT seq, ?, ?, channel, ?, send_at, ?, attempts, next_attempt_at, ?, ?,
        delivered_at, outcome, outcome_at, ?
    FROM outbox WHERE key = ? AND message_id = ?
"""
_DROP_MESSAGE: Final = "DELETE FROM outbox WHERE key = ? AND message_id = ?"
_DROP_TASK: Final = "DELETE FROM tasks WHERE key = ? AND task_key = ?"
_TASK: Final = """
    INSERT INTO tasks (task_key, key, kind, role, assignee, due_at, status, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
_LETTER: Final = (
    "UPDATE dead_letters SET fact_id = ?, payload = ?, reason = ? WHERE fact_id = ? AND payload = ?"
)
_INPUT: Final = "UPDATE inputs SET keys = ?, payload = ? WHERE seq = ?"
_IDENTIFIER: Final = "DELETE FROM identifiers WHERE value = ? AND system = ?"
_LOOKUP: Final = "UPDATE lookups SET member_id = ? WHERE member_id = ?"
_NOTE: Final = (
    "INSERT INTO erasures (at, reason, erased_by, digests, counts) VALUES (?, ?, ?, ?, ?)"
)
# The erasure just written is the latest: the transaction holds the table's write lock.
_DIGEST: Final = """
    INSERT INTO erased (digest, erasure)
    SELECT CAST(? AS TEXT), max(seq) FROM erasures WHERE true
    ON CONFLICT DO NOTHING
"""
_NOTES: Final = "SELECT seq, at, reason, erased_by, digests, counts FROM erasures"
_SEQ_OF: Final = "SELECT erasure FROM erased WHERE digest = ?"
_ERASED: Final = "SELECT digest, erasure FROM erased WHERE digest"
_INBOX_OF: Final = "SELECT fact_id, key, fingerprint, at FROM inbox WHERE key = ? ORDER BY fact_id"


class SqlErasure(SqlPart):
    """The :class:`~membercore.ports.ErasureStore` of a SQL store.

    :class:`~membercore_adapters.stores.sql.SqlStore` provides what is abstract here.
    """

    #: Whether a message whose record moves is moved with it (written under the new
    #: key, then removed from the old), as a store distributed by record needs; else it
    #: is changed where it is (a store whose messages are numbered by their row alone).
    moves_messages: ClassVar[bool] = False

    def erase(self, erasure: Erasure) -> int:
        """Rewrite a person's rows in one transaction (see :meth:`ErasureStore.erase`)."""
        self._writable("erasing")
        note = erasure.note
        marker = uuid.uuid4().hex
        versions = {rewrite.old_key: rewrite.version for rewrite in erasure.records}
        noted = [] if note is None else self._noted(note)
        # Only the statements with rows: a dialect never parses another's.
        rewrites = [(statement, rows) for statement, rows in self._rewrites(erasure) if rows]
        statements = [(_BEGIN, [(marker,)]), *rewrites, *noted, (_END, [(marker,)])]
        self._write_all("erasing", statements, versions=versions)
        if note is None:
            return 0
        if not note.digests:
            return max(n.seq for n in self.erasures())
        ((seq,),) = self._query("erasing", _SEQ_OF, (note.digests[0],))
        return int(seq)

    def _noted(self, note: ErasureNote) -> list[tuple[str, list[Any]]]:
        rows = self._rows
        kept = (
            rows.instant(note.at),
            rows.put(note.reason),
            rows.put(note.by),
            json.dumps(list(note.digests)),
            json.dumps(note.counts),
        )
        return [(_NOTE, [kept]), (_DIGEST, [(digest,) for digest in note.digests])]

    def _rewrites(self, erasure: Erasure) -> list[tuple[str, list[Any]]]:
        rows = self._rows
        put = rows.put
        records = erasure.records
        moved = [r for r in records if r.rekeyed]
        stored = erasure.stored_key  # the record each row was stored in
        return [
            (_RECORD, [(*self._rewritten(r), put(r.key)) for r in records if not r.rekeyed]),
            (_MOVE_RECORD, [(put(r.key), *self._rewritten(r), put(r.old_key)) for r in moved]),
            (_DROP_RECORD, [(put(r.old_key),) for r in moved]),
            (_DROP_JOURNAL, [(put(r.old_key),) for r in records]),
            (_DROP_LEGACY, [(put(r.old_key),) for r in records]),
            (_JOURNAL, rows.journal_rows(e for r in records for e in r.events)),
            (
                _DROP_INBOX,
                [(put(stored(e.key)), put(old)) for old, e in erasure.inbox],
            ),
            (
                _INBOX,
                [
                    (put(e.fact_id), put(e.key), put(e.fingerprint), rows.instant(e.at))
                    for _, e in erasure.inbox
                ],
            ),
            *self._messages_rewritten(erasure),
            (
                _LETTER,
                [
                    (put(d.fact_id), put(d.payload), put(d.reason), put(o.fact_id), put(o.payload))
                    for o, d in erasure.dead_letters
                ],
            ),
            (
                _DROP_TASK,
                [(put(stored(t.key)), put(old)) for old, t in erasure.tasks],
            ),
            (_TASK, [self._task_row(t) for _, t in erasure.tasks]),
            (
                _INPUT,
                [
                    (
                        put(json.dumps(list(i.keys), ensure_ascii=False)),
                        pack(JOURNAL, i.payload),
                        i.seq,
                    )
                    for i in erasure.inputs
                ],
            ),
            (_IDENTIFIER, [(put(link.value), put(link.system)) for link in erasure.identifiers]),
            (_LOOKUP, [(put(new), put(old)) for old, new in erasure.lookups]),
        ]

    def _rewritten(self, rewrite: Rewrite) -> tuple[Any, ...]:
        retire = int(rewrite.retire)
        return (pack(RECORD, rewrite.snapshot), rewrite.snapshot_version, retire, retire)

    def _task_row(self, task: TaskRow) -> tuple[Any, ...]:
        rows = self._rows
        put = rows.put
        return (
            put(task.task_key),
            put(task.key),
            put(task.kind),
            put(task.role),
            rows.put_optional(task.assignee),
            rows.instant(task.due_at),
            put(task.status),
            put(task.payload),
        )

    def _messages_rewritten(self, erasure: Erasure) -> list[tuple[str, list[Any]]]:
        """The statements that write the erasure's messages again: changed in place, or moved."""
        put, put_optional = self._rows.put, self._rows.put_optional
        staying: list[tuple[Any, ...]] = []
        rekeyed: list[tuple[Any, ...]] = []
        moving: list[tuple[Any, ...]] = []
        for old, m in erasure.outbox:
            old_key = erasure.stored_key(m.key)
            written = (
                put(m.payload),
                put(m.status),
                put_optional(m.receipt),
                put_optional(m.address),
                put_optional(m.last_error),
            )
            where = (put(old_key), put(old))
            if old_key == m.key:
                staying.append((put(m.message_id), *written, *where))
            elif self.moves_messages:
                moving.append((put(m.message_id), put(m.key), *written, *where))
            else:
                rekeyed.append((put(m.message_id), put(m.key), *written, *where))
        return [
            (_MESSAGE, staying),
            (_REKEY_MESSAGE, rekeyed),
            (_MOVE_MESSAGE, moving),
            (_DROP_MESSAGE, [row[-2:] for row in moving]),
        ]

    def inbox_of(self, key: str) -> list[InboxEntry]:
        """The facts taken into the record ``key``, by fact id."""
        rows = self._rows
        found = self._query("reading the inbox", _INBOX_OF, (rows.put(key),))
        return [
            InboxEntry(
                fact_id=rows.got(fact_id),
                key=rows.got(stored),
                fingerprint=rows.got(fingerprint),
                at=rows.moment(at),
            )
            for fact_id, stored, fingerprint, at in found
        ]

    def erasures(self) -> Iterator[ErasureNote]:
        """Every erasure, in the order carried out."""
        for row in self._query("listing erasures", f"{_NOTES} ORDER BY seq"):
            yield self._note(row)

    def erased(self, digests: Collection[str]) -> dict[str, ErasureNote]:
        """Of ``digests``, those of an erased person, each with its erasure."""
        if not digests:
            return {}
        found = self._select_in("looking up erasures", _ERASED, list(digests))
        if not found:
            return {}
        seqs = {int(seq) for _, seq in found}
        notes = {
            note.seq: note
            for note in (
                self._note(row)
                for row in self._query(
                    "looking up erasures", f"{_NOTES} WHERE seq >= ?", (min(seqs),)
                )
            )
            if note.seq in seqs
        }
        return {digest: notes[int(seq)] for digest, seq in found}

    def _note(self, row: tuple[Any, ...]) -> ErasureNote:
        seq, at, reason, by, digests, counts = row
        got = self._rows.got
        return ErasureNote(
            seq=int(seq),
            at=self._rows.moment(at),
            reason=got(reason),
            by=got(by),
            digests=json.loads(digests),
            counts=json.loads(counts),
        )
