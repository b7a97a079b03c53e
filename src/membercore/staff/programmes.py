"""Disease programmes (专病管理) a member is enrolled in: diabetes, pelvic floor...

Journeys enrol members with the ``enrol`` action (:func:`enrolment_from_action`); paid
disease plans enrol their subscribers too (:func:`membercore.plans.programmes`). The
programmes a member is in grant the packages attached to them (see
:mod:`membercore.benefits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.checks import non_empty
from membercore.dates import as_utc, aware, require_aware
from membercore.errors import MemberMismatchError
from membercore.idempotency import fingerprint, replayed
from membercore.journeys import JourneyActionIssued
from membercore.messages import Command, MemberEvent

__all__ = [
    "MESSAGE_TYPES",
    "Enrol",
    "Enrolled",
    "Leave",
    "Left",
    "ProgrammesState",
    "decide",
    "enrolment_from_action",
    "evolve",
    "replay",
]


@attrs.frozen(kw_only=True)
class Enrol(Command):
    """Enrol a member in a programme (nothing if they are in it)."""

    TYPE: ClassVar[str] = "enrol"

    programme: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class Leave(Command):
    """Take a member out of a programme (nothing if they are not in it)."""

    TYPE: ClassVar[str] = "leave_programme"

    programme: str = attrs.field(validator=non_empty)
    reason: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class Enrolled(MemberEvent):
    """A member joined a programme."""

    TYPE: ClassVar[str] = "programme_enrolled"

    programme: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class Left(MemberEvent):
    """A member left a programme."""

    TYPE: ClassVar[str] = "programme_left"

    programme: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    key: str
    fingerprint: str


#: Every programme message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (Enrol, Leave, Enrolled, Left)


@attrs.frozen(kw_only=True)
class ProgrammesState:
    """The programmes one member is in."""

    member_id: str
    programmes: frozenset[str] = frozenset()
    keys: Mapping[str, str] = attrs.field(factory=dict)


def evolve(state: ProgrammesState, event: Enrolled | Left) -> ProgrammesState:
    """Apply one programme event."""
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    programmes = (
        state.programmes | {event.programme}
        if isinstance(event, Enrolled)
        else state.programmes - {event.programme}
    )
    return ProgrammesState(
        member_id=state.member_id,
        programmes=programmes,
        keys={**state.keys, event.key: event.fingerprint},
    )


def replay(member_id: str, events: Iterable[Enrolled | Left]) -> ProgrammesState:
    """Rebuild a member's programmes from their events."""
    state = ProgrammesState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def decide(command: Enrol | Leave, state: ProgrammesState, now: datetime) -> list[Enrolled | Left]:
    """The events an enrolment or a leaving makes (none if nothing changes)."""
    now = require_aware("now", now)
    if command.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, command.member_id)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    inside = command.programme in state.programmes
    if isinstance(command, Enrol) == inside:
        return []
    event_type = Enrolled if isinstance(command, Enrol) else Left
    return [
        event_type(
            member_id=state.member_id,
            programme=command.programme,
            at=now,
            reason=command.reason,
            key=command.key,
            fingerprint=digest,
        )
    ]


def enrolment_from_action(action: JourneyActionIssued) -> Enrol:
    """The enrolment a journey's ``enrol`` action asks for, keyed by the action's key."""
    return Enrol(
        key=action.key,
        member_id=action.member_id,
        programme=str(action.action.params["programme"]),
        reason=action.explanation,
    )
