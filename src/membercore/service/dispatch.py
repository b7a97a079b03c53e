"""Delivering the outbox: each pending message through its channel, with back-off.

The engine queues messages in the same transaction as the decision that made them; the
dispatcher hands them to channels afterwards. A channel's acknowledgment marks the
message delivered, so it is never sent again; a failure is recorded and retried later,
each wait longer than the last, until the policy gives up and marks it failed.

Dispatchers may run side by side (threads, processes, machines): each claims the
messages it sends (:meth:`~membercore.ports.Store.claim_outbox`) for a lease, and the
others skip them, so no message goes out twice. Recording a delivery releases the claim;
a dispatcher that dies mid-batch leaves its claims to run out, and then another sends
them. The lease must outlast sending one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs

from membercore.dates import require_aware
from membercore.errors import UnknownMessageError
from membercore.ports import (
    Channel,
    Delivery,
    OutboxMessage,
    PermanentDeliveryError,
    Store,
    TransientDeliveryError,
)

__all__ = [
    "DEFAULT_LEASE",
    "Backoff",
    "DispatchReport",
    "dispatch",
    "record",
    "report_of",
    "send",
]

log = logging.getLogger(__name__)

#: How long a dispatcher holds the messages it claimed, unless it says otherwise.
DEFAULT_LEASE = timedelta(minutes=5)


@attrs.frozen(kw_only=True)
class Backoff:
    """When to try a failed delivery again.

    Attributes:
        first: the wait after the first failure.
        factor: each later wait is this many times the one before.
        longest: no wait is longer.
        attempts: give up after this many failures.
    """

    first: timedelta = timedelta(minutes=1)
    factor: int = 4
    longest: timedelta = timedelta(hours=6)
    attempts: int = 6

    def retry_at(self, failures: int, now: datetime) -> datetime | None:
        """When to retry after ``failures`` failures (None: give up)."""
        if failures >= self.attempts:
            return None
        wait: timedelta = min(self.first * self.factor ** (failures - 1), self.longest)
        return now + wait


@attrs.frozen
class DispatchReport:
    """What a dispatch did: messages delivered, to retry, given up, cancelled and held.

    ``cancelled`` and ``held`` are the engine's hand-over's (:meth:`Engine.dispatch`):
    messages the check at the hand-over cancelled, and held back for quiet hours.
    """

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    held: int = 0


def dispatch(
    store: Store,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int = 1000,
    backoff: Backoff | None = None,
    worker: str = "dispatcher",
    lease: timedelta = DEFAULT_LEASE,
) -> DispatchReport:
    """Claim every message due by ``now`` (up to ``limit``) and send it through its channel.

    It hands the outbox over as it stands, without the member record's checks at the
    hand-over: a hospital's dispatcher is :meth:`membercore.Engine.dispatch`, which
    checks each message first. This one serves a store without an engine.

    Args:
        store: the store holding the outbox.
        channels: the channels by name (``wecom``, ``sms``, ``email``).
        now: the instant of the dispatch.
        limit: how many messages at most.
        backoff: the retry policy (by default :class:`Backoff`'s).
        worker: this dispatcher's name, recorded with its claims.
        lease: how long its claims hold; longer than sending ``limit`` messages takes.

    Returns:
        The counts of messages delivered, left to retry and given up.
    """
    now = require_aware("now", now)
    policy = backoff or Backoff()
    claimed = store.claim_outbox(now, limit, worker=worker, lease=lease)
    outcomes = [send(store, channels, message, now, policy) for message in claimed]
    return report_of(outcomes)


def send(
    store: Store,
    channels: Mapping[str, Channel],
    message: OutboxMessage,
    now: datetime,
    policy: Backoff,
    *,
    address: str | None = None,
) -> Delivery:
    """Give one claimed message to its channel and record what the channel said.

    ``address``, the member's address the message was handed with, is kept with the
    acknowledgment (replies from it are matched to the message).
    """
    channel = channels.get(message.channel)
    try:
        if channel is None:
            # Not one of the dispatcher's channels: never deliverable this way.
            raise PermanentDeliveryError(f"no channel {message.channel!r} is configured")
        receipt = channel.send(message)
        if not isinstance(receipt, str) or not receipt:
            # The store marks a message delivered only with a receipt.
            raise TypeError(f"channel {message.channel!r} returned no acknowledgment")
    # A channel is a plugin talking to the outside: whatever it raises is a failed
    # delivery to record and retry, never a reason to stop the others.
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        retry_at = _retry_at(error, policy, message.attempts + 1, now)
        delivery = Delivery(
            message_id=message.message_id,
            at=now,
            error=reason,
            retry_at=retry_at,
            key=message.key,
        )
    else:
        delivery = Delivery(
            message_id=message.message_id,
            at=now,
            receipt=receipt,
            address=address,
            key=message.key,
        )
    record(store, delivery)
    return delivery


def record(store: Store, delivery: Delivery) -> None:
    """Record ``delivery``; a message gone from the outbox meanwhile is passed over.

    An erasure renames a person's messages, and may commit while one of them is with
    its channel: what the channel said of it is then nobody's to keep, and the other
    messages of the dispatch are recorded all the same.
    """
    try:
        store.record_delivery(delivery)
    except UnknownMessageError:
        log.warning(
            "outbox message %s is gone (erased?) since it was claimed: its delivery is not kept",
            delivery.message_id,
        )


def _retry_at(error: Exception, policy: Backoff, failures: int, now: datetime) -> datetime | None:
    """When to try again after ``error`` (None: give up).

    A permanent failure is given up at once; a provider's ``retry_after`` is waited out
    at least, within the policy's attempts.
    """
    if isinstance(error, PermanentDeliveryError):
        return None
    retry_at = policy.retry_at(failures, now)
    if retry_at is not None and isinstance(error, TransientDeliveryError) and error.retry_after:
        retry_at = max(retry_at, now + timedelta(seconds=error.retry_after))
    return retry_at


def report_of(outcomes: Iterable[Delivery]) -> DispatchReport:
    """The counts of a dispatch's deliveries: delivered, left to retry, given up."""
    delivered = retrying = failed = 0
    for outcome in outcomes:
        if outcome.receipt is not None:
            delivered += 1
        elif outcome.retry_at is not None:
            retrying += 1
        else:
            failed += 1
    return DispatchReport(delivered=delivered, retrying=retrying, failed=failed)
