"""One message through every part of a member's record, in the programme's order.

Facts flow one way: the ledger earns, the tier ladder counts the points and the visit,
the profile notes the fact and re-derives tags and segment, then the journeys take the
fact and every domain event it made (a tier change, a subscription activated...). A
journey's actions become the commands of the parts that carry them out — a message
request through the outreach policy, a staff task, a bonus, an offer — and those run
through the same pipeline. Everything is pure: :func:`run` returns the new record and
the events, in the order they were decided; the engine stores both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from membercore import journeys, plans, tiers
from membercore.dates import require_aware
from membercore.facts import Fact
from membercore.ledger.commands import ExpireDue
from membercore.ledger.events import Posting
from membercore.service.context import Context, Household, journey_triggers
from membercore.service.member import Member, due_parts
from membercore.service.runner import COMMAND_TYPES, DEFAULT_NAME, MAX_DEPTH, Runner

__all__ = [
    "COMMAND_TYPES",
    "DEFAULT_NAME",
    "MAX_DEPTH",
    "Context",
    "Household",
    "Outcome",
    "apply",
    "journey_triggers",
    "run",
    "tick",
]


@attrs.frozen
class Outcome:
    """A member's record after a message, and the events that made it, in order."""

    member: Member
    events: tuple[object, ...]


def run(
    message: object,
    member: Member,
    ctx: Context,
    now: datetime,
    *,
    household: Household | None = None,
) -> Outcome:
    """Everything one fact or command does to a member's record.

    Args:
        message: a fact about the member, or a command of one of the record's parts.
        member: the record.
        ctx: the programme, journeys and staff loads.
        now: the instant of the decision.
        household: the member's household, when they belong to one.

    Raises:
        MembercoreError: a part refused the message; nothing of it applies.
        TypeError: the message is neither a fact nor a command of a member's record.
    """
    now = require_aware("now", now)
    work = Runner(member, ctx, now, household)
    if member.identity.died_at is None:  # time moves nothing for the dead
        work.catch_up()
    if isinstance(message, Fact):
        work.fact(message)
    else:
        work.command(message, depth=0)
    return Outcome(work.member, tuple(work.events))


def apply(
    events: Sequence[object],
    member: Member,
    ctx: Context,
    now: datetime,
    *,
    household: Household | None = None,
) -> Outcome:
    """Events decided about the member elsewhere, and what follows from them.

    A decision that spans records (a transfer, a merge, a gift from the stock, a quota
    the household shares) is made by its part over all of them; each member's share of
    its events comes here: the record takes them, the tier ladder settles on a changed
    ledger, and the journeys take them like any other event.

    Raises:
        MembercoreError: a part refused what followed; nothing of it applies.
    """
    now = require_aware("now", now)
    work = Runner(member, ctx, now, household)
    made = list(work.take(events))
    if any(isinstance(event, Posting) for event in made):
        made += work.settle_tier()
    work.journeys_on(made, depth=0)
    return Outcome(work.member, tuple(work.events))


def tick(
    member: Member, ctx: Context, now: datetime, *, household: Household | None = None
) -> Outcome:
    """Everything the passing of time does to a member's record by ``now``.

    Points expire, subscriptions move on (payment windows lapse, terms end into grace,
    grace ends), the tier is reviewed, and every due journey timer fires in order; what
    those make runs through the pipeline like any other event.
    """
    now = require_aware("now", now)
    work = Runner(member, ctx, now, household)
    if member.identity.died_at is not None:
        return Outcome(member, ())  # time does nothing more for the record of the dead
    member_id = member.member_id
    due = due_parts(member, ctx.config, now)
    for part, command in (
        ("ledger", ExpireDue(member_id=member_id)),
        ("plans", plans.AdvanceSubscriptions(member_id=member_id)),
        ("tier", tiers.ReviewTier(member_id=member_id)),
    ):
        if part in due:
            work.command(command, depth=0)
    if "journeys" in due_parts(work.member, ctx.config, now):
        fired = journeys.tick(work.member.journeys, ctx.journeys, ctx.registry, work.situation())
        work.carry_out(work.take(fired), depth=0)
    return Outcome(work.member, tuple(work.events))
