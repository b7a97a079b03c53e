"""The contract of the outbox role: messages in commit order, claimed, delivered or given up.

Checks :class:`~membercore.ports.OutboxStore`: messages wait for their send instant, come
in commit order and are kept as first written; failures back off or give up; a message
is delivered at most once; cancelled ones are never sent; claims hold for their lease,
whoever asks, and a recorded delivery ends them.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import StorageError
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
    message_ids,
    message_of,
)

__all__ = ["OutboxContract"]


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
