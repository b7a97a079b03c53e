"""Erasure (PIPL Art. 47): a person's data removed, their records kept pseudonymous and balanced.

:func:`plan_erasure` reads everything the store holds about a person — their record and
those of the ids merged into it, their journal, the inputs, messages, dead letters,
tasks, identifiers and look-ups about them, and the records of others that name them —
and makes the :class:`~membercore.ports.Erasure` that rewrites it without their personal
data (:class:`~membercore.privacy.Scrubber`): each of their records moves to a new
pseudonymous key (a one-way digest of the whole record) with its whole journal, so the
ledger, the liability and every aggregated figure stay as they were; their name,
contact details and identifiers become ``已删除``; message bodies, free text and raw HIS
payloads are blanked; a date of birth keeps its year; messages not yet sent are
cancelled and open tasks closed; their identifiers are removed. What is kept of the
erasure itself (an :class:`~membercore.ports.ErasureNote`) names when, why and by whom,
and holds digests of their ids, by which :func:`erased_facts` refuses a later fact
about them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from membercore.ports import (
    AccountStore,
    DeadLetter,
    Erasure,
    ErasureNote,
    ErasureStore,
    IdentifierLink,
    InboxEntry,
    LoggedInput,
    OutboxMessage,
    Record,
    Rewrite,
    Store,
    StoredEvent,
    TaskRow,
)
from membercore.privacy import ERASED, Scrubber, erased_payload, pseudonym, unquoted
from membercore.segments import RegistrationNoted
from membercore.service.erased import digests_of
from membercore.service.outcomes import address_key
from membercore.service.recording import HOUSEHOLD, MEMBER, member_key

__all__ = ["about", "plan_erasure"]

#: The personal fields of a registration noted: each value becomes ``已删除``.
_CONTACTS: Final = ("name", "phone", "email", "wecom")
# Text longer than this, or with spaces, is never another record's id.
_LONGEST_ID: Final = 64
# The field of a merge's events on the surviving record naming the record merged away.
_DUPLICATE: Final = "duplicate_id"
# How far from the person's records others that name them are sought.
_DEGREES: Final = 2


@attrs.frozen
class _Person:
    """Whom an erasure is about: their ids with their pseudonyms, and their data."""

    ids: dict[str, str]
    links: list[IdentifierLink]
    values: dict[str, str]

    @property
    def keys(self) -> dict[str, str]:
        """Their records' keys, each with its pseudonymous key."""
        return {member_key(old): member_key(new) for old, new in self.ids.items()}


@attrs.frozen
class _Held:
    """A stored record with its whole journal, as an erasure read it (once)."""

    record: Record
    events: list[StoredEvent]

    @property
    def texts(self) -> list[str]:
        """Its snapshot and the payloads of its journal."""
        return [self.record.snapshot, *(event.payload for event in self.events)]


class _Records:
    """The records an erasure reads, each read from the store once, journal and all."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._held: dict[str, _Held | None] = {}

    def get(self, key: str) -> _Held | None:
        """The record stored under ``key``, if any."""
        return self.read([key]).get(key)

    def read(self, keys: Iterable[str]) -> dict[str, _Held]:
        """The records stored under ``keys`` (absent ones left out), by key."""
        wanted = set(keys)
        missing = wanted - self._held.keys()
        if missing:
            stored = self.store.load(missing)
            for key in missing:
                found = stored.get(key)
                events = self.store.events(key) if found is not None else []
                self._held[key] = None if found is None else _Held(found, events)
        return {key: held for key in wanted if (held := self._held[key]) is not None}


def plan_erasure(
    store: Store, member_id: str, reason: str, by: str, now: datetime
) -> tuple[Erasure, list[str]]:
    """The erasure of ``member_id``'s data, and every record key it rewrites.

    Raises:
        TypeError: ``store`` cannot erase (it is no :class:`ErasureStore`).
    """
    if not isinstance(store, ErasureStore):
        raise TypeError(f"the store {store.url} cannot erase a person's data")
    held = _Records(store)
    person = _person(held, member_id)
    own = Scrubber(ids=person.ids, values=person.values)
    named = Scrubber(ids=person.ids, blank=False)
    keys = person.keys
    found = (_rewrite(held, old, new, own) for old, new in keys.items())
    records = [r for r in found if r is not None]
    records += _related(held, records, keys, named)
    rewritten = {r.old_key for r in records}
    moved = {r.old_key: r.key for r in records}
    note = ErasureNote(at=now, reason=reason, by=by, digests=_digests(person))
    erasure = Erasure(
        note=note,
        records=records,
        inbox=[
            (entry.fact_id, _taken(entry, keys, own))
            for old in keys
            for entry in store.inbox_of(old)
        ],
        outbox=list(_messages(store, keys, own)),
        dead_letters=list(_letters(store, own)),
        tasks=list(_tasks(store, keys, own)),
        inputs=list(_inputs(store, keys, moved, own, named)),
        identifiers=person.links,
        lookups=list(person.ids.items()),
    )
    counted = attrs.evolve(note, counts=_counts(erasure, _looked_up(store, person.ids)))
    return attrs.evolve(erasure, note=counted), sorted(rewritten | set(moved.values()))


def about(store: Store, member_id: str) -> Scrubber:
    """What finds the texts that name ``member_id``, as an erasure of their data finds them.

    Their id, the ids merged into it and the other ids sources give them, and their
    identifiers as ``system|value``. Not the personal values an erasure also rewrites
    (a name, a phone number) nor an identifier's bare value: others may share those,
    and a text of someone else's that holds one is not about this member.
    """
    person = _person(_Records(store), member_id)
    named = {f"{link.system}|{link.value}": ERASED for link in person.links if link.system}
    return Scrubber(ids=person.ids, values=named)


def _person(held: _Records, member_id: str) -> _Person:
    store = held.store
    ids = _merged(held, member_id)
    links = list(store.identifiers_of(member_id))
    ids += [link.value for link in links if not link.system and link.value not in ids]
    for other in ids[1:]:
        links += [link for link in store.identifiers_of(other) if link not in links]
    values: dict[str, str] = {}
    for link in links:
        if link.system:
            values[link.value] = ERASED
            values[f"{link.system}|{link.value}"] = ERASED
    journals = held.read(member_key(other) for other in ids)
    for journal in journals.values():
        for event in journal.events:
            if event.type == RegistrationNoted.TYPE:
                values.update(_registered(json.loads(event.payload)))
    # The whole of the person's own record goes into each pseudonym: an id merged into it
    # whose record holds little is no easier to find from than theirs.
    theirs = _texts(journals.get(member_key(member_id)))
    named = {
        old: pseudonym("\n".join([old, *theirs, *_texts(journals.get(member_key(old)))]))
        for old in ids
    }
    return _Person(ids=named, links=links, values=values)


def _texts(held: _Held | None) -> list[str]:
    return [] if held is None else held.texts


def _merged(held: _Records, member_id: str) -> list[str]:
    """The member and every record merged into theirs, and into those, in turn."""
    ids = [member_id]
    for one in ids:
        for event in _events(held.get(member_key(one))):
            duplicate = json.loads(event.payload).get(_DUPLICATE)
            if isinstance(duplicate, str) and duplicate not in ids:
                ids.append(duplicate)
    return ids


def _events(held: _Held | None) -> list[StoredEvent]:
    return [] if held is None else held.events


def _registered(noted: Mapping[str, Any]) -> dict[str, str]:
    """A registration's personal values, with what replaces each.

    A phone number and an e-mail address also as the outbox keeps the address a message
    went to (``13800138000`` for ``+86 138-0013-8000``).
    """
    found = {noted[name]: ERASED for name in _CONTACTS if isinstance(noted.get(name), str)}
    for channel, name in (("sms", "phone"), ("email", "email")):
        kept = address_key(channel, noted.get(name))
        if kept:
            found[kept] = ERASED
    born = noted.get("birth_date")
    if isinstance(born, str) and len(born) >= len("yyyy-mm-dd"):
        found[born] = f"{born[:4]}-01-01"
    return found


def _digests(person: _Person) -> list[str]:
    names = [f"{link.system}|{link.value}" for link in person.links if link.system]
    return sorted({found for old in person.ids for found in digests_of(old, names)})


def _rewrite(held: _Records, old: str, new: str, scrubber: Scrubber) -> Rewrite | None:
    found = held.get(old)
    if found is None:
        return None
    stored = found.record
    return Rewrite(
        old_key=old,
        key=new,
        version=stored.version,
        snapshot=scrubber.json(stored.snapshot),
        snapshot_version=stored.snapshot_version,
        events=[_event(e, new, scrubber) for e in found.events],
    )


def _event(event: StoredEvent, key: str, scrubber: Scrubber) -> StoredEvent:
    return attrs.evolve(event, key=key, payload=scrubber.json(event.payload))


def _related(
    held: _Records, own: list[Rewrite], keys: Mapping[str, str], named: Scrubber
) -> list[Rewrite]:
    """The records of others that name the person, rewritten with their ids replaced.

    Sought among the records the person's records name (their household, their
    referrer, the people they referred) and those these name in turn (the other members
    of their household).
    """
    seen = set(keys)
    texts = [text for r in own for text in _texts(held.get(r.old_key))]
    related: list[Rewrite] = []
    for _ in range(_DEGREES):
        candidates = {
            prefix + word
            for text in texts
            for word in _words(json.loads(text))
            for prefix in (MEMBER, HOUSEHOLD)
        } - seen
        seen |= candidates
        texts = []
        for _, found in sorted(held.read(candidates).items()):
            texts += found.texts
            if any(named.mentions(text) for text in found.texts):
                related.append(_named_in(found, named))
    return related


def _words(value: Any) -> Iterator[str]:
    """Every text in a JSON value that could be a record's id."""
    if isinstance(value, str):
        if value and len(value) <= _LONGEST_ID and not any(c.isspace() for c in value):
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _words(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _words(key)
            yield from _words(item)


def _named_in(found: _Held, named: Scrubber) -> Rewrite:
    """A record of another's with the person's ids replaced.

    A household whose id the hospital made from the person's (``H-P-1``) moves to the
    key its id becomes, as its members' records name it; another member keeps theirs.
    """
    stored = found.record
    key = named.text(stored.key) if stored.key.startswith(HOUSEHOLD) else stored.key
    return Rewrite(
        old_key=stored.key,
        key=key,
        version=stored.version,
        snapshot=named.json(stored.snapshot),
        snapshot_version=stored.snapshot_version,
        events=[_event(e, key, named) for e in found.events],
        retire=False,
    )


def _taken(entry: InboxEntry, keys: Mapping[str, str], scrubber: Scrubber) -> InboxEntry:
    return attrs.evolve(entry, fact_id=scrubber.text(entry.fact_id), key=keys[entry.key])


def _messages(
    store: Store, keys: Mapping[str, str], scrubber: Scrubber
) -> Iterator[tuple[str, OutboxMessage]]:
    """The person's messages: bodies and addresses erased, those not yet sent cancelled."""
    for message in store.outbox():
        if message.key not in keys:
            continue
        status = "cancelled" if message.status == "pending" else message.status
        yield (
            message.message_id,
            attrs.evolve(
                message,
                message_id=scrubber.text(message.message_id),
                key=keys[message.key],
                payload=scrubber.json(message.payload),
                status=status,
                address=None,
                receipt=_optional(scrubber, message.receipt),
                last_error=_optional(scrubber, message.last_error),
            ),
        )


def _optional(scrubber: Scrubber, text: str | None) -> str | None:
    return None if text is None else scrubber.text(text)


def _letters(store: Store, scrubber: Scrubber) -> Iterator[tuple[DeadLetter, DeadLetter]]:
    """The inputs refused that name the person: their raw payload erased."""
    for letter in store.dead_letters():
        if scrubber.mentions(letter.payload) or scrubber.mentions(letter.fact_id):
            erased = attrs.evolve(
                letter,
                fact_id=scrubber.text(letter.fact_id),
                payload=erased_payload(letter.payload),
                reason=unquoted(scrubber.text(letter.reason)),
            )
            yield letter, erased


def _tasks(
    store: Store, keys: Mapping[str, str], scrubber: Scrubber
) -> Iterator[tuple[str, TaskRow]]:
    """The staff tasks about the person: written without their data, open ones closed."""
    for row in store.tasks(None):
        if row.key in keys:
            yield (
                row.task_key,
                attrs.evolve(
                    row,
                    task_key=scrubber.text(row.task_key),
                    key=keys[row.key],
                    status="closed",
                    payload=scrubber.json(row.payload),
                ),
            )


def _inputs(
    store: Store,
    keys: Mapping[str, str],
    moved: Mapping[str, str],
    own: Scrubber,
    named: Scrubber,
) -> Iterator[LoggedInput]:
    """The logged inputs about the person (scrubbed whole) or naming them (their ids replaced).

    ``keys`` are the person's records' keys, ``moved`` every record rewritten, each with
    its key from now on.
    """
    for logged in store.inputs():
        about = set(logged.keys)
        if not about & moved.keys() and not own.mentions(logged.payload):
            continue
        scrubber = own if about & set(keys) or not about else named
        changed = attrs.evolve(
            logged,
            keys=[moved.get(key, key) for key in logged.keys],
            payload=scrubber.json(logged.payload),
        )
        if changed != logged:
            yield changed


def _looked_up(store: Store, ids: Iterable[str]) -> int:
    """How many look-ups of the person's records were recorded."""
    if not isinstance(store, AccountStore):
        return 0
    return sum(1 for held in ids for _ in store.lookups(member_id=held))


def _counts(erasure: Erasure, lookups: int) -> dict[str, int]:
    counts: Counter[str] = Counter(
        lookups=lookups,
        records=len(erasure.records),
        events=sum(len(r.events) for r in erasure.records),
        facts_taken=len(erasure.inbox),
        messages=len(erasure.outbox),
        dead_letters=len(erasure.dead_letters),
        tasks=len(erasure.tasks),
        inputs=len(erasure.inputs),
        identifiers=len(erasure.identifiers),
    )
    return dict(counts)
