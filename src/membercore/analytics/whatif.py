"""What-if figures: a history replayed under two programmes, and what differs between them.

A replay (:mod:`membercore.service.whatif`) runs the store's input log through an
engine under a programme and watches what it decides with an :class:`Observed`; each run
ends as a :class:`Run`: points issued, redeemed, expired and outstanding, members by
tier and plan, plan revenue and refunds, messages by channel and purpose, tasks by kind,
offers, and a sample of members with the lines that explain what was decided for them.
:class:`WhatIf` holds the baseline run (the store's own programme), the proposed one,
and the store's own figures, and says what differs. Everything is plain data: frozen
attrs values with string keys, so :meth:`WhatIf.to_dict` is JSON as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from membercore import outreach, plans, tiers
from membercore.analytics import Figures, Tally
from membercore.ledger.events import Posting
from membercore.staff import offers, tasks

__all__ = [
    "MemberDifference",
    "MemberRun",
    "Observed",
    "Run",
    "WhatIf",
    "difference",
    "explain",
]

#: How many explaining lines a sampled member's difference keeps, each way.
LINES = 20


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _posting(event: Posting) -> str:
    rule = event.provenance
    return (
        f"{_day(event.at)} points {getattr(event.kind, 'value', event.kind)} {event.points:+d} "
        f"({rule.rule_id} on {rule.trigger_type})"
    )


def _tier(event: tiers.TierChanged) -> str:
    return f"{_day(event.at)} tier {event.from_tier} → {event.to_tier} ({event.reason})"


def _queued(event: outreach.MessageQueued) -> str:
    return (
        f"{_day(event.decided_at)} message {event.channel}/{event.purpose} "
        f"{event.template_key}: {event.explanation}"
    )


def _refused(event: outreach.MessageRefused) -> str:
    return f"{_day(event.decided_at)} message {event.template_key} refused: {event.reason}"


def _task(event: tasks.TaskCreated) -> str:
    return f"{_day(event.at)} task {event.kind}"


def _offer(event: offers.OfferMade) -> str:
    return f"{_day(event.at)} offer {event.plan_key} ({event.reason})"


_LINES: dict[type, Callable[[Any], str]] = {
    Posting: _posting,
    tiers.TierChanged: _tier,
    outreach.MessageQueued: _queued,
    outreach.MessageRefused: _refused,
    tasks.TaskCreated: _task,
    offers.OfferMade: _offer,
}


def explain(event: object) -> str | None:
    """One line saying what ``event`` decided and why, for a member's comparison, or None.

    Points postings name their rule and trigger; tier changes their reason; messages
    their channel, purpose, template and the explanation the outreach policy gave; a
    refused message its reason; tasks their kind; offers their plan and reason.
    """
    line = _LINES.get(type(event))
    return None if line is None else line(event)


@attrs.define
class Observed:
    """An engine observer counting what a replay decides (one per run, per process).

    Attributes:
        sample: the members whose events are explained line by line.
        tally: messages and tasks (:class:`~membercore.analytics.Tally`).
        revenue_fen: money paid for plans (first terms, renewals, changes).
        refunds_fen: money refunded when plans were cancelled.
        offers: offer events by type (``offer_made``, ``offer_redeemed``...).
        lines: for each sampled member, the lines of its events in order.
    """

    sample: frozenset[str] = frozenset()
    tally: Tally = attrs.field(factory=Tally)
    revenue_fen: int = 0
    refunds_fen: int = 0
    offers: Counter[str] = attrs.field(factory=Counter)
    lines: dict[str, list[str]] = attrs.field(factory=dict)

    def __call__(self, events: Sequence[object]) -> None:
        """Count what ``events`` hold (the engine calls it after each commit)."""
        self.tally(events)
        for event in events:
            if isinstance(event, (plans.SubscriptionActivated, plans.SubscriptionRenewed)):
                self.revenue_fen += event.paid_fen
            elif isinstance(event, plans.SubscriptionCancelled):
                self.refunds_fen += event.refund_fen
            elif isinstance(
                event,
                (
                    offers.OfferMade,
                    offers.OfferRedeemed,
                    offers.OfferWithheld,
                    offers.OfferWithdrawn,
                ),
            ):
                self.offers[event.TYPE] += 1
            member = getattr(event, "member_id", None)
            if member in self.sample:
                line = explain(event)
                if line is not None:
                    self.lines.setdefault(member, []).append(line)


@attrs.frozen(kw_only=True)
class MemberRun:
    """One sampled member at the end of a run.

    Attributes:
        member_id: the member.
        tier: their tier key.
        points: ``earned``, ``redeemed``, ``expired`` and ``balance``.
        messages: messages queued for them.
        lines: what was decided for them, a line an event (:func:`explain`).
    """

    member_id: str
    tier: str = ""
    points: Mapping[str, int] = attrs.field(factory=dict)
    messages: int = 0
    lines: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Run:
    """What one replay (or the store itself) came to.

    Attributes:
        patients: member records.
        points: points ``earned`` (issued), ``redeemed``, ``expired``, and ``balance``
            (outstanding: the liability).
        by_tier: members by tier key.
        paid_by_plan: subscriptions in force by plan key.
        revenue_fen: money paid for plans.
        refunds_fen: money refunded for plans.
        messages: messages queued by ``channel/purpose`` (``phone/…`` for call tasks).
        refused: messages refused by reason.
        tasks: staff tasks created by kind.
        offers: offer events by type.
        dead_letters: inputs the replay refused.
        members: the sampled members.
    """

    patients: int = 0
    points: Mapping[str, int] = attrs.field(factory=dict)
    by_tier: Mapping[str, int] = attrs.field(factory=dict)
    paid_by_plan: Mapping[str, int] = attrs.field(factory=dict)
    revenue_fen: int = 0
    refunds_fen: int = 0
    messages: Mapping[str, int] = attrs.field(factory=dict)
    refused: Mapping[str, int] = attrs.field(factory=dict)
    tasks: Mapping[str, int] = attrs.field(factory=dict)
    offers: Mapping[str, int] = attrs.field(factory=dict)
    dead_letters: int = 0
    members: tuple[MemberRun, ...] = ()

    @classmethod
    def of(
        cls,
        figures: Figures,
        observed: Observed | None = None,
        *,
        members: Iterable[MemberRun] = (),
        dead_letters: int = 0,
    ) -> Run:
        """A run from its figures and what was observed while it ran (if anything)."""
        seen = observed or Observed()
        return cls(
            patients=figures.patients,
            points=_sorted(figures.points),
            by_tier=_sorted(figures.by_tier),
            paid_by_plan=_sorted(figures.paid_by_plan),
            revenue_fen=seen.revenue_fen,
            refunds_fen=seen.refunds_fen,
            messages=_sorted({f"{c}/{p}": n for (c, p), n in seen.tally.messages.items()}),
            refused=_sorted(seen.tally.refused),
            tasks=_sorted(seen.tally.tasks),
            offers=_sorted(seen.offers),
            dead_letters=dead_letters,
            members=tuple(sorted(members, key=lambda m: m.member_id)),
        )

    def __add__(self, other: Run) -> Run:
        return Run(
            patients=self.patients + other.patients,
            points=_add(self.points, other.points),
            by_tier=_add(self.by_tier, other.by_tier),
            paid_by_plan=_add(self.paid_by_plan, other.paid_by_plan),
            revenue_fen=self.revenue_fen + other.revenue_fen,
            refunds_fen=self.refunds_fen + other.refunds_fen,
            messages=_add(self.messages, other.messages),
            refused=_add(self.refused, other.refused),
            tasks=_add(self.tasks, other.tasks),
            offers=_add(self.offers, other.offers),
            dead_letters=self.dead_letters + other.dead_letters,
            members=tuple(sorted((*self.members, *other.members), key=lambda m: m.member_id)),
        )

    def totals(self) -> dict[str, Mapping[str, int]]:
        """The run's figures by section (each a mapping), as :func:`difference` compares them."""
        return {
            "points": self.points,
            "by_tier": self.by_tier,
            "paid_by_plan": self.paid_by_plan,
            "plans_fen": {"revenue": self.revenue_fen, "refunds": self.refunds_fen},
            "messages": self.messages,
            "tasks": self.tasks,
            "offers": self.offers,
        }


def _sorted(counts: Mapping[Any, int]) -> dict[str, int]:
    return {str(key): counts[key] for key in sorted(counts, key=str)}


def _add(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    summed = Counter(a)
    summed.update(b)
    return _sorted(summed)


def difference(proposed: Mapping[str, int], baseline: Mapping[str, int]) -> dict[str, int]:
    """``proposed - baseline`` key by key, the keys that differ only."""
    keys = sorted(set(proposed) | set(baseline))
    return {
        k: proposed.get(k, 0) - baseline.get(k, 0)
        for k in keys
        if proposed.get(k, 0) != baseline.get(k, 0)
    }


@attrs.frozen(kw_only=True)
class MemberDifference:
    """A sampled member under both programmes, and the lines that explain the difference.

    Attributes:
        member_id: the member.
        baseline: the member under the baseline programme.
        proposed: the member under the proposed programme.
        why: lines of what only one programme decided: ``+`` the proposed one's, ``-``
            the baseline's (at most :data:`LINES` each way).
    """

    member_id: str
    baseline: MemberRun
    proposed: MemberRun
    why: tuple[str, ...] = ()

    @classmethod
    def between(cls, baseline: MemberRun, proposed: MemberRun) -> MemberDifference:
        """The difference of one member's two runs."""
        only_proposed = Counter(proposed.lines) - Counter(baseline.lines)
        only_baseline = Counter(baseline.lines) - Counter(proposed.lines)
        plus = [f"+ {line}" for line in proposed.lines if only_proposed[line] > 0]
        minus = [f"- {line}" for line in baseline.lines if only_baseline[line] > 0]
        return cls(
            member_id=proposed.member_id,
            baseline=baseline,
            proposed=proposed,
            why=(*minus[:LINES], *plus[:LINES]),
        )


@attrs.frozen(kw_only=True)
class WhatIf:
    """A store's history under the proposed programme, beside its own.

    Attributes:
        baseline_name: the baseline programme's name and version.
        proposed_name: the proposed programme's name and version.
        inputs: logged inputs replayed (facts, commands and ticks).
        unlogged: records the store held before its input log began: their history
            before it is not replayed (0: the whole history was).
        workers: processes the replay ran in.
        partitions: groups of connected members the log was split into.
        stored: the store's own figures (from its records; messages, tasks and plan
            money are not counted there).
        baseline: the replay under the baseline programme.
        proposed: the replay under the proposed programme.
        reproduces: whether the baseline replay came to the store's own points, tiers
            and plans (never when ``later``).
        later: inputs the store took while it was read: its own figures may then be
            later than the log the replays took, and are not compared (0: none).
        members: the sampled members, each under both programmes.
        seconds: wall-clock time of the replay.
    """

    baseline_name: str
    proposed_name: str
    inputs: int
    unlogged: int
    workers: int
    partitions: int
    stored: Run
    baseline: Run
    proposed: Run
    reproduces: bool
    later: int = 0
    members: tuple[MemberDifference, ...] = ()
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether the whole history was logged (no record predates the input log)."""
        return self.unlogged == 0

    def differences(self) -> dict[str, dict[str, int]]:
        """What differs, section by section: ``proposed - baseline`` for each key that differs."""
        proposed, baseline = self.proposed.totals(), self.baseline.totals()
        return {name: difference(proposed[name], baseline[name]) for name in proposed}

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain data (JSON as it is), its differences included."""
        data: dict[str, Any] = attrs.asdict(self)
        data["complete"] = self.complete
        data["differences"] = self.differences()
        return data
