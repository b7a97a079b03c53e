"""When a journey's timed steps fall due: the timer calendar.

A state's timed steps are set when the state is entered: ``after`` a delay, ``before``
an anchor of the entry message, ``at`` a local time some days on, ``monthly`` on a day
of the month and ``yearly`` on an anchor's anniversary (a birthday), each at a local
time. The calendar rules themselves (anniversaries, months) are :mod:`membercore.dates`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from membercore.config.journeys import Delay, JourneyDefinition, Trigger
from membercore.dates import add_months, anniversary, local_date, local_wall_time, next_month_on
from membercore.journeys.messages import Timer
from membercore.journeys.registry import Situation

__all__ = ["anchors_of", "later_by", "timers"]


def anchors_of(definition: JourneyDefinition, message: object) -> dict[str, str]:
    """The entry message's anchor fields the journey names, in ISO 8601."""
    anchors = {}
    for name in definition.anchors:
        value = getattr(message, name, None)
        if isinstance(value, date):  # a datetime is a date too
            anchors[name] = value.isoformat()
    return anchors


def timers(
    definition: JourneyDefinition,
    state: str,
    entered: datetime,
    situation: Situation,
    anchors: Mapping[str, str],
    *,
    fired: Timer | None = None,
) -> tuple[Timer, ...]:
    """The timers of ``state``'s timed steps, set as the state is entered at ``entered``.

    ``fired`` is the timer whose step entered the state, if a timer did: a yearly step
    that comes back to its own state is set for the anniversary of the year after the
    one that fired, so it fires once a year whatever rule set the timer that fired (an
    earlier release set 29 February's on 28 February).
    """
    found = []
    tz = situation.config.tz
    for index, transition in enumerate(definition.transitions):
        if transition.source == state and transition.trigger.timed:
            last = fired.due_at if fired is not None and fired.transition == index else None
            due = _due(transition.trigger, entered, tz, anchors, last)
            # An anchored moment already past when the state is entered does not fire.
            if due is not None and due > entered:
                found.append(Timer(transition=index, state=state, due_at=due))
    return tuple(found)


def _due(
    trigger: Trigger,
    entered: datetime,
    tz: ZoneInfo,
    anchors: Mapping[str, str],
    last: datetime | None = None,
) -> datetime | None:
    if trigger.kind == "after" and trigger.delay is not None:
        return _shifted(entered, trigger.delay, tz, +1)
    if trigger.kind == "before" and trigger.delay is not None:
        anchor = _anchor(anchors, trigger.anchor, tz)
        return None if anchor is None else _shifted(anchor, trigger.delay, tz, -1)
    clock = _clock(str(trigger.at))
    today = local_date(entered, tz)
    if trigger.kind == "at":
        return _local(today + timedelta(days=trigger.days), clock, tz, after=entered)
    if trigger.kind == "monthly" and trigger.day is not None:
        due = _local(today.replace(day=trigger.day), clock, tz)
        return due if due > entered else _local(next_month_on(today, trigger.day), clock, tz)
    return _yearly(trigger, entered, today, clock, tz, anchors, last)


def _yearly(
    trigger: Trigger,
    entered: datetime,
    today: date,
    clock: time,
    tz: ZoneInfo,
    anchors: Mapping[str, str],
    last: datetime | None,
) -> datetime | None:
    """The next anniversary of the anchor's day at ``clock`` (29 February: 1 March).

    After ``last``, the occurrence that fired, it is the following year's.
    """
    anchor = _anchor(anchors, trigger.anchor, tz)
    if anchor is None:
        return None
    born = local_date(anchor, tz)
    if last is not None:
        return _local(anniversary(born, local_date(last, tz).year + 1), clock, tz)
    due = _local(anniversary(born, today.year), clock, tz)
    return due if due > entered else _local(anniversary(born, today.year + 1), clock, tz)


def later_by(instant: datetime, delay: Delay, tz: ZoneInfo) -> datetime:
    """``instant`` plus ``delay``: calendar months in ``tz``, then days and hours."""
    return _shifted(instant, delay, tz, +1)


def _shifted(instant: datetime, delay: Delay, tz: ZoneInfo, sign: int) -> datetime:
    moved = add_months(instant, sign * delay.months, tz) if delay.months else instant
    return moved + sign * timedelta(days=delay.days, hours=delay.hours)


def _anchor(anchors: Mapping[str, str], name: str | None, tz: ZoneInfo) -> datetime | None:
    text = anchors.get(name or "")
    if text is None:
        return None
    if "T" in text:
        return datetime.fromisoformat(text)
    return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)


def _clock(text: str) -> time:
    return time.fromisoformat(text)  # validated HH:MM (config.common.local_time)


def _local(day: date, clock: time, tz: ZoneInfo, *, after: datetime | None = None) -> datetime:
    due = local_wall_time(day, clock, tz)
    if after is not None and due <= after:
        due += timedelta(days=1)
    return due
