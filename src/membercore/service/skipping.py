"""When a message or task a journey step asks for goes to nobody, and why.

A step's messages and tasks reach people only while they are useful and only from the
programme's own time on: one dated before a history import's start is ``historical``;
one the programme learnt of later than its step's ``stale_after`` is ``stale``; a
message of a step whose offer was not made (the member holds the plan) is
``offer_withheld``. Each is recorded as :class:`~membercore.journeys.JourneyActionSkipped`
with the reason in words. Points, offers, enrolments and tags are never skipped: the
record ends the same as if the programme had run at the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from membercore import journeys, outreach
from membercore.config.journeys import Delay
from membercore.journeys.index import index_of
from membercore.journeys.timers import later_by
from membercore.service.context import Context
from membercore.staff import tasks

__all__ = ["REACHING", "skipped"]

#: The commands that reach people: a message, a staff task. An action is skipped when
#: what it asks for is one of them, whichever action (a plugin's too) asks for it.
REACHING: tuple[type[Any], ...] = (outreach.RequestMessage, tasks.CreateTask)


def skipped(
    event: journeys.JourneyActionIssued,
    commands: Sequence[object],
    ctx: Context,
    learnt: datetime,
    *,
    offer_withheld: bool = False,
) -> journeys.JourneyActionSkipped | None:
    """Why the message or task ``event`` asks for goes to nobody, if it does.

    Args:
        event: the action a step issued.
        commands: what the action asks for.
        ctx: the programme's journeys and, for a history import, its cutoff.
        learnt: when the programme learnt of the step.
        offer_withheld: the step's offer was not made.
    """
    if not any(isinstance(command, REACHING) for command in commands):
        return None
    imported, cutoff = ctx.imported_at, ctx.cutoff
    if ctx.history and imported is not None and cutoff is not None and event.at >= cutoff:
        learnt = imported  # after the history's cutoff: learnt of when it is imported
    found = _historical(event, ctx) or _stale(event, ctx, learnt)
    messages = any(isinstance(command, outreach.RequestMessage) for command in commands)
    if found is None and offer_withheld and messages:
        found = ("offer_withheld", "the step's offer was not made: the member holds the plan")
    if found is None:
        return None
    reason, why = found
    return journeys.JourneyActionSkipped(
        member_id=event.member_id,
        instance_id=event.instance_id,
        journey=event.journey,
        step=event.step,
        action=event.action,
        key=event.key,
        at=event.at,
        learnt_at=learnt,
        reason=reason,
        explanation=f"{event.explanation}; {event.action.name} skipped: {why}",
    )


def _historical(event: journeys.JourneyActionIssued, ctx: Context) -> tuple[str, str] | None:
    cutoff = ctx.cutoff
    if cutoff is None or event.at >= cutoff:
        return None
    local = ctx.config.tz
    return "historical", (
        f"dated {event.at.astimezone(local):%Y-%m-%d %H:%M}, before the history import's "
        f"start {cutoff.astimezone(local):%Y-%m-%d %H:%M}: recorded, not given to anyone"
    )


def _stale(
    event: journeys.JourneyActionIssued, ctx: Context, learnt: datetime
) -> tuple[str, str] | None:
    definition = index_of(ctx.journeys).by_key.get(event.journey)
    delay = definition.stale_after(event.step) if definition is not None else None
    local = ctx.config.tz
    if delay is None or learnt <= later_by(event.at, delay, local):
        return None
    return "stale", (
        f"step {event.step} of {event.at.astimezone(local):%Y-%m-%d %H:%M} was learnt of "
        f"at {learnt.astimezone(local):%Y-%m-%d %H:%M}, later than it is useful "
        f"({_delay(delay)})"
    )


def _delay(delay: Delay) -> str:
    parts = [(delay.months, "months"), (delay.days, "days"), (delay.hours, "hours")]
    return "stale after " + " ".join(f"{n} {unit}" for n, unit in parts if n)
