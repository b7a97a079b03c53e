"""The check at the hand-over: a queued message is checked again as it is given to a channel.

A message is decided when it is asked for, and may go out later: at the end of quiet
hours, after a failed delivery, when a dispatcher gets to it. What was true then may not
be now. :func:`hand_over` checks, at the instant the message would be given to its
channel: it is still queued; the member is alive; they consent to its purpose on its
channel (the consents as they are at that instant, a guardian's for a minor included);
the instant is outside quiet hours (an urgent care message excepted); the purpose's
weekly cap still holds with the message going out now. A message that fails is
cancelled with the reason, never sent; one that meets quiet hours waits for their end.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.config.programme import ProgrammeConfig
from membercore.consent import Channel, ConsentState, allows
from membercore.converters import JSON
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError
from membercore.outreach.messages import (
    MessageHandedOver,
    MessageQueued,
    OutreachEvent,
)
from membercore.outreach.rules import quiet_until, weekly_load
from membercore.outreach.state import OutreachState, SentMessage, cancellation

__all__ = ["HandOver", "hand_over", "outgoing"]


def outgoing(message: MessageQueued) -> str:
    """What a channel is handed of a queued message (:class:`membercore.ports.Outgoing`).

    The member's id, the message id (the channel sends it as the provider's id for the
    message where it can), the language, the rendered text, the values of the template's
    declared variables, the template's key (which the channel maps to its provider's
    template) and the purpose (a marketing SMS carries the opt-out text) — never the
    explanation, which says why the message was sent and stays in the journal. The
    member's address on the channel is added at the hand-over, from their record then.
    """
    return JSON.encode(
        {
            "message_id": message.message_id,
            "member_id": message.member_id,
            "channel": message.channel,
            "language": message.language,
            "text": message.text,
            "variables": dict(message.variables),
            "template": message.template_key,
            "purpose": message.purpose,
        }
    )


@attrs.frozen
class HandOver:
    """What the check at the hand-over decided of one message.

    Attributes:
        send: give it to its channel now.
        events: what the member's record keeps of the decision: the hand-over, or the
            cancellation with its reason (none when it waits).
        later: when it may be tried again (the end of quiet hours), when it waits.
        unknown: the member's record does not hold the message (cancelled or long
            forgotten): it is not sent, and given up.
    """

    send: bool
    events: tuple[OutreachEvent, ...] = ()
    later: datetime | None = None
    unknown: bool = False


def hand_over(
    message_id: str,
    channel: Channel,
    state: OutreachState,
    consent_state: ConsentState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    alive: bool = True,
) -> HandOver:
    """Check one queued message at the instant it would be given to ``channel``.

    Args:
        message_id: the message.
        channel: the channel it was queued for.
        state: the member's outreach state.
        consent_state: the member's consents at ``now``.
        config: the programme (its outreach policy and timezone).
        now: the instant of the hand-over.
        alive: whether the member is alive at ``now``.

    Raises:
        MemberMismatchError: the consents belong to another member.
        NaiveInstantError: ``now`` has no timezone.
    """
    now = require_aware("now", now)
    if consent_state.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, consent_state.member_id)
    item = state.queued(message_id)
    if item is None:  # the record no longer holds it: nothing to check it against
        return HandOver(send=False, unknown=True)
    # Handed over before and not known delivered (a dispatcher that stopped, a failure
    # not noted): checked again like any other.
    why = _refusal(item, state, consent_state, config, now, alive=alive)
    if why is not None:
        return _cancel(state, item, now, why)
    policy = config.outreach
    until = quiet_until(now, policy, config.tz)
    if until is not None and not (item.urgent and item.purpose == "care"):
        return HandOver(send=False, later=until)
    handed = MessageHandedOver(
        member_id=state.member_id, message_id=message_id, channel=item.channel, at=now
    )
    return HandOver(send=True, events=(handed,))


def _refusal(
    item: SentMessage,
    state: OutreachState,
    consent_state: ConsentState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    alive: bool,
) -> str | None:
    """Why ``item`` may not go out at ``now``, or ``None``."""
    if not alive:
        return "the member has died"
    if not allows(consent_state, item.purpose, item.channel):
        return f"no {item.purpose} consent on {item.channel} at the hand-over"
    cap = config.outreach.weekly_cap(item.purpose)
    others = [sent for sent in state.sent if sent.message_id != item.message_id]
    load = weekly_load(others, item.purpose, now)
    if cap is not None and load >= cap:
        return f"{load} {item.purpose} messages already in a rolling week holding now; cap {cap}"
    return None


def _cancel(state: OutreachState, item: SentMessage, now: datetime, why: str) -> HandOver:
    cancelled = cancellation(state, item, now, f"cancelled at the hand-over: {why}")
    return HandOver(send=False, events=(cancelled,))
