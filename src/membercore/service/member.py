"""A member's whole record: the state of every part of the programme about one patient.

The engine stores one :class:`Member` per patient (a snapshot) beside the events that
made it. :func:`evolve` routes each event to the part that owns it, so that replaying a
member's journal rebuilds the record; :func:`next_due` tells when the record next needs
a tick (a journey timer, a plan's term end, points to expire, a tier review).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, get_args

import attrs

from membercore import (
    benefits,
    consent,
    households,
    identity,
    journeys,
    ledger,
    outreach,
    plans,
    rewards,
    segments,
    tiers,
)
from membercore.config import ProgrammeConfig
from membercore.converters import OMIT_AT_DEFAULT
from membercore.experiments import assignment as experiments
from membercore.facts.identity import CONTACT_FIELDS
from membercore.ledger.events import Posting
from membercore.plans.records import SubscriptionStatus
from membercore.staff import offers, programmes, tasks

__all__ = [
    "EVENT_TYPES",
    "INSTANT_FIELDS",
    "Member",
    "birth_date",
    "clock_after",
    "contact",
    "due_parts",
    "evolve",
    "evolve_all",
    "new_member",
    "next_due",
    "profile_at",
    "profile_due",
    "replay",
    "standing",
    "tier_at",
    "timers_due",
]


@attrs.frozen(kw_only=True)
class Member:
    """Everything the programme holds about one patient.

    Attributes:
        member_id: the patient's id.
        ledger: points.
        tier: the tier ladder.
        plans: paid subscriptions.
        quotas: own free-use quota uses.
        rewards: gifts redeemed.
        consent: consents per purpose and channel.
        profile: tags and value segment.
        journeys: journeys under way.
        outreach: messages decided.
        work: staff tasks and the health manager.
        offers: offers made.
        programmes: disease programmes enrolled in.
        household_id: the household the patient belongs to, if any.
        identity: the command keys the record took, and the record it was merged into.
        experiments: the experiments the member was assigned in, and the variants;
            written only when there is one.
        as_of: the latest instant the record's events are dated at: the record's clock.
            Nothing is decided on it at an earlier instant (a fact reported late is
            decided now, counting from when it happened). Kept in the snapshot and
            rebuilt by replaying the journal; a record an earlier release stored takes
            it from its whole journal when it is loaded. Events from outside the
            pipeline (keys taken, the household, a hand-over) do not move it.
    """

    member_id: str
    ledger: ledger.LedgerState
    tier: tiers.TierState
    plans: plans.PlansState
    quotas: benefits.QuotaState
    rewards: rewards.RewardHistory
    consent: consent.ConsentState
    profile: segments.ProfileState
    journeys: journeys.JourneysState
    outreach: outreach.OutreachState
    work: tasks.WorkState
    offers: offers.OffersState
    programmes: programmes.ProgrammesState
    household_id: str | None = None
    identity: identity.IdentityState = attrs.field(factory=identity.IdentityState)
    experiments: experiments.ExperimentsState = attrs.field(
        factory=experiments.ExperimentsState, metadata={OMIT_AT_DEFAULT: True}
    )
    as_of: datetime | None = attrs.field(default=None, eq=False)


def new_member(member_id: str) -> Member:
    """An empty record for ``member_id``."""
    return Member(
        member_id=member_id,
        ledger=ledger.LedgerState(member_id=member_id),
        tier=tiers.TierState(member_id=member_id),
        plans=plans.PlansState(member_id=member_id),
        quotas=benefits.QuotaState(holder_id=member_id),
        rewards=rewards.RewardHistory(member_id=member_id),
        consent=consent.ConsentState(member_id=member_id),
        profile=segments.ProfileState(member_id=member_id),
        journeys=journeys.JourneysState(member_id=member_id),
        outreach=outreach.OutreachState(member_id=member_id),
        work=tasks.WorkState(member_id=member_id),
        offers=offers.OffersState(member_id=member_id),
        programmes=programmes.ProgrammesState(member_id=member_id),
    )


def _parts() -> dict[type[Any], tuple[str, Callable[[Any, Any], Any]]]:
    owners: list[tuple[str, Callable[[Any, Any], Any], Iterable[type[Any]]]] = [
        ("ledger", ledger.evolve, (Posting,)),
        ("tier", tiers.evolve, get_args(tiers.TierEvent)),
        ("plans", plans.evolve, plans.PLAN_EVENT_TYPES),
        ("quotas", benefits.evolve, benefits.QUOTA_EVENT_TYPES),
        ("rewards", rewards.evolve_history, get_args(rewards.RewardEvent)),
        ("rewards", rewards.evolve_history, get_args(rewards.HistoryMergeEvent)),
        ("consent", consent.evolve, get_args(consent.ConsentEvent)),
        ("profile", segments.evolve, get_args(segments.ProfileEvent)),
        ("journeys", journeys.evolve, get_args(journeys.JourneyEvent)),
        ("outreach", outreach.evolve, get_args(outreach.OutreachEvent)),
        ("work", tasks.evolve, get_args(tasks.WorkEvent)),
        ("offers", offers.evolve, get_args(offers.OfferEvent)),
        ("programmes", programmes.evolve, (programmes.Enrolled, programmes.Left)),
        ("identity", identity.evolve, get_args(identity.IdentityEvent)),
        ("experiments", experiments.evolve, experiments.MESSAGE_TYPES),
    ]
    owners.append(("household_id", _household, get_args(households.HouseholdEvent)))
    return {kind: (field, fn) for field, fn, kinds in owners for kind in kinds}


def _household(current: str | None, event: households.HouseholdEvent) -> str | None:
    # The engine applies a household's event to the records of the members it concerns.
    if isinstance(event, households.DependentRemoved):
        return None if current == event.household_id else current
    return event.household_id


_OWNERS = _parts()

#: Every event type a member's journal holds.
EVENT_TYPES: tuple[type[Any], ...] = tuple(_OWNERS)


def evolve(member: Member, event: object) -> Member:
    """Apply one event to the part that owns it.

    Raises:
        TypeError: ``event`` is not an event of a member's record.
    """
    return evolve_all(member, (event,))


_FIELDS = tuple(field.name for field in attrs.fields(Member))

#: The fields that date an event: its instant, or its decision's (the first present is
#: the instant the store files it under; the latest of them moves the record's clock).
INSTANT_FIELDS = ("at", "decided_at", "recorded_at", "cancelled_at")


def _off_clock() -> tuple[type[Any], ...]:
    """Events about the record that no decision of its parts made: they move no clock.

    The keys it took, its household, a message handed over to its channel: these come
    from outside the pipeline, which has not stepped the record's time up to them.
    """
    return (
        identity.CommandTaken,
        *get_args(households.HouseholdEvent),
        outreach.MessageHandedOver,
        outreach.MessageDeliveryFailed,
    )


_OFF_CLOCK = _off_clock()


def clock_after(clock: datetime | None, events: Iterable[object]) -> datetime | None:
    """The record's clock after ``events``: the latest instant a decision dated one at."""
    for event in events:
        if isinstance(event, _OFF_CLOCK):
            continue
        for name in INSTANT_FIELDS:
            at = getattr(event, name, None)
            if isinstance(at, datetime) and (clock is None or at > clock):
                clock = at
    return clock


def evolve_all(member: Member, events: Iterable[object]) -> Member:
    """Apply events in order, building the new record once.

    Raises:
        TypeError: an event is not an event of a member's record.
    """
    changed: dict[str, Any] = {}
    applied = []
    for event in events:
        owner = _OWNERS.get(type(event))
        if owner is None:
            raise TypeError(f"{type(event).__name__} is not an event of a member's record")
        field, apply = owner
        held = changed[field] if field in changed else getattr(member, field)
        changed[field] = apply(held, event)
        applied.append(event)
    if not changed:
        return member
    changed["as_of"] = clock_after(member.as_of, applied)
    values = {name: getattr(member, name) for name in _FIELDS}
    values.update(changed)
    return Member(**values)


def replay(member_id: str, events: Iterable[object]) -> Member:
    """The record the events make, from an empty one."""
    return evolve_all(new_member(member_id), events)


_PLAN_CLOCKS = {
    SubscriptionStatus.PENDING_PAYMENT: "pay_by",
    SubscriptionStatus.ACTIVE: "term_end",
    SubscriptionStatus.GRACE: "grace_ends_at",
}


def next_due(
    member: Member, config: ProgrammeConfig, *, after: datetime | None = None
) -> datetime | None:
    """The earliest instant something happens to the member by itself, if any.

    Journey timers, a subscription's payment window, term end or grace end, the first
    instant points may expire, the tier review falling due (its date plus the grace)
    and the end of a staff override of the tier.

    Args:
        member: the record.
        config: the programme.
        after: leave out instants up to this one (after a tick by ``after``, what is
            still due by then would not change by ticking again).
    """
    if member.identity.died_at is not None:
        return None  # death is final: nothing falls due any more
    candidates: list[datetime | None] = [
        timer.due_at for instance in journeys.active(member.journeys) for timer in instance.timers
    ]
    for held in member.plans.subscriptions.values():
        clock = _PLAN_CLOCKS.get(held.status)
        if clock is not None:
            candidates.append(getattr(held, clock))
    candidates.append(_next_expiry(member.ledger, config, after))
    candidates.append(tiers.due_at(member.tier, config))
    candidates.append(profile_due(member, config, after))
    present = [at for at in candidates if at is not None and (after is None or at > after)]
    return min(present) if present else None


def profile_due(
    member: Member, config: ProgrammeConfig, after: datetime | None = None
) -> datetime | None:
    """When the member's tags, stage or segment next change by themselves.

    The profile was read on every decision up to the record's clock (:attr:`Member.as_of`).
    """
    settled = max((at for at in (after, member.as_of) if at is not None), default=None)
    return segments.next_change(member.profile, config.segments, config.tz, settled)


def due_parts(
    member: Member, config: ProgrammeConfig, now: datetime, *, since: datetime | None = None
) -> frozenset[str]:
    """Which parts have something due by ``now``.

    ``ledger``, ``plans``, ``tier``, ``journeys``, and ``profile`` when a window closed
    or an age was reached after ``since`` (by default the record's clock).
    """
    due = set()
    profile = profile_due(member, config, since)
    if profile is not None and profile <= now:
        due.add("profile")
    expiry = _next_expiry(member.ledger, config, None)
    if expiry is not None and expiry <= now:
        due.add("ledger")
    for held in member.plans.subscriptions.values():
        clock = _PLAN_CLOCKS.get(held.status)
        at = getattr(held, clock) if clock is not None else None
        if at is not None and at <= now:
            due.add("plans")
    tier_due = tiers.due_at(member.tier, config)
    if tier_due is not None and tier_due <= now:
        due.add("tier")
    if timers_due(member, now):
        due.add("journeys")
    return frozenset(due)


def timers_due(member: Member, now: datetime) -> bool:
    """Whether a journey timer of the member is due by ``now``."""
    return any(
        timer.due_at <= now
        for instance in journeys.active(member.journeys)
        for timer in instance.timers
    )


def _next_expiry(
    state: ledger.LedgerState, config: ProgrammeConfig, after: datetime | None
) -> datetime | None:
    bound = state.expiry_bound
    if config.ledger.expiry.mode != "inactivity" and (
        bound is None or after is None or bound > after
    ):
        return bound  # a lower bound: ticking early is harmless, and spares a scan
    instants = [
        at
        for held in state.lots.values()
        if held.remaining > 0 and (at := ledger.expiry_of(held, state, config)) is not None
    ]
    return min((at for at in instants if after is None or at > after), default=None)


def tier_at(member: Member, config: ProgrammeConfig, now: datetime) -> str:
    """The member's tier at ``now``: as stored, or settled again if time moved it.

    A review or an override's end that fell due since the last tick, or a plan floor
    that started or ended, changes the tier at its own instant; views and commands see
    the tier the member has now, not the one the last decision left.
    """
    floor = plans.tier_floor(member.plans, config, now)
    state = member.tier
    if tiers.behind(state, config, now, floor):
        for event in tiers.decide(None, state, member.ledger, config, now, floor=floor):
            state = tiers.evolve(state, event)
    return tiers.tier_of(state, config)


def profile_at(member: Member, config: ProgrammeConfig, now: datetime) -> segments.ProfileState:
    """The member's profile at ``now``: as stored, or read again if a window closed since.

    Views see the tags and segment the member has now, not the ones the last decision
    left (a tick reads the profile again on the same days).
    """
    due = profile_due(member, config)
    state = member.profile
    if due is None or due > now:
        return state
    refresh = segments.RefreshProfile(member_id=member.member_id)
    for event in segments.decide(refresh, state, config, now):
        state = segments.evolve(state, event)
    return state


def standing(
    member: Member,
    config: ProgrammeConfig,
    now: datetime,
    *,
    relatives: Iterable[Member] = (),
) -> benefits.Standing:
    """What the member holds at ``now`` for benefits: tier, plans with their terms, household.

    The one place a standing is built: views (entitlements, quotes) and commands (quota
    reservations) see the same one.

    Args:
        member: the record.
        config: the programme.
        now: the instant.
        relatives: the records of the member's household: a relative's family plan in
            force that covers the member counts as the member's plan (with its term).
    """
    held = [(s, s.plan_key) for s in plans.in_force(member.plans, now)]
    for relative in relatives:
        if relative.member_id == member.member_id:
            continue
        held += [
            (s, s.plan_key)
            for s in plans.in_force(relative.plans, now)
            if member.member_id in s.dependents
        ]
    terms = {
        plan_key: (term.start, term.end)
        for subscription, plan_key in held
        for term in subscription.terms
        if term.start <= now < term.end
    }
    programmes = set(plans.programmes(member.plans, config, now)) | member.programmes.programmes
    return benefits.Standing(
        member_id=member.member_id,
        tier=tier_at(member, config, now),
        plans=tuple(sorted({plan_key for _, plan_key in held})),
        programmes=tuple(sorted(programmes)),
        household_id=member.household_id,
        plan_terms=terms,
    )


def birth_date(member: Member) -> date | None:
    """The birth date the member's registrations give, the latest one first."""
    for noted in reversed(list(member.profile.registrations.values())):
        if noted.birth_date is not None:
            return noted.birth_date
    return None


def contact(member: Member, channel: str) -> str | None:
    """The member's address on ``channel`` their registrations give, the latest one first.

    ``sms`` and ``phone``: their mobile number; ``email``: their e-mail address;
    ``wecom``: their WeCom external contact id.
    """
    field = CONTACT_FIELDS.get(channel)
    if field is None:
        return None
    for noted in reversed(list(member.profile.registrations.values())):
        address: str | None = getattr(noted, field, None)
        if address:
            return address
    return None
