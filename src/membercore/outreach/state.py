"""A member's outreach state: what was queued lately, and which requests were decided."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs

from membercore.consent import Channel, Purpose
from membercore.converters import OMIT_AT_DEFAULT
from membercore.dates import as_utc, aware
from membercore.errors import MemberMismatchError
from membercore.outreach.messages import (
    MessageCancelled,
    MessageDelivered,
    MessageDeliveryFailed,
    MessageHandedOver,
    MessageQueued,
    MessageRefused,
    OutreachEvent,
    PhoneTaskRequested,
)

__all__ = [
    "KEPT_FOR",
    "WEEK",
    "OutreachState",
    "SentMessage",
    "cancel_all",
    "cancellation",
    "evolve",
    "replay",
]

#: The rolling week of the weekly caps: 7 × 24 hours, whatever the calendar says.
WEEK = timedelta(days=7)
#: How long a message stays in the state after a decision: two rolling weeks.
KEPT_FOR = 2 * WEEK


@attrs.frozen(kw_only=True)
class SentMessage:
    """A message or call task the member was (or will be) reached by.

    Attributes:
        message_id: its id.
        at: when it goes out (``send_at``, or a call task's ``due_at``); once handed
            over, when it was.
        purpose: its purpose.
        channel: its channel (``phone`` for a call task).
        urgent: an urgent care message, which quiet hours do not hold back.
        journey: the journey instance whose step asked for it, if one did.
        tried: the channels the messages it takes the place of failed on.
        delivered: its provider reported it delivered.
    """

    message_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    purpose: Purpose
    channel: Channel
    urgent: bool = False
    journey: str = attrs.field(default="", metadata={OMIT_AT_DEFAULT: True})
    tried: tuple[Channel, ...] = attrs.field(default=(), metadata={OMIT_AT_DEFAULT: True})
    delivered: bool = attrs.field(default=False, metadata={OMIT_AT_DEFAULT: True})


@attrs.frozen(kw_only=True)
class OutreachState:
    """A member's outreach: enough to apply caps and cancel what is still pending.

    Attributes:
        member_id: the member.
        sent: the messages and call tasks due within two weeks before the latest
            decision, or later; cancelled ones are removed.
        seq: how many messages and call tasks were ever queued (for their ids).
        keys: the requests decided, with their fingerprints.
        handed_over: the messages of ``sent`` given to their channel (and not waiting
            for a retry): a withdrawal or a death no longer stops them.
    """

    member_id: str
    sent: tuple[SentMessage, ...] = ()
    seq: int = 0
    keys: Mapping[str, str] = attrs.field(factory=dict)
    handed_over: frozenset[str] = frozenset()

    @property
    def next_message_id(self) -> str:
        """The id the next queued message or call task gets."""
        return f"{self.member_id}/msg/{self.seq + 1}"

    def pending(self, now: datetime) -> tuple[SentMessage, ...]:
        """The messages and call tasks not yet due at ``now``."""
        return tuple(item for item in self.sent if item.at > now)

    def not_handed_over(self) -> tuple[SentMessage, ...]:
        """The messages and call tasks not yet given to their channel, due or not."""
        return tuple(item for item in self.sent if item.message_id not in self.handed_over)

    def queued(self, message_id: str) -> SentMessage | None:
        """The message or call task of that id, while it is queued (not cancelled)."""
        return next((item for item in self.sent if item.message_id == message_id), None)


def evolve(state: OutreachState, event: OutreachEvent) -> OutreachState:
    """Apply one outreach event.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    if isinstance(event, MessageCancelled):
        kept = tuple(item for item in state.sent if item.message_id != event.message_id)
        return attrs.evolve(state, sent=kept, handed_over=state.handed_over - {event.message_id})
    if isinstance(event, MessageHandedOver):
        # The caps count a message when it went out: the hand-over, not the plan.
        sent = tuple(
            attrs.evolve(item, at=event.at) if item.message_id == event.message_id else item
            for item in state.sent
        )
        return attrs.evolve(state, sent=sent, handed_over=state.handed_over | {event.message_id})
    if isinstance(event, (MessageDeliveryFailed, MessageDelivered)):
        return _delivery(state, event)
    keys = {**state.keys, event.key: event.fingerprint}
    if isinstance(event, MessageRefused):
        return attrs.evolve(state, keys=keys)
    if isinstance(event, MessageQueued):
        item = SentMessage(
            message_id=event.message_id,
            at=event.send_at,
            purpose=event.purpose,
            channel=event.channel,
            urgent=event.urgent,
            journey=event.journey,
            tried=event.tried,
        )
    else:
        item = _task(event)
    # A message decided at ``now`` goes out at ``now`` or later, so what was due a week
    # before can no longer share a rolling week with it. Keep a second week so that
    # decisions arriving out of order (retries, clock skew between workers) still count
    # everything they should.
    horizon = event.decided_at - KEPT_FOR
    kept = tuple(sent for sent in state.sent if sent.at > horizon)
    held = state.handed_over & {sent.message_id for sent in kept}
    return attrs.evolve(state, sent=(*kept, item), seq=state.seq + 1, keys=keys, handed_over=held)


def _delivery(
    state: OutreachState, event: MessageDeliveryFailed | MessageDelivered
) -> OutreachState:
    if isinstance(event, MessageDelivered):
        sent = tuple(
            attrs.evolve(item, delivered=True) if item.message_id == event.message_id else item
            for item in state.sent
        )
        return attrs.evolve(state, sent=sent)
    handed_over = state.handed_over - {event.message_id}
    if event.retry_at is not None:  # it waits for its retry, checked again then
        return attrs.evolve(state, handed_over=handed_over)
    if not event.channel:
        # Given up as an earlier release noted it (without its channel): it stays in
        # the caps as that release counted it, so its journal replays to its records.
        return state
    # Given up: it never reached the member, so it neither goes out again nor counts
    # against the caps (its fallback, if any, does).
    kept = tuple(item for item in state.sent if item.message_id != event.message_id)
    return attrs.evolve(state, sent=kept, handed_over=handed_over)


def _task(event: PhoneTaskRequested) -> SentMessage:
    return SentMessage(
        message_id=event.message_id,
        at=event.due_at,
        purpose=event.purpose,
        channel="phone",
        journey=event.journey,
        tried=event.tried,
    )


def replay(member_id: str, events: Iterable[OutreachEvent]) -> OutreachState:
    """Rebuild a member's outreach state from their outreach events."""
    state = OutreachState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state


def cancellation(
    state: OutreachState, item: SentMessage, now: datetime, explanation: str
) -> MessageCancelled:
    """The cancellation of ``item``, a message or call task of the member, with why."""
    return MessageCancelled(
        message_id=item.message_id,
        member_id=state.member_id,
        purpose=item.purpose,
        channel=item.channel,
        cancelled_at=now,
        explanation=explanation,
    )


def cancel_all(state: OutreachState, now: datetime, why: str) -> list[MessageCancelled]:
    """Cancel every message and call task not yet handed over (the member died...)."""
    return [
        cancellation(state, item, now, f"cancelled before it went out: {why}")
        for item in state.not_handed_over()
    ]
