"""The SQL stores' erasure: a person's rows rewritten in every table, in one transaction.

:class:`SqlErasure` is the :class:`~membercore.ports.ErasureStore` of
:class:`~membercore_adapters.stores.sql.SqlStore`, written once for both dialects with
``?`` placeholders, over the tables of schema 10 (``erasures``, ``erased``,
``erasing``). The input log and the look-ups stay append-only: their triggers let a row
change only while the transaction holds a row of ``erasing``, which an erasure writes
first and removes last (no other transaction ever sees it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterator
from typing import Any, Final

from membercore.ports import Erasure, ErasureNote, InboxEntry
from membercore_adapters.stores.packing import JOURNAL, RECORD, pack
from membercore_adapters.stores.part import SqlPart

__all__ = ["SqlErasure"]

_BEGIN: Final = "INSERT INTO erasing (marker) VALUES (?)"
_END: Final = "DELETE FROM erasing WHERE marker = ?"
# A record moved to a new key needs no tick and has no manager any more.
_RECORD: Final = """
    UPDATE records SET key = ?, snapshot = '', packed = ?, snapshot_version = ?,
        due_at = CASE WHEN ? = 1 THEN NULL ELSE due_at END,
        manager = CASE WHEN ? = 1 THEN NULL ELSE manager END,
        claimed_by = NULL, claim_until = NULL
    WHERE key = ?
"""
_DROP_JOURNAL: Final = "DELETE FROM journal WHERE key = ?"
_DROP_LEGACY: Final = "DELETE FROM legacy_events WHERE key = ?"
_JOURNAL: Final = "INSERT INTO journal (key, version, events) VALUES (?, ?, ?)"
_INBOX: Final = "UPDATE inbox SET fact_id = ?, key = ? WHERE fact_id = ?"
_OUTBOX: Final = """
    UPDATE outbox SET message_id = ?, key = ?, payload = ?, status = ?, receipt = ?,
        address = ?, last_error = ?, claimed_by = NULL, claim_until = NULL
    WHERE message_id = ?
"""
_LETTER: Final = (
    "UPDATE dead_letters SET fact_id = ?, payload = ?, reason = ? WHERE fact_id = ? AND payload = ?"
)
_TASK: Final = """
    UPDATE tasks SET task_key = ?, key = ?, assignee = ?, status = ?, payload = ?
    WHERE task_key = ?
"""
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

    def erase(self, erasure: Erasure) -> int:
        """Rewrite a person's rows in one transaction (see :meth:`ErasureStore.erase`)."""
        self._writable("erasing")
        note = erasure.note
        marker = uuid.uuid4().hex
        versions = {rewrite.old_key: rewrite.version for rewrite in erasure.records}
        noted = [] if note is None else self._noted(note)
        statements = [(_BEGIN, [(marker,)]), *self._rewrites(erasure), *noted, (_END, [(marker,)])]
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
        put, put_optional = rows.put, rows.put_optional
        records = erasure.records
        return [
            (
                _RECORD,
                [
                    (
                        put(r.key),
                        pack(RECORD, r.snapshot),
                        r.snapshot_version,
                        int(r.retire),
                        int(r.retire),
                        put(r.old_key),
                    )
                    for r in records
                ],
            ),
            (_DROP_JOURNAL, [(put(r.old_key),) for r in records]),
            (_DROP_LEGACY, [(put(r.old_key),) for r in records]),
            (_JOURNAL, rows.journal_rows(e for r in records for e in r.events)),
            (
                _INBOX,
                [(put(e.fact_id), put(e.key), put(old)) for old, e in erasure.inbox],
            ),
            (
                _OUTBOX,
                [
                    (
                        put(m.message_id),
                        put(m.key),
                        put(m.payload),
                        put(m.status),
                        put_optional(m.receipt),
                        put_optional(m.address),
                        put_optional(m.last_error),
                        put(old),
                    )
                    for old, m in erasure.outbox
                ],
            ),
            (
                _LETTER,
                [
                    (put(d.fact_id), put(d.payload), put(d.reason), put(o.fact_id), put(o.payload))
                    for o, d in erasure.dead_letters
                ],
            ),
            (
                _TASK,
                [
                    (
                        put(t.task_key),
                        put(t.key),
                        put_optional(t.assignee),
                        put(t.status),
                        put(t.payload),
                        put(old),
                    )
                    for old, t in erasure.tasks
                ],
            ),
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
