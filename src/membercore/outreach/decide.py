"""Decide a message request, and cancel what consent no longer allows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import attrs

from membercore.config.outreach import (
    DEFAULT_LANGUAGE,
    MessageTemplate,
    OutreachPolicy,
    placeholders,
)
from membercore.config.programme import ProgrammeConfig
from membercore.consent import Channel, ConsentState, Purpose, allows, channels_for
from membercore.dates import require_aware
from membercore.errors import MemberMismatchError
from membercore.idempotency import fingerprint, replayed
from membercore.outreach.messages import (
    MessageCancelled,
    MessageQueued,
    MessageRefused,
    OutreachEvent,
    PhoneTaskRequested,
    RefusalReason,
    RequestMessage,
)
from membercore.outreach.rules import (
    candidate_channels,
    render,
    send_time,
    weekly_load,
    with_fallbacks,
)
from membercore.outreach.state import OutreachState, cancellation

__all__ = ["cancel_pending", "decide"]


def decide(
    command: RequestMessage,
    state: OutreachState,
    consent_state: ConsentState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    preferred: Sequence[Channel] = (),
    language: str = DEFAULT_LANGUAGE,
    tried: Sequence[Channel] = (),
    falls_back_from: str = "",
    unreachable: Sequence[Channel] = (),
) -> list[OutreachEvent]:
    """The one decision every message request passes.

    The checks, in order: the template exists and has the request's purpose; the
    request gives every variable the text uses; a channel is found — the member's
    preferred channels, then the policy's fallback order, keeping those the template
    may use, the first one the member consents to for the purpose (``phone`` makes a
    call task; a care message that none of them can carry becomes a call task too when
    the member consents to care by phone and the policy's order has ``phone``); quiet
    hours defer the message to their end (an urgent care message is not deferred); the
    weekly cap of the purpose must leave room at that send time.

    Args:
        command: the request.
        state: the member's outreach state.
        consent_state: the member's consents, as they are at ``now``.
        config: the programme (its outreach policy and timezone).
        now: the instant of the decision.
        preferred: the member's preferred channels, most preferred first.
        language: the member's language; zh-CN when the template lacks it.
        tried: channels not to use: those a message this one falls back from failed on.
        falls_back_from: the message whose delivery failed for good, when this
            request takes its place.
        unreachable: channels the member's record gives no address for (a programme
            whose channels need one): passed over as if not consented to.

    Returns:
        One event: :class:`MessageQueued`, :class:`PhoneTaskRequested` or
        :class:`MessageRefused` (with its reason); none when the request was already
        decided.

    Raises:
        MemberMismatchError: the request or consents belong to another member.
        IdempotencyConflictError: the key was used by a different request.
        NaiveInstantError: ``now`` has no timezone.
    """
    now = require_aware("now", now)
    for other in (command.member_id, consent_state.member_id):
        if other != state.member_id:
            raise MemberMismatchError(state.member_id, other)
    digest = fingerprint(command)
    if replayed(state.keys, command.key, command, owner=state.member_id):
        return []
    policy = config.outreach
    tz = config.tz
    asked = f"{command.purpose} message {command.template_key!r} asked by {command.reason}"
    channels = (preferred, tried, unreachable)
    plan = _plan(command, state, consent_state, policy, tz, now, channels, language)
    if isinstance(plan, _Refusal):
        return [
            MessageRefused(
                member_id=state.member_id,
                template_key=command.template_key,
                purpose=command.purpose,
                reason=plan.reason,
                explanation=f"{asked}: refused, {plan.why} (policy v{policy.version})",
                decided_at=now,
                policy_version=policy.version,
                key=command.key,
                fingerprint=digest,
            )
        ]
    explanation = f"{asked}; {plan.explanation}; policy v{policy.version}"
    if plan.channel == "phone":
        return [
            PhoneTaskRequested(
                message_id=state.next_message_id,
                member_id=state.member_id,
                purpose=command.purpose,
                template_key=command.template_key,
                language=plan.language,
                text=plan.text,
                due_at=plan.send_at,
                decided_at=now,
                explanation=explanation,
                policy_version=policy.version,
                key=command.key,
                fingerprint=digest,
                journey=command.journey,
                falls_back_from=falls_back_from,
                tried=tuple(tried),
            )
        ]
    return [
        MessageQueued(
            message_id=state.next_message_id,
            member_id=state.member_id,
            channel=plan.channel,
            purpose=command.purpose,
            template_key=command.template_key,
            language=plan.language,
            text=plan.text,
            send_at=plan.send_at,
            decided_at=now,
            explanation=explanation,
            policy_version=policy.version,
            key=command.key,
            fingerprint=digest,
            variables=plan.variables,
            urgent=command.urgent,
            journey=command.journey,
            falls_back_from=falls_back_from,
            tried=tuple(tried),
        )
    ]


@attrs.frozen
class _Refusal:
    reason: RefusalReason
    why: str


@attrs.frozen
class _Plan:
    channel: Channel
    language: str
    text: str
    send_at: datetime
    explanation: str
    variables: Mapping[str, str] = attrs.field(factory=dict)


def _plan(
    command: RequestMessage,
    state: OutreachState,
    consent_state: ConsentState,
    policy: OutreachPolicy,
    tz: ZoneInfo,
    now: datetime,
    channels: tuple[Sequence[Channel], Sequence[Channel], Sequence[Channel]],
    language: str,
) -> _Plan | _Refusal:
    """The checks of :func:`decide`, in order; the first that fails refuses."""
    purpose = command.purpose
    template = policy.template(command.template_key)
    if template is None:
        return _Refusal("unknown_template", "the outreach policy has no such template")
    if template.purpose != purpose:
        return _Refusal("purpose_mismatch", f"the template is a {template.purpose} message")
    used, text = template.text(language)
    values = with_fallbacks(command.variables, used)
    missing = sorted(placeholders(text) - set(values))
    if missing:
        return _Refusal("missing_variables", f"no value for {', '.join(missing)}")
    route = _route(template, policy, consent_state, purpose, channels)
    if isinstance(route, _Refusal):
        return route
    channel, skipped, consented, instead = route
    send_at, quiet_end = send_time(now, policy, tz, urgent=command.urgent)
    cap = policy.weekly_cap(purpose)
    load = weekly_load(state.sent, purpose, send_at)
    if cap is not None and load >= cap:
        return _Refusal(
            "weekly_cap",
            f"{load} {purpose} messages already in a rolling week holding "
            f"{_local(send_at, tz)}; the cap is {cap}",
        )
    explanation = "; ".join(
        (
            f"channel {channel}"
            + (f" (no consent on {', '.join(skipped)})" if skipped else "")
            + f", {purpose} consent on {consented}"
            + instead,
            _quiet(policy, tz, now, quiet_end, urgent=command.urgent),
            f"{load + 1} of {cap} {purpose} in the rolling week"
            if cap is not None
            else f"no weekly cap on {purpose}",
            f"text in {used}" + (f" ({language} missing)" if used != language else ""),
        )
    )
    return _Plan(
        channel=channel,
        language=used,
        text=render(text, values),
        send_at=send_at,
        explanation=explanation,
        variables={name: values[name] for name in template.variables if name in values},
    )


def _route(
    template: MessageTemplate,
    policy: OutreachPolicy,
    consent_state: ConsentState,
    purpose: Purpose,
    channels: tuple[Sequence[Channel], Sequence[Channel], Sequence[Channel]],
) -> tuple[Channel, tuple[Channel, ...], str, str] | _Refusal:
    """The channel: the first candidate not tried, with an address, that the member consents to.

    ``channels`` are the member's preferred ones, those already tried (a fallback's) and
    those the record gives no address for.

    Returns:
        ``(channel, skipped, consented, instead)``: the channel, the candidates before it
        without consent, the channels consented to, and a note when a call takes the
        place of a care message no consented channel can carry; or the refusal.
    """
    preferred, tried, unreachable = channels
    every = candidate_channels(template, policy, preferred)
    untried = tuple(channel for channel in every if channel not in tried)
    candidates = tuple(channel for channel in untried if channel not in unreachable)
    consented = ", ".join(channels_for(consent_state, purpose)) or "none"
    lacking = [channel for channel in untried if channel in unreachable]
    noted = f" (no address on {', '.join(lacking)})" if lacking else ""
    for index, channel in enumerate(candidates):
        if allows(consent_state, purpose, channel):
            return channel, candidates[:index], consented, noted
    if (
        purpose == "care"
        and "phone" in policy.channel_order
        and "phone" not in tried
        and allows(consent_state, purpose, "phone")
    ):
        # Care is not dropped for want of a channel: staff call and read the text.
        instead = f"; the template goes by {', '.join(template.channels)} only: a call instead"
        return "phone", candidates, consented, noted + instead
    if not candidates:
        named = ", ".join(dict.fromkeys((*preferred, *policy.channel_order)))
        failed = f"; failed on {', '.join(tried)}" if tried else ""
        return _Refusal(
            "no_channel",
            f"the template may go by {', '.join(template.channels)} only; tried {named}"
            f"{failed}{noted}",
        )
    return _Refusal(
        "no_consent", f"no {purpose} consent on {', '.join(candidates)} (consented: {consented})"
    )


def cancel_pending(
    state: OutreachState, consent_state: ConsentState, now: datetime
) -> list[MessageCancelled]:
    """Cancel the messages and call tasks not yet handed over that consent no longer allows.

    Run it whenever consent is withdrawn (and it is harmless to run at any time): a
    withdrawal stops outreach at once — what is queued, due, waiting for a retry after a
    failed delivery, or claimed by a dispatcher that has not handed it over yet. What
    was handed to its channel has gone.

    Args:
        state: the member's outreach state.
        consent_state: the member's consents, after the withdrawal.
        now: the instant of the cancellation.

    Raises:
        MemberMismatchError: the consents belong to another member.
        NaiveInstantError: ``now`` has no timezone.
    """
    now = require_aware("now", now)
    if consent_state.member_id != state.member_id:
        raise MemberMismatchError(state.member_id, consent_state.member_id)
    return [
        cancellation(
            state,
            item,
            now,
            f"{item.purpose} consent on {item.channel} withdrawn before it went out "
            f"(due at {item.at.isoformat()})",
        )
        for item in state.not_handed_over()
        if not allows(consent_state, item.purpose, item.channel)
    ]


def _local(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _quiet(
    policy: OutreachPolicy,
    tz: ZoneInfo,
    now: datetime,
    quiet_end: datetime | None,
    *,
    urgent: bool,
) -> str:
    hours = f"quiet hours {policy.quiet_start}–{policy.quiet_end} {tz.key}"
    if quiet_end is None:
        return f"asked at {_local(now, tz)}, outside {hours}"
    if urgent:
        return f"asked at {_local(now, tz)}, in {hours}, not deferred: urgent care"
    return f"asked at {_local(now, tz)}, in {hours}: deferred to {_local(quiet_end, tz)}"
