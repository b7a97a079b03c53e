"""Handing the outbox over: each message checked again on the member's record, then sent.

:meth:`~membercore.Engine.dispatch` claims the messages due, and checks each on its
member's record at that instant (:func:`membercore.outreach.hand_over`): still queued,
the member alive, consent for its purpose on its channel, outside quiet hours, within
the weekly cap. The hand-overs and the cancellations are committed first — under the
record's version check, so a withdrawal committed meanwhile is seen — and only then are
the messages given to their channels, :data:`CHECKED_AT_ONCE` at a time: a withdrawal or
an erasure committed while a dispatch goes out stops the messages after the next check.
A cancelled message is never sent (its outbox row is cancelled in the same commit); one
that meets quiet hours waits for their end. A delivery that fails is noted on the record
(:meth:`~membercore.Engine.note_deliveries`), so that a withdrawal before its retry
cancels it, and one given up falls back to the member's next channel. The channel is
handed the member's address on it and their health manager, as their record gives them
at the hand-over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import attrs

from membercore import outreach
from membercore.converters import JSON
from membercore.ports import Channel, Delivery, OutboxMessage
from membercore.service.dispatch import Backoff, DispatchReport, record, report_of, send
from membercore.service.member import Member, contact, evolve_all
from membercore.service.notices import STAFF, task_of
from membercore.service.outcomes import address_key, note, rendered, todays_payload
from membercore.service.recording import member_of

if TYPE_CHECKING:
    from membercore.service.engine import Engine

__all__ = ["CHECKED_AT_ONCE", "deliver"]


#: How many claimed messages are checked on their records, then handed over, at a time:
#: a consent withdrawn or a person erased while a dispatch goes out stops the messages
#: after the next check, not after the whole batch.
CHECKED_AT_ONCE = 50


@attrs.frozen
class _Handed:
    """What handing over a part of the claimed messages did."""

    sent: list[tuple[OutboxMessage, Delivery]]
    held: int
    cancelled: int
    given_up: int


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
    """Claim the messages due by ``now``, check each on its record, send those that pass.

    The claimed messages are checked and handed over :data:`CHECKED_AT_ONCE` at a time.
    """
    claimed = engine.store.claim_outbox(now, limit, worker=worker, lease=lease)
    parts = [
        _hand_over(engine, channels, claimed[start : start + CHECKED_AT_ONCE], now, backoff)
        for start in range(0, len(claimed), CHECKED_AT_ONCE)
    ]
    sent = [pair for part in parts for pair in part.sent]
    failures = [
        _failure(message, outcome)
        for message, outcome in sent
        if outcome.receipt is None and message.channel != STAFF
    ]
    if failures:
        note(engine, failures, now)
    report = report_of(outcome for _, outcome in sent)
    return attrs.evolve(
        report,
        failed=report.failed + sum(part.given_up for part in parts),
        cancelled=sum(part.cancelled for part in parts),
        held=sum(part.held for part in parts),
    )


def _hand_over(
    engine: Engine,
    channels: Mapping[str, Channel],
    claimed: Sequence[OutboxMessage],
    now: datetime,
    backoff: Backoff,
) -> _Handed:
    """Check ``claimed`` on their records (one commit), then give those that pass over."""
    what = f"handing over {len(claimed)} messages"
    (verdicts, reach), _ = engine.retrying(partial(_check, engine, claimed, now), what)
    sent: list[tuple[OutboxMessage, Delivery]] = []
    held = cancelled = given_up = 0
    for message in claimed:
        verdict = verdicts[message.message_id]
        if verdict.send:
            given = reach[message.message_id]
            outgoing = _outgoing(message, given)
            address = address_key(message.channel, given.get("to"))
            delivery = send(engine.store, channels, outgoing, now, backoff, address=address)
            sent.append((message, delivery))
        elif verdict.later is not None:
            held += 1
            why = f"held back for quiet hours until {verdict.later.isoformat()}"
            record(
                engine.store,
                Delivery(
                    message_id=message.message_id,
                    at=now,
                    error=why,
                    retry_at=verdict.later,
                    held=True,
                    key=message.key,
                ),
            )
        elif verdict.unknown:
            given_up += 1
            why = _UNKNOWN if message.channel != STAFF else _CLOSED
            record(
                engine.store,
                Delivery(message_id=message.message_id, at=now, error=why, key=message.key),
            )
        else:
            cancelled += 1  # its row was cancelled in the hand-over's commit
    return _Handed(sent=sent, held=held, cancelled=cancelled, given_up=given_up)


_UNKNOWN = (
    "not queued on the member's record any more (its record is gone, or it fell due more "
    "than two weeks before the record's latest decision): not sent"
)
_CLOSED = "its task is closed, or its record gone: the notice is not sent"


def _outgoing(message: OutboxMessage, reach: Mapping[str, str]) -> OutboxMessage:
    """The message as a channel is handed it: its payload, with the member's address.

    Rows an earlier release queued (the whole decision) are made so too.
    """
    payload = todays_payload(message.payload)
    if reach:
        payload = JSON.encode({**json.loads(payload), **reach})
    return attrs.evolve(message, payload=payload)


def _handed_with(member: Member, channel: str) -> dict[str, str]:
    """What a channel needs to reach the member: their address on it and health manager."""
    reach = {"to": contact(member, channel), "manager": member.work.health_manager}
    return {name: value for name, value in reach.items() if value}


def _notice(member: Member, message: OutboxMessage) -> outreach.HandOver:
    """A notice to staff goes out while its task is open; it holds nothing to check else."""
    task = member.work.tasks.get(task_of(json.loads(message.payload)) or "")
    if task is None or task.status != "open":
        return outreach.HandOver(send=False, unknown=True)
    return outreach.HandOver(send=True)


def _failure(message: OutboxMessage, outcome: Delivery) -> outreach.NoteDelivery:
    return outreach.NoteDelivery(
        member_id=member_of(message.key),
        message_id=message.message_id,
        at=outcome.at,
        delivered=False,
        detail=outcome.error or "failed",
        retry_at=outcome.retry_at,
        **rendered(message),
    )


def _check(
    engine: Engine, claimed: Sequence[OutboxMessage], now: datetime
) -> tuple[dict[str, outreach.HandOver], dict[str, dict[str, str]]]:
    uow = engine.unit_of_work(now)
    uow.load({message.key for message in claimed})
    verdicts: dict[str, outreach.HandOver] = {}
    reach: dict[str, dict[str, str]] = {}
    for message in claimed:
        held = uow.records.get(message.key)
        if held is None or not isinstance(held.state, Member):
            # No record to check it on: it is not sent, and given up saying why.
            verdicts[message.message_id] = outreach.HandOver(send=False, unknown=True)
            continue
        member: Member = held.state
        if message.channel == STAFF:
            verdicts[message.message_id] = _notice(member, message)
            reach[message.message_id] = {}
            continue
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
        reach[message.message_id] = _handed_with(member, message.channel)
    uow.commit()
    return verdicts, reach
