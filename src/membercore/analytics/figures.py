"""The programme's figures: what the hospital's management looks at.

:class:`Figures` is worked out from every member's record (:func:`figures`) and from the
outreach and staff events as they are decided (:class:`Tally`, an engine observer):
members by tier, paid members by plan, the renewal rate, the loyalty ladder (first
visit → paid member → family plan), member and non-member yearly spend, the points
liability, messages by channel and purpose with the refusals by reason, and staff tasks
by kind. Everything is integers: money in fen, points as points, rates as per mille.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from membercore import outreach, plans, tiers
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.service.member import Member
from membercore.staff import tasks

__all__ = ["FigureCounter", "Figures", "Tally", "figures", "per_mille"]

YEAR = timedelta(days=365)


def per_mille(part: int, whole: int) -> int:
    """``part`` of ``whole`` in per mille, rounded down (0 when ``whole`` is 0)."""
    return part * 1000 // whole if whole else 0


@attrs.define
class Tally:
    """Counts of outreach and staff events, fed by the engine as it commits them.

    Attributes:
        messages: queued messages by (channel, purpose); ``phone`` for call tasks.
        deferred: queued messages held back by quiet hours.
        refused: refused messages by reason (``no_consent``, ``weekly_cap``...).
        cancelled: queued messages cancelled (consent withdrawn, a death, the check at the
            hand-over).
        tasks: staff tasks created, by kind.
    """

    messages: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    deferred: int = 0
    refused: Counter[str] = attrs.field(factory=Counter)
    cancelled: int = 0
    tasks: Counter[str] = attrs.field(factory=Counter)

    def __call__(self, events: Sequence[object]) -> None:
        """Count what ``events`` hold (the engine calls it after each commit)."""
        for event in events:
            if isinstance(event, outreach.MessageQueued):
                self.messages[(event.channel, event.purpose)] += 1
                self.deferred += event.send_at > event.decided_at
            elif isinstance(event, outreach.PhoneTaskRequested):
                self.messages[("phone", event.purpose)] += 1
            elif isinstance(event, outreach.MessageRefused):
                self.refused[event.reason] += 1
            elif isinstance(event, outreach.MessageCancelled):
                self.cancelled += 1
            elif isinstance(event, tasks.TaskCreated):
                self.tasks[event.kind] += 1

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one (e.g. another worker's)."""
        self.messages.update(other.messages)
        self.deferred += other.deferred
        self.refused.update(other.refused)
        self.cancelled += other.cancelled
        self.tasks.update(other.tasks)


@attrs.frozen(kw_only=True)
class Figures:
    """The programme at an instant, as sums that add up across shards of members.

    Attributes:
        patients: member records.
        by_tier: members by tier key.
        paid_by_plan: subscriptions in force by plan key.
        terms_ended: subscriptions whose first term has ended.
        renewed: of those, the ones renewed.
        first_visits: patients with at least one visit.
        became_members: of them, those who ever held a paid plan.
        became_family: of those, those who ever held a family plan.
        spend_fen: out-of-pocket spend in the last year of the patients with a visit in
            it: members with a plan in force (``True``) and the others (``False``).
        spenders: how many patients each of those sums is over.
        points: points ``earned``, ``redeemed``, ``expired``, and ``balance`` held now
            (the liability).
    """

    patients: int = 0
    by_tier: Mapping[str, int] = attrs.field(factory=dict)
    paid_by_plan: Mapping[str, int] = attrs.field(factory=dict)
    terms_ended: int = 0
    renewed: int = 0
    first_visits: int = 0
    became_members: int = 0
    became_family: int = 0
    spend_fen: Mapping[bool, int] = attrs.field(factory=dict)
    spenders: Mapping[bool, int] = attrs.field(factory=dict)
    points: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def renewal_per_mille(self) -> int:
        """Of subscriptions whose first term has ended, those renewed, per mille."""
        return per_mille(self.renewed, self.terms_ended)

    def average_spend_fen(self, *, members: bool) -> int:
        """Average yearly out-of-pocket spend of members (or of the other patients)."""
        return self.spend_fen.get(members, 0) // max(self.spenders.get(members, 0), 1)

    def __add__(self, other: Figures) -> Figures:
        def add(a: Mapping[Any, int], b: Mapping[Any, int]) -> dict[Any, int]:
            return dict(Counter(a) + Counter(b))

        return Figures(
            patients=self.patients + other.patients,
            by_tier=add(self.by_tier, other.by_tier),
            paid_by_plan=add(self.paid_by_plan, other.paid_by_plan),
            terms_ended=self.terms_ended + other.terms_ended,
            renewed=self.renewed + other.renewed,
            first_visits=self.first_visits + other.first_visits,
            became_members=self.became_members + other.became_members,
            became_family=self.became_family + other.became_family,
            spend_fen=add(self.spend_fen, other.spend_fen),
            spenders=add(self.spenders, other.spenders),
            points=add(self.points, other.points),
        )


@attrs.define
class _Sums:
    patients: int = 0
    by_tier: Counter[str] = attrs.field(factory=Counter)
    paid: Counter[str] = attrs.field(factory=Counter)
    ended: int = 0
    renewed: int = 0
    visited: int = 0
    members: int = 0
    family: int = 0
    spend: Counter[bool] = attrs.field(factory=Counter)
    spenders: Counter[bool] = attrs.field(factory=Counter)
    points: Counter[str] = attrs.field(factory=Counter)


class FigureCounter:
    """Counts members one at a time into the figures at ``now`` (for a pass doing more)."""

    def __init__(self, config: ProgrammeConfig, now: datetime) -> None:
        self._config = config
        self._now = require_aware("now", now)
        self._kinds = {plan.key: plan.kind for plan in config.plans.plans}
        self._sums = _Sums()

    def add(self, member: Member) -> None:
        """Count one member's record."""
        _count(self._sums, member, self._config, self._kinds, self._now)

    def figures(self) -> Figures:
        """The figures of the members counted."""
        return _figures(self._sums)


def figures(members: Iterable[Member], config: ProgrammeConfig, now: datetime) -> Figures:
    """The programme's figures at ``now`` from every member's record (streamed)."""
    counter = FigureCounter(config, now)
    for member in members:
        counter.add(member)
    return counter.figures()


def _figures(sums: _Sums) -> Figures:
    return Figures(
        patients=sums.patients,
        by_tier=dict(sums.by_tier),
        paid_by_plan=dict(sums.paid),
        terms_ended=sums.ended,
        renewed=sums.renewed,
        first_visits=sums.visited,
        became_members=sums.members,
        became_family=sums.family,
        spend_fen=dict(sums.spend),
        spenders=dict(sums.spenders),
        points=dict(sums.points),
    )


def _count(
    sums: _Sums, member: Member, config: ProgrammeConfig, kinds: Mapping[str, str], now: datetime
) -> None:
    sums.patients += 1
    sums.by_tier[tiers.tier_of(member.tier, config)] += 1
    active = plans.active_plans(member.plans, now)
    sums.paid.update(active)
    subscriptions = list(member.plans.subscriptions.values())
    for held in subscriptions:
        first = held.terms[0] if held.terms else None
        if first is not None and first.end <= now:
            sums.ended += 1
            sums.renewed += len(held.terms) > 1
    paid = [held for held in subscriptions if held.terms]
    visited = bool(member.profile.visits)
    sums.visited += visited
    if visited and paid:
        sums.members += 1
        sums.family += any(kinds.get(held.plan_key) == "family" for held in paid)
    since = now - YEAR
    if any(since <= noted.at <= now for noted in member.profile.visits.values()):
        is_member = bool(active)
        spent = sum(n.self_paid_fen for n in member.profile.charges.values() if n.at >= since)
        spent -= sum(n.amount_fen for n in member.profile.refunds.values() if n.at >= since)
        sums.spend[is_member] += max(spent, 0)
        sums.spenders[is_member] += 1
    totals = member.ledger.totals
    sums.points["earned"] += totals.earned
    sums.points["redeemed"] += totals.redeemed
    sums.points["expired"] += totals.expired
    sums.points["balance"] += member.ledger.balance
