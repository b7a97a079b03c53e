"""The contract of the erasure capability: a person's rows rewritten in one transaction.

A store need not erase (:class:`~membercore.ports.ErasureStore` is optional); one that
does runs this contract beside ``StoreContract``, with the same ``store`` fixture::

    class TestMyStoreErasure(ErasureContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore.open(f"my:///{tmp_path}/db")
            yield store
            store.close()
"""

# ruff: noqa: D102

from __future__ import annotations

from typing import Protocol

import attrs
import pytest

from membercore.errors import VersionConflictError
from membercore.ports import (
    AccountStore,
    DeadLetter,
    Erasure,
    ErasureNote,
    ErasureStore,
    InboxEntry,
    Lookup,
    Rewrite,
    Store,
    StoredEvent,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import T0, every_table

__all__ = ["ErasureContract"]


class _ErasingStore(Store, ErasureStore, Protocol):
    """A store with the erasure capability."""


OLD = "member:p-1"
NEW = "member:erased-1"


def _erasure(store: _ErasingStore, *, version: int = 1) -> Erasure:
    """Everything :func:`every_table` wrote of ``member:p-1``, moved to ``member:erased-1``."""
    (message,) = store.outbox()
    (letter,) = store.dead_letters()
    (task,) = store.tasks(None)
    (logged,) = store.inputs()
    (link,) = store.identifiers_of(OLD)
    event = StoredEvent(key=NEW, version=1, type="posting", at=T0, payload='{"erased":1}')
    return Erasure(
        note=ErasureNote(at=T0, reason="the person asked", by="dpo", digests=["d-1", "d-2"]),
        records=[
            Rewrite(
                old_key=OLD,
                key=NEW,
                version=version,
                snapshot='{"points":1,"name":"erased"}',
                snapshot_version=1,
                events=[event],
            )
        ],
        inbox=[
            (
                f"fact-{OLD}-1",
                InboxEntry(fact_id="fact-erased-1", key=NEW, fingerprint="f", at=T0),
            )
        ],
        outbox=[
            (
                message.message_id,
                attrs.evolve(message, message_id="m-erased-1", key=NEW, status="cancelled"),
            )
        ],
        dead_letters=[(letter, attrs.evolve(letter, fact_id="bad-erased", payload="erased"))],
        tasks=[
            (task.task_key, attrs.evolve(task, task_key="task-erased", key=NEW, status="closed"))
        ],
        inputs=[attrs.evolve(logged, keys=[NEW], payload='{"type":"erased"}')],
        identifiers=[link],
        lookups=[("p-1", "erased-1")],
    )


class ErasureContract(Contract):
    """What a store that erases keeps (:class:`~membercore.ports.ErasureStore`)."""

    role = ErasureStore

    def _filled(self, store: _ErasingStore) -> None:
        store.commit(every_table(OLD))
        if isinstance(store, AccountStore):
            store.record_lookup(
                Lookup(at=T0, who="hm-1", member_id="p-1", purpose="call", via="api")
            )

    def test_an_erasure_rewrites_every_row_it_names(self, store: _ErasingStore) -> None:
        self._filled(store)
        seq = store.erase(_erasure(store))
        assert seq == 1
        assert store.load([OLD, NEW]).keys() == {NEW}
        assert store.events(OLD) == []
        assert [e.payload for e in store.events(NEW)] == ['{"erased":1}']
        assert store.load([NEW])[NEW].snapshot == '{"points":1,"name":"erased"}'
        assert store.due(T0, 10) == []
        assert store.seen([f"fact-{OLD}-1", "fact-erased-1"]) == {"fact-erased-1": "f"}
        assert [(m.message_id, m.key, m.status) for m in store.outbox()] == [
            ("m-erased-1", NEW, "cancelled")
        ]
        assert [(d.fact_id, d.payload) for d in store.dead_letters()] == [("bad-erased", "erased")]
        assert [(t.task_key, t.key, t.status) for t in store.tasks(None)] == [
            ("task-erased", NEW, "closed")
        ]
        assert [(i.keys, i.payload) for i in store.inputs()] == [((NEW,), '{"type":"erased"}')]
        assert store.identifiers_of(OLD) == []
        assert store.inbox_of(NEW) == [
            InboxEntry(fact_id="fact-erased-1", key=NEW, fingerprint="f", at=T0)
        ]
        if isinstance(store, AccountStore):
            assert [seen.member_id for seen in store.lookups()] == ["erased-1"]

    def test_what_is_kept_of_an_erasure_finds_its_digests(self, store: _ErasingStore) -> None:
        self._filled(store)
        store.erase(_erasure(store))
        (note,) = store.erasures()
        assert (note.seq, note.reason, note.by, note.digests) == (
            1,
            "the person asked",
            "dpo",
            ("d-1", "d-2"),
        )
        assert note.at == T0
        assert store.erased(["d-2", "d-9"]) == {"d-2": note}
        assert store.erased([]) == {}

    def test_an_erasure_decided_on_an_old_version_writes_nothing(
        self, store: _ErasingStore
    ) -> None:
        self._filled(store)
        with pytest.raises(VersionConflictError):
            store.erase(_erasure(store, version=7))
        assert store.load([OLD]).keys() == {OLD}
        assert [i.keys for i in store.inputs()] == [(OLD,)]
        assert list(store.erasures()) == []
        assert store.erased(["d-1"]) == {}

    def test_a_dead_letter_left_alone_keeps_its_row(self, store: _ErasingStore) -> None:
        self._filled(store)
        other = DeadLetter(fact_id="other", fact_type="x", payload="{}", reason="r", at=T0)
        erasure = _erasure(store)
        store.erase(attrs.evolve(erasure, dead_letters=[(other, other)]))
        assert [(d.fact_id, d.payload) for d in store.dead_letters()] == [(f"bad-{OLD}", "{")]
