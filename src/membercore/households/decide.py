"""Deciding household commands: who may join, who guards a minor, and a merge of two records."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from membercore.dates import require_aware
from membercore.errors import (
    GuardianRequiredError,
    HouseholdMembershipError,
)
from membercore.households.messages import (
    Dependent,
    DependentAdded,
    DependentRemoved,
    FormHousehold,
    HouseholdCommand,
    HouseholdEvent,
    HouseholdFormed,
    MemberReplaced,
    RemoveDependent,
)
from membercore.households.state import HouseholdState, is_minor, members, wards
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers

__all__ = ["decide", "decide_merge"]


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
