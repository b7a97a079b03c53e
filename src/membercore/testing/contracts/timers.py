"""The contract of the timer role: when records are due a tick, listed and claimed.

Checks :class:`~membercore.ports.TimerStore`: a change's ``due_at`` sets, moves or clears
the record's timer; due records come earliest first; claims hold for their lease, are
taken back by their own worker, and end with a commit of the record.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import StorageError
from membercore.ports import (
    Commit,
    TimerStore,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    EXAMPLES,
    LEASE,
    MINUTE,
    SECOND,
    T0,
    change_of,
    create,
    examples,
)

__all__ = ["TimersContract"]


class TimersContract(Contract):
    """What every :class:`~membercore.ports.TimerStore` does."""

    role = TimerStore

    # -- due-record claims ------------------------------------------------------------------

    def test_a_due_claim_takes_due_records_earliest_first_up_to_the_limit(
        self, store: TimerStore
    ) -> None:
        later = T0 + MINUTE  # the claims of T0 still hold then
        store.commit(
            Commit(
                changes=[
                    change_of("member:p-b", due_at=T0 - MINUTE),
                    change_of("member:p-c", due_at=T0 - 2 * MINUTE),
                    change_of("member:p-a", due_at=T0 - MINUTE),
                    change_of("member:p-d", due_at=T0),
                    change_of("member:p-later", due_at=later),
                    change_of("member:p-never"),
                ]
            )
        )
        assert store.claim_due(T0, 3, worker="w-1", lease=LEASE) == [
            ("member:p-c", T0 - 2 * MINUTE),
            ("member:p-a", T0 - MINUTE),
            ("member:p-b", T0 - MINUTE),
        ]
        assert store.claim_due(T0, 0, worker="w-1", lease=LEASE) == []
        assert store.claim_due(T0, 10, worker="w-2", lease=LEASE) == [("member:p-d", T0)]
        assert store.claim_due(later, 10, worker="w-3", lease=LEASE) == [("member:p-later", later)]
        # Every claim above still holds just before the first lease ends.
        assert store.claim_due(T0 + LEASE - SECOND, 10, worker="w-4", lease=LEASE) == []

    def test_a_claimed_record_is_not_claimed_again_before_its_lease_ends(
        self, store: TimerStore
    ) -> None:
        create(store, "member:p-1", "member:p-2", due_at=T0)
        assert store.claim_due(T0, 1, worker="w-1", lease=LEASE) == [("member:p-1", T0)]
        just_before = T0 + LEASE - SECOND
        assert store.claim_due(just_before, 10, worker="w-2", lease=LEASE) == [("member:p-2", T0)]
        assert store.claim_due(just_before, 10, worker="w-3", lease=LEASE) == []

    def test_a_worker_started_again_under_its_name_takes_its_records_back(
        self, store: TimerStore
    ) -> None:
        create(store, "member:p-1", "member:p-2", due_at=T0)
        store.claim_due(T0, 1, worker="w-1", lease=LEASE)
        restarted = T0 + SECOND
        claimed = store.claim_due(restarted, 10, worker="w-1", lease=LEASE)
        assert claimed == [("member:p-1", T0), ("member:p-2", T0)]
        assert store.claim_due(restarted, 10, worker="w-2", lease=LEASE) == []

    def test_an_expired_lease_makes_a_record_claimable_again(self, store: TimerStore) -> None:
        create(store, "member:p-1", due_at=T0)
        store.claim_due(T0, 10, worker="crashed", lease=LEASE)
        ended = T0 + LEASE
        assert store.claim_due(ended, 10, worker="w-2", lease=LEASE) == [("member:p-1", T0)]
        assert store.claim_due(ended, 10, worker="w-3", lease=LEASE) == []

    def test_two_claimers_get_disjoint_records_that_cover_the_due_ones(
        self, store: TimerStore
    ) -> None:
        keys = [f"member:p-{n}" for n in range(7)]
        create(store, *keys, due_at=T0)
        first = [key for key, _ in store.claim_due(T0, 3, worker="w-1", lease=LEASE)]
        second = [key for key, _ in store.claim_due(T0, 3, worker="w-2", lease=LEASE)]
        third = [key for key, _ in store.claim_due(T0, 3, worker="w-3", lease=LEASE)]
        assert not set(first) & set(second)
        assert first + second + third == keys

    def test_a_due_claim_leaves_the_due_listing_as_it_was(self, store: TimerStore) -> None:
        create(store, "member:p-1", "member:p-2", due_at=T0)
        store.claim_due(T0, 1, worker="w-1", lease=LEASE)
        assert store.due(T0, 10) == [("member:p-1", T0), ("member:p-2", T0)]

    def test_a_commit_of_the_record_releases_its_claim(self, store: TimerStore) -> None:
        create(store, "member:p-1", "member:p-2", "member:p-3", due_at=T0)
        store.claim_due(T0, 10, worker="w-1", lease=LEASE)
        store.commit(
            Commit(
                changes=[
                    change_of("member:p-1", 1, due_at=T0),  # still due: claimable again
                    attrs.evolve(change_of("member:p-2", 1, due_at=T0), snapshot=None),
                    change_of("member:p-3", 1, due_at=T0 + MINUTE),
                ]
            )
        )
        assert store.claim_due(T0, 10, worker="w-2", lease=LEASE) == [
            ("member:p-1", T0),
            ("member:p-2", T0),
        ]
        later = T0 + MINUTE
        assert store.claim_due(later, 10, worker="w-3", lease=LEASE) == [("member:p-3", later)]

    def test_a_due_claim_without_a_worker_or_a_positive_lease_is_refused(
        self, store: TimerStore
    ) -> None:
        create(store, "member:p-1", due_at=T0)
        with pytest.raises(StorageError, match="worker"):
            store.claim_due(T0, 10, worker="", lease=LEASE)
        with pytest.raises(StorageError, match="lease"):
            store.claim_due(T0, 10, worker="w-1", lease=timedelta(0))
        with pytest.raises(StorageError, match="lease"):
            store.claim_due(T0, 10, worker="w-1", lease=-LEASE)
        assert store.claim_due(T0, 10, worker="w-1", lease=LEASE) == [("member:p-1", T0)]

    # -- timers -----------------------------------------------------------------------------

    def test_due_records_come_earliest_first_then_by_key(self, store: TimerStore) -> None:
        store.commit(
            Commit(
                changes=[
                    change_of("member:p-b", due_at=T0 + MINUTE),
                    change_of("member:p-c", due_at=T0),
                    change_of("member:p-a", due_at=T0 + MINUTE),
                    change_of("member:p-d", due_at=T0 + timedelta(days=1)),
                    change_of("member:p-e"),
                ]
            )
        )
        assert store.due(T0 + timedelta(hours=1), 10) == [
            ("member:p-c", T0),
            ("member:p-a", T0 + MINUTE),
            ("member:p-b", T0 + MINUTE),
        ]

    def test_due_honours_now_and_the_limit(self, store: TimerStore) -> None:
        store.commit(
            Commit(changes=[change_of(f"member:p-{n}", due_at=T0 + n * MINUTE) for n in range(6)])
        )
        assert [key for key, _ in store.due(T0 + 3 * MINUTE, 10)] == [
            "member:p-0",
            "member:p-1",
            "member:p-2",
            "member:p-3",
        ]
        assert [key for key, _ in store.due(T0 + timedelta(days=1), 2)] == [
            "member:p-0",
            "member:p-1",
        ]
        assert store.due(T0 - MINUTE, 10) == []
        assert store.due(T0 + timedelta(days=1), 0) == []

    def test_a_change_without_due_at_clears_the_timer(self, store: TimerStore) -> None:
        create(store, "member:p-1", due_at=T0)
        store.commit(Commit(changes=[change_of("member:p-1", 1, due_at=None)]))
        assert store.due(T0 + timedelta(days=1), 10) == []

    def test_a_new_due_at_moves_the_timer(self, store: TimerStore) -> None:
        create(store, "member:p-1", "member:p-2", due_at=T0)
        store.commit(Commit(changes=[change_of("member:p-1", 1, due_at=T0 + timedelta(hours=2))]))
        assert store.due(T0 + timedelta(hours=1), 10) == [("member:p-2", T0)]
        assert store.due(T0 + timedelta(hours=2), 10) == [
            ("member:p-2", T0),
            ("member:p-1", T0 + timedelta(hours=2)),
        ]

    # -- properties -------------------------------------------------------------------------

    def test_due_is_the_earliest_timers_in_order(self, store: TimerStore) -> None:
        @examples
        @given(
            offsets=st.lists(st.integers(-10_000, 10_000), min_size=1, max_size=15),
            moves=st.lists(st.one_of(st.none(), st.integers(-30, 30)), max_size=15),
            limit=st.integers(1, 20),
        )
        def check(offsets: list[int], moves: list[int | None], limit: int) -> None:
            namespace = f"due-{next(EXAMPLES)}/"
            timers = {f"{namespace}{n:02d}": T0 + s * SECOND for n, s in enumerate(offsets)}
            keys = list(timers)
            store.commit(
                Commit(changes=[change_of(k, due_at=t, events=0) for k, t in timers.items()])
            )
            # Then some move, to instants that others share, or are cleared.
            moved = dict(zip(timers, moves, strict=False))
            changes = [
                change_of(k, 1, due_at=None if s is None else T0 + s * SECOND, events=0)
                for k, s in moved.items()
            ]
            store.commit(Commit(changes=changes))
            for k, s in moved.items():
                if s is None:
                    del timers[k]
                else:
                    timers[k] = T0 + s * SECOND
            try:
                expected = sorted((at, key) for key, at in timers.items() if at <= T0)[:limit]
                assert store.due(T0, limit) == [(key, at) for at, key in expected]
            finally:
                # Clear this example's timers, so that the next one sees only its own.
                store.commit(
                    Commit(changes=[change_of(k, 2 if k in moved else 1, events=0) for k in keys])
                )

        check()
