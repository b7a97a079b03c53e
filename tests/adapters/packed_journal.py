"""A store an earlier release wrote, one row per event, carried on by packed commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from membercore.ports import Change, Commit, Store, StoredEvent
from membercore.testing.contracts import T0

__all__ = ["BEFORE_PACKING", "carries_on_packed", "reads_a_text_snapshot_first", "repacks"]

_KEY = "member:p-1"

#: A record and its journal as schema 4 stored them: ``(key, version, snapshot,
#: snapshot_version)`` and ``(key, version, seq, type, at, payload)``.
BEFORE_PACKING = {
    "record": (_KEY, 2, '{"points":"old"}', 1),
    "events": [
        (_KEY, 1, 0, "registered", T0, '{"n":1}'),
        (_KEY, 2, 0, "posted", T0 + timedelta(hours=1), '{"n":2}\x00积分\x01'),
        (_KEY, 2, 1, "tagged", T0 + timedelta(hours=1), '{"n":3}'),
    ],
}


def _event(version: int, type_: str, payload: str) -> StoredEvent:
    at = T0 + timedelta(days=version)
    return StoredEvent(key=_KEY, version=version, type=type_, at=at, payload=payload)


def carries_on_packed(store: Store) -> None:
    """The earlier journal and snapshot read as written, and what follows reads after."""
    before = [
        StoredEvent(key=key, version=version, type=type_, at=at, payload=payload)
        for key, version, _, type_, at, payload in BEFORE_PACKING["events"]
    ]
    assert store.load([_KEY])[_KEY].snapshot == '{"points":"old"}'
    assert store.events(_KEY) == before
    assert store.events(_KEY, after_version=1) == before[1:]
    third = _event(3, "posted", '{"n":4}')
    store.commit(
        Commit(changes=[Change(key=_KEY, expected_version=2, snapshot=None, events=(third,))])
    )
    assert store.events(_KEY) == [*before, third]
    assert store.load([_KEY])[_KEY].snapshot == '{"points":"old"}'  # still its text
    fourth = (_event(4, "posted", '{"n":5}'), _event(4, "tagged", "\x00"))
    snapshot = '{"points":"new"}'
    change = Change(key=_KEY, expected_version=3, snapshot=snapshot, events=fourth)
    store.commit(Commit(changes=[change]))
    record = store.load([_KEY])[_KEY]
    assert (record.version, record.snapshot, record.snapshot_version) == (4, snapshot, 4)
    assert store.events(_KEY, after_version=2) == [third, *fourth]
    assert store.events(_KEY, after_version=3) == list(fourth)
    assert [r.key for r in store.scan("member:")] == [_KEY]


def reads_a_text_snapshot_first(store: Store, write_text: object) -> None:
    """A text snapshot an earlier release wrote over a packed one is the one read."""
    change = Change(key=_KEY, expected_version=0, snapshot='{"points":"packed"}')
    store.commit(Commit(changes=[change]))
    assert callable(write_text)
    write_text('{"points":"text"}')  # as an earlier release's commit leaves the row
    assert store.load([_KEY])[_KEY].snapshot == '{"points":"text"}'
    assert [r.snapshot for r in store.scan()] == ['{"points":"text"}']
    store.commit(Commit(changes=[Change(key=_KEY, expected_version=1, snapshot=None)]))
    assert store.load([_KEY])[_KEY].snapshot == '{"points":"text"}'  # kept with no snapshot
    change = Change(key=_KEY, expected_version=2, snapshot='{"points":"new"}')
    store.commit(Commit(changes=[change]))
    assert store.load([_KEY])[_KEY].snapshot == '{"points":"new"}'


def repacks(store: Any) -> None:
    """Repacking moves the earlier journal and snapshot into packed form, reading the same."""
    events, record = store.events(_KEY), store.load([_KEY])[_KEY]
    assert store.repack() == (len(BEFORE_PACKING["events"]), 1)
    assert store.events(_KEY) == events
    assert store.events(_KEY, after_version=1) == events[1:]
    assert store.load([_KEY])[_KEY] == record
    assert store.repack() == (0, 0)  # again: nothing left to pack
    third = _event(3, "posted", '{"n":4}')
    store.commit(
        Commit(changes=[Change(key=_KEY, expected_version=2, snapshot=None, events=(third,))])
    )
    assert store.events(_KEY) == [*events, third]
