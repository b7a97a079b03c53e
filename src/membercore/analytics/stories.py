"""One patient's history as the measures read it, drawn from their record and journal.

A record's snapshot holds what decisions need now; facts no decision can use any more
are let go from it (the journal keeps them). Lifetime value, cohorts and the loyalty
ladder need the whole history, so :func:`story_of` reads the journal: only the events
the measures use are decoded (a stored event's ``type`` says which it is), and what they
say is reduced to a :class:`Story` of a few dozen values, whatever the length of the
history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from membercore import plans, tiers
from membercore.config import ProgrammeConfig
from membercore.identity import ReferralCredited
from membercore.ledger.events import Posting, PostingKind
from membercore.plans.events import (
    SubscriptionActivated,
    SubscriptionCancelled,
    SubscriptionRenewed,
    SubscriptionRequested,
)
from membercore.ports import StoredEvent
from membercore.rewards.messages import RewardRedeemed
from membercore.segments.messages import (
    ChargeNoted,
    DiagnosisNoted,
    RefundNoted,
    RegistrationNoted,
    VisitNoted,
)
from membercore.serialization import message_from_stored
from membercore.service.member import Member

__all__ = ["READ_TYPES", "Sale", "Story", "story_of"]

#: The earning rule a referral's reward is posted under.
REFERRAL_RULE = "earning.referral"

#: The journal event types a story is drawn from (the others are not decoded).
READ_TYPES: frozenset[str] = frozenset(
    kind.TYPE
    for kind in (
        RegistrationNoted,
        VisitNoted,
        ChargeNoted,
        RefundNoted,
        DiagnosisNoted,
        SubscriptionRequested,
        SubscriptionActivated,
        SubscriptionRenewed,
        SubscriptionCancelled,
        tiers.TierChanged,
        ReferralCredited,
        RewardRedeemed,
    )
)


@attrs.frozen(kw_only=True)
class Sale:
    """A plan sold or renewed: who it is credited to, and what it brought.

    Attributes:
        staff: the member of staff the sale is attributed to (``None``: nobody).
        at: when it was paid.
        fen: the money paid.
        renewal: a renewal (else a first payment).
    """

    staff: str | None
    at: datetime
    fen: int
    renewal: bool


@attrs.frozen(kw_only=True)
class Story:
    """What the measures need of one patient.

    Attributes:
        member_id: the patient.
        source: how the patient first came (the first registration's ``source``).
        referred_by: the member rewarded for referring them, if any.
        referrals: the referral rewards the patient earned (patients they referred).
        visits: the instants of their completed visits, in order.
        first_department: the department of the first visit.
        first_conditions: the conditions diagnosed at the first visit.
        departments: every department of a visit or a paid charge.
        spend: out-of-pocket money: (instant, fen) of each charge, refunds negative.
        fees: plan money: (instant, fen) of each payment, refunds negative.
        sales: the plan payments with their staff.
        member_since: the first payment of a plan.
        family_since: the first payment of a family plan.
        tier_changes: (instant, tier) of each change, in order; ``first_tier`` before.
        first_tier: the tier before the first change (the current one if none).
        tier: the tier now.
        segment: the value segment now.
        in_force: plans in force now.
        terms_ended: subscriptions whose first term has ended.
        renewed: of those, the ones renewed.
        earned: points earned; ``redeemed``, ``expired`` and ``balance`` likewise.
        redeemed_value_fen: the market value of the gifts redeemed.
        redeemed_points: the points those gifts cost.
    """

    member_id: str
    source: str | None = None
    referred_by: str | None = None
    referrals: int = 0
    visits: tuple[datetime, ...] = ()
    first_department: str | None = None
    first_conditions: tuple[str, ...] = ()
    departments: frozenset[str] = frozenset()
    spend: tuple[tuple[datetime, int], ...] = ()
    fees: tuple[tuple[datetime, int], ...] = ()
    sales: tuple[Sale, ...] = ()
    member_since: datetime | None = None
    family_since: datetime | None = None
    tier_changes: tuple[tuple[datetime, str], ...] = ()
    first_tier: str = ""
    tier: str = ""
    segment: str | None = None
    in_force: tuple[str, ...] = ()
    terms_ended: int = 0
    renewed: int = 0
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    balance: int = 0
    redeemed_value_fen: int = 0
    redeemed_points: int = 0

    @property
    def first_visit(self) -> datetime | None:
        """The first completed visit, if any."""
        return self.visits[0] if self.visits else None

    def revenue(self) -> Iterable[tuple[datetime, int]]:
        """Everything the patient paid, refunds negative: out of pocket and for plans."""
        yield from self.spend
        yield from self.fees


@attrs.define
class _Reading:
    """What the journal says, gathered before it is reduced to a story."""

    source: str | None = None
    source_at: datetime | None = None
    referred_by: str | None = None
    referrals: int = 0
    visits: dict[str, VisitNoted] = attrs.field(factory=dict)
    diagnoses: list[DiagnosisNoted] = attrs.field(factory=list)
    departments: set[str] = attrs.field(factory=set)
    charges: dict[str, ChargeNoted] = attrs.field(factory=dict)
    refunds: dict[str, RefundNoted] = attrs.field(factory=dict)
    fees: list[tuple[datetime, int]] = attrs.field(factory=list)
    sales: list[Sale] = attrs.field(factory=list)
    staff: dict[str, str | None] = attrs.field(factory=dict)
    member_since: datetime | None = None
    family_since: datetime | None = None
    tier_changes: list[tiers.TierChanged] = attrs.field(factory=list)
    redeemed_value_fen: int = 0
    redeemed_points: int = 0


def story_of(
    member: Member, journal: Iterable[StoredEvent], config: ProgrammeConfig, now: datetime
) -> Story:
    """The story of ``member`` at ``now`` from their record and their whole ``journal``."""
    kinds = {plan.key: plan.kind for plan in config.plans.plans}
    reading = _Reading()
    for stored in journal:
        if stored.type in READ_TYPES:
            _read(reading, message_from_stored(stored.payload), kinds)
        elif stored.type == Posting.TYPE and REFERRAL_RULE in stored.payload:
            posting = message_from_stored(stored.payload)
            reading.referrals += _referral(posting)
    return _story(member, reading, config, now)


def _referral(posting: object) -> bool:
    return (
        isinstance(posting, Posting)
        and posting.kind is PostingKind.EARN
        and posting.provenance.rule_id == REFERRAL_RULE
    )


def _read(reading: _Reading, event: object, kinds: Mapping[str, str]) -> None:
    if isinstance(event, VisitNoted):
        reading.visits[event.fact_id] = event
        reading.departments.add(event.department)
    elif isinstance(event, ChargeNoted):
        reading.charges[event.fact_id] = event
        reading.departments.update(event.departments)
    elif isinstance(event, RefundNoted):
        reading.refunds[event.fact_id] = event
    elif isinstance(event, DiagnosisNoted):
        reading.diagnoses.append(event)
    elif isinstance(event, RegistrationNoted):
        _registration(reading, event)
    elif isinstance(event, tiers.TierChanged):
        reading.tier_changes.append(event)
    elif isinstance(event, ReferralCredited):
        reading.referred_by = reading.referred_by or event.referrer_id
    elif isinstance(event, RewardRedeemed):
        reading.redeemed_value_fen += event.value_fen
        reading.redeemed_points += event.points
    else:
        _plan(reading, event, kinds)


def _registration(reading: _Reading, event: RegistrationNoted) -> None:
    if event.source is None:
        return
    if reading.source_at is None or event.at < reading.source_at:
        reading.source, reading.source_at = event.source, event.at


def _plan(reading: _Reading, event: object, kinds: Mapping[str, str]) -> None:
    if isinstance(event, SubscriptionRequested):
        reading.staff.setdefault(event.subscription_id, event.attributed_to)
    elif isinstance(event, SubscriptionActivated | SubscriptionRenewed):
        renewal = isinstance(event, SubscriptionRenewed)
        staff = reading.staff.get(event.subscription_id)
        reading.fees.append((event.at, event.paid_fen))
        reading.sales.append(Sale(staff=staff, at=event.at, fen=event.paid_fen, renewal=renewal))
        if not renewal:
            reading.member_since = _earliest(reading.member_since, event.at)
            if kinds.get(event.plan_key) == "family":
                reading.family_since = _earliest(reading.family_since, event.at)
    elif isinstance(event, SubscriptionCancelled) and event.refund_fen:
        reading.fees.append((event.at, -event.refund_fen))


def _earliest(held: datetime | None, at: datetime) -> datetime:
    return at if held is None or at < held else held


def _story(member: Member, reading: _Reading, config: ProgrammeConfig, now: datetime) -> Story:
    visits = sorted(reading.visits.values(), key=lambda noted: (noted.at, noted.fact_id))
    first = visits[0] if visits else None
    at_first = [d for d in reading.diagnoses if first and d.visit_id == first.visit_id]
    conditions = sorted({condition for d in at_first for condition in d.conditions})
    changes = sorted(reading.tier_changes, key=lambda change: change.at)
    tier = tiers.tier_of(member.tier, config)
    ended = [h for h in member.plans.subscriptions.values() if h.terms and h.terms[0].end <= now]
    totals = member.ledger.totals
    return Story(
        member_id=member.member_id,
        source=reading.source,
        referred_by=reading.referred_by,
        referrals=reading.referrals,
        visits=tuple(noted.at for noted in visits),
        first_department=first.department if first else None,
        first_conditions=tuple(conditions),
        departments=frozenset(reading.departments),
        spend=_spend(reading),
        fees=tuple(sorted(reading.fees)),
        sales=tuple(sorted(reading.sales, key=lambda sale: sale.at)),
        member_since=reading.member_since,
        family_since=reading.family_since,
        tier_changes=tuple((change.at, change.to_tier) for change in changes),
        first_tier=changes[0].from_tier if changes else tier,
        tier=tier,
        segment=member.profile.segment,
        in_force=tuple(sorted(plans.active_plans(member.plans, now))),
        terms_ended=len(ended),
        renewed=sum(len(h.terms) > 1 for h in ended),
        earned=totals.earned,
        redeemed=totals.redeemed,
        expired=totals.expired,
        balance=member.ledger.balance,
        redeemed_value_fen=reading.redeemed_value_fen,
        redeemed_points=reading.redeemed_points,
    )


def _spend(reading: _Reading) -> tuple[tuple[datetime, int], ...]:
    paid = [(noted.at, noted.self_paid_fen) for noted in reading.charges.values()]
    refunded = [(noted.at, -noted.amount_fen) for noted in reading.refunds.values()]
    return tuple(sorted(paid + refunded))
