"""Households: a head and dependents (spouse, child, parent, other).

Family plans cover the dependents and share quotas; points may be pooled to the head
(a ledger transfer, :func:`membercore.ledger.decide_transfer`, given
:func:`members` as the household). A minor needs a guardian in the household.

Decider style: :func:`decide` turns a household command into events, :func:`evolve`
applies them.
"""

from __future__ import annotations

from membercore.households.decide import decide, decide_merge
from membercore.households.messages import (
    MESSAGE_TYPES,
    AddDependent,
    Dependent,
    DependentAdded,
    DependentRemoved,
    FormHousehold,
    HouseholdCommand,
    HouseholdEvent,
    HouseholdFormed,
    MemberReplaced,
    Relationship,
    RemoveDependent,
)
from membercore.households.state import (
    ADULT_AGE,
    HouseholdState,
    age_on,
    evolve,
    is_minor,
    members,
    replay,
    wards,
)

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
