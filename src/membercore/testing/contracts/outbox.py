"""The contract of the outbox role: messages in commit order, claimed, delivered or given up.

Checks :class:`~membercore.ports.OutboxStore`: messages wait for their send instant, come
in commit order and are kept as first written; failures back off or give up; a message
is delivered at most once; cancelled ones are never sent; claims hold for their lease,
whoever asks, and a recorded delivery ends them; a delivered message keeps its receipt,
address and instant, awaits its provider's outcome until one is recorded (the first is
kept), and is found again by the address it went to.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import NaiveInstantError, StorageError
from membercore.ports import (
    Commit,
    Delivery,
    OutboxMessage,
    OutboxStore,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    EXAMPLES,
    LEASE,
    MINUTE,
    SECOND,
    SHANGHAI,
    T0,
    examples,
    is_utc,
    message_ids,
    message_of,
)

__all__ = ["OutboxContract"]

#: The addresses the suite's messages are delivered to.
HANDSET = "+8613800138000"
OTHER_HANDSET = "+8613900139000"


def _deliver(
    store: OutboxStore, message_id: str, *, at: datetime = T0, address: str | None = None
) -> None:
    """Record a receipt for ``message_id`` at ``at``, naming ``address``."""
    delivery = Delivery(message_id=message_id, at=at, receipt=f"r-{message_id}", address=address)
    store.record_delivery(delivery)


class OutboxContract(Contract):
    """What every :class:`~membercore.ports.OutboxStore` does."""

    role = OutboxStore

    # -- outbox -----------------------------------------------------------------------------

    def test_pending_messages_come_in_commit_order_across_commits(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-z"), message_of("m-a")]))
        store.commit(Commit(outbox=[message_of("m-m")]))
        store.commit(Commit(outbox=[message_of("m-b"), message_of("m-y")]))
        assert message_ids(store.pending_outbox(T0, 10)) == ["m-z", "m-a", "m-m", "m-b", "m-y"]
        assert message_ids(store.outbox()) == ["m-z", "m-a", "m-m", "m-b", "m-y"]

    def test_a_pending_message_keeps_every_field(self, store: OutboxStore) -> None:
        message = OutboxMessage(
            message_id="m-1",
            key="member:王女士",
            channel="wecom",
            payload='{"text":"您好，体检报告已出"}',
            send_at=datetime(2025, 3, 1, 17, 30, 0, 1, tzinfo=SHANGHAI),
        )
        store.commit(Commit(outbox=[message]))
        assert store.pending_outbox(message.send_at, 1) == [message]
        assert list(store.outbox("pending")) == [message]

    def test_a_message_waits_for_its_send_at(self, store: OutboxStore) -> None:
        later = T0 + timedelta(hours=10)
        store.commit(Commit(outbox=[message_of("m-later", send_at=later), message_of("m-now")]))
        assert message_ids(store.pending_outbox(T0, 10)) == ["m-now"]
        assert message_ids(store.pending_outbox(later - MINUTE, 10)) == ["m-now"]
        assert message_ids(store.pending_outbox(later, 10)) == ["m-later", "m-now"]

    def test_pending_outbox_honours_the_limit(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of(f"m-{n}") for n in range(7)]))
        assert message_ids(store.pending_outbox(T0, 3)) == ["m-0", "m-1", "m-2"]
        assert store.pending_outbox(T0, 0) == []

    def test_a_message_committed_twice_is_kept_once_as_first_written(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of("m-1", payload="first"), message_of("m-2")]))
        store.commit(Commit(outbox=[message_of("m-1", payload="second"), message_of("m-3")]))
        assert [(m.message_id, m.payload) for m in store.outbox()] == [
            ("m-1", "first"),
            ("m-2", "{}"),
            ("m-3", "{}"),
        ]

    def test_a_delivered_message_is_no_longer_pending(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="sms-123"))
        assert message_ids(store.pending_outbox(T0, 10)) == ["m-2"]
        (delivered,) = store.outbox("delivered")
        assert (delivered.message_id, delivered.status, delivered.attempts) == (
            "m-1",
            "delivered",
            0,
        )

    def test_a_failed_delivery_backs_off_until_its_retry(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        retry_at = T0 + timedelta(minutes=5)
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="timeout", retry_at=retry_at))
        assert message_ids(store.pending_outbox(T0, 10)) == ["m-2"]
        assert message_ids(store.pending_outbox(retry_at - MINUTE, 10)) == ["m-2"]
        (retried, _) = store.pending_outbox(retry_at, 10)
        assert (retried.message_id, retried.attempts, retried.status) == ("m-1", 1, "pending")
        assert retried.last_error == "timeout"
        later = retry_at + timedelta(minutes=10)
        store.record_delivery(Delivery(message_id="m-1", at=retry_at, error="502", retry_at=later))
        assert message_ids(store.pending_outbox(later - MINUTE, 10)) == ["m-2"]
        assert [m.attempts for m in store.pending_outbox(later, 10)] == [2, 0]

    def test_a_message_held_back_waits_without_counting_a_failure(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        until = T0 + timedelta(hours=11)
        held = Delivery(message_id="m-1", at=T0, error="quiet hours", retry_at=until, held=True)
        store.record_delivery(held)
        assert store.pending_outbox(until - MINUTE, 10) == []
        (waiting,) = store.pending_outbox(until, 10)
        assert (waiting.message_id, waiting.attempts, waiting.status) == ("m-1", 0, "pending")

    def test_a_failure_without_a_retry_gives_up(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="timeout", retry_at=T0))
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="number unreachable"))
        assert store.pending_outbox(T0 + timedelta(days=30), 10) == []
        (failed,) = store.outbox("failed")
        assert (failed.message_id, failed.status, failed.attempts) == ("m-1", "failed", 2)
        assert failed.last_error == "number unreachable"  # why it was given up
        # Given up is final for failures: another one counts nothing.
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="again"))
        assert [m.attempts for m in store.outbox()] == [2]

    def test_a_message_is_delivered_at_most_once(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="first"))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="second"))
        store.record_delivery(
            Delivery(message_id="m-1", at=T0, error="late error", retry_at=T0 + MINUTE)
        )
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="late error"))
        (message,) = store.outbox()
        assert (message.status, message.attempts) == ("delivered", 0)
        assert store.pending_outbox(T0 + timedelta(days=1), 10) == []

    def test_a_delivery_of_an_unknown_message_is_refused(self, store: OutboxStore) -> None:
        with pytest.raises(StorageError, match="m-404"):
            store.record_delivery(Delivery(message_id="m-404", at=T0, receipt="r"))

    def test_a_delivery_naming_its_record_finds_the_message_in_that_record_alone(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2", key="member:p-2")]))
        with pytest.raises(StorageError, match="m-1"):
            store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="r", key="member:p-2"))
        retry_at = T0 + MINUTE
        failed = Delivery(message_id="m-2", at=T0, error="502", retry_at=retry_at, key="member:p-2")
        store.record_delivery(failed)
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="r-1", key="member:p-1"))
        assert [(m.message_id, m.status, m.attempts) for m in store.outbox()] == [
            ("m-1", "delivered", 0),
            ("m-2", "pending", 1),
        ]
        with pytest.raises(StorageError, match="m-1"):
            store.record_outcome("m-1", "delivered", T0, key="member:p-2")
        assert message_ids(store.awaiting("sms", T0, 10)) == ["m-1"]
        store.record_outcome("m-1", "undeliverable", T0 + MINUTE, key="member:p-1")
        assert [(m.message_id, m.outcome) for m in store.outbox()] == [
            ("m-1", "undeliverable"),
            ("m-2", None),
        ]

    def test_a_cancelled_message_is_no_longer_pending(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2"), message_of("m-3")]))
        store.record_delivery(Delivery(message_id="m-3", at=T0, receipt="r-3"))
        store.commit(Commit(cancelled=["m-1", "m-3", "m-unknown"]))
        assert message_ids(store.pending_outbox(T0 + MINUTE, 10)) == ["m-2"]
        assert message_ids(store.outbox("cancelled")) == ["m-1"]
        assert message_ids(store.outbox("delivered")) == ["m-3"]

    def test_the_outbox_lists_one_status_or_every_message_in_commit_order(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of(f"m-{n}") for n in range(5)]))
        store.record_delivery(Delivery(message_id="m-3", at=T0, receipt="r3"))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="r1"))
        store.record_delivery(Delivery(message_id="m-2", at=T0, error="gone"))
        assert message_ids(store.outbox()) == ["m-0", "m-1", "m-2", "m-3", "m-4"]
        assert message_ids(store.outbox("delivered")) == ["m-1", "m-3"]
        assert message_ids(store.outbox("failed")) == ["m-2"]
        assert message_ids(store.outbox("pending")) == ["m-0", "m-4"]

    def test_a_long_outbox_is_listed_whole_and_in_order(self, store: OutboxStore) -> None:
        ids = [f"m-{n:04d}" for n in range(1_203)]
        store.commit(Commit(outbox=[message_of(message_id) for message_id in reversed(ids)]))
        assert message_ids(store.outbox()) == list(reversed(ids))

    # -- outbox claims ----------------------------------------------------------------------

    def test_a_claim_takes_due_messages_in_commit_order_up_to_the_limit(
        self, store: OutboxStore
    ) -> None:
        later = T0 + MINUTE  # the claims of T0 still hold then
        store.commit(Commit(outbox=[message_of("m-z"), message_of("m-later", send_at=later)]))
        store.commit(Commit(outbox=[message_of("m-a"), message_of("m-m"), message_of("m-b")]))
        claimed = store.claim_outbox(T0, 3, worker="w-1", lease=LEASE)
        assert message_ids(claimed) == ["m-z", "m-a", "m-m"]
        assert claimed[0] == message_of("m-z")
        assert message_ids(store.claim_outbox(T0, 10, worker="w-1", lease=LEASE)) == ["m-b"]
        assert store.claim_outbox(T0, 0, worker="w-1", lease=LEASE) == []
        assert message_ids(store.claim_outbox(later, 10, worker="w-1", lease=LEASE)) == ["m-later"]

    def test_a_claimed_message_is_not_claimed_again_before_its_lease_ends(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        assert message_ids(store.claim_outbox(T0, 1, worker="w-1", lease=LEASE)) == ["m-1"]
        just_before = T0 + LEASE - SECOND
        assert message_ids(store.claim_outbox(just_before, 10, worker="w-2", lease=LEASE)) == [
            "m-2"
        ]
        # Not by the same name either: a message is never sent by two dispatchers at
        # once, even two given one name.
        assert store.claim_outbox(just_before, 10, worker="w-1", lease=LEASE) == []

    def test_an_expired_lease_makes_a_message_claimable_again(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        store.claim_outbox(T0, 10, worker="crashed", lease=LEASE)
        ended = T0 + LEASE
        assert message_ids(store.claim_outbox(ended, 10, worker="w-2", lease=LEASE)) == ["m-1"]
        assert store.claim_outbox(ended, 10, worker="w-3", lease=LEASE) == []

    def test_two_claimers_get_disjoint_messages_that_cover_the_due_ones(
        self, store: OutboxStore
    ) -> None:
        ids = [f"m-{n}" for n in range(7)]
        store.commit(Commit(outbox=[message_of(message_id) for message_id in ids]))
        first = message_ids(store.claim_outbox(T0, 3, worker="w-1", lease=LEASE))
        second = message_ids(store.claim_outbox(T0, 3, worker="w-2", lease=LEASE))
        third = message_ids(store.claim_outbox(T0, 3, worker="w-1", lease=LEASE))
        assert not set(first) & set(second)
        assert first + second + third == ids

    def test_a_claim_leaves_the_pending_listing_as_it_was(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        store.claim_outbox(T0, 1, worker="w-1", lease=LEASE)
        assert message_ids(store.pending_outbox(T0, 10)) == ["m-1", "m-2"]
        assert message_ids(store.outbox("pending")) == ["m-1", "m-2"]

    def test_a_recorded_delivery_releases_the_claim(self, store: OutboxStore) -> None:
        store.commit(
            Commit(outbox=[message_of("m-ok"), message_of("m-retry"), message_of("m-gone")])
        )
        store.claim_outbox(T0, 10, worker="w-1", lease=LEASE)
        retry_at = T0 + MINUTE  # well before the lease ends
        store.record_delivery(Delivery(message_id="m-ok", at=T0, receipt="r-1"))
        store.record_delivery(
            Delivery(message_id="m-retry", at=T0, error="timeout", retry_at=retry_at)
        )
        store.record_delivery(Delivery(message_id="m-gone", at=T0, error="unreachable"))
        assert store.claim_outbox(retry_at - SECOND, 10, worker="w-2", lease=LEASE) == []
        (retried,) = store.claim_outbox(retry_at, 10, worker="w-2", lease=LEASE)
        assert (retried.message_id, retried.attempts) == ("m-retry", 1)
        store.record_delivery(Delivery(message_id="m-retry", at=retry_at, receipt="r-2"))
        after = T0 + 2 * LEASE
        assert store.claim_outbox(after, 10, worker="w-3", lease=LEASE) == []

    def test_a_cancelled_claimed_message_is_never_claimed_again(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        store.claim_outbox(T0, 10, worker="w-1", lease=LEASE)
        store.commit(Commit(cancelled=["m-1"]))
        assert store.claim_outbox(T0 + 2 * LEASE, 10, worker="w-2", lease=LEASE) == []
        assert message_ids(store.outbox("cancelled")) == ["m-1"]

    def test_a_claim_without_a_worker_or_a_positive_lease_is_refused(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        with pytest.raises(StorageError, match="worker"):
            store.claim_outbox(T0, 10, worker="", lease=LEASE)
        with pytest.raises(StorageError, match="lease"):
            store.claim_outbox(T0, 10, worker="w-1", lease=timedelta(0))
        assert message_ids(store.claim_outbox(T0, 10, worker="w-1", lease=LEASE)) == ["m-1"]

    # -- addresses and outcomes -------------------------------------------------------------

    def test_a_delivered_message_is_listed_with_its_receipt_address_and_instant(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        at = datetime(2025, 3, 1, 17, 31, 0, 250, tzinfo=SHANGHAI)
        store.record_delivery(Delivery(message_id="m-1", at=at, receipt="sms-1", address=HANDSET))
        delivered, pending = store.outbox()
        assert delivered == attrs.evolve(
            message_of("m-1"), status="delivered", receipt="sms-1", address=HANDSET, delivered_at=at
        )
        assert delivered.delivered_at is not None
        assert is_utc(delivered.delivered_at)
        assert (delivered.outcome, delivered.outcome_at) == (None, None)
        assert pending == message_of("m-2")
        assert list(store.outbox("delivered")) == [delivered]

    def test_a_message_committed_with_what_a_store_records_is_kept_undelivered(
        self, store: OutboxStore
    ) -> None:
        forged = attrs.evolve(
            message_of("m-1"),
            receipt="r",
            address=HANDSET,
            delivered_at=T0,
            outcome="delivered",
            outcome_at=T0,
        )
        store.commit(Commit(outbox=[forged]))
        assert list(store.outbox()) == [message_of("m-1")]
        assert store.awaiting("sms", T0, 10) == []
        assert store.sent_to("sms", HANDSET, T0) == []

    def test_the_first_receipt_keeps_its_address_and_instant(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="first", address=HANDSET))
        later = T0 + MINUTE
        again = Delivery(message_id="m-1", at=later, receipt="second", address=OTHER_HANDSET)
        store.record_delivery(again)
        (message,) = store.outbox()
        assert (message.receipt, message.address, message.delivered_at) == (
            "first",
            HANDSET,
            T0,
        )
        assert message_ids(store.sent_to("sms", HANDSET, T0)) == ["m-1"]
        assert store.sent_to("sms", OTHER_HANDSET, T0) == []

    def test_a_failure_records_no_address_and_a_receipt_need_name_none(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        failed = Delivery(
            message_id="m-1", at=T0, error="timeout", retry_at=T0 + MINUTE, address=HANDSET
        )
        store.record_delivery(failed)
        store.record_delivery(Delivery(message_id="m-2", at=T0, error="gone", address=HANDSET))
        assert [(m.status, m.address, m.receipt) for m in store.outbox()] == [
            ("pending", None, None),
            ("failed", None, None),
        ]
        _deliver(store, "m-1", at=T0 + MINUTE)
        (delivered,) = store.outbox("delivered")
        assert (delivered.receipt, delivered.address) == ("r-m-1", None)
        assert message_ids(store.awaiting("sms", T0, 10)) == ["m-1"]
        assert store.sent_to("sms", HANDSET, T0) == []

    def test_awaiting_lists_the_channels_delivered_messages_without_an_outcome_in_commit_order(
        self, store: OutboxStore
    ) -> None:
        messages = [
            message_of("m-1"),
            message_of("m-pending"),
            message_of("m-wecom", channel="wecom"),
            message_of("m-2"),
            message_of("m-failed"),
            message_of("m-cancelled"),
            message_of("m-reported"),
            message_of("m-3"),
        ]
        store.commit(Commit(outbox=messages))
        # Delivered out of commit order: they are listed in commit order all the same.
        for n, message_id in enumerate(["m-3", "m-reported", "m-wecom", "m-2", "m-1"]):
            _deliver(store, message_id, at=T0 + n * SECOND)
        store.record_delivery(Delivery(message_id="m-failed", at=T0, error="unreachable"))
        store.commit(Commit(cancelled=["m-cancelled"]))
        store.record_outcome("m-reported", "delivered", T0 + MINUTE)
        assert message_ids(store.awaiting("sms", T0, 10)) == ["m-1", "m-2", "m-3"]
        assert message_ids(store.awaiting("wecom", T0, 10)) == ["m-wecom"]
        assert store.awaiting("email", T0, 10) == []
        (waiting, *_) = store.awaiting("sms", T0, 10)
        assert waiting == attrs.evolve(
            message_of("m-1"), status="delivered", receipt="r-m-1", delivered_at=T0 + 4 * SECOND
        )

    def test_awaiting_lists_the_messages_delivered_at_or_after_since(
        self, store: OutboxStore
    ) -> None:
        store.commit(Commit(outbox=[message_of(f"m-{n}") for n in range(3)]))
        for n in range(3):
            _deliver(store, f"m-{n}", at=T0 + n * MINUTE)
        assert message_ids(store.awaiting("sms", T0 + MINUTE, 10)) == ["m-1", "m-2"]
        assert message_ids(store.awaiting("sms", T0 + MINUTE - SECOND, 10)) == ["m-1", "m-2"]
        assert message_ids(store.awaiting("sms", T0 + MINUTE + SECOND, 10)) == ["m-2"]
        assert store.awaiting("sms", T0 + 3 * MINUTE, 10) == []
        # The same instant in another timezone.
        assert message_ids(store.awaiting("sms", T0.astimezone(SHANGHAI), 10)) == [
            "m-0",
            "m-1",
            "m-2",
        ]

    def test_awaiting_honours_the_limit(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of(f"m-{n}") for n in range(5)]))
        for n in reversed(range(5)):
            _deliver(store, f"m-{n}")
        assert message_ids(store.awaiting("sms", T0, 2)) == ["m-0", "m-1"]
        assert store.awaiting("sms", T0, 0) == []
        assert store.awaiting("sms", T0, -1) == []

    def test_an_outcome_is_recorded_once_and_ends_the_wait(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1"), message_of("m-2")]))
        _deliver(store, "m-1", address=HANDSET)
        _deliver(store, "m-2", address=HANDSET)
        reported = datetime(2025, 3, 1, 17, 45, tzinfo=SHANGHAI)
        store.record_outcome("m-1", "undeliverable", reported)
        store.record_outcome("m-1", "delivered", reported + MINUTE)
        message, _ = store.outbox()
        assert (message.outcome, message.outcome_at) == ("undeliverable", reported)
        assert message.outcome_at is not None
        assert is_utc(message.outcome_at)
        assert (message.status, message.receipt, message.address) == ("delivered", "r-m-1", HANDSET)
        assert message_ids(store.awaiting("sms", T0, 10)) == ["m-2"]
        # A message with an outcome is still found by its address.
        listed = store.sent_to("sms", HANDSET, T0)
        assert message_ids(listed) == ["m-1", "m-2"]
        assert [m.outcome for m in listed] == ["undeliverable", None]

    def test_an_outcome_of_an_unknown_or_undelivered_message_is_refused(
        self, store: OutboxStore
    ) -> None:
        store.commit(
            Commit(outbox=[message_of("m-pending"), message_of("m-failed"), message_of("m-gone")])
        )
        store.record_delivery(Delivery(message_id="m-failed", at=T0, error="unreachable"))
        store.commit(Commit(cancelled=["m-gone"]))
        for message_id in ("m-404", "m-pending", "m-failed", "m-gone"):
            with pytest.raises(StorageError, match=message_id):
                store.record_outcome(message_id, "delivered", T0)
        assert [(m.outcome, m.outcome_at) for m in store.outbox()] == [(None, None)] * 3
        # Delivered afterwards, the message still awaits its outcome: nothing was kept.
        _deliver(store, "m-pending", at=T0 + MINUTE)
        (delivered,) = store.awaiting("sms", T0, 10)
        assert (delivered.message_id, delivered.outcome) == ("m-pending", None)

    def test_an_empty_outcome_is_refused(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        _deliver(store, "m-1")
        with pytest.raises(StorageError, match="m-1"):
            store.record_outcome("m-1", "", T0)
        assert message_ids(store.awaiting("sms", T0, 10)) == ["m-1"]
        store.record_outcome("m-1", "delivered", T0)
        assert [m.outcome for m in store.outbox()] == ["delivered"]

    def test_sent_to_lists_the_channels_messages_delivered_to_the_address_since(
        self, store: OutboxStore
    ) -> None:
        messages = [
            message_of("m-1"),
            message_of("m-other"),
            message_of("m-wecom", channel="wecom"),
            message_of("m-nameless"),
            message_of("m-pending"),
            message_of("m-2"),
        ]
        store.commit(Commit(outbox=messages))
        # The first committed is delivered last: they are listed in commit order.
        _deliver(store, "m-2", at=T0, address=HANDSET)
        _deliver(store, "m-1", at=T0 + 2 * MINUTE, address=HANDSET)
        _deliver(store, "m-other", at=T0, address=OTHER_HANDSET)
        _deliver(store, "m-wecom", at=T0, address=HANDSET)
        _deliver(store, "m-nameless", at=T0)
        store.record_outcome("m-1", "delivered", T0 + 3 * MINUTE)
        assert message_ids(store.sent_to("sms", HANDSET, T0)) == ["m-1", "m-2"]
        assert message_ids(store.sent_to("sms", HANDSET, T0 + MINUTE)) == ["m-1"]
        assert message_ids(store.sent_to("sms", HANDSET, T0 + 2 * MINUTE)) == ["m-1"]
        assert store.sent_to("sms", HANDSET, T0 + 2 * MINUTE + SECOND) == []
        assert message_ids(store.sent_to("sms", OTHER_HANDSET, T0)) == ["m-other"]
        assert message_ids(store.sent_to("wecom", HANDSET, T0)) == ["m-wecom"]
        assert store.sent_to("email", HANDSET, T0) == []
        assert store.sent_to("sms", "+8613700137000", T0) == []
        (first, second) = store.sent_to("sms", HANDSET, T0.astimezone(SHANGHAI))
        assert (first.outcome, first.outcome_at) == ("delivered", T0 + 3 * MINUTE)
        assert (second.address, second.delivered_at, second.outcome) == (HANDSET, T0, None)

    def test_a_naive_instant_is_refused_by_the_outcome_methods(self, store: OutboxStore) -> None:
        store.commit(Commit(outbox=[message_of("m-1")]))
        _deliver(store, "m-1", address=HANDSET)
        naive = T0.replace(tzinfo=None)
        with pytest.raises(NaiveInstantError):
            store.awaiting("sms", naive, 10)
        with pytest.raises(NaiveInstantError):
            store.sent_to("sms", HANDSET, naive)
        with pytest.raises(NaiveInstantError):
            store.record_outcome("m-1", "delivered", naive)
        assert message_ids(store.awaiting("sms", T0, 10)) == ["m-1"]

    # -- properties -------------------------------------------------------------------------

    def test_the_outbox_keeps_commit_order_and_the_first_of_each_message(
        self, store: OutboxStore
    ) -> None:
        @examples
        @given(batches=st.lists(st.lists(st.integers(0, 20), max_size=6), max_size=6))
        def check(batches: list[list[int]]) -> None:
            member = f"member:outbox-{next(EXAMPLES)}"
            for number, batch in enumerate(batches):
                messages = [
                    message_of(f"{member}/m-{n}", key=member, payload=f"batch {number}")
                    for n in batch
                ]
                store.commit(Commit(outbox=messages))
            first: dict[str, str] = {}
            for number, batch in enumerate(batches):
                for n in batch:
                    first.setdefault(f"{member}/m-{n}", f"batch {number}")
            listed = [(m.message_id, m.payload) for m in store.outbox() if m.key == member]
            assert listed == list(first.items())

        check()
