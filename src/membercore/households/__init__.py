"""Households: a head and dependents (spouse, child, parent, other).

Family plans cover the dependents and share quotas; points may be pooled to the head
(a ledger transfer, :func:`membercore.ledger.decide_transfer`, given
:func:`members` as the household). A minor needs a guardian in the household.

Decider style: :func:`decide` turns a household command into events, :func:`evolve`
applies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import attrs

from membercore import benefits
from membercore.checks import non_empty
from membercore.dates import as_utc, aware, local_date, require_aware
from membercore.errors import (
    GuardianRequiredError,
    HouseholdMembershipError,
)
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers

__all__ = [
    "ADULT_AGE",
    "MESSAGE_TYPES",
    "AddDependent",
    "Dependent",
    "DependentAdded",
    "DependentRemoved",
    "FormHousehold",
    "HouseholdCommand",
    "HouseholdEvent",
    "HouseholdFormed",
    "HouseholdState",
    "MemberReplaced",
    "Relationship",
    "RemoveDependent",
    "age_on",
    "decide",
    "decide_merge",
    "evolve",
    "is_minor",
    "members",
    "replay",
    "wards",
]

Relationship = Literal["spouse", "child", "parent", "other"]
#: The age of majority in the PRC.
ADULT_AGE = 18


# --- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FormHousehold:
    """Open a household with its head."""

    TYPE: ClassVar[str] = "form_household"

    key: str = attrs.field(validator=non_empty)
    household_id: str = attrs.field(validator=non_empty)
    head_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AddDependent:
    """Add a relative to a household.

    Attributes:
        key: idempotency key.
        household_id: the household.
        member_id: the relative.
        relationship: to the head: spouse, child, parent or other.
        birth_date: to tell minors (needed for a child).
        guardian_id: for a minor, an adult of the household answering for them.
    """

    TYPE: ClassVar[str] = "add_dependent"

    key: str = attrs.field(validator=non_empty)
    household_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    relationship: Relationship
    birth_date: date | None = None
    guardian_id: str | None = None


@attrs.frozen(kw_only=True)
class RemoveDependent:
    """Take a relative out of a household."""

    TYPE: ClassVar[str] = "remove_dependent"

    key: str = attrs.field(validator=non_empty)
    household_id: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


HouseholdCommand = FormHousehold | AddDependent | RemoveDependent


# --- events ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Dependent:
    """A relative in a household.

    Attributes:
        member_id: the relative.
        relationship: to the head.
        birth_date: when known.
        guardian_id: for a minor, the adult answering for them.
        joined_at: when they were added.
    """

    member_id: str
    relationship: Relationship
    birth_date: date | None
    guardian_id: str | None
    joined_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class HouseholdFormed:
    """A household was opened."""

    TYPE: ClassVar[str] = "household_formed"

    household_id: str
    head_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class DependentAdded:
    """A relative joined a household."""

    TYPE: ClassVar[str] = "dependent_added"

    household_id: str
    dependent: Dependent
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class DependentRemoved:
    """A relative left a household."""

    TYPE: ClassVar[str] = "dependent_removed"

    household_id: str
    member_id: str
    reason: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class MemberReplaced:
    """A record merged into another: the survivor takes the merged record's place.

    Attributes:
        household_id: the household.
        replaced_id: the record merged away.
        member_id: the surviving record.
        at: when.
        key: the merge command's key.
        fingerprint: its digest.
    """

    TYPE: ClassVar[str] = "household_member_replaced"

    household_id: str
    replaced_id: str
    member_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


HouseholdEvent = HouseholdFormed | DependentAdded | DependentRemoved | MemberReplaced

#: Every household message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    FormHousehold,
    AddDependent,
    RemoveDependent,
    HouseholdFormed,
    DependentAdded,
    DependentRemoved,
    MemberReplaced,
)


# --- state ----------------------------------------------------------------------------


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


def age_on(birth_date: date, day: date) -> int:
    """Full years of age on ``day``; someone born on 29 February turns a year older on 1 March."""
    from membercore import dates  # noqa: PLC0415  (membercore.dates holds the calendar rule)

    return dates.age_on(birth_date, day)


def is_minor(dependent: Dependent, now: datetime, tz: ZoneInfo) -> bool:
    """Whether a dependent is under 18 at ``now`` (a child of unknown age counts as one)."""
    if dependent.birth_date is None:
        return dependent.relationship == "child"
    return age_on(dependent.birth_date, local_date(now, tz)) < ADULT_AGE


# --- decide ---------------------------------------------------------------------------


def decide_merge(
    command: MergeMembers, state: HouseholdState, now: datetime
) -> list[HouseholdEvent]:
    """The household's events when one of its records is merged into another.

    The survivor takes the merged record's place (as head, or as the dependent with the
    same relationship, and as guardian); if the survivor is already in the household the
    merged record simply leaves it. Nothing happens to a household the record is not in.
    """
    now = require_aware("now", now)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.household_id):
        return []
    if command.duplicate_id not in members(state):
        return []
    replaced = MemberReplaced(
        household_id=state.household_id,
        replaced_id=command.duplicate_id,
        member_id=command.member_id,
        at=now,
        key=command.key,
        fingerprint=digest,
    )
    return [replaced]


def decide(
    command: HouseholdCommand, state: HouseholdState, now: datetime, tz: ZoneInfo
) -> list[HouseholdEvent]:
    """The events a household command makes.

    Args:
        command: the command.
        state: the household.
        now: the instant of the decision.
        tz: the programme's timezone (ages are reckoned on local dates).

    Raises:
        HouseholdMembershipError: forming twice, adding someone already in it, removing
            someone not in it or the head, or acting on a household not yet formed.
        GuardianRequiredError: a minor added without an adult guardian in the household,
            or the guardian of a minor who stays removed (the error names the minor).
        IdempotencyConflictError: a key reused for another command.
    """
    now = require_aware("now", now)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=command.household_id):
        return []
    household = state.household_id
    if isinstance(command, FormHousehold):
        if state.head_id is not None:
            raise HouseholdMembershipError(household, command.head_id, "the household exists")
        return [
            HouseholdFormed(
                household_id=household,
                head_id=command.head_id,
                at=now,
                key=command.key,
                fingerprint=digest,
            )
        ]
    if state.head_id is None:
        raise HouseholdMembershipError(household, command.member_id, "the household is not formed")
    if isinstance(command, RemoveDependent):
        if command.member_id not in state.dependents:
            raise HouseholdMembershipError(household, command.member_id, "not a dependent here")
        left_alone = wards(state, command.member_id, now, tz)
        if left_alone:
            raise GuardianRequiredError(household, left_alone[0], command.member_id, leaving=True)
        return [
            DependentRemoved(
                household_id=household,
                member_id=command.member_id,
                reason=command.reason,
                at=now,
                key=command.key,
                fingerprint=digest,
            )
        ]
    if command.member_id in members(state):
        raise HouseholdMembershipError(household, command.member_id, "already in the household")
    dependent = Dependent(
        member_id=command.member_id,
        relationship=command.relationship,
        birth_date=command.birth_date,
        guardian_id=command.guardian_id,
        joined_at=now,
    )
    if is_minor(dependent, now, tz):
        _check_guardian(state, dependent, now, tz)
    return [
        DependentAdded(
            household_id=household, dependent=dependent, key=command.key, fingerprint=digest
        )
    ]


def _check_guardian(state: HouseholdState, minor: Dependent, now: datetime, tz: ZoneInfo) -> None:
    guardian = minor.guardian_id
    if guardian is not None and guardian == state.head_id:
        return
    adult = state.dependents.get(guardian or "")
    if adult is not None and not is_minor(adult, now, tz):
        return
    raise GuardianRequiredError(state.household_id, minor.member_id, guardian)
