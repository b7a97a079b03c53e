"""Death is final for the programme: what a ``patient_died`` fact ends, and what comes after.

At the fact the record notes the death (:class:`~membercore.identity.DeathRecorded`);
every message and call task not yet handed over is cancelled, every open staff task is
closed with the reason, and the journeys end (each reference journey exits on
``patient_died``). A fact dated after the death is recorded without effect — no points,
no tier change, no tag, no journey (:class:`~membercore.identity.FactSetAside`) — except a
refund, a correction of billing from before the death, which the ledger still takes. No
offer is made to the member and time does nothing more to the record. Staff may reverse a
death recorded by mistake (:class:`~membercore.identity.ReverseDeath`); nothing it ended
comes back by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from membercore import ledger, outreach
from membercore.errors import MemberDiedError
from membercore.facts import Fact, PatientDied, RefundIssued
from membercore.identity import DeathRecorded, FactSetAside, ReverseDeath, decide_reversal
from membercore.staff import tasks

if TYPE_CHECKING:
    from membercore.service.runner import Runner

__all__ = [
    "OUTCOME",
    "aside",
    "died",
    "refuse_after_death",
    "reverse",
    "set_aside",
    "without_effect",
]

#: Why a staff task closes at a death.
OUTCOME = "member_died"


def died(run: Runner, fact: PatientDied) -> list[object]:
    """The death noted, and everything still to go out or be done for the member ended."""
    member = run.member
    if member.identity.died_at is not None:  # a second report: kept, without effect
        return list(run.take([aside(run, fact, "the member's death was noted before")]))
    made: list[object] = list(
        run.take(
            [
                DeathRecorded(
                    member_id=member.member_id,
                    fact_id=fact.fact_id,
                    died_at=fact.occurred_at,
                    at=run.now,
                )
            ]
        )
    )
    why = f"the member died ({fact.fact_id})"
    made += run.take(outreach.cancel_all(run.member.outreach, run.now, why))
    for task in member.work.tasks.values():
        if task.status == "open":
            close = tasks.CloseTask(
                key=f"{fact.fact_id}/close/{task.key}",
                member_id=member.member_id,
                task_key=task.key,
                outcome=OUTCOME,
                by="membercore",
            )
            made += run.take(tasks.decide(close, run.member.work, run.config, run.now))
    return made


def set_aside(run: Runner, fact: Fact) -> bool:
    """Whether ``fact`` comes after the member's death: then it is recorded without effect.

    A refund is a correction of billing: the ledger takes it, and nothing else does.
    """
    identity = run.member.identity
    if identity.died_at is None or identity.alive(fact.occurred_at):
        return False
    if isinstance(fact, RefundIssued):
        m = run.member
        run.take(ledger.decide(fact, m.ledger, run.config, run.now, tier=run.tier_key()))
        return True
    when = f"dated at or after the member's death at {identity.died_at.isoformat()}"
    run.take([aside(run, fact, when)])
    return True


def without_effect(run: Runner, fact: Fact) -> bool:
    """Whether ``fact`` says itself it has no effect: then it is recorded without effect.

    A preliminary result, a diagnosis entered in error or with no ICD-10 code mapped
    (the fact's ``without_effect`` names why).
    """
    why = getattr(fact, "without_effect", None)
    if not isinstance(why, str):
        return False
    run.take([aside(run, fact, why)])
    return True


def aside(run: Runner, fact: Fact, reason: str) -> FactSetAside:
    """The record that ``fact`` was taken without effect on the programme, and why."""
    return FactSetAside(
        member_id=run.member.member_id,
        fact_id=fact.fact_id,
        fact_type=fact.TYPE,
        reason=reason,
        at=run.now,
    )


def reverse(run: Runner, command: ReverseDeath) -> Sequence[object]:
    """Staff reverse a death recorded by mistake."""
    identity = run.member.identity
    return run.take(decide_reversal(command, identity, run.member.member_id, run.now))


def refuse_after_death(run: Runner, what: str) -> None:
    """Refuse ``what`` for a member whose death is recorded.

    Raises:
        MemberDiedError: the member has died.
    """
    died_at = run.member.identity.died_at
    if died_at is not None:
        raise MemberDiedError(run.member.member_id, died_at, what)
