"""The journeys' events: every start, step, action, timer and end, with its explanation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.config.journeys import Call
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware
from membercore.messages import MemberEvent

__all__ = [
    "MESSAGE_TYPES",
    "JourneyActionIssued",
    "JourneyActionSkipped",
    "JourneyEnded",
    "JourneyEvent",
    "JourneyMoved",
    "JourneyReanchored",
    "JourneyStarted",
    "Timer",
    "TimerDropped",
]


@attrs.frozen(kw_only=True)
class Timer:
    """A timed step waiting to fire.

    Attributes:
        transition: the step's index in the journey's transitions.
        state: the state it was set in.
        due_at: when it fires.
    """

    transition: int
    state: str
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class JourneyStarted(MemberEvent):
    """A member entered a journey.

    Attributes:
        member_id: the member.
        instance_id: ``<member>/<journey>/<n>``.
        journey: the journey's key.
        version: its version.
        state: the initial state.
        at: when.
        trigger_type: the tag of the fact or event that started it.
        trigger_id: its id.
        timers: the timers of the initial state.
        anchors: the entry message's anchor fields (ISO 8601), for anchored timers.
        occasion: what the entry message is about, with its tag — its visit,
            appointment, charge or plan (``discharged:ZY-1``) — so that a retraction of
            it (a discharge cancelled) finds the journeys it started.
    """

    TYPE: ClassVar[str] = "journey_started"

    instance_id: str
    journey: str
    version: int
    state: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    trigger_type: str
    trigger_id: str
    timers: tuple[Timer, ...] = ()
    anchors: Mapping[str, str] = attrs.field(factory=dict)
    occasion: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class JourneyMoved(MemberEvent):
    """A journey took a step.

    Attributes:
        member_id: the member.
        instance_id: the instance.
        journey: the journey's key.
        version: its version.
        step: the step's name.
        source: the state left.
        target: the state entered.
        at: when (a timer's due instant for timed steps).
        trigger_type: the tag of the fact or event, or ``timer``.
        trigger_id: its id.
        explanation: which rule, on which facts.
        timers: the timers of the state entered.
    """

    TYPE: ClassVar[str] = "journey_moved"

    instance_id: str
    journey: str
    version: int
    step: str
    source: str
    target: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    trigger_type: str
    trigger_id: str
    explanation: str
    timers: tuple[Timer, ...] = ()


@attrs.frozen(kw_only=True)
class JourneyActionIssued(MemberEvent):
    """A step asked for an action (a message, a task, points, an offer...).

    Attributes:
        member_id: the member.
        instance_id: the instance.
        journey: the journey's key.
        step: the step (``entry`` for a journey's entry actions).
        action: the action and its parameters.
        key: deterministic: journey, instance, step, triggering fact, occurrence. A task
            created twice under one key is one task.
        at: when.
        explanation: which rule, on which facts.
    """

    TYPE: ClassVar[str] = "journey_action_issued"

    instance_id: str
    journey: str
    step: str
    action: Call
    key: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    explanation: str


@attrs.frozen(kw_only=True)
class JourneyActionSkipped(MemberEvent):
    """A message or task a step asked for was not given to anyone, and why.

    Attributes:
        key: the key of the :class:`JourneyActionIssued` it skips.
        action: the action and its parameters.
        at: the step's instant (the action's date).
        learnt_at: when the programme learnt of the step.
        reason: ``stale`` (learnt later than the step's ``stale_after``) or
            ``historical`` (dated before the cutoff of a history import).
        explanation: the same, in words.
    """

    TYPE: ClassVar[str] = "journey_action_skipped"

    instance_id: str
    journey: str
    step: str
    action: Call
    key: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    learnt_at: datetime = attrs.field(converter=as_utc, validator=aware)
    reason: str
    explanation: str


@attrs.frozen(kw_only=True)
class JourneyReanchored(MemberEvent):
    """A running journey's anchors changed: its anchored timers are set again.

    A registration update that gives a birth date, or a new one, moves the birthday
    greeting; timers that count from the state's entry stay as they were.

    Attributes:
        anchors: the anchors now (ISO 8601).
        timers: the state's timers now.
        trigger_id: the message that gave the new anchors.
    """

    TYPE: ClassVar[str] = "journey_reanchored"

    instance_id: str
    journey: str
    anchors: Mapping[str, str]
    timers: tuple[Timer, ...]
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    trigger_id: str


@attrs.frozen(kw_only=True)
class TimerDropped(MemberEvent):
    """A timer came due but its step's guards did not hold: nothing moved."""

    TYPE: ClassVar[str] = "journey_timer_dropped"

    instance_id: str
    journey: str
    timer: Timer
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    explanation: str


@attrs.frozen(kw_only=True)
class JourneyEnded(MemberEvent):
    """A journey ended.

    Attributes:
        reason: ``completed`` (a final state), ``exit:<tag>`` (an exit fact or event),
            ``consent_withdrawn`` (no channel left for its purpose), ``retracted:<tag>``
            (the fact that started it was withdrawn before anything went out).
    """

    TYPE: ClassVar[str] = "journey_ended"

    instance_id: str
    journey: str
    reason: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    trigger_id: str


JourneyEvent = (
    JourneyStarted
    | JourneyMoved
    | JourneyActionIssued
    | JourneyActionSkipped
    | JourneyReanchored
    | TimerDropped
    | JourneyEnded
)

#: Every journey event type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    JourneyStarted,
    JourneyMoved,
    JourneyActionIssued,
    JourneyActionSkipped,
    JourneyReanchored,
    TimerDropped,
    JourneyEnded,
)
