"""The whole store's contract: every role's, and what only the roles together show.

:class:`StoreContract` subclasses the contract of each role, so a backend that passes
it passes each of them; its own tests are those no single role can check: an empty
store holds nothing anywhere, a refused commit writes nothing to any table, and every
instant comes back aware and in UTC whichever role kept it.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import NaiveInstantError, StorageError, VersionConflictError
from membercore.ports import Change, Commit, InboxEntry, Store, StoredEvent
from membercore.testing.contracts.builders import (
    EXAMPLES,
    LEASE,
    MINUTE,
    SHANGHAI,
    T0,
    change_of,
    create,
    event_of,
    examples,
    fact_of,
    is_utc,
    letter_of,
    message_ids,
    message_of,
    task_of,
)
from membercore.testing.contracts.dead_letters import DeadLettersContract
from membercore.testing.contracts.identifiers import IdentitiesContract
from membercore.testing.contracts.inbox import InboxContract
from membercore.testing.contracts.inputs import InputLogContract
from membercore.testing.contracts.outbox import OutboxContract
from membercore.testing.contracts.positions import PositionsContract
from membercore.testing.contracts.records import RecordsContract
from membercore.testing.contracts.tasks import TasksContract
from membercore.testing.contracts.timers import TimersContract

__all__ = ["StoreContract"]


class StoreContract(
    RecordsContract,
    TimersContract,
    InboxContract,
    OutboxContract,
    DeadLettersContract,
    TasksContract,
    IdentitiesContract,
    PositionsContract,
    InputLogContract,
):
    """The behaviour every :class:`~membercore.ports.Store` shares: each role's, and more."""

    role = Store

    # -- the port ---------------------------------------------------------------------------

    def test_an_empty_store_holds_nothing(self, store: Store) -> None:
        assert store.load(["member:p-1"]) == {}
        assert store.load([]) == {}
        assert store.seen(["fact-1"]) == {}
        assert store.events("member:p-1") == []
        assert list(store.scan()) == []
        assert store.due(T0 + timedelta(days=365), 10) == []
        assert store.pending_outbox(T0 + timedelta(days=365), 10) == []
        assert store.claim_outbox(T0 + timedelta(days=365), 10, worker="w", lease=LEASE) == []
        assert store.claim_due(T0 + timedelta(days=365), 10, worker="w", lease=LEASE) == []
        assert list(store.outbox()) == []
        assert list(store.dead_letters()) == []
        assert list(store.tasks(None)) == []
        assert store.task_loads() == {}
        assert store.case_loads() == {}

    # -- one commit, every role: all of it or none of it ------------------------------------

    def test_a_stale_version_writes_nothing_of_its_commit(self, store: Store) -> None:
        create(store, "member:p-1", "member:p-2")
        before = {key: r.version for key, r in store.load(["member:p-1", "member:p-2"]).items()}
        stale = Commit(
            changes=[
                change_of("member:p-1", 1, events=3, due_at=T0, manager="hm-01"),  # fine
                change_of("member:p-2", 0),  # stale
                change_of("member:p-3", 0),  # new, fine on its own
            ],
            inbox=[fact_of("fact-1")],
            outbox=[message_of("msg-1")],
            dead_letters=[letter_of("bad-1")],
            tasks=[task_of("task-1")],
        )
        with pytest.raises(VersionConflictError):
            store.commit(stale)
        after = store.load(["member:p-1", "member:p-2", "member:p-3"])
        assert {key: r.version for key, r in after.items()} == before
        assert [e.version for e in store.events("member:p-1")] == [1]
        assert store.events("member:p-3") == []
        assert store.due(T0 + timedelta(days=1), 10) == []
        assert store.seen(["fact-1"]) == {}
        assert list(store.outbox()) == []
        assert store.pending_outbox(T0, 10) == []
        assert list(store.dead_letters()) == []
        assert list(store.tasks(None)) == []
        assert store.case_loads() == {}

    def test_a_new_record_without_a_snapshot_is_refused(self, store: Store) -> None:
        bare = Change(key="member:p-1", expected_version=0, snapshot=None)
        with pytest.raises(StorageError, match="member:p-1"):
            store.commit(Commit(changes=[bare], inbox=[fact_of("f-1")]))
        assert store.load(["member:p-1"]) == {}
        assert store.seen(["f-1"]) == {}

    def test_an_event_that_does_not_follow_its_change_is_refused(self, store: Store) -> None:
        wrong = Change(
            key="member:p-1",
            expected_version=0,
            snapshot="{}",
            events=[event_of("member:p-1", 2)],  # the commit makes version 1
        )
        with pytest.raises(StorageError):
            store.commit(Commit(changes=[wrong], inbox=[fact_of("fact-1")]))
        assert store.load(["member:p-1"]) == {}
        assert store.seen(["fact-1"]) == {}

    # -- instants ---------------------------------------------------------------------------

    def test_every_instant_comes_back_aware_in_utc(self, store: Store) -> None:
        at = datetime(2025, 3, 1, 18, 0, 0, 123456, tzinfo=SHANGHAI)  # 10:00 UTC
        store.commit(
            Commit(
                changes=[
                    Change(
                        key="member:p-1",
                        expected_version=0,
                        snapshot="{}",
                        events=[event_of("member:p-1", 1, at=at)],
                        due_at=at,
                    )
                ],
                outbox=[message_of("m-1", send_at=at)],
                dead_letters=[letter_of("bad-1", at=at)],
                tasks=[task_of("t-1", due_at=at)],
            )
        )
        now = at + MINUTE
        instants = [
            store.events("member:p-1")[0].at,
            store.due(now, 1)[0][1],
            store.pending_outbox(now, 1)[0].send_at,
            next(store.dead_letters()).at,
            next(store.tasks()).due_at,
        ]
        assert all(is_utc(instant) for instant in instants)
        assert instants == [at] * 5
        assert instants[0] == datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)

    def test_a_naive_now_is_refused(self, store: Store) -> None:
        naive = T0.replace(tzinfo=None)
        with pytest.raises(NaiveInstantError):
            store.due(naive, 10)
        with pytest.raises(NaiveInstantError):
            store.pending_outbox(naive, 10)
        with pytest.raises(NaiveInstantError):
            store.claim_outbox(naive, 10, worker="w-1", lease=LEASE)
        with pytest.raises(NaiveInstantError):
            store.claim_due(naive, 10, worker="w-1", lease=LEASE)

    def test_now_in_another_timezone_means_the_same_instant(self, store: Store) -> None:
        create(store, "member:p-1", due_at=T0)
        store.commit(Commit(outbox=[message_of("m-1", send_at=T0)]))
        just_before = (T0 - MINUTE).astimezone(SHANGHAI)
        assert store.due(just_before, 10) == []
        assert store.pending_outbox(just_before, 10) == []
        assert [key for key, _ in store.due(T0.astimezone(SHANGHAI), 10)] == ["member:p-1"]
        assert message_ids(store.pending_outbox(T0.astimezone(SHANGHAI), 10)) == ["m-1"]

    # -- properties -------------------------------------------------------------------------

    def test_any_instant_and_text_round_trip(self, store: Store) -> None:
        @examples
        @given(
            instant=st.datetimes(
                min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of naive wall times
                max_value=datetime(2200, 1, 1),  # noqa: DTZ001
                timezones=st.sampled_from([UTC, SHANGHAI, timezone(-timedelta(hours=9.5))]),
            ),
            text=st.text(),
        )
        def check(instant: datetime, text: str) -> None:
            key = f"member:instant-{next(EXAMPLES)}"
            event = StoredEvent(key=key, version=1, type="posting", at=instant, payload=text)
            store.commit(
                Commit(
                    changes=[Change(key=key, expected_version=0, snapshot=text, events=[event])],
                    inbox=[InboxEntry(fact_id=key, key=key, fingerprint=text, at=instant)],
                )
            )
            (stored,) = store.events(key)
            assert stored == event
            assert is_utc(stored.at)
            assert stored.at == instant
            assert store.load([key])[key].snapshot == text
            assert store.seen([key]) == {key: text}

        check()
