"""Erasure (PIPL Art. 47): a store that can rewrite a person's rows without their data.

An erasure is one transaction that replaces, in every table, the rows about a person
with rows the engine made without their personal data (:mod:`membercore.service.erasure`
makes them): their records under a pseudonymous key, each with its whole journal
rewritten; the inputs, messages, dead letters and tasks about them rewritten; their
identifiers removed; the look-ups of their record renamed. It keeps what was erased,
when, why and by whom (an :class:`ErasureNote`), and digests of the person's ids so that
later facts about them are refused, without the ids themselves.

Like :class:`~membercore.ports.AccountStore`, a capability a store may have besides its
roles: the three stores the library ships have it, and ``ErasureContract``
(:mod:`membercore.testing.contracts`) checks a backend's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware
from membercore.ports.store import Recorder
from membercore.ports.stored import (
    DeadLetter,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    OutboxMessage,
    StoredEvent,
    TaskRow,
)

__all__ = ["Erasure", "ErasureNote", "ErasureStore", "Rewrite"]


def _events(items: Iterable[StoredEvent]) -> tuple[StoredEvent, ...]:
    return tuple(items)


def _strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _rewrites(items: Iterable[Rewrite]) -> tuple[Rewrite, ...]:
    return tuple(items)


def _inbox(items: Iterable[tuple[str, InboxEntry]]) -> tuple[tuple[str, InboxEntry], ...]:
    return tuple(items)


def _outbox(items: Iterable[tuple[str, OutboxMessage]]) -> tuple[tuple[str, OutboxMessage], ...]:
    return tuple(items)


def _letters(
    items: Iterable[tuple[DeadLetter, DeadLetter]],
) -> tuple[tuple[DeadLetter, DeadLetter], ...]:
    return tuple(items)


def _tasks(items: Iterable[tuple[str, TaskRow]]) -> tuple[tuple[str, TaskRow], ...]:
    return tuple(items)


def _inputs(items: Iterable[LoggedInput]) -> tuple[LoggedInput, ...]:
    return tuple(items)


def _links(items: Iterable[IdentifierLink]) -> tuple[IdentifierLink, ...]:
    return tuple(items)


def _renamed(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(items)


def _counts(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items()))


@attrs.frozen(kw_only=True)
class Rewrite:
    """A record written again whole: its snapshot and its whole journal, maybe under a new key.

    Attributes:
        old_key: the record's key as stored.
        key: its key from now on (``old_key`` when it keeps it).
        version: its stored version, which it keeps (the erasure fails if another
            commit changed it meanwhile).
        snapshot: its snapshot as JSON text, of ``snapshot_version``.
        snapshot_version: the version the snapshot is of.
        events: its whole journal, under ``key``, replacing the stored one.
        retire: whether the record needs no tick and has no manager any more (the
            erased person's own; by default, a record that moves to a new key).
    """

    old_key: str = attrs.field(validator=non_empty)
    key: str = attrs.field(validator=non_empty)
    version: int
    snapshot: str
    snapshot_version: int
    events: tuple[StoredEvent, ...] = attrs.field(default=(), converter=_events)
    retire: bool = attrs.field()

    @retire.default
    def _moved(self) -> bool:
        return self.rekeyed

    @property
    def rekeyed(self) -> bool:
        """Whether the record moves to a new key."""
        return self.key != self.old_key


@attrs.frozen(kw_only=True)
class ErasureNote:
    """What was erased, when, why and by whom: kept without the data.

    Attributes:
        at: when.
        reason: why (the person's request, its reference).
        by: who carried it out (a member of staff's id, ``cli``...).
        digests: digests of the person's ids and identifiers
            (:func:`membercore.privacy.digest`): what finds a later fact about them.
        counts: how many rows of each kind were rewritten or removed (``records``,
            ``events``, ``inputs``, ``messages``...).
        seq: its place among the erasures, numbered by the store from 1 (0 when
            written).
    """

    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str = attrs.field(validator=non_empty)
    by: str = attrs.field(validator=non_empty)
    digests: tuple[str, ...] = attrs.field(converter=_strings)
    counts: dict[str, int] = attrs.field(factory=dict, converter=_counts)
    seq: int = 0


@attrs.frozen(kw_only=True)
class Erasure:
    """Everything one erasure writes, in one transaction.

    Each pair is (the row's id as stored, the row that replaces it).

    Attributes:
        note: what is kept of the erasure; None for details let go at the end of their
            retention period (:class:`~membercore.config.Retention`), which are no
            erasure of a person and keep no note.
        records: the records written again.
        inbox: facts taken, by stored fact id.
        outbox: messages, by stored message id (the replacement's delivery attributes
            are written as they are).
        dead_letters: dead letters, by the stored one (fact id and payload).
        tasks: tasks, by stored task key.
        inputs: logged inputs replacing those of the same ``seq``.
        identifiers: identifiers removed.
        lookups: look-ups' member ids renamed, (stored id, new id).
    """

    note: ErasureNote | None
    records: tuple[Rewrite, ...] = attrs.field(default=(), converter=_rewrites)
    inbox: tuple[tuple[str, InboxEntry], ...] = attrs.field(default=(), converter=_inbox)
    outbox: tuple[tuple[str, OutboxMessage], ...] = attrs.field(default=(), converter=_outbox)
    dead_letters: tuple[tuple[DeadLetter, DeadLetter], ...] = attrs.field(
        default=(), converter=_letters
    )
    tasks: tuple[tuple[str, TaskRow], ...] = attrs.field(default=(), converter=_tasks)
    inputs: tuple[LoggedInput, ...] = attrs.field(default=(), converter=_inputs)
    identifiers: tuple[IdentifierLink, ...] = attrs.field(default=(), converter=_links)
    lookups: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_renamed)

    def stored_key(self, key: str) -> str:
        """The key the rows of the record keyed ``key`` from now on are stored under.

        The key of the record it moves from, or its own when it keeps its key: where a
        fact taken, a message or a task written again under ``key`` is found as stored.
        """
        return next((r.old_key for r in self.records if r.key == key), key)


@runtime_checkable
class ErasureStore(Recorder, Protocol):
    """A store that erases a person's data (an optional capability).

    The input log and the look-ups stay append-only to everything else: an erasure is
    the one way their rows change.
    """

    def erase(self, erasure: Erasure) -> int:
        """Write ``erasure`` in one transaction; its note's ``seq`` (0 without a note).

        Raises:
            VersionConflictError: a record's stored version is not its rewrite's
                ``version`` (or a record to move is not stored); nothing was written.
            StorageError: a new key is already taken, or the store failed; nothing was
                written.
        """
        ...

    def inbox_of(self, key: str) -> list[InboxEntry]:
        """The facts taken into the record ``key``, by fact id."""
        ...

    def erasures(self) -> Iterator[ErasureNote]:
        """Every erasure, in the order carried out."""
        ...

    def erased(self, digests: Collection[str]) -> dict[str, ErasureNote]:
        """Of ``digests``, those of an erased person, each with its erasure."""
        ...
