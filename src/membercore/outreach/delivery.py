"""What became of a message after the hand-over: delivered, retried, or given up and replaced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from membercore.config.outreach import DEFAULT_LANGUAGE
from membercore.config.programme import ProgrammeConfig
from membercore.consent import Channel, ConsentState
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError
from membercore.outreach.decide import decide
from membercore.outreach.messages import (
    MessageDelivered,
    MessageDeliveryFailed,
    MessageRefused,
    NoteDelivery,
    OutreachEvent,
    RequestMessage,
)
from membercore.outreach.state import OutreachState, SentMessage, evolve

__all__ = ["fall_back", "note_delivery"]


def note_delivery(
    command: NoteDelivery,
    state: OutreachState,
    consent_state: ConsentState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    preferred: Sequence[Channel] = (),
    language: str = DEFAULT_LANGUAGE,
    fallback: bool = True,
    unreachable: Sequence[Channel] = (),
) -> list[OutreachEvent]:
    """Decide a channel's or provider's word on one of the member's messages.

    Delivered: :class:`MessageDelivered`, once. A failure to be retried: a
    :class:`MessageDeliveryFailed` with its ``retry_at``. A failure for good (the channel
    gave up, or its provider reported the message undeliverable): the failure, then the
    fallback (:func:`fall_back`) unless ``fallback`` is off (the member has died). A note
    on a message the record does not hold as in its channel's hands (cancelled, given
    up, forgotten, not handed over yet or waiting for a retry) or already reported
    delivered makes nothing: the same note twice is decided once.

    Raises:
        MemberMismatchError: the command or consents belong to another member.
        NaiveInstantError: ``now`` has no timezone.
    """
    now = require_aware("now", now)
    for other in (command.member_id, consent_state.member_id):
        if other != state.member_id:
            raise MemberMismatchError(state.member_id, other)
    item = state.queued(command.message_id)
    if item is None or item.delivered or item.message_id not in state.handed_over:
        # Cancelled, given up or forgotten; reported delivered already; or not (or not
        # now) in its channel's hands: a retry to come is checked again at its hand-over.
        return []
    if command.delivered:
        return [
            MessageDelivered(
                member_id=state.member_id,
                message_id=item.message_id,
                channel=item.channel,
                purpose=item.purpose,
                at=command.at,
                detail=command.detail,
            )
        ]
    failed = MessageDeliveryFailed(
        member_id=state.member_id,
        message_id=item.message_id,
        at=command.at,
        error=command.detail or "failed",
        retry_at=command.retry_at,
        channel=item.channel,
        purpose=item.purpose,
    )
    if command.retry_at is not None or not fallback:
        return [failed]
    after = evolve(state, failed)
    rendered = (command.template_key, command.variables)
    return [
        failed,
        *fall_back(
            item,
            rendered,
            after,
            consent_state,
            config,
            now,
            preferred=preferred,
            language=language,
            unreachable=unreachable,
        ),
    ]


def fall_back(
    item: SentMessage,
    rendered: tuple[str, Mapping[str, str]],
    state: OutreachState,
    consent_state: ConsentState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    preferred: Sequence[Channel] = (),
    language: str = DEFAULT_LANGUAGE,
    unreachable: Sequence[Channel] = (),
) -> list[OutreachEvent]:
    """The message that takes the place of ``item``, given up, on the member's next channel.

    ``rendered`` is the template and values it was rendered with; they are decided
    again (:func:`~membercore.outreach.decide`) with every channel tried so far left
    out: the next channel the template may use and the member consents to for its
    purpose, or a call for care. It is refused, with the
    reason, when none is left or the cap is reached. Without a template there is nothing
    to render again, and nothing falls back.
    """
    template_key, variables = rendered
    if not template_key:
        return []
    hours = config.outreach.fallback_within_hours
    if now - item.at > timedelta(hours=hours):
        return [_too_late(item, template_key, state, config, now)]
    request = RequestMessage(
        key=f"{item.message_id}/fallback",
        member_id=state.member_id,
        template_key=template_key,
        purpose=item.purpose,
        variables=variables,
        urgent=item.urgent,
        reason=f"the fallback of {item.message_id}, which failed on {item.channel}",
        journey=item.journey,
    )
    return decide(
        request,
        state,
        consent_state,
        config,
        now,
        preferred=preferred,
        language=language,
        tried=(*item.tried, item.channel),
        falls_back_from=item.message_id,
        unreachable=unreachable,
    )


def _too_late(
    item: SentMessage,
    template_key: str,
    state: OutreachState,
    config: ProgrammeConfig,
    now: datetime,
) -> MessageRefused:
    """No fallback: the failure came too long after the message went out to be of use."""
    policy = config.outreach
    hours = policy.fallback_within_hours
    request = f"{item.message_id}/fallback"
    return MessageRefused(
        member_id=state.member_id,
        template_key=template_key,
        purpose=item.purpose,
        reason="stale",
        explanation=(
            f"the fallback of {item.message_id}, which failed on {item.channel}: refused, "
            f"its failure came {_hours(now - item.at)} after it went out, more than "
            f"{hours} h (policy v{policy.version})"
        ),
        decided_at=now,
        policy_version=policy.version,
        key=request,
        fingerprint=request,
    )


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.0f} h"
