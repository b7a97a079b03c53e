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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from membercore import benefits, consent, households, outreach, plans, rewards, segments, tiers
from membercore.errors import (
    EngineError,
    IdempotencyConflictError,
)
from membercore.idempotency import fingerprint, matches
from membercore.identity import CommandTaken, MergeMembers, ReverseDeath
from membercore.ledger.commands import LedgerCommand, TransferPoints
from membercore.service import pipeline, plausibility
from membercore.service.family import HOUSEHOLD_COMMANDS, cover, household, quota, transfer
from membercore.service.gifts import cancel_redemption, redeem_reward
from membercore.service.handling import (
    Handler,
    catch_up,
    household_view,
    member_command,
    note,
    view_of,
)
from membercore.service.member import Member
from membercore.service.merges import merge
from membercore.service.recording import household_key
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
    | outreach.NoteDelivery
    | tasks.WorkCommand
    | offers.MakeOffer
    | offers.RedeemOffer
    | programmes.Enrol
    | programmes.Leave
    | segments.ProfileCommand
    | households.HouseholdCommand
    | rewards.RewardCommand
    | ReverseDeath
)


def _table() -> dict[type[Any], Handler]:
    table: dict[type[Any], Handler] = dict.fromkeys(pipeline.COMMAND_TYPES, member_command)
    table.update(dict.fromkeys(benefits.QUOTA_COMMAND_TYPES, quota))
    table.update(dict.fromkeys(HOUSEHOLD_COMMANDS, household))
    table[plans.Subscribe] = cover
    table[plans.AddCoveredDependent] = cover
    table[TransferPoints] = transfer
    table[MergeMembers] = merge
    table[rewards.RedeemReward] = redeem_reward
    table[rewards.CancelRedemption] = cancel_redemption
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
    if handler is not member_command:  # a part deciding over several records
        for record in route(command):
            named = uow.records.get(record)
            if named is not None and isinstance(named.state, Member):
                catch_up(uow, ctx, named, at)
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
    survivor = uow.survivor(person)
    return survivor if survivor != person else None


def _member_of(command: object) -> str:
    member_id = getattr(command, "member_id", None)
    if not isinstance(member_id, str):
        raise EngineError(f"{type(command).__name__} names no member")
    return member_id
