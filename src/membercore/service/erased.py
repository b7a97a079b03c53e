"""Who was erased: the digests an erasure keeps, and what they refuse.

An erasure keeps digests of the person's ids and identifiers
(:func:`digests_of`), not the ids. :func:`erased_inputs` finds, among the inputs of a
batch, those about an erased person (refused with :func:`refusal`'s reason, keeping only
their id and type); :func:`unknown` names a member the store holds no record of as
erased, when they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast

from membercore.errors import MemberErasedError, UnknownMemberError
from membercore.facts import PatientRegistered
from membercore.ports import DeadLetter, ErasureNote, ErasureStore, Store, plays
from membercore.privacy import ERASED, digest, is_pseudonym

__all__ = ["PSEUDONYMOUS", "digests_of", "erased_inputs", "erasure_of", "refusal", "unknown"]


def digests_of(patient_id: str, identifiers: Iterable[str] = ()) -> list[str]:
    """The digests a patient id and identifiers (``system|value``) are found by.

    Whatever their case and the spaces around them: an ID card's check letter ``x`` is
    its ``X``, and a source that writes a number in lower case, or padded, names the
    same person.
    """
    return [_digest(patient_id), *(_digest(name) for name in identifiers)]


def _digest(name: str) -> str:
    # ``system|value``: each part without the spaces around it.
    return digest("|".join(part.strip() for part in name.split("|")).casefold())


def erasure_of(store: Store, member_id: str) -> ErasureNote | None:
    """The erasure of the person ``member_id`` named, if their data was erased."""
    erasing = _erasing(store)
    if erasing is None:
        return None
    return next(iter(erasing.erased(digests_of(member_id)).values()), None)


def unknown(store: Store, member_id: str) -> UnknownMemberError:
    """The error naming a member the store holds no record of: erased, or never known.

    An id that is one of a member's identifiers (of any system) says whose.
    """
    note = erasure_of(store, member_id)
    if note is None:
        links = store.identified([member_id])
        owners = sorted({link.patient_id for link in links if link.patient_id != member_id})
        return UnknownMemberError(member_id, identifier_of=tuple(owners))
    return MemberErasedError(member_id, erased_on=note.at.date().isoformat(), reason=note.reason)


def refusal(note: ErasureNote) -> str:
    """Why a fact about an erased person is refused."""
    return (
        f"the person's data was erased on {note.at.date().isoformat()} ({note.reason}): "
        "facts about them are refused"
    )


def erased_inputs(store: Store, messages: Sequence[object], now: datetime) -> dict[int, DeadLetter]:
    """Of ``messages``, those about an erased person: the dead letter of each, by place.

    A fact is about them when its patient id, or an identifier a registration gives, is
    one of theirs; a command, when the member it names is. An input naming a pseudonymous
    record is refused too: nothing more is decided on an erased person's record. The
    dead letter keeps no more of the input than its id (fact id, command key) and type.
    """
    erasing = _erasing(store)
    if erasing is None:
        return {}
    wanted = {place: _named(message) for place, message in enumerate(messages)}
    asked = {name: digests_of(name)[0] for names in wanted.values() for name in names}
    erased = erasing.erased(set(asked.values()))
    found = {name: erased[digest] for name, digest in asked.items() if digest in erased}
    refused = {}
    for place, names in wanted.items():
        why = _why(names, found)
        if why is not None:
            message = messages[place]
            ident = getattr(message, "fact_id", None) or getattr(message, "key", "")
            refused[place] = DeadLetter(
                fact_id=str(ident),
                fact_type=str(getattr(message, "TYPE", "")),
                payload=ERASED,
                reason=why,
                at=now,
            )
    return refused


def _erasing(store: Store) -> ErasureStore | None:
    """The store as the erasure store it is, or None (a store that keeps no erasures)."""
    return cast("ErasureStore", store) if plays(store, ErasureStore) else None


def _named(message: object) -> list[str]:
    """The people an input names: its patient or member, and a registration's identifiers."""
    if isinstance(message, PatientRegistered):
        return [message.patient_id, *(identifier.name for identifier in message.identifiers)]
    named = getattr(message, "patient_id", None) or getattr(message, "member_id", None)
    return [named] if isinstance(named, str) else []


def _why(names: Iterable[str], found: Mapping[str, ErasureNote]) -> str | None:
    """Why an input naming ``names`` is refused (``found``: the erased among them), if it is."""
    for name in names:
        if is_pseudonym(name):
            return PSEUDONYMOUS
        if name in found:
            return refusal(found[name])
    return None


#: Why an input naming a pseudonymous record is refused.
PSEUDONYMOUS = (
    "the record is what was kept of a person whose data was erased: nothing more is decided on it"
)
