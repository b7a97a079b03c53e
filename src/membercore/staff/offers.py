"""Offers: a paid plan offered to a member, with a code and an expiry.

Journeys make offers with the ``make_offer`` action (the annual plan after a first visit
or a discharge, the family steward to an engaged annual member); :func:`offer_from_action`
turns the action into a :class:`MakeOffer`. The code is derived from the action's key,
so the same offer made twice is one offer with one code; a redemption names the code and
the subscription it paid for, before the offer expires, once. No offer is made of a plan
the member holds already, in force or awaiting payment: :class:`OfferWithheld` records
that, and why. An offer whose making was withdrawn (the discharge behind it sent in
error) is :class:`OfferWithdrawn`: it can no longer be redeemed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty, positive
from membercore.config import ProgrammeConfig
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware, require_aware
from membercore.errors import MemberMismatchError, OfferNotValidError, UnknownPlanError
from membercore.idempotency import fingerprint, replayed
from membercore.journeys import JourneyActionIssued
from membercore.messages import Command, MemberEvent
from membercore.plans import OPEN, PlansState, SubscriptionState, status_at

__all__ = [
    "MESSAGE_TYPES",
    "MakeOffer",
    "Offer",
    "OfferEvent",
    "OfferMade",
    "OfferRedeemed",
    "OfferWithdrawn",
    "OfferWithheld",
    "OffersState",
    "RedeemOffer",
    "decide",
    "evolve",
    "offer_from_action",
    "open_offers",
    "replay",
    "withdraw_made_by",
]


@attrs.frozen(kw_only=True)
class MakeOffer(Command):
    """Offer a paid plan to a member for ``valid_days``."""

    TYPE: ClassVar[str] = "make_offer"

    plan_key: str = attrs.field(validator=non_empty)
    valid_days: int = attrs.field(validator=positive)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class RedeemOffer(Command):
    """The member took up an offer with the subscription it paid for."""

    TYPE: ClassVar[str] = "redeem_offer"

    code: str = attrs.field(validator=non_empty)
    subscription_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class OfferMade(MemberEvent):
    """An offer was made."""

    TYPE: ClassVar[str] = "offer_made"

    code: str
    plan_key: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    expires_at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class OfferRedeemed(MemberEvent):
    """An offer was taken up."""

    TYPE: ClassVar[str] = "offer_redeemed"

    code: str
    subscription_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class OfferWithheld(MemberEvent):
    """An offer was asked for and not made: the member holds the plan already.

    Attributes:
        plan_key: the plan the offer was of.
        reason: why the offer was asked for (the journey step's explanation).
        explanation: why it was not made (``已持有该计划: ...``, naming the subscription).
    """

    TYPE: ClassVar[str] = "offer_withheld"

    plan_key: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    explanation: str
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class OfferWithdrawn(MemberEvent):
    """An open offer was withdrawn: what made it was withdrawn (a discharge sent in error).

    Attributes:
        code: the offer.
        reason: why (the retraction).
    """

    TYPE: ClassVar[str] = "offer_withdrawn"

    code: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    key: str
    fingerprint: str


#: Every offer message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    MakeOffer,
    RedeemOffer,
    OfferMade,
    OfferRedeemed,
    OfferWithheld,
    OfferWithdrawn,
)

#: Every offer event.
OfferEvent = OfferMade | OfferRedeemed | OfferWithheld | OfferWithdrawn


@attrs.frozen(kw_only=True)
class Offer:
    """One offer and what became of it."""

    code: str
    plan_key: str
    made_at: datetime
    expires_at: datetime
    reason: str
    redeemed_by: str | None = None
    withdrawn: str | None = attrs.field(default=None, metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class OffersState:
    """The offers made to one member."""

    member_id: str
    offers: Mapping[str, Offer] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)


def evolve(state: OffersState, event: OfferEvent) -> OffersState:
    """Apply one offer event."""
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    keys = {**state.keys, event.key: event.fingerprint}
    if isinstance(event, OfferWithheld):
        return attrs.evolve(state, keys=keys)
    if isinstance(event, OfferWithdrawn):
        withdrawn = attrs.evolve(state.offers[event.code], withdrawn=event.reason)
        return attrs.evolve(state, offers={**state.offers, event.code: withdrawn}, keys=keys)
    if isinstance(event, OfferMade):
        offer = Offer(
            code=event.code,
            plan_key=event.plan_key,
            made_at=event.at,
            expires_at=event.expires_at,
            reason=event.reason,
        )
    else:
        offer = attrs.evolve(state.offers[event.code], redeemed_by=event.subscription_id)
    return attrs.evolve(state, offers={**state.offers, offer.code: offer}, keys=keys)


def replay(member_id: str, events: Iterable[OfferEvent]) -> OffersState:
    """Rebuild a member's offers from their events."""
    state = OffersState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def decide(
    command: MakeOffer | RedeemOffer,
    state: OffersState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    plans: PlansState | None = None,
) -> list[OfferEvent]:
    """The events an offer command makes.

    Args:
        command: the command.
        state: the member's offers.
        config: the programme (its plans).
        now: the instant of the decision.
        plans: the member's subscriptions: no offer is made of a plan one of them holds
            at ``now``, in force or awaiting its first payment (:class:`OfferWithheld`).

    Raises:
        UnknownPlanError: the offer names a plan the programme does not sell.
        OfferNotValidError: a redemption of an unknown, expired or used code.
    """
    now = require_aware("now", now)
    if command.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    if isinstance(command, MakeOffer):
        if config.plans.plan(command.plan_key) is None:
            raise UnknownPlanError(state.member_id, command.plan_key)
        held = _holding(plans, command.plan_key, now)
        if held is not None:
            return [_withheld(command, held, now, digest)]
        return [
            OfferMade(
                member_id=state.member_id,
                code=_code(command.key),
                plan_key=command.plan_key,
                at=now,
                expires_at=now + timedelta(days=command.valid_days),
                reason=command.reason,
                key=command.key,
                fingerprint=digest,
            )
        ]
    offer = state.offers.get(command.code)
    problem = None
    if offer is None:
        problem = "unknown code"
    elif offer.redeemed_by is not None:
        problem = f"already used for {offer.redeemed_by}"
    elif offer.withdrawn is not None:
        problem = f"withdrawn: {offer.withdrawn}"
    elif offer.expires_at <= now:
        problem = f"expired at {offer.expires_at.isoformat()}"
    if problem is not None:
        raise OfferNotValidError(state.member_id, command.code, problem)
    return [
        OfferRedeemed(
            member_id=state.member_id,
            code=command.code,
            subscription_id=command.subscription_id,
            at=now,
            key=command.key,
            fingerprint=digest,
        )
    ]


def _holding(plans: PlansState | None, plan_key: str, now: datetime) -> SubscriptionState | None:
    """The member's subscription to ``plan_key`` still open at ``now``, if any."""
    subscriptions = plans.subscriptions.values() if plans is not None else ()
    return next(
        (s for s in subscriptions if s.plan_key == plan_key and status_at(s, now) in OPEN),
        None,
    )


def _withheld(
    command: MakeOffer, held: SubscriptionState, now: datetime, digest: str
) -> OfferWithheld:
    status = status_at(held, now).value
    return OfferWithheld(
        member_id=command.member_id,
        plan_key=command.plan_key,
        at=now,
        reason=command.reason,
        explanation=(
            f"已持有该计划: the member holds {command.plan_key} already "
            f"(subscription {held.subscription_id}, {status})"
        ),
        key=command.key,
        fingerprint=digest,
    )


def _code(key: str) -> str:
    # Derived from the action's key: the same offer asked for twice has one code.
    return hashlib.blake2b(key.encode(), digest_size=5).hexdigest().upper()


def open_offers(state: OffersState, now: datetime) -> tuple[Offer, ...]:
    """Offers not yet taken up and not expired."""
    return tuple(
        offer
        for offer in state.offers.values()
        if offer.redeemed_by is None and offer.withdrawn is None and offer.expires_at > now
    )


def withdraw_made_by(
    state: OffersState, instance_id: str, now: datetime, why: str, key: str, digest: str
) -> list[OfferWithdrawn]:
    """Withdraw the open offers the steps of a journey instance made."""
    named = f":{instance_id}:"
    made = [_code(asked) for asked in state.keys if named in asked]
    return [
        OfferWithdrawn(
            member_id=state.member_id,
            code=offer.code,
            at=now,
            reason=why,
            key=f"{key}/withdraw/{offer.code}",
            fingerprint=digest,
        )
        for offer in open_offers(state, now)
        if offer.code in made
    ]


def offer_from_action(action: JourneyActionIssued) -> MakeOffer:
    """The offer a journey's ``make_offer`` action asks for, keyed by the action's key."""
    params = action.action.params
    return MakeOffer(
        key=action.key,
        member_id=action.member_id,
        plan_key=str(params["plan"]),
        valid_days=int(params["valid_days"]),
        reason=action.explanation,
    )
