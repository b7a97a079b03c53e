"""Deciding consent: a grant or a withdrawal (a guardian's for a minor), and a merge."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from membercore.consent.messages import (
    ConsentCommand,
    ConsentEvent,
    ConsentGranted,
    ConsentWithdrawn,
    WithdrawConsent,
)
from membercore.consent.state import ConsentState, channels_for
from membercore.dates import require_aware
from membercore.errors import (
    GuardianConsentRequiredError,
    MemberMismatchError,
    OwnConsentRequiredError,
)
from membercore.idempotency import fingerprint, replayed
from membercore.identity import MergeMembers
from membercore.messages import CHANNELS, PURPOSES

__all__ = ["GUARDIAN_AGE", "decide", "decide_merge"]


#: Under this age a member's consent is given by a guardian (PIPL art. 31).
GUARDIAN_AGE = 14


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

    Only a minor's guardian consents for them, and a member known not to be a minor
    consents for themself only. A member whose age nobody knows may be a minor: a
    guardian of their household may consent for them, as may they themself.

    Raises:
        GuardianConsentRequiredError: a member under 14 consenting without a guardian,
            or someone not their guardian consenting for them.
        OwnConsentRequiredError: someone else consenting for a member 14 or older.
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
                operator=command.operator,
            )
        ]
    by_guardian = command.given_by != command.member_id
    minor = age is not None and age < GUARDIAN_AGE
    if by_guardian and age is not None and not minor:
        raise OwnConsentRequiredError(command.member_id, command.given_by, age)
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
            text_version=command.text_version,
            operator=command.operator,
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
