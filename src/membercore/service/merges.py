"""Merging two records of one person, across every part of the programme.

Hospitals register the same patient twice. A merge moves everything of the duplicate
record to the surviving one — ledger lots (whole), subscriptions, own quota uses, gifts
received, tier qualifiers — moves household links, re-evaluates the tier on the merged
ledger, and keeps the stricter consent of the two. Each part decides its own events (see
each part's ``decide_merge``); this module runs them in order, so that the tier sees the
merged ledger and the merged plans, and returns every event, by part. Every step is an
event, so the merge can be explained afterwards.

:func:`decide` is the decision, pure; :func:`merge` is the use case: it loads both
records, their households and the relatives whose family plans cover either, has
:func:`decide` run, hands each record its events and marks the duplicate merged into
the survivor, in one unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from membercore import (
    benefits,
    consent,
    households,
    journeys,
    outreach,
    plans,
    rewards,
    tiers,
)
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import EngineError, HouseholdMembershipError, MemberMismatchError
from membercore.identity import MergedInto, MergeMembers
from membercore.ledger import LedgerState, decide_merge, evolve
from membercore.ledger.events import Posting
from membercore.ports import IdentifierLink
from membercore.service import pipeline
from membercore.service.family import evolve_household, relatives, uncover
from membercore.service.handling import count_work, give, note, run
from membercore.service.identities import ANOTHER_ID
from membercore.service.member import Member
from membercore.service.recording import Working
from membercore.service.unit_of_work import UnitOfWork
from membercore.staff import tasks

__all__ = ["MemberRecords", "MergeDecision", "decide", "merge"]


@attrs.frozen(kw_only=True)
class MemberRecords:
    """Everything the programme holds about one member record.

    Attributes:
        member_id: the record.
        ledger: its points ledger.
        tier: its tier state.
        plans: its subscriptions.
        quotas: its own quota uses (household quotas are held by the household).
        rewards: the gifts it received.
        consent: its consents.
    """

    member_id: str
    ledger: LedgerState
    tier: tiers.TierState
    plans: plans.PlansState
    quotas: benefits.QuotaState
    rewards: rewards.RewardHistory
    consent: consent.ConsentState


@attrs.frozen(kw_only=True)
class MergeDecision:
    """Every event of a merge, by part, for both records (route each by its member).

    Attributes:
        postings: ledger postings (expiries due, then the two merge postings).
        tier: the survivor's tier events (qualifiers merged, tier re-evaluated).
        plans: subscriptions moved out and in.
        quotas: own quota uses moved.
        rewards: gifts moved.
        consent: consents the survivor loses because the duplicate had not given them.
        households: household links moved, by household id.
    """

    postings: tuple[Posting, ...] = ()
    tier: tuple[tiers.TierEvent, ...] = ()
    plans: tuple[plans.SubscriptionEvent, ...] = ()
    quotas: tuple[benefits.QuotaEvent, ...] = ()
    rewards: tuple[rewards.HistoryMergeEvent, ...] = ()
    consent: tuple[consent.ConsentEvent, ...] = ()
    households: Mapping[str, tuple[households.HouseholdEvent, ...]] = attrs.field(factory=dict)


def decide(
    command: MergeMembers,
    survivor: MemberRecords,
    duplicate: MemberRecords,
    config: ProgrammeConfig,
    now: datetime,
    *,
    household_states: Mapping[str, households.HouseholdState] | None = None,
) -> MergeDecision:
    """Every event that merges ``duplicate`` into ``survivor``.

    Args:
        command: the merge, naming the survivor (``member_id``) and the duplicate.
        survivor: the surviving record's states.
        duplicate: the duplicate record's states.
        config: the programme.
        now: the instant of the merge.
        household_states: the households either record belongs to, by household id.

    Raises:
        MemberMismatchError: the records are not those the command names.
    """
    now = require_aware("now", now)
    if (survivor.member_id, duplicate.member_id) != (command.member_id, command.duplicate_id):
        raise MemberMismatchError(survivor.member_id, command.member_id)
    postings = decide_merge(command, survivor.ledger, duplicate.ledger, config, now)
    ledger = survivor.ledger
    for posting in postings:
        if posting.member_id == ledger.member_id:
            ledger = evolve(ledger, posting)
    plan_events = plans.decide_merge(command, survivor.plans, duplicate.plans, now)
    merged_plans = survivor.plans
    for event in plan_events:
        if event.member_id == merged_plans.member_id:
            merged_plans = plans.evolve(merged_plans, event)
    floor = plans.tier_floor(merged_plans, config, now)
    tier_events = tiers.decide_merge(
        command, survivor.tier, duplicate.tier, ledger, config, now, floor=floor
    )
    return MergeDecision(
        postings=tuple(postings),
        tier=tuple(tier_events),
        plans=tuple(plan_events),
        quotas=tuple(benefits.decide_merge(command, survivor.quotas, duplicate.quotas, now)),
        rewards=tuple(rewards.decide_merge(command, survivor.rewards, duplicate.rewards, now)),
        consent=tuple(consent.decide_merge(command, survivor.consent, duplicate.consent, now)),
        households={
            household_id: tuple(households.decide_merge(command, state, now))
            for household_id, state in (household_states or {}).items()
        },
    )


def merge(
    uow: UnitOfWork, ctx: pipeline.Context, command: MergeMembers, at: datetime
) -> tuple[object, ...]:
    """Two records of one person become one: everything of the duplicate moves."""
    if command.member_id == command.duplicate_id:
        raise EngineError(f"cannot merge member {command.member_id!r} into itself")
    uow.load_members([command.member_id, command.duplicate_id])
    survivor = uow.require_member(command.member_id)
    if command.retire_unknown and uow.member(command.duplicate_id) is None:
        # A record the programme never held: its id names the survivor from now on.
        link = IdentifierLink(
            system=ANOTHER_ID, value=command.duplicate_id, patient_id=command.member_id
        )
        uow.identifiers.append(link)
        if uow.index is not None:  # the facts after it in the same batch
            uow.index.add(ANOTHER_ID, command.duplicate_id, command.member_id)
        return ()
    duplicate = uow.require_member(command.duplicate_id)
    _check_mergeable(survivor.state, duplicate.state)
    if duplicate.state.identity.merged_into == command.member_id:
        return ()  # merged before
    homes = _merge_households(survivor.state, duplicate.state, uow)
    decision = decide(
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
    made += _retire(uow, duplicate, command, ctx.config, at)
    for home in homes:
        made += _cover_survivor(uow, ctx, command, home, at)
    return tuple(made)


def _retire(
    uow: UnitOfWork,
    duplicate: Working,
    command: MergeMembers,
    config: ProgrammeConfig,
    at: datetime,
) -> list[object]:
    """What the merged-away record still had going ends: nothing more comes of it.

    Its journeys end (``merged_into:<survivor>``: the survivor runs its own), its
    messages and call tasks not handed over are cancelled, its open staff tasks closed.
    """
    member: Member = duplicate.state
    why = f"merged into {command.member_id} ({command.key})"
    why_ended = f"merged_into:{command.member_id}"
    ended: list[object] = [
        journeys.ending(member.member_id, instance, why_ended, at, command.key)
        for instance in journeys.active(member.journeys)
    ]
    ended += outreach.cancel_all(member.outreach, at, why)
    note(duplicate, ended)
    for task in list(member.work.tasks.values()):
        if task.status != "open":
            continue
        close = tasks.CloseTask(
            key=f"{command.key}/close/{task.key}",
            member_id=member.member_id,
            task_key=task.key,
            outcome="member_merged",
            by="membercore",
        )
        before = duplicate.state.work
        closed = tasks.decide(close, before, config, at)
        note(duplicate, closed)
        count_work(uow, before, closed)
        ended += closed
    return ended


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


def _records(member: Member) -> MemberRecords:
    return MemberRecords(
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
