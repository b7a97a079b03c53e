"""Merging two records of one person, across every part of the programme.

Hospitals register the same patient twice. A merge moves everything of the duplicate
record to the surviving one — ledger lots (whole), subscriptions, own quota uses, gifts
received, tier qualifiers — moves household links, re-evaluates the tier on the merged
ledger, and keeps the stricter consent of the two. Each part decides its own events (see
each part's ``decide_merge``); this module runs them in order, so that the tier sees the
merged ledger and the merged plans, and returns every event, by part. Every step is an
event, so the merge can be explained afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from membercore import benefits, consent, households, plans, rewards, tiers
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState, decide_merge, evolve
from membercore.ledger.events import Posting

__all__ = ["MemberRecords", "MergeDecision", "decide"]


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
