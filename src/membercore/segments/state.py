"""A member's profile, rebuilt from their profile events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from membercore.errors import MemberMismatchError
from membercore.memo import EVOLVED, Memo
from membercore.segments import due, interactions
from membercore.segments.messages import (
    ChargeNoted,
    DeliveryNoted,
    DiagnosisNoted,
    Explanation,
    FactNoted,
    FamilyStatus,
    FamilyStatusNoted,
    InteractionNoted,
    NotesForgotten,
    ProfileEvent,
    RefundNoted,
    RegistrationNoted,
    RehabPlanNoted,
    SegmentAssigned,
    Tag,
    TagEvidenceChanged,
    TagRemoved,
    VisitNoted,
)

__all__ = [
    "ProfileState",
    "evolve",
    "noted_fact",
    "noted_facts",
    "relatives_seen",
    "replay",
    "segment_of",
    "tags",
]


@attrs.frozen(kw_only=True)
class ProfileState:
    """What the programme knows of a member for tags and segments.

    The noted facts are kept by fact id, so that the same fact twice is noted once and
    the order they come in does not matter: everything derived from them (tags, the
    segment) is worked out from the whole set. A fact no reading from then on can use
    is let go (:mod:`membercore.segments.forget`); the journal keeps it.

    Attributes:
        member_id: the member.
        registrations: registrations by fact id.
        visits: completed visits by fact id.
        charges: paid charges by fact id.
        refunds: refunds by fact id.
        diagnoses: diagnoses by fact id.
        deliveries: deliveries by fact id.
        interactions: interactions through a channel by fact id.
        rehab_plans: rehabilitation plans joined by fact id.
        family: the family status last reported, if any.
        tags: the tags held, with why.
        segment: the segment (``None`` before the first decision).
        explanation: why the member is in it.
        facts: the fact ids noted, with their fingerprints.
        keys: the command keys decided, with their fingerprints.
    """

    member_id: str
    registrations: Mapping[str, RegistrationNoted] = attrs.field(factory=dict)
    visits: Mapping[str, VisitNoted] = attrs.field(factory=dict)
    charges: Mapping[str, ChargeNoted] = attrs.field(factory=dict)
    refunds: Mapping[str, RefundNoted] = attrs.field(factory=dict)
    diagnoses: Mapping[str, DiagnosisNoted] = attrs.field(factory=dict)
    deliveries: Mapping[str, DeliveryNoted] = attrs.field(factory=dict)
    interactions: Mapping[str, InteractionNoted] = attrs.field(factory=dict)
    rehab_plans: Mapping[str, RehabPlanNoted] = attrs.field(factory=dict)
    family: FamilyStatus | None = None
    tags: Mapping[str, Tag] = attrs.field(factory=dict)
    segment: str | None = None
    explanation: Explanation | None = None
    facts: Mapping[str, str] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)


_NOTES: dict[type[FactNoted], str] = {
    RegistrationNoted: "registrations",
    VisitNoted: "visits",
    ChargeNoted: "charges",
    RefundNoted: "refunds",
    DiagnosisNoted: "diagnoses",
    DeliveryNoted: "deliveries",
    InteractionNoted: "interactions",
    RehabPlanNoted: "rehab_plans",
}


def evolve(state: ProfileState, event: ProfileEvent) -> ProfileState:
    """Apply one profile event.

    The states the latest events made are kept (see :mod:`membercore.memo`): the
    record takes the profile a fact was decided on, with the readings kept for it.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    return _EVOLVED.get((state, event), None, lambda: _evolved(state, event))


#: The states the latest events made of the states they were applied to.
_EVOLVED: Memo[ProfileState] = Memo(EVOLVED)


def _evolved(state: ProfileState, event: ProfileEvent) -> ProfileState:
    after = _evolve(state, event)
    interactions.carry(state, after, event)
    due.carry(state, after, event)
    return after


def _evolve(state: ProfileState, event: ProfileEvent) -> ProfileState:
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    if isinstance(event, FactNoted):
        field = _NOTES[type(event)]
        changes: dict[str, Any] = {
            field: {**getattr(state, field), event.fact_id: event},
            "facts": {**state.facts, event.fact_id: event.fingerprint},
        }
        return attrs.evolve(state, **changes)
    if isinstance(event, NotesForgotten):
        return _forget(state, frozenset(event.fact_ids))
    if isinstance(event, FamilyStatusNoted):
        return attrs.evolve(state, family=event.status)
    if isinstance(event, SegmentAssigned):
        return attrs.evolve(state, segment=event.segment, explanation=event.explanation)
    held = dict(state.tags)
    if isinstance(event, TagEvidenceChanged):
        held[event.tag] = Tag(reason=event.reason, fact_ids=event.fact_ids)
        return attrs.evolve(state, tags=held)
    keys = dict(state.keys)
    if isinstance(event, TagRemoved):
        held.pop(event.tag, None)
    else:
        held[event.tag] = Tag(reason=event.reason, fact_ids=event.fact_ids, key=event.key)
    if event.key is not None and event.fingerprint is not None:
        keys[event.key] = event.fingerprint
    return attrs.evolve(state, tags=held, keys=keys)


def _forget(state: ProfileState, gone: frozenset[str]) -> ProfileState:
    changes: dict[str, Any] = {
        field: _without(getattr(state, field), gone) for field in _NOTES.values()
    }
    changes["facts"] = _without(state.facts, gone)
    return attrs.evolve(state, **changes)


def _without(kept: Mapping[str, Any], gone: frozenset[str]) -> Mapping[str, Any]:
    if gone.isdisjoint(kept):
        return kept
    return {key: value for key, value in kept.items() if key not in gone}


def noted_fact(state: ProfileState, fact_id: str) -> FactNoted:
    """The fact the profile holds under ``fact_id``, of whichever kind.

    Raises:
        KeyError: the profile holds no such fact.
    """
    for field in _NOTES.values():
        notes: Mapping[str, FactNoted] = getattr(state, field)
        if fact_id in notes:
            return notes[fact_id]
    raise KeyError(fact_id)


def noted_facts(state: ProfileState) -> dict[str, FactNoted]:
    """Every fact the profile holds, of every kind, by fact id."""
    kinds: list[Mapping[str, FactNoted]] = [getattr(state, field) for field in _NOTES.values()]
    return {fact_id: note for kind in kinds for fact_id, note in kind.items()}


def replay(member_id: str, events: Iterable[ProfileEvent]) -> ProfileState:
    """Rebuild a member's profile from their profile events."""
    state = ProfileState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def tags(state: ProfileState) -> frozenset[str]:
    """The tags the member holds, as of the last decision."""
    return frozenset(state.tags)


def segment_of(state: ProfileState) -> str | None:
    """The member's segment, as of the last decision (``None`` before the first)."""
    return state.segment


def relatives_seen(state: ProfileState) -> bool:
    """Whether the HIS linked the member to a relative it has seen as a patient."""
    return any(noted.relatives for noted in state.registrations.values())
