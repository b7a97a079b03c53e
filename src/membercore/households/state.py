"""A household's state, replayed from its events, and who in it is a minor or a ward."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from membercore import benefits
from membercore.dates import age_on, local_date
from membercore.households.messages import (
    Dependent,
    DependentAdded,
    DependentRemoved,
    HouseholdEvent,
    HouseholdFormed,
    MemberReplaced,
)

__all__ = [
    "ADULT_AGE",
    "HouseholdState",
    "age_on",
    "evolve",
    "is_minor",
    "members",
    "replay",
    "wards",
]


#: The age of majority in the PRC.
ADULT_AGE = 18


@attrs.frozen(kw_only=True)
class HouseholdState:
    """A household.

    Attributes:
        household_id: the household.
        head_id: its head (``None`` before it is formed).
        dependents: relatives by member id.
        keys: idempotency keys with their fingerprints.
        quotas: the uses of the quotas its members share (``shared_by_household``).
    """

    household_id: str
    head_id: str | None = None
    dependents: Mapping[str, Dependent] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)
    quotas: benefits.QuotaState = attrs.field()

    @quotas.default
    def _no_uses(self) -> benefits.QuotaState:
        return benefits.QuotaState(holder_id=self.household_id)


def evolve(state: HouseholdState, event: HouseholdEvent | benefits.QuotaEvent) -> HouseholdState:
    """Apply one household event, or an event of the quotas its members share."""
    if not isinstance(event, HouseholdFormed | DependentAdded | DependentRemoved | MemberReplaced):
        return attrs.evolve(state, quotas=benefits.evolve(state.quotas, event))
    keys = {**state.keys, event.key: event.fingerprint}
    if isinstance(event, HouseholdFormed):
        return attrs.evolve(state, head_id=event.head_id, keys=keys)
    if isinstance(event, MemberReplaced):
        return _replaced(state, event, keys)
    dependents = dict(state.dependents)
    if isinstance(event, DependentAdded):
        dependents[event.dependent.member_id] = event.dependent
    else:
        dependents.pop(event.member_id, None)
    return attrs.evolve(state, dependents=dependents, keys=keys)


def _replaced(state: HouseholdState, event: MemberReplaced, keys: dict[str, str]) -> HouseholdState:
    old, new = event.replaced_id, event.member_id
    head = new if state.head_id == old else state.head_id
    dependents = {}
    for member_id, dependent in state.dependents.items():
        if member_id == head:
            continue  # a dependent who becomes the head is no longer a dependent
        if member_id == old and (new in state.dependents or new == head):
            continue  # the survivor already has a place of their own
        moved = member_id == old
        dependents[new if moved else member_id] = attrs.evolve(
            dependent,
            member_id=new if moved else member_id,
            guardian_id=new if dependent.guardian_id == old else dependent.guardian_id,
        )
    return attrs.evolve(state, head_id=head, dependents=dependents, keys=keys)


def replay(household_id: str, events: Iterable[HouseholdEvent]) -> HouseholdState:
    """Rebuild a household from its events."""
    state = HouseholdState(household_id=household_id)
    for event in events:
        state = evolve(state, event)
    return state


def members(state: HouseholdState) -> frozenset[str]:
    """The head and every dependent."""
    heads = {state.head_id} if state.head_id else set()
    return frozenset(heads | set(state.dependents))


def wards(state: HouseholdState, guardian_id: str, now: datetime, tz: ZoneInfo) -> list[str]:
    """The minors of the household whose guardian is ``guardian_id``, by member id.

    A minor's guardian is the adult named when they were added (the head or an adult
    dependent). The head answers for every dependent's consent, but is a minor's guardian
    only when named as such.
    """
    return sorted(
        dependent.member_id
        for dependent in state.dependents.values()
        if dependent.guardian_id == guardian_id
        and dependent.member_id != guardian_id
        and is_minor(dependent, now, tz)
    )


def is_minor(dependent: Dependent, now: datetime, tz: ZoneInfo) -> bool:
    """Whether a dependent is under 18 at ``now`` (a child of unknown age counts as one)."""
    if dependent.birth_date is None:
        return dependent.relationship == "child"
    return age_on(dependent.birth_date, local_date(now, tz)) < ADULT_AGE
