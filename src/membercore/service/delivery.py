"""Handing the outbox over: each message checked again on the member's record, then sent.

:meth:`~membercore.Engine.dispatch` claims the messages due, and checks each on its
member's record at that instant (:func:`membercore.outreach.hand_over`): still queued,
the member alive, consent for its purpose on its channel, outside quiet hours, within
the weekly cap. The hand-overs and the cancellations are committed first — under the
record's version check, so a withdrawal committed meanwhile is seen — and only then are
the messages given to their channels. A cancelled message is never sent (its outbox row
is cancelled in the same commit); one that meets quiet hours waits for their end. A
delivery that fails is noted on the record, so that a withdrawal before its retry
cancels it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import attrs

from membercore import outreach
from membercore.ports import Channel, Delivery, OutboxMessage
from membercore.serialization import message_from_stored
from membercore.service.dispatch import Backoff, DispatchReport, report_of, send
from membercore.service.member import Member, evolve_all
from membercore.service.recording import member_of
from membercore.service.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = ["deliver"]


def deliver(
    engine: Engine,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int,
    backoff: Backoff,
    worker: str,
    lease: timedelta,
) -> DispatchReport:
    """Claim the messages due by ``now``, check each on its record, send those that pass."""
    claimed = engine.store.claim_outbox(now, limit, worker=worker, lease=lease)
    if not claimed:
        return DispatchReport()
    what = f"handing over {len(claimed)} messages"
    verdicts, _ = engine.retrying(partial(_check, engine, claimed, now), what)
    sent: list[tuple[OutboxMessage, Delivery]] = []
    held = cancelled = given_up = 0
    for message in claimed:
        verdict = verdicts[message.message_id]
        if verdict.send:
            outgoing = _outgoing(message)
            sent.append((message, send(engine.store, channels, outgoing, now, backoff)))
        elif verdict.later is not None:
            held += 1
            why = f"held back for quiet hours until {verdict.later.isoformat()}"
            engine.store.record_delivery(
                Delivery(
                    message_id=message.message_id,
                    at=now,
                    error=why,
                    retry_at=verdict.later,
                    held=True,
                )
            )
        elif verdict.unknown:
            given_up += 1
            why = (
                "not queued on the member's record any more (its record is gone, or it fell "
                "due more than two weeks before the record's latest decision): not sent"
            )
            engine.store.record_delivery(Delivery(message_id=message.message_id, at=now, error=why))
        else:
            cancelled += 1  # its row was cancelled in the hand-over's commit
    failures = [(message, outcome) for message, outcome in sent if outcome.receipt is None]
    if failures:
        engine.retrying(partial(_note_failures, engine, failures, now), "noting failed deliveries")
    report = report_of(outcome for _, outcome in sent)
    return attrs.evolve(report, failed=report.failed + given_up, cancelled=cancelled, held=held)


#: How a row an earlier release queued begins: the whole decision, tagged, as stored.
_QUEUED = f'{{"type":"{outreach.MessageQueued.TYPE}"'


def _outgoing(message: OutboxMessage) -> OutboxMessage:
    """The message as a channel is handed it (rows an earlier release queued, made so too)."""
    if not message.payload.startswith(_QUEUED):
        return message  # today's rows are already what a channel is handed
    queued = message_from_stored(message.payload)
    return attrs.evolve(message, payload=outreach.outgoing(queued))


def _check(
    engine: Engine, claimed: Sequence[OutboxMessage], now: datetime
) -> dict[str, outreach.HandOver]:
    uow = engine.unit_of_work(now)
    uow.load({message.key for message in claimed})
    verdicts: dict[str, outreach.HandOver] = {}
    for message in claimed:
        held = uow.records.get(message.key)
        if held is None or not isinstance(held.state, Member):
            # No record to check it on: it is not sent, and given up saying why.
            verdicts[message.message_id] = outreach.HandOver(send=False, unknown=True)
            continue
        member: Member = held.state
        verdict = outreach.hand_over(
            message.message_id,
            message.channel,  # type: ignore[arg-type]
            member.outreach,
            member.consent,
            engine.config,
            now,
            alive=member.identity.alive(now),
        )
        if verdict.events:
            held.take(evolve_all(member, verdict.events), verdict.events)
        verdicts[message.message_id] = verdict
    uow.commit()
    return verdicts


def _note_failures(
    engine: Engine, failures: Sequence[tuple[OutboxMessage, Delivery]], now: datetime
) -> None:
    uow: UnitOfWork = engine.unit_of_work(now)
    uow.load({message.key for message, _ in failures})
    for message, delivery in failures:
        held = uow.records.get(message.key)
        if held is None or not isinstance(held.state, Member):
            continue
        failed = outreach.MessageDeliveryFailed(
            member_id=member_of(message.key),
            message_id=message.message_id,
            at=now,
            error=delivery.error or "failed",
            retry_at=delivery.retry_at,
        )
        held.take(evolve_all(held.state, (failed,)), (failed,))
    uow.commit()
