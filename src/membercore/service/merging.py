"""The merge use case: two records of one person become one.

Both records, their households and the relatives whose family plans cover either are
loaded; :func:`membercore.service.merges.decide` decides every part, and the duplicate is
marked merged into the survivor.
"""

from __future__ import annotations

from datetime import datetime

from membercore import plans
from membercore.errors import (
    EngineError,
    HouseholdMembershipError,
)
from membercore.identity import MergedInto, MergeMembers
from membercore.service import merges, pipeline
from membercore.service.family import evolve_household, relatives, uncover
from membercore.service.handling import give, note, run
from membercore.service.member import Member
from membercore.service.recording import Working
from membercore.service.unit_of_work import UnitOfWork

__all__ = ["merge"]


def merge(
    uow: UnitOfWork, ctx: pipeline.Context, command: MergeMembers, at: datetime
) -> tuple[object, ...]:
    """Two records of one person become one: everything of the duplicate moves."""
    if command.member_id == command.duplicate_id:
        raise EngineError(f"cannot merge member {command.member_id!r} into itself")
    uow.load_members([command.member_id, command.duplicate_id])
    survivor = uow.require_member(command.member_id)
    duplicate = uow.require_member(command.duplicate_id)
    _check_mergeable(survivor.state, duplicate.state)
    if duplicate.state.identity.merged_into == command.member_id:
        return ()  # merged before
    homes = _merge_households(survivor.state, duplicate.state, uow)
    decision = merges.decide(
        command,
        _records(survivor.state),
        _records(duplicate.state),
        ctx.config,
        at,
        household_states={held.state.household_id: held.state for held in homes},
    )
    made: list[object] = []
    for home in homes:
        moved = decision.households.get(home.state.household_id, ())
        home.take(evolve_household(home.state, moved), moved)
        note(survivor, moved)
        made += moved
    events = [
        *decision.postings,
        *decision.plans,
        *decision.quotas,
        *decision.rewards,
        *decision.consent,
        *decision.tier,
    ]
    made += give(uow, ctx, duplicate, events, at)
    made += give(uow, ctx, survivor, events, at)
    away = MergedInto(
        member_id=command.duplicate_id, survivor_id=command.member_id, at=at, key=command.key
    )
    note(duplicate, [away])
    made.append(away)
    for home in homes:
        made += _cover_survivor(uow, ctx, command, home, at)
    return tuple(made)


def _check_mergeable(survivor: Member, duplicate: Member) -> None:
    """A merge joins two records that stand for people still: never into a merged one."""
    into = survivor.identity.merged_into
    if into is not None:
        raise EngineError(
            f"member {survivor.member_id!r} was merged into {into!r}: merge into {into!r}"
        )
    gone = duplicate.identity.merged_into
    if gone is not None and gone != survivor.member_id:
        raise EngineError(
            f"member {duplicate.member_id!r} was already merged into {gone!r}: "
            f"merge {gone!r} instead"
        )


def _merge_households(survivor: Member, duplicate: Member, uow: UnitOfWork) -> list[Working]:
    ids = {survivor.household_id, duplicate.household_id} - {None}
    if len(ids) > 1:
        raise HouseholdMembershipError(
            str(duplicate.household_id),
            duplicate.member_id,
            f"belongs to another household than {survivor.member_id} "
            f"({survivor.household_id}): take one of them out first",
        )
    return [uow.household(household_id) for household_id in sorted(i for i in ids if i)]


def _records(member: Member) -> merges.MemberRecords:
    return merges.MemberRecords(
        member_id=member.member_id,
        ledger=member.ledger,
        tier=member.tier,
        plans=member.plans,
        quotas=member.quotas,
        rewards=member.rewards,
        consent=member.consent,
    )


def _cover_survivor(
    uow: UnitOfWork, ctx: pipeline.Context, command: MergeMembers, home: Working, at: datetime
) -> list[object]:
    """Family plans of relatives that covered the duplicate cover the survivor instead."""
    survivor, duplicate = command.member_id, command.duplicate_id
    covering = [
        (relative, held)
        for relative in relatives(uow, home.state, duplicate)
        for held in plans.in_force(relative.state.plans, at)
        if duplicate in held.dependents
    ]
    made = uncover(uow, ctx, home.state, duplicate, command.key, at)
    for relative, held in covering:
        if survivor not in (relative.state.member_id, *held.dependents):
            cover = plans.AddCoveredDependent(
                key=f"{command.key}/cover/{held.subscription_id}",
                member_id=relative.state.member_id,
                subscription_id=held.subscription_id,
                dependent_id=survivor,
            )
            made += run(uow, ctx, relative, cover, at)
    return made
