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

from membercore import journeys, plans, segments, tiers
from membercore.dates import require_aware
from membercore.facts import Fact
from membercore.ledger.commands import ExpireDue
from membercore.ledger.events import Posting
from membercore.service.context import Context, Household, journey_triggers
from membercore.service.member import Member, due_parts, next_due, timers_due
from membercore.service.runner import COMMAND_TYPES, DEFAULT_NAME, MAX_DEPTH, Runner

__all__ = [
    "COMMAND_TYPES",
    "DEFAULT_NAME",
    "MAX_DEPTH",
    "Context",
    "Household",
    "Outcome",
    "advance",
    "apply",
    "decision_instant",
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

    A fact is decided at the instant it happened (event time), a command at ``now``;
    never before the record's clock (:attr:`Member.as_of`): a fact reported after later
    ones were decided is decided at the clock, and what it starts still counts from
    when it happened. Whatever fell due on the record before that instant is done first,
    each at its own instant (:func:`advance`): a timer due at the very instant of a
    fact fires before the fact is decided.

    Args:
        message: a fact about the member, or a command of one of the record's parts.
        member: the record.
        ctx: the programme, journeys and staff loads.
        now: when the programme learns of it.
        household: the member's household, when they belong to one.

    Raises:
        MembercoreError: a part refused the message; nothing of it applies.
        TypeError: the message is neither a fact nor a command of a member's record.
    """
    now = require_aware("now", now)
    at = decision_instant(message, member, now)
    work = Runner(member, ctx, at, household, learnt=now)
    if member.identity.died_at is None:  # time moves nothing for the dead
        advance(work, at)
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
    # The records were brought up to ``now`` before the part decided over them.
    work = Runner(member, ctx, now, household, learnt=now)
    made = list(work.take(events))
    if any(isinstance(event, Posting) for event in made):
        made += work.settle_tier()
    work.journeys_on(made, depth=0)
    return Outcome(work.member, tuple(work.events))


def tick(
    member: Member,
    ctx: Context,
    now: datetime,
    *,
    household: Household | None = None,
) -> Outcome:
    """Everything the passing of time does to a member's record by ``now``.

    Points expire, subscriptions move on (payment windows lapse, terms end into grace,
    grace ends), the tier is reviewed, the profile is read again when a window closed,
    and every due journey timer fires; each at its own instant, earliest first, so that
    any split of ticks decides the same (:func:`advance`).
    """
    now = require_aware("now", now)
    work = Runner(member, ctx, now, household, learnt=now)
    if member.identity.died_at is not None:
        return Outcome(member, ())  # time does nothing more for the record of the dead
    advance(work, now)
    return Outcome(work.member, tuple(work.events))


def decision_instant(message: object, member: Member, now: datetime) -> datetime:
    """When a message is decided on a record: its own instant, never before the clock.

    A fact's own instant is when it happened (at most ``now``); a command's is ``now``.
    """
    at = now
    if isinstance(message, Fact):
        at = min(require_aware("occurred_at", message.occurred_at), now)
    clock = member.as_of
    return at if clock is None or clock <= at else clock


def advance(work: Runner, to: datetime) -> None:
    """Do everything that fell due on the record by ``to``, each at its own instant.

    Instants are taken earliest first; at each, points expire, subscriptions move on,
    the tier is reviewed, the profile is read again and the journeys' timers fire, in
    that order, with the runner's clock at that instant (never before the record's
    clock: a timer that a late fact set in the past fires at the clock, dated at its
    own instant). The runner is left at ``to``.
    """
    config = work.config
    since: datetime | None = None
    while work.member.identity.died_at is None:
        due = next_due(work.member, config, after=since)
        if due is None or due > to:
            break
        clock = work.member.as_of
        at = due if clock is None or clock <= due else clock
        work.now = at if since is None or since < at else since
        _due_now(work, since)
        since = work.now
    work.now = to if work.member.as_of is None or work.member.as_of <= to else work.member.as_of


def _due_now(work: Runner, since: datetime | None) -> None:
    config, now, member_id = work.config, work.now, work.member.member_id
    due = due_parts(work.member, config, now, since=since)
    for part, command in (
        ("ledger", ExpireDue(member_id=member_id)),
        ("plans", plans.AdvanceSubscriptions(member_id=member_id)),
        ("tier", tiers.ReviewTier(member_id=member_id)),
        ("profile", segments.RefreshProfile(member_id=member_id)),
    ):
        if part in due:
            work.command(command, depth=0)
    if timers_due(work.member, now):  # what the parts did may have set timers too
        fired = journeys.tick(
            work.member.journeys, work.ctx.journeys, work.ctx.registry, work.situation()
        )
        work.carry_out(work.take(fired), depth=0)
