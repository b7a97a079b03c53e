"""Merging the subscriptions of two records of one person.

Every subscription of the duplicate moves, as it stands — status, terms, covered
dependents, the staff member the sale is attributed to — to the surviving record: one
``subscription_moved_out`` on the duplicate and one ``subscription_moved_in`` on the
survivor per subscription, under the merge command's key.
"""

from __future__ import annotations

from datetime import datetime

from membercore.dates import require_aware
from membercore.errors import MemberMismatchError, SubscriptionExistsError
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers
from membercore.plans.events import SubscriptionEvent, SubscriptionMovedIn, SubscriptionMovedOut
from membercore.plans.state import PlansState

__all__ = ["decide_merge"]


def decide_merge(
    command: MergeMembers, survivor: PlansState, duplicate: PlansState, now: datetime
) -> list[SubscriptionEvent]:
    """The events that move the duplicate's subscriptions to the survivor.

    Returns events for both members (route them by ``member_id``); none on a replay.

    Raises:
        MemberMismatchError: the states are not those the command names.
        SubscriptionExistsError: both records hold a subscription with the same id.
        IdempotencyConflictError: the key was used by another command.
    """
    now = require_aware("now", now)
    if (survivor.member_id, duplicate.member_id) != (command.member_id, command.duplicate_id):
        raise MemberMismatchError(survivor.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(survivor.keys, command.key, command, owner=survivor.member_id):
        return []
    events: list[SubscriptionEvent] = []
    for subscription in duplicate.subscriptions.values():
        if subscription.subscription_id in survivor.subscriptions:
            raise SubscriptionExistsError(
                survivor.member_id,
                subscription.subscription_id,
                subscription.plan_key,
                subscription.subscription_id,
            )
        out = SubscriptionMovedOut(
            subscription_id=subscription.subscription_id,
            member_id=duplicate.member_id,
            at=now,
            plan_key=subscription.plan_key,
            plan_version=subscription.plan_version,
            key=command.key,
            fingerprint=digest,
            to_member_id=survivor.member_id,
        )
        moved_in = SubscriptionMovedIn(
            subscription_id=subscription.subscription_id,
            member_id=survivor.member_id,
            at=now,
            plan_key=subscription.plan_key,
            plan_version=subscription.plan_version,
            key=command.key,
            fingerprint=digest,
            from_member_id=duplicate.member_id,
            subscription=subscription,
        )
        events.extend((out, moved_in))
    return events
