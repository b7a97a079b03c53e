"""Outreach messages: the request a journey or rule makes, and what the policy decided."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty
from membercore.consent import Channel, Purpose
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, as_utc_or_none, aware
from membercore.errors import InvalidFactError
from membercore.messages import Command, KeylessCommand, MemberEvent, check_purpose

__all__ = [
    "MESSAGE_TYPES",
    "REFUSAL_REASONS",
    "MessageCancelled",
    "MessageDelivered",
    "MessageDeliveryFailed",
    "MessageHandedOver",
    "MessageQueued",
    "MessageRefused",
    "NoteDelivery",
    "OutreachEvent",
    "PhoneTaskRequested",
    "RefusalReason",
    "RequestMessage",
]

#: Why a request was refused; stable codes for reports and the dead-letter view.
RefusalReason = Literal[
    "unknown_template",
    "purpose_mismatch",
    "missing_variables",
    "no_channel",
    "no_consent",
    "weekly_cap",
    "stale",
]
REFUSAL_REASONS: tuple[RefusalReason, ...] = get_args(RefusalReason)


def _sorted(value: Mapping[str, str]) -> dict[str, str]:
    # One order for one set of variables, so that a replay has the same fingerprint.
    return dict(sorted(value.items()))


def _urgent(instance: RequestMessage, attribute: Any, value: bool) -> None:
    if value and instance.purpose != "care":
        raise InvalidFactError(
            instance.TYPE, attribute.name, value, "only care messages may be urgent"
        )


@attrs.frozen(kw_only=True)
class RequestMessage(Command):
    """A journey step, rule or staff member asks for a message to a member.

    Attributes:
        key: idempotency key (a journey step's key, say): the same request twice is
            decided once.
        member_id: the member to reach.
        template_key: the template to render.
        purpose: what it is for: care, marketing or research; must be the template's.
        variables: the values of the template's ``${name}`` placeholders. They are
            inserted as they are, never interpreted.
        urgent: a care message that must not wait for the end of quiet hours (a critical
            lab result, a changed appointment tomorrow morning). Only care may be urgent.
        reason: which rule, journey step or person asked, for the explanation.
        journey: the journey instance whose step asked, if one did.
    """

    TYPE: ClassVar[str] = "request_message"

    template_key: str = attrs.field(validator=non_empty)
    purpose: Purpose = attrs.field(validator=check_purpose)
    variables: Mapping[str, str] = attrs.field(factory=dict, converter=_sorted)
    urgent: bool = attrs.field(default=False, validator=_urgent)
    reason: str = attrs.field(validator=non_empty)
    journey: str = attrs.field(default="", repr=False, metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class MessageQueued:
    """A message was approved and put in the outbox, to go out at ``send_at``.

    Attributes:
        message_id: ``<member>/msg/<n>``, deterministic.
        member_id: the member.
        channel: ``wecom``, ``sms`` or ``email``.
        purpose: care, marketing or research.
        template_key: the template rendered.
        language: the language of ``text``.
        text: the rendered text.
        send_at: when it may go out: the decision's instant, or the end of quiet hours.
        decided_at: the instant of the decision.
        explanation: which rules decided it, on which facts.
        policy_version: the outreach policy's version.
        key: the request's idempotency key.
        fingerprint: the request's fingerprint.
        variables: the values of the template's declared variables, as given.
        urgent: an urgent care message: quiet hours do not hold it back.
        journey: the journey instance whose step asked for it, if one did.
        falls_back_from: the message whose delivery failed for good, which this one
            takes the place of on another channel; empty for a first message.
        tried: the channels that message and those before it failed on.
    """

    TYPE: ClassVar[str] = "message_queued"

    message_id: str
    member_id: str
    channel: Channel
    purpose: Purpose
    template_key: str
    language: str
    text: str
    send_at: datetime = attrs.field(converter=as_utc, validator=aware)
    decided_at: datetime = attrs.field(converter=as_utc, validator=aware)
    explanation: str
    policy_version: int
    key: str
    fingerprint: str
    variables: Mapping[str, str] = attrs.field(factory=dict, converter=_sorted)
    urgent: bool = False
    journey: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    falls_back_from: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    tried: tuple[Channel, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class PhoneTaskRequested:
    """No message channel was open, so staff are asked to call the member.

    A call script may carry what an external message may not (a diagnosis): it is read
    by hospital staff, not sent.

    Attributes:
        message_id: ``<member>/msg/<n>``, from the same sequence as messages.
        member_id: the member to call.
        purpose: care, marketing or research.
        template_key: the template rendered as the call script.
        language: the language of ``text``.
        text: the call script.
        due_at: when the call may be made: the decision's instant or the end of quiet
            hours.
        decided_at: the instant of the decision.
        explanation: which rules decided it, on which facts.
        policy_version: the outreach policy's version.
        key: the request's idempotency key.
        fingerprint: the request's fingerprint.
        journey: the journey instance whose step asked for it, if one did.
        falls_back_from: the message whose delivery failed for good, which the call
            takes the place of; empty for a first call.
        tried: the channels that message and those before it failed on.
    """

    TYPE: ClassVar[str] = "phone_task_requested"

    message_id: str
    member_id: str
    purpose: Purpose
    template_key: str
    language: str
    text: str
    due_at: datetime = attrs.field(converter=as_utc, validator=aware)
    decided_at: datetime = attrs.field(converter=as_utc, validator=aware)
    explanation: str
    policy_version: int
    key: str
    fingerprint: str
    journey: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    falls_back_from: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    tried: tuple[Channel, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class MessageRefused(MemberEvent):
    """A request was refused; nothing goes out.

    Attributes:
        member_id: the member.
        template_key: the template asked for.
        purpose: the purpose asked for.
        reason: the refusal's code (:data:`REFUSAL_REASONS`).
        explanation: which rule refused it, on which facts.
        decided_at: the instant of the decision.
        policy_version: the outreach policy's version.
        key: the request's idempotency key.
        fingerprint: the request's fingerprint.
    """

    TYPE: ClassVar[str] = "message_refused"

    template_key: str
    purpose: Purpose
    reason: RefusalReason
    explanation: str
    decided_at: datetime = attrs.field(converter=as_utc, validator=aware)
    policy_version: int
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class MessageCancelled:
    """A message or call task not yet handed over was cancelled, with the reason.

    Its consent was withdrawn, the member died, or the check at the hand-over found it
    may not go out any more.

    Attributes:
        message_id: the message or task cancelled.
        member_id: the member.
        purpose: its purpose.
        channel: its channel (``phone`` for a call task).
        cancelled_at: the instant of the cancellation.
        explanation: why.
    """

    TYPE: ClassVar[str] = "message_cancelled"

    message_id: str
    member_id: str
    purpose: Purpose
    channel: Channel
    cancelled_at: datetime = attrs.field(converter=as_utc, validator=aware)
    explanation: str


@attrs.frozen(kw_only=True)
class MessageHandedOver(MemberEvent):
    """A message passed the check at the hand-over and was given to its channel.

    Attributes:
        message_id: the message.
        channel: the channel it was given to.
        at: the instant of the hand-over (the instant its checks held).
    """

    TYPE: ClassVar[str] = "message_handed_over"

    message_id: str
    channel: Channel
    at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class MessageDeliveryFailed(MemberEvent):
    """A message did not reach the member: it waits for its retry, or was given up.

    The channel did not take it (an attempt that failed, a provider that refused it), or
    its provider reported it undeliverable after taking it. A message given up falls
    back to the member's next channel (a :class:`MessageQueued` or
    :class:`PhoneTaskRequested` whose ``falls_back_from`` names it); a journey may take
    the event too (``{kind = "event", type = "message_delivery_failed"}``).

    Attributes:
        message_id: the message.
        at: when it failed.
        error: what the channel or its provider said.
        retry_at: when it is tried again (checked again then); ``None``: given up.
        channel: the channel it failed on (empty in failures noted before it was kept).
        purpose: its purpose (empty as for ``channel``).
    """

    TYPE: ClassVar[str] = "message_delivery_failed"

    message_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    error: str
    retry_at: datetime | None = attrs.field(default=None, converter=as_utc_or_none)
    channel: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    purpose: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class MessageDelivered(MemberEvent):
    """The provider reported that a message reached the member.

    Attributes:
        message_id: the message.
        channel: the channel it went by.
        purpose: its purpose.
        at: when the provider says it reached them.
        detail: the provider's words.
    """

    TYPE: ClassVar[str] = "message_delivered"

    message_id: str
    channel: str
    purpose: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    detail: str = ""


@attrs.frozen(kw_only=True)
class NoteDelivery(KeylessCommand):
    """What became of a message handed to its channel: the channel's or its provider's word.

    The engine sends it when a delivery fails (a retry to come, or given up) and when a
    provider reports a message delivered or undeliverable. The record's outreach state
    decides it: a note on a message it no longer holds, or already settled, makes
    nothing.

    Attributes:
        member_id: the member.
        message_id: the message.
        at: when it happened.
        delivered: the provider reported it delivered (True) or it failed (False).
        detail: what the channel or provider said.
        retry_at: a failure to be tried again then (None: given up, or delivered).
        template_key: the message's template, and
        variables: the values it was rendered with, as its outbox row holds them:
            what a fallback renders again (without them a message given up falls back
            to nothing).
    """

    TYPE: ClassVar[str] = "note_delivery"

    message_id: str = attrs.field(validator=non_empty)
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    delivered: bool
    detail: str = ""
    retry_at: datetime | None = attrs.field(default=None, converter=as_utc_or_none)
    template_key: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    variables: Mapping[str, str] = attrs.field(
        factory=dict, converter=_sorted, metadata={OMIT_AT_DEFAULT: True}
    )


OutreachEvent = (
    MessageQueued
    | PhoneTaskRequested
    | MessageRefused
    | MessageCancelled
    | MessageHandedOver
    | MessageDeliveryFailed
    | MessageDelivered
)

#: Every outreach message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    RequestMessage,
    MessageQueued,
    PhoneTaskRequested,
    MessageRefused,
    MessageCancelled,
    MessageHandedOver,
    MessageDeliveryFailed,
    MessageDelivered,
    NoteDelivery,
)
