"""The policy's rules, one pure function each: quiet hours, caps, channels, rendering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from membercore.config.outreach import PLACEHOLDER, MessageTemplate, OutreachPolicy
from membercore.consent import Channel, Purpose
from membercore.outreach.state import WEEK, SentMessage

__all__ = [
    "FALLBACK_VALUES",
    "candidate_channels",
    "quiet_until",
    "render",
    "send_time",
    "weekly_load",
    "with_fallbacks",
]

#: What a template's text says, in the language it is written in, where the record gives
#: no value (a member whose registration gives no name); by language tag, then by its
#: primary subtag.
FALLBACK_VALUES: Mapping[str, Mapping[str, str]] = {
    "zh": {"name": "尊敬的会员"},
    "en": {"name": "valued member"},
}


def with_fallbacks(variables: Mapping[str, str], language: str) -> dict[str, str]:
    """``variables``, with the values a text in ``language`` says where they give none."""
    primary = language.split("-", maxsplit=1)[0]
    fallbacks = FALLBACK_VALUES.get(language) or FALLBACK_VALUES.get(primary, {})
    return {**fallbacks, **variables}


def quiet_until(instant: datetime, policy: OutreachPolicy, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet hours ``instant`` falls in, or ``None`` if it falls outside.

    Quiet hours run from ``quiet_start`` included to ``quiet_end`` excluded, local time
    in ``tz``; they may span midnight (21:00–08:00) or not (12:00–14:00).
    """
    window = policy.quiet_hours()
    if window is None:
        return None
    start, end = window
    local = instant.astimezone(tz)
    clock = local.time()
    day = local.date()
    if start < end:
        inside = start <= clock < end
    else:
        inside = clock >= start or clock < end
        if clock >= start:
            day += timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def send_time(
    now: datetime, policy: OutreachPolicy, tz: ZoneInfo, *, urgent: bool
) -> tuple[datetime, datetime | None]:
    """When a message asked for at ``now`` may go out, and the quiet-hours end if any.

    Returns:
        ``(send_at, deferred_to)``: ``send_at`` is ``now``, or the end of the quiet hours
        ``now`` falls in unless the message is ``urgent``; ``deferred_to`` is that end
        whenever ``now`` is in quiet hours, so that the explanation can say so.
    """
    until = quiet_until(now, policy, tz)
    if until is None or urgent:
        return now, until
    return until, until


def weekly_load(sent: Iterable[SentMessage], purpose: Purpose, at: datetime) -> int:
    """The most messages of ``purpose`` in any rolling week (7 × 24 h) that holds ``at``.

    A message at ``at`` fits under a cap ``n`` if this is below ``n``: then no rolling
    week, before or after it, holds more than ``n``. When every earlier message goes
    out before ``at``, this is the number in ``(at - 7 days, at]``; a message exactly a
    week earlier no longer counts.
    """
    times = sorted(
        item.at for item in sent if item.purpose == purpose and at - WEEK < item.at < at + WEEK
    )
    # A week [t, t + 7 days) holding ``at`` starts in (at - 7 days, at]; the fullest
    # such week starts at one of the messages in that range, or at ``at`` itself.
    starts = [t for t in times if t <= at] + [at]
    return max(sum(1 for t in times if start <= t < start + WEEK) for start in starts)


def candidate_channels(
    template: MessageTemplate, policy: OutreachPolicy, preferred: Iterable[Channel]
) -> tuple[Channel, ...]:
    """The channels to try, in order: the member's preferred, then the fallback order.

    Only the channels the template may go out on are kept.
    """
    ordered: list[Channel] = []
    for channel in (*preferred, *policy.channel_order):
        if channel in template.channels and channel not in ordered:
            ordered.append(channel)
    return tuple(ordered)


def render(text: str, variables: Mapping[str, str]) -> str:
    """Fill a template text's ``${name}`` placeholders, in one pass.

    Nothing but ``${name}`` is interpreted: a ``{0.__class__}`` or a bare ``$name`` in
    the text stays as written, and a value is inserted literally, so a value holding
    ``${other}`` is never expanded. A placeholder without a value stays as written
    (:func:`~membercore.outreach.decide` refuses such requests before rendering).
    """
    return PLACEHOLDER.sub(lambda match: variables.get(match.group(1), match.group(0)), text)
