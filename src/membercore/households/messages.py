"""Households' commands and events: forming one, dependents added and removed, merges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware

__all__ = [
    "MESSAGE_TYPES",
    "AddDependent",
    "Dependent",
    "DependentAdded",
    "DependentRemoved",
    "FormHousehold",
    "HouseholdCommand",
    "HouseholdEvent",
    "HouseholdFormed",
    "MemberReplaced",
    "Relationship",
    "RemoveDependent",
]


Relationship = Literal["spouse", "child", "parent", "other"]


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
