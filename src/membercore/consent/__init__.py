"""Consent (PIPL): separate, explicit consent per purpose and channel.

Health data is sensitive personal information: the programme may reach a member only for
a purpose (``care`` reminders, ``marketing`` offers, ``research``) and by a channel
(WeCom, SMS, e-mail, phone) they have agreed to. A member under 14 consents through a
guardian. A withdrawal takes effect at once. Every grant and withdrawal is an event, so
the member's consent history is the audit trail.

Decider style: :func:`decide` turns a consent command into events, :func:`evolve`
applies them; :func:`allows` answers whether a purpose and channel may be used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware, require_aware
from membercore.errors import GuardianConsentRequiredError, InvalidFactError, MemberMismatchError
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers
from membercore.messages import CHANNELS, PURPOSES, Channel, Purpose

__all__ = [
    "CHANNELS",
    "GUARDIAN_AGE",
    "MESSAGE_TYPES",
    "PURPOSES",
    "Channel",
    "ConsentCommand",
    "ConsentEvent",
    "ConsentGranted",
    "ConsentState",
    "ConsentWithdrawn",
    "GrantConsent",
    "Purpose",
    "WithdrawConsent",
    "allows",
    "channels_for",
    "decide",
    "decide_merge",
    "evolve",
    "replay",
]

#: Under this age a member's consent is given by a guardian (PIPL art. 31).
GUARDIAN_AGE = 14


def _channels(instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    unknown = [channel for channel in value if channel not in CHANNELS]
    if unknown or len(set(value)) != len(value):
        raise InvalidFactError(instance.TYPE, attribute.name, value, f"channels are {CHANNELS}")


def _purpose(instance: Any, attribute: Any, value: str) -> None:
    if value not in PURPOSES:
        raise InvalidFactError(instance.TYPE, attribute.name, value, f"purposes are {PURPOSES}")


# --- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GrantConsent:
    """The member (or their guardian) agrees to be reached for a purpose by channels.

    Attributes:
        key: idempotency key.
        member_id: the member.
        purpose: care, marketing or research.
        channels: the channels agreed to.
        given_by: who gave it: the member, or their guardian's member id.
        source: where it was given (``app``, ``paper form``, ``front desk``...).
    """

    TYPE: ClassVar[str] = "grant_consent"

    key: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    purpose: Purpose = attrs.field(validator=_purpose)
    channels: tuple[Channel, ...] = attrs.field(validator=_channels)
    given_by: str = attrs.field(validator=non_empty)
    source: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class WithdrawConsent:
    """The member withdraws consent for a purpose, on some channels or all of them.

    Attributes:
        key: idempotency key.
        member_id: the member.
        purpose: the purpose.
        channels: the channels withdrawn; empty means every channel.
        reason: why, when known.
    """

    TYPE: ClassVar[str] = "withdraw_consent"

    key: str = attrs.field(validator=non_empty)
    member_id: str = attrs.field(validator=non_empty)
    purpose: Purpose = attrs.field(validator=_purpose)
    channels: tuple[Channel, ...] = attrs.field(default=(), validator=_channels)
    reason: str | None = None


ConsentCommand = GrantConsent | WithdrawConsent


# --- events ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsentGranted:
    """Consent was given for a purpose on channels."""

    TYPE: ClassVar[str] = "consent_granted"

    member_id: str
    purpose: Purpose
    channels: tuple[Channel, ...]
    given_by: str
    by_guardian: bool
    source: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class ConsentWithdrawn:
    """Consent was withdrawn for a purpose on channels (by the member, or by a merge)."""

    TYPE: ClassVar[str] = "consent_withdrawn"

    member_id: str
    purpose: Purpose
    channels: tuple[Channel, ...]
    reason: str | None
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    key: str
    fingerprint: str


ConsentEvent = ConsentGranted | ConsentWithdrawn

#: Every consent message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    GrantConsent,
    WithdrawConsent,
    ConsentGranted,
    ConsentWithdrawn,
)


# --- state ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConsentState:
    """A member's consents.

    Attributes:
        member_id: the member.
        granted: by purpose, the channels currently agreed to.
        keys: idempotency keys with their fingerprints.
    """

    member_id: str
    granted: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    keys: Mapping[str, str] = attrs.field(factory=dict)


def evolve(state: ConsentState, event: ConsentEvent) -> ConsentState:
    """Apply one consent event.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    held = state.granted.get(event.purpose, frozenset())
    if isinstance(event, ConsentGranted):
        held = held | set(event.channels)
    else:
        held = held - set(event.channels)
    return ConsentState(
        member_id=state.member_id,
        granted={**state.granted, event.purpose: held},
        keys={**state.keys, event.key: event.fingerprint},
    )


def replay(member_id: str, events: Iterable[ConsentEvent]) -> ConsentState:
    """Rebuild a member's consents from their consent events."""
    state = ConsentState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def allows(state: ConsentState, purpose: Purpose, channel: Channel) -> bool:
    """Whether the member may be reached for ``purpose`` by ``channel`` now."""
    return channel in state.granted.get(purpose, frozenset())


def channels_for(state: ConsentState, purpose: Purpose) -> tuple[Channel, ...]:
    """The channels agreed to for a purpose, in the order of :data:`CHANNELS`."""
    held = state.granted.get(purpose, frozenset())
    return tuple(channel for channel in CHANNELS if channel in held)


# --- decide ---------------------------------------------------------------------------


def decide(
    command: ConsentCommand,
    state: ConsentState,
    now: datetime,
    *,
    age: int | None = None,
    guardians: Iterable[str] = (),
) -> list[ConsentEvent]:
    """The events a consent command makes.

    Args:
        command: the grant or withdrawal.
        state: the member's consents.
        now: the instant of the decision.
        age: the member's age in full years, when known (from the household).
        guardians: who may consent for the member (the household's adults).

    Raises:
        GuardianConsentRequiredError: a member under 14 consenting without a guardian.
        IdempotencyConflictError: a key reused for another command.
    """
    now = require_aware("now", now)
    if command.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    if isinstance(command, WithdrawConsent):
        channels = command.channels or CHANNELS
        return [
            ConsentWithdrawn(
                member_id=state.member_id,
                purpose=command.purpose,
                channels=channels,
                reason=command.reason,
                at=now,
                key=command.key,
                fingerprint=digest,
            )
        ]
    by_guardian = command.given_by != command.member_id
    minor = age is not None and age < GUARDIAN_AGE
    if (minor and not by_guardian) or (by_guardian and command.given_by not in set(guardians)):
        raise GuardianConsentRequiredError(command.member_id, command.given_by, age)
    return [
        ConsentGranted(
            member_id=state.member_id,
            purpose=command.purpose,
            channels=command.channels,
            given_by=command.given_by,
            by_guardian=by_guardian,
            source=command.source,
            at=now,
            key=command.key,
            fingerprint=digest,
        )
    ]


def decide_merge(
    command: MergeMembers, survivor: ConsentState, duplicate: ConsentState, now: datetime
) -> list[ConsentEvent]:
    """The stricter consent of two records of one person wins.

    The survivor keeps a purpose and channel only if the duplicate had agreed to it too;
    what the duplicate had not agreed to (or had withdrawn) is withdrawn on the survivor,
    with the merge as the reason.
    """
    now = require_aware("now", now)
    if (survivor.member_id, duplicate.member_id) != (command.member_id, command.duplicate_id):
        raise MemberMismatchError(survivor.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(survivor.keys, command.key, command, owner=survivor.member_id):
        return []
    events: list[ConsentEvent] = []
    for purpose in PURPOSES:
        theirs = duplicate.granted.get(purpose, frozenset())
        lost = tuple(c for c in channels_for(survivor, purpose) if c not in theirs)
        if lost:
            events.append(
                ConsentWithdrawn(
                    member_id=survivor.member_id,
                    purpose=purpose,
                    channels=lost,
                    reason=f"merged with record {duplicate.member_id}, which had not agreed",
                    at=now,
                    key=command.key,
                    fingerprint=digest,
                )
            )
    return events
