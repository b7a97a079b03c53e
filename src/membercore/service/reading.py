"""Reading as someone: the engine's views record who read which member's record.

A hospital's own code reads members' records through the engine's views
(``engine.member``, ``engine.export_member`` and every view built on them). Within
``engine.reading_as(who, purpose)``, each member whose record a view reads is recorded as
a look-up (:class:`~membercore.ports.Lookup`, ``via="engine"``), once per member in the
block, in a store that keeps look-ups (:class:`~membercore.ports.AccountStore`).
Outside such a block the engine's views record nothing: what the engine reads to decide
(a tick, a command) is no one's look-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

import attrs

from membercore.checks import non_empty
from membercore.ports import AccountStore, Lookup, Store

__all__ = ["Reader", "noted", "reading_as"]


@attrs.define
class Reader:
    """Who reads, why and through what, and the members whose look-up is recorded."""

    who: str = attrs.field(validator=non_empty)
    purpose: str = attrs.field(validator=non_empty)
    via: str = "engine"
    seen: set[str] = attrs.field(factory=set)


_READER: ContextVar[Reader | None] = ContextVar("membercore_reader", default=None)


@contextmanager
def reading_as(who: str, purpose: str, via: str = "engine") -> Iterator[Reader]:
    """Within the block, the engine's views record a look-up of each member they read."""
    reader = Reader(who=who, purpose=purpose, via=via)
    token = _READER.set(reader)
    try:
        yield reader
    finally:
        _READER.reset(token)


def noted(store: Store, member_id: str, at: datetime) -> None:
    """Record that the reader of this block read the member's record (once per block)."""
    reader = _READER.get()
    if reader is None or member_id in reader.seen or not isinstance(store, AccountStore):
        return
    store.record_lookup(
        Lookup(at=at, who=reader.who, member_id=member_id, purpose=reader.purpose, via=reader.via)
    )
    reader.seen.add(member_id)
