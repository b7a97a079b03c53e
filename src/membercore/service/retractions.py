"""Retractions: an admission or a discharge the HIS sent in error, withdrawn.

An ``admission_cancelled`` or ``discharge_cancelled`` fact names the stay. Each journey
still running that the withdrawn fact started (an ``admitted``, a ``discharged``, of
that stay) is undone when nothing of it has gone out: it ends (``retracted:<tag>``),
its messages not handed over are cancelled, its open staff tasks closed and its open
offers withdrawn. Once one of
its messages was handed over, or it started longer ago than the outreach record keeps
(:data:`~membercore.outreach.state.KEPT_FOR`), it is left to run and the retraction is
recorded on the member's record with the reason (``fact_set_aside``), so that staff see
it. A retraction that finds nothing to undo is recorded so too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from membercore import journeys, outreach
from membercore.facts import AdmissionCancelled, DischargeCancelled, Fact
from membercore.idempotency import fingerprint
from membercore.outreach.state import KEPT_FOR, cancellation
from membercore.service import death, work
from membercore.staff import offers, tasks

if TYPE_CHECKING:
    from membercore.journeys import JourneyInstance
    from membercore.service.runner import Runner

__all__ = ["RETRACTED", "retract"]

#: The fact each retraction withdraws, by the retraction's type.
RETRACTED = {AdmissionCancelled: "admitted", DischargeCancelled: "discharged"}


def retract(run: Runner, fact: Fact) -> bool:
    """Whether ``fact`` is a retraction: then what it withdraws is undone or recorded."""
    withdrawn = RETRACTED.get(type(fact))
    if withdrawn is None:
        return False
    visit = getattr(fact, "visit_id", "")
    started = [
        instance
        for instance in journeys.active(run.member.journeys)
        if instance.occasion == f"{withdrawn}:{visit}"
    ]
    if not started:
        _record(run, fact, f"the {withdrawn} fact of stay {visit} started nothing still running")
        return True
    for instance in started:
        why = _why_not(run, instance)
        if why is None:
            _undo(run, fact, instance)
        else:
            _record(run, fact, f"{instance.instance_id} is left to run: {why}")
    return True


def _messages(run: Runner, instance: JourneyInstance) -> list[outreach.SentMessage]:
    """The messages and call tasks the instance's steps asked for."""
    return [item for item in run.member.outreach.sent if item.journey == instance.instance_id]


def _why_not(run: Runner, instance: JourneyInstance) -> str | None:
    """Why the instance cannot be undone (something of it went out), or None."""
    if instance.started_at < run.now - KEPT_FOR:
        return f"it started on {instance.started_at.date()}, before what the record keeps"
    handed = run.member.outreach.handed_over
    sent = [item.message_id for item in _messages(run, instance) if item.message_id in handed]
    if sent:
        return f"{', '.join(sent)} went out already"
    return None


def _undo(run: Runner, fact: Fact, instance: JourneyInstance) -> None:
    """End the instance; cancel its messages not handed over; close its open tasks."""
    why = f"{fact.TYPE} {fact.fact_id}"
    ended = journeys.ending(
        run.member.member_id,
        instance,
        f"retracted:{instance.occasion.partition(':')[0]}",
        run.now,
        fact.fact_id,
    )
    run.take([ended])
    state = run.member.outreach
    run.take(
        [
            cancellation(state, item, run.now, f"withdrawn before it went out: {why}")
            for item in _messages(run, instance)
            if item.message_id not in state.handed_over
        ]
    )
    run.take(
        offers.withdraw_made_by(
            run.member.offers,
            instance.instance_id,
            run.now,
            f"withdrawn before it went out: {why}",
            fact.fact_id,
            fingerprint(fact),
        )
    )
    for task in work.owned(run, instance.journey, instance.instance_id):
        close = tasks.CloseTask(
            key=f"{fact.fact_id}/close/{task.key}",
            member_id=run.member.member_id,
            task_key=task.key,
            outcome="retracted",
            by="membercore",
        )
        work.decide(run, close)


def _record(run: Runner, fact: Fact, reason: str) -> None:
    run.take([death.aside(run, fact, reason)])
