"""A member's outreach state: what was queued lately, and which requests were decided."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs

from membercore.consent import Channel, Purpose
from membercore.dates import as_utc, aware
from membercore.errors import MemberMismatchError
from membercore.outreach.messages import (
    MessageCancelled,
    MessageQueued,
    MessageRefused,
    OutreachEvent,
    PhoneTaskRequested,
)

__all__ = ["KEPT_FOR", "WEEK", "OutreachState", "SentMessage", "evolve", "replay"]

#: The rolling week of the weekly caps: 7 × 24 hours, whatever the calendar says.
WEEK = timedelta(days=7)
#: How long a message stays in the state after a decision: two rolling weeks.
KEPT_FOR = 2 * WEEK


@attrs.frozen(kw_only=True)
class SentMessage:
    """A message or call task the member was (or will be) reached by.

    Attributes:
        message_id: its id.
        at: when it goes out (``send_at``, or a call task's ``due_at``).
        purpose: its purpose.
        channel: its channel (``phone`` for a call task).
    """

    message_id: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    purpose: Purpose
    channel: Channel


@attrs.frozen(kw_only=True)
class OutreachState:
    """A member's outreach: enough to apply caps and cancel what is still pending.

    Attributes:
        member_id: the member.
        sent: the messages and call tasks due within two weeks before the latest
            decision, or later; cancelled ones are removed.
        seq: how many messages and call tasks were ever queued (for their ids).
        keys: the requests decided, with their fingerprints.
    """

    member_id: str
    sent: tuple[SentMessage, ...] = ()
    seq: int = 0
    keys: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def next_message_id(self) -> str:
        """The id the next queued message or call task gets."""
        return f"{self.member_id}/msg/{self.seq + 1}"

    def pending(self, now: datetime) -> tuple[SentMessage, ...]:
        """The messages and call tasks not yet due at ``now``."""
        return tuple(item for item in self.sent if item.at > now)


def evolve(state: OutreachState, event: OutreachEvent) -> OutreachState:
    """Apply one outreach event.

    Raises:
        MemberMismatchError: the event belongs to another member.
    """
    if event.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, event.member_id)
    if isinstance(event, MessageCancelled):
        kept = tuple(item for item in state.sent if item.message_id != event.message_id)
        return attrs.evolve(state, sent=kept)
    keys = {**state.keys, event.key: event.fingerprint}
    if isinstance(event, MessageRefused):
        return attrs.evolve(state, keys=keys)
    if isinstance(event, MessageQueued):
        item = SentMessage(
            message_id=event.message_id,
            at=event.send_at,
            purpose=event.purpose,
            channel=event.channel,
        )
    else:
        item = _task(event)
    # A message decided at ``now`` goes out at ``now`` or later, so what was due a week
    # before can no longer share a rolling week with it. Keep a second week so that
    # decisions arriving out of order (retries, clock skew between workers) still count
    # everything they should.
    horizon = event.decided_at - KEPT_FOR
    kept = tuple(sent for sent in state.sent if sent.at > horizon)
    return attrs.evolve(state, sent=(*kept, item), seq=state.seq + 1, keys=keys)


def _task(event: PhoneTaskRequested) -> SentMessage:
    return SentMessage(
        message_id=event.message_id, at=event.due_at, purpose=event.purpose, channel="phone"
    )


def replay(member_id: str, events: Iterable[OutreachEvent]) -> OutreachState:
    """Rebuild a member's outreach state from their outreach events."""
    state = OutreachState(member_id=member_id)
    for event in events:
        state = evolve(state, event)
    return state
