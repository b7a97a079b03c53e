"""The use cases: one handler per command, each over one unit of work.

A handler loads the records its command touches, has the parts decide, hands each
record its share of the events and returns every event it made. Commands of one
member's record run through the pipeline; the others span records — a household and
its members, a transfer's two ledgers, a merge's two records and their households, a
gift's stock and the member redeeming it, a quota the household shares — and are
decided by their part over all of them, in the same unit of work, so that one commit
stores everything or nothing. :data:`HANDLERS` is the table from command type to
handler; :func:`handle` looks a command up in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from membercore import benefits, consent, households, outreach, plans, rewards, segments, tiers
from membercore.errors import (
    EngineError,
    HouseholdMembershipError,
    IdempotencyConflictError,
    TransferNotAllowedError,
)
from membercore.idempotency import fingerprint, matches
from membercore.identity import CommandTaken, MergedInto, MergeMembers
from membercore.ledger import decide_transfer
from membercore.ledger.commands import LedgerCommand, TransferPoints
from membercore.segments import FamilyStatus
from membercore.service import merges, pipeline, plausibility
from membercore.service.member import Member, evolve_all, standing
from membercore.service.recording import Working, household_key
from membercore.service.unit_of_work import UnitOfWork
from membercore.staff import offers, programmes, tasks

__all__ = [
    "COMMAND_TYPES",
    "HANDLERS",
    "AnyCommand",
    "handle",
    "household_view",
    "route",
    "view_of",
]

#: Every command the engine carries out.
AnyCommand = (
    LedgerCommand
    | tiers.TierCommand
    | plans.PlanCommand
    | benefits.QuotaCommand
    | consent.ConsentCommand
    | outreach.RequestMessage
    | tasks.WorkCommand
    | offers.MakeOffer
    | offers.RedeemOffer
    | programmes.Enrol
    | programmes.Leave
    | segments.ProfileCommand
    | households.HouseholdCommand
    | rewards.RewardCommand
)

Handler = Callable[[UnitOfWork, pipeline.Context, Any, datetime], tuple[object, ...]]

HOUSEHOLD_COMMANDS = (households.FormHousehold, households.AddDependent, households.RemoveDependent)


# -- what every handler shares ----------------------------------------------------------


def household_view(state: households.HouseholdState, member_id: str) -> pipeline.Household:
    """What a household tells the parts about one of its members."""
    dependent = state.dependents.get(member_id)
    guardians = [state.head_id] if state.head_id and state.head_id != member_id else []
    if dependent is not None and dependent.guardian_id and dependent.guardian_id not in guardians:
        guardians.append(dependent.guardian_id)
    everyone = households.members(state)
    return pipeline.Household(
        household_id=state.household_id,
        family=FamilyStatus(
            has_dependents=state.head_id == member_id and bool(state.dependents),
            is_dependent=dependent is not None,
        ),
        guardians=tuple(guardians),
        relatives=len(everyone - {member_id}),
        birth_date=dependent.birth_date if dependent is not None else None,
        child=dependent is not None and dependent.relationship == "child",
    )


def context(uow: UnitOfWork, ctx: pipeline.Context) -> pipeline.Context:
    """The pipeline's context with the staff loads as this unit of work counts them."""
    return attrs.evolve(ctx, loads=dict(uow.loads)) if uow.loads else ctx


def view_of(uow: UnitOfWork, member: Member) -> pipeline.Household | None:
    """What the member's household, if held, tells the parts about them."""
    held = uow.household_of(member)
    return None if held is None else household_view(held.state, member.member_id)


def count_work(loads: Counter[str], events: Iterable[object]) -> None:
    """Add the tasks and members the events gave each member of staff."""
    for event in events:
        if isinstance(event, tasks.TaskCreated) and event.assignee:
            loads[event.assignee] += 1
        elif isinstance(event, tasks.HealthManagerAssigned):
            loads[event.staff_id] += 1


def run(
    uow: UnitOfWork, ctx: pipeline.Context, held: Working, message: object, at: datetime
) -> tuple[object, ...]:
    """One fact or command of the member's record through the pipeline."""
    member: Member = held.state
    outcome = pipeline.run(message, member, context(uow, ctx), at, household=view_of(uow, member))
    held.take(outcome.member, outcome.events)
    count_work(uow.loads, outcome.events)
    return outcome.events


def give(
    uow: UnitOfWork, ctx: pipeline.Context, held: Working, events: Iterable[object], at: datetime
) -> tuple[object, ...]:
    """A member's share of events decided over several records, and what follows."""
    mine = [event for event in events if _owner(event) == _id(held)]
    if not mine:
        return ()
    member: Member = held.state
    outcome = pipeline.apply(mine, member, context(uow, ctx), at, household=view_of(uow, member))
    held.take(outcome.member, outcome.events)
    count_work(uow.loads, outcome.events)
    return outcome.events


def note(held: Working, events: Iterable[object]) -> None:
    """Events about the record itself (its household, its keys), taken as they are."""
    events = list(events)
    held.take(evolve_all(held.state, events), events)


def _id(held: Working) -> str:
    member: Member = held.state
    return member.member_id


def _owner(event: object) -> str | None:
    # A quota's events belong to its holder; every other part's to its member.
    owner = getattr(event, "holder_id", None) or getattr(event, "member_id", None)
    return owner if isinstance(owner, str) else None


# -- one member's commands ----------------------------------------------------------------


def _member_command(
    uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime
) -> tuple[object, ...]:
    return run(uow, ctx, uow.require_member(command.member_id), command, at)


def _quota(
    uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime
) -> tuple[object, ...]:
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
        household.take(_evolve_household(household.state, events), events)
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


def _evolve_household(
    state: households.HouseholdState, events: Iterable[Any]
) -> households.HouseholdState:
    for event in events:
        state = households.evolve(state, event)
    return state


# -- households ---------------------------------------------------------------------------


def _household(
    uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime
) -> tuple[object, ...]:
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
            made += _uncover(uow, ctx, before, event.member_id, command.key, at)
    return tuple(made)


def _uncover(
    uow: UnitOfWork,
    ctx: pipeline.Context,
    home: households.HouseholdState,
    person: str,
    key: str,
    at: datetime,
) -> list[object]:
    """Take ``person`` out of every family plan of their relatives in ``home``."""
    made: list[object] = []
    for relative in _relatives(uow, home, person):
        for held in plans.in_force(relative.state.plans, at):
            if person in held.dependents:
                uncover = plans.RemoveCoveredDependent(
                    key=f"{key}/uncover/{held.subscription_id}/{person}",
                    member_id=relative.state.member_id,
                    subscription_id=held.subscription_id,
                    dependent_id=person,
                )
                made += run(uow, ctx, relative, uncover, at)
    return made


def _cover(
    uow: UnitOfWork, ctx: pipeline.Context, command: Any, at: datetime
) -> tuple[object, ...]:
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


# -- points between members ---------------------------------------------------------------


def _transfer(
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


# -- gifts --------------------------------------------------------------------------------


def _redeem_reward(
    uow: UnitOfWork, ctx: pipeline.Context, command: rewards.RedeemReward, at: datetime
) -> tuple[object, ...]:
    """A gift for points: the member's ledger and history, and the gift's stock record."""
    held = uow.require_member(command.member_id)
    member: Member = held.state
    limited = _limited(ctx, command.reward_key)
    stock = uow.stock(command.reward_key) if limited else None
    redemption = rewards.decide_redemption(
        command,
        member.ledger,
        member.rewards,
        stock.state if stock is not None else rewards.StockState(),
        ctx.config,
        at,
        tier=standing(member, ctx.config, at).tier,
    )
    _to_stock(stock, redemption.events)
    return give(uow, ctx, held, [*redemption.postings, *redemption.events], at)


def _cancel_redemption(
    uow: UnitOfWork, ctx: pipeline.Context, command: rewards.CancelRedemption, at: datetime
) -> tuple[object, ...]:
    """A gift given back: the points return, the gift goes back into stock."""
    held = uow.require_member(command.member_id)
    member: Member = held.state
    found = member.rewards.redemption(command.redemption_id)
    stock = uow.stock(found.reward_key) if found and _limited(ctx, found.reward_key) else None
    redemption = rewards.decide_cancellation(command, member.ledger, member.rewards, ctx.config, at)
    _to_stock(stock, redemption.events)
    return give(uow, ctx, held, [*redemption.postings, *redemption.events], at)


def _limited(ctx: pipeline.Context, reward_key: str) -> bool:
    reward = ctx.config.rewards.reward(reward_key)
    return reward is not None and reward.stock is not None


def _to_stock(stock: Working | None, events: Iterable[Any]) -> None:
    if stock is None:
        return
    for event in events:
        stock.take(rewards.evolve_stock(stock.state, event), [event])


# -- merges -------------------------------------------------------------------------------


def _merge(
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
        home.take(_evolve_household(home.state, moved), moved)
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
        for relative in _relatives(uow, home.state, duplicate)
        for held in plans.in_force(relative.state.plans, at)
        if duplicate in held.dependents
    ]
    made = _uncover(uow, ctx, home.state, duplicate, command.key, at)
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


def _relatives(uow: UnitOfWork, home: households.HouseholdState, person: str) -> list[Working]:
    """The records of everyone in ``home`` but ``person``, read if need be."""
    others = sorted(households.members(home) - {person})
    uow.load_members(others)
    return [uow.require_member(other) for other in others]


# -- the table ----------------------------------------------------------------------------


def _table() -> dict[type[Any], Handler]:
    table: dict[type[Any], Handler] = dict.fromkeys(pipeline.COMMAND_TYPES, _member_command)
    table.update(dict.fromkeys(benefits.QUOTA_COMMAND_TYPES, _quota))
    table.update(dict.fromkeys(HOUSEHOLD_COMMANDS, _household))
    table[plans.Subscribe] = _cover
    table[plans.AddCoveredDependent] = _cover
    table[TransferPoints] = _transfer
    table[MergeMembers] = _merge
    table[rewards.RedeemReward] = _redeem_reward
    table[rewards.CancelRedemption] = _cancel_redemption
    return table


#: Every command the engine carries out, with its handler.
HANDLERS: Mapping[type[Any], Handler] = _table()

#: Every command type the engine takes.
COMMAND_TYPES: tuple[type[Any], ...] = tuple(HANDLERS)


def route(message: object) -> list[str]:
    """The members or household a command names first (to read them in one batch).

    Raises:
        EngineError: the message is not a command the engine takes.
    """
    if isinstance(message, HOUSEHOLD_COMMANDS):
        return [household_key(message.household_id)]
    if type(message) not in HANDLERS:
        raise EngineError(
            f"{type(message).__name__} is not a fact or a command of a member or a household"
        )
    named = [getattr(message, name, None) for name in ("member_id", "target_id", "duplicate_id")]
    return [f"member:{member_id}" for member_id in named if isinstance(member_id, str)]


def handle(
    uow: UnitOfWork, ctx: pipeline.Context, command: object, at: datetime
) -> tuple[object, ...]:
    """Carry out one command in the unit of work; every event it made.

    A command key is spent once on the member's record it names, whatever the command
    changed: the same command again makes nothing; the key on another command is
    refused.

    Raises:
        MembercoreError: the command was refused (the error says why).
    """
    handler = HANDLERS[type(command)]
    command = _follow_merges(uow, command)
    if isinstance(command, HOUSEHOLD_COMMANDS):
        plausibility.check(command, None, ctx.config, at)
        return handler(uow, ctx, command, at)
    held = uow.require_member(_member_of(command))
    plausibility.check(command, held.state, ctx.config, at)
    digest = fingerprint(command)
    key = str(getattr(command, "key", "") or "")
    if key:
        seen = held.state.identity.commands.get(key)
        if seen is not None and matches(seen, command):
            return ()
        if seen is not None:
            raise IdempotencyConflictError(held.state.member_id, key)
    made = handler(uow, ctx, command, at)
    if key:
        taken = CommandTaken(
            member_id=held.state.member_id,
            key=key,
            command=str(getattr(command, "TYPE", type(command).__name__)),
            fingerprint=digest,
            at=at,
        )
        note(held, [taken])
        made = (*made, taken)
    return made


#: The fields of a command that name a person.
_PEOPLE = ("member_id", "target_id", "dependent_id", "head_id", "guardian_id", "given_by")


def _follow_merges(uow: UnitOfWork, command: Any) -> Any:
    """The command with every person it names that was merged away named by the survivor.

    A merge leaves the duplicate's record pointing at the survivor; facts and commands
    that still name the duplicate — as the member, a transfer's receiver, a covered
    relative, a household's head or a guardian — act on the survivor.
    """
    if isinstance(command, MergeMembers):
        return command
    named = {f: v for f in _PEOPLE if isinstance(v := getattr(command, f, None), str)}
    listed = tuple(getattr(command, "dependents", ()) or ())
    uow.load_members([*named.values(), *listed])
    survivors = {person: _survivor(uow, person) for person in {*named.values(), *listed}}
    changes: dict[str, Any] = {
        field: survivors[person] for field, person in named.items() if survivors[person]
    }
    if any(survivors[person] for person in listed):
        changes["dependents"] = tuple(survivors[p] or p for p in listed)
    return attrs.evolve(command, **changes) if changes else command


def _survivor(uow: UnitOfWork, person: str) -> str | None:
    held = uow.member(person)
    return None if held is None else held.state.identity.merged_into


def _member_of(command: object) -> str:
    member_id = getattr(command, "member_id", None)
    if not isinstance(member_id, str):
        raise EngineError(f"{type(command).__name__} names no member")
    return member_id
