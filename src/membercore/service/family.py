"""The use cases of a household: its commands, quotas it shares, family-plan cover, transfers.

Each spans the household's record and its members' records and is decided by its part
over all of them in one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from membercore import benefits, households, plans, segments
from membercore.errors import (
    HouseholdMembershipError,
    TransferNotAllowedError,
)
from membercore.ledger import decide_transfer
from membercore.ledger.commands import TransferPoints
from membercore.privacy import is_pseudonym
from membercore.service import pipeline
from membercore.service.handling import give, note, run
from membercore.service.member import Member, standing
from membercore.service.recording import Working
from membercore.service.unit_of_work import UnitOfWork

__all__ = [
    "HOUSEHOLD_COMMANDS",
    "cover",
    "evolve_household",
    "household",
    "quota",
    "relatives",
    "transfer",
    "uncover",
]


HOUSEHOLD_COMMANDS = (households.FormHousehold, households.AddDependent, households.RemoveDependent)


def quota(uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime) -> tuple[object, ...]:
    """A quota command: on the member's own quotas, or on those their household shares."""
    held = uow.require_member(command.member_id)
    member: Member = held.state
    relatives = uow.load_relatives(member)
    household = uow.household_of(member)
    held_by = standing(member, ctx.config, at, relatives=relatives)
    shared = household is not None and _household_holds(command, member, held_by, household, ctx)
    quotas = household.state.quotas if shared and household else member.quotas
    events = benefits.decide(command, quotas, ctx.config, at, standing=held_by)
    if shared and household is not None:
        household.take(evolve_household(household.state, events), events)
        return tuple(events)
    return give(uow, ctx, held, events, at)


def _household_holds(
    command: Any,
    member: Member,
    held_by: benefits.Standing,
    household: Working,
    ctx: pipeline.Context,
) -> bool:
    if isinstance(command, benefits.ReserveQuota | benefits.UseQuota):
        found = benefits.find_entitlement(held_by, ctx.config, command.benefit_key)
        return found is not None and benefits.holder_of(found, held_by) != member.member_id
    own = command.appointment_id in member.quotas.reservations
    return not own and command.appointment_id in household.state.quotas.reservations


def evolve_household(
    state: households.HouseholdState, events: Iterable[Any]
) -> households.HouseholdState:
    """A household's state with ``events`` applied in order."""
    for event in events:
        state = households.evolve(state, event)
    return state


def household(
    uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime
) -> tuple[object, ...]:
    """A household command: the household's record and the members it concerns."""
    held = uow.household(command.household_id)
    events = households.decide(command, held.state, at, ctx.config.tz)
    concerned = [member_id for event in events if (member_id := _concerns(event))]
    uow.load_members(concerned)
    for member_id in concerned:
        joining = uow.require_member(member_id)
        held_by = joining.state.household_id
        leaving = any(isinstance(event, households.DependentRemoved) for event in events)
        if held_by not in (None, command.household_id) and not leaving:
            raise HouseholdMembershipError(
                command.household_id, member_id, f"already belongs to household {held_by}"
            )
    before = held.state
    made: list[object] = list(events)
    for event in events:
        held.take(households.evolve(held.state, event), [event])
        member_id = _concerns(event)
        if member_id:
            note(uow.require_member(member_id), [event])
        if isinstance(event, households.DependentRemoved):
            # Who leaves the household leaves its relatives' family plans too.
            made += uncover(uow, ctx, before, event.member_id, command.key, at)
    if events:
        _family_noted(uow, ctx, before, held.state, at)
    return tuple(made)


def _family_noted(
    uow: UnitOfWork,
    ctx: pipeline.Context,
    before: households.HouseholdState,
    after: households.HouseholdState,
    at: datetime,
) -> None:
    """Each member in the household before or after notes their family status now.

    A head who gains or loses dependents, a dependent who joins or leaves: their
    profile's family tags follow at once, not on its next decision (on their records;
    the command's own events are the household's). Nothing more is decided on the
    record of someone who died, was merged into another record or was erased.
    """
    everyone = households.members(before) | households.members(after)
    named = sorted(member_id for member_id in everyone if not is_pseudonym(member_id))
    uow.load_members(named)
    for member_id in named:
        held = uow.member(member_id)
        if held is None:
            continue
        identity = held.state.identity
        if identity.died_at is None and identity.merged_into is None:
            run(uow, ctx, held, segments.RefreshProfile(member_id=member_id), at)


def uncover(
    uow: UnitOfWork,
    ctx: pipeline.Context,
    home: households.HouseholdState,
    person: str,
    key: str,
    at: datetime,
) -> list[object]:
    """Take ``person`` out of every family plan of their relatives in ``home``."""
    made: list[object] = []
    for relative in relatives(uow, home, person):
        for held in plans.in_force(relative.state.plans, at):
            if person in held.dependents:
                removal = plans.RemoveCoveredDependent(
                    key=f"{key}/uncover/{held.subscription_id}/{person}",
                    member_id=relative.state.member_id,
                    subscription_id=held.subscription_id,
                    dependent_id=person,
                )
                made += run(uow, ctx, relative, removal, at)
    return made


def cover(uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime) -> tuple[object, ...]:
    """A plan covering relatives: each one a registered member of the subscriber's household."""
    held = uow.require_member(command.member_id)
    people = command.dependents if isinstance(command, plans.Subscribe) else (command.dependent_id,)
    if people:
        uow.load_members(people)
        home = uow.household_of(held.state)
        everyone = households.members(home.state) if home is not None else frozenset()
        for person in people:
            uow.require_member(person)
            if person not in everyone:
                raise HouseholdMembershipError(
                    held.state.household_id or "(none)",
                    person,
                    f"is not in the household of {command.member_id}: a family plan covers "
                    "the subscriber's household (add them to it first)",
                )
    return run(uow, ctx, held, command, at)


def _concerns(event: object) -> str | None:
    if isinstance(event, households.HouseholdFormed):
        return event.head_id
    if isinstance(event, households.DependentAdded):
        return event.dependent.member_id
    if isinstance(event, households.DependentRemoved):
        return event.member_id
    return None


def transfer(
    uow: UnitOfWork, ctx: pipeline.Context, command: TransferPoints, at: datetime
) -> tuple[object, ...]:
    """Points from one member of a household to another (pooling to the head)."""
    uow.load_members([command.member_id, command.target_id])
    source = uow.require_member(command.member_id)
    target = uow.require_member(command.target_id)
    household = uow.household_of(source.state)
    if household is None:
        refusal = "both members must belong to one household"
        raise TransferNotAllowedError(command.member_id, command.target_id, command.points, refusal)
    everyone = households.members(household.state)
    postings = decide_transfer(
        command, source.state.ledger, target.state.ledger, ctx.config, at, household=everyone
    )
    return give(uow, ctx, source, postings, at) + give(uow, ctx, target, postings, at)


def relatives(uow: UnitOfWork, home: households.HouseholdState, person: str) -> list[Working]:
    """The records of everyone in ``home`` but ``person``, read if need be."""
    others = sorted(households.members(home) - {person})
    uow.load_members(others)
    return [uow.require_member(other) for other in others]
