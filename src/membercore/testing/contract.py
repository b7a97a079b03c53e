"""The conformance suite every storage backend runs, shipped as a pytest plugin.

Installing ``membercore[testing]`` prepares pytest for it (entry point ``pytest11``,
plugin name ``membercore``, module :mod:`membercore.testing.pytest_plugin`: the suite's
assertions show their values). A backend's test module subclasses the contract and
overrides one fixture, ``store``, which yields a fresh, empty store and closes it
afterwards::

    import pytest
    from membercore.testing.contract import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore.open(f"my:///{tmp_path}/db")
            yield store
            store.close()

The contract classes carry no ``Test`` prefix, so pytest collects them only through a
subclass. Every contract test is marked ``store_contract`` (``pytest -m store_contract``
runs just the suite). With plugin autoloading off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``),
load it with ``-p membercore.testing.pytest_plugin``.

The Hypothesis properties share the one ``store`` across their examples: each example
works under keys of its own, so examples never see each other's records.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore.errors import NaiveInstantError, StorageError, VersionConflictError
from membercore.ports import (
    Change,
    Commit,
    DeadLetter,
    Delivery,
    InboxEntry,
    OutboxMessage,
    Store,
    StoredEvent,
    TaskRow,
)

__all__ = ["T0", "StoreContract", "assert_empty", "every_table"]

#: The instant the suite's scenarios start from.
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

_SHANGHAI = timezone(timedelta(hours=8), "CST")
_MINUTE = timedelta(minutes=1)

_SECOND = timedelta(seconds=1)
_LEASE = timedelta(minutes=5)
_EXAMPLES = itertools.count()


# -- builders ------------------------------------------------------------------------------


def _event(key: str, version: int, n: int = 0, *, at: datetime = T0) -> StoredEvent:
    return StoredEvent(
        key=key, version=version, type="posting", at=at, payload=f'{{"key":"{key}","n":{n}}}'
    )


def _change(
    key: str,
    expected_version: int = 0,
    *,
    snapshot: str | None = None,
    events: int = 1,
    due_at: datetime | None = None,
) -> Change:
    version = expected_version + 1
    return Change(
        key=key,
        expected_version=expected_version,
        snapshot=snapshot if snapshot is not None else f'{{"key":"{key}","v":{version}}}',
        events=[_event(key, version, n) for n in range(events)],
        due_at=due_at,
    )


def _fact(fact_id: str, key: str = "member:p-1", fingerprint: str = "f1") -> InboxEntry:
    return InboxEntry(fact_id=fact_id, key=key, fingerprint=fingerprint, at=T0)


def _message(
    message_id: str, *, key: str = "member:p-1", send_at: datetime = T0, payload: str = "{}"
) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id, key=key, channel="sms", payload=payload, send_at=send_at
    )


def _letter(fact_id: str, reason: str = "unknown fact type", at: datetime = T0) -> DeadLetter:
    return DeadLetter(
        fact_id=fact_id, fact_type="mystery", payload='{"type":"mystery"}', reason=reason, at=at
    )


def _task(
    task_key: str,
    *,
    due_at: datetime = T0,
    assignee: str | None = "nurse-li",
    status: str = "open",
    payload: str = "{}",
) -> TaskRow:
    return TaskRow(
        task_key=task_key,
        key="member:p-1",
        kind="call",
        role="health_manager",
        assignee=assignee,
        due_at=due_at,
        status=status,
        payload=payload,
    )


def every_table(key: str = "member:p-1", expected_version: int = 0) -> Commit:
    """A commit that writes a row to every table, for a backend's own tests.

    A record with one event, a fact in the inbox, an outbox message, a dead letter and
    a task: what migrations must keep and failed commits must leave out.

    Args:
        key: the record it changes; the other rows' ids are made from it.
        expected_version: the record's version before the commit.
    """
    version = expected_version + 1
    return Commit(
        changes=[
            Change(
                key=key,
                expected_version=expected_version,
                snapshot='{"points":1}',
                events=[StoredEvent(key=key, version=version, type="posting", at=T0, payload="{}")],
                due_at=T0,
            )
        ],
        inbox=[InboxEntry(fact_id=f"fact-{key}-{version}", key=key, fingerprint="f", at=T0)],
        outbox=[
            OutboxMessage(
                message_id=f"m-{key}-{version}", key=key, channel="sms", payload="{}", send_at=T0
            )
        ],
        dead_letters=[
            DeadLetter(fact_id=f"bad-{key}", fact_type="x", payload="{", reason="not JSON", at=T0)
        ],
        tasks=[
            TaskRow(
                task_key=f"task-{key}", key=key, kind="call", role="nurse", assignee=None, due_at=T0
            )
        ],
    )


def assert_empty(store: Store) -> None:
    """Assert that ``store`` holds nothing :func:`every_table` would have written."""
    assert list(store.scan()) == []
    assert store.events("member:p-1") == []
    assert store.seen(["fact-member:p-1-1"]) == {}
    assert list(store.outbox()) == []
    assert list(store.dead_letters()) == []
    assert list(store.tasks(None)) == []
    assert store.due(T0 + timedelta(days=1), 10) == []


def _create(store: Store, *keys: str, due_at: datetime | None = None) -> None:
    store.commit(Commit(changes=[_change(key, due_at=due_at) for key in keys]))


def _ids(messages: Sequence[OutboxMessage] | Iterator[OutboxMessage]) -> list[str]:
    return [message.message_id for message in messages]


def _is_utc(instant: datetime) -> bool:
    return instant.tzinfo is not None and instant.utcoffset() == timedelta(0)


# -- the contract ----------------------------------------------------------------------


@pytest.mark.store_contract
class StoreContract:
    """The behaviour every :class:`~membercore.ports.Store` shares.

    Subclass it as ``Test<YourStore>`` and override the ``store`` fixture with one that
    yields a fresh, empty store and closes it afterwards (closing twice must be harmless).
    """

    @pytest.fixture
    def store(self) -> Store:
        """A fresh, empty store; a backend's test class overrides this fixture."""
        raise NotImplementedError(f"{type(self).__name__} must override the store fixture")

    # -- the port -----------------------------------------------------------------------

    def test_the_store_implements_the_port_and_names_its_url(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert isinstance(store.url, str)
        assert store.url

    def test_an_empty_store_holds_nothing(self, store: Store) -> None:
        assert store.load(["member:p-1"]) == {}
        assert store.load([]) == {}
        assert store.seen(["fact-1"]) == {}
        assert store.events("member:p-1") == []
        assert list(store.scan()) == []
        assert store.due(T0 + timedelta(days=365), 10) == []
        assert store.pending_outbox(T0 + timedelta(days=365), 10) == []
        assert store.claim_outbox(T0 + timedelta(days=365), 10, worker="w", lease=_LEASE) == []
        assert store.claim_due(T0 + timedelta(days=365), 10, worker="w", lease=_LEASE) == []
        assert list(store.outbox()) == []
        assert list(store.dead_letters()) == []
        assert list(store.tasks(None)) == []
        assert store.task_loads() == {}

    def test_an_empty_commit_writes_nothing(self, store: Store) -> None:
        store.commit(Commit())
        assert list(store.scan()) == []

    def test_a_closed_store_refuses_work_with_a_storage_error(self, store: Store) -> None:
        _create(store, "member:p-1")
        store.close()
        store.close()  # closing again is harmless
        with pytest.raises(StorageError):
            store.load(["member:p-1"])
        with pytest.raises(StorageError):
            store.commit(Commit(changes=[_change("member:p-2")]))

    # -- records and versions -----------------------------------------------------------

    def test_a_new_record_is_stored_at_version_one_with_its_snapshot(self, store: Store) -> None:
        store.commit(Commit(changes=[_change("member:p-1", snapshot='{"points":10}')]))
        (record,) = store.load(["member:p-1"]).values()
        assert (record.key, record.version, record.snapshot) == ("member:p-1", 1, '{"points":10}')

    def test_load_leaves_absent_keys_out(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-2")
        assert set(store.load(["member:p-1", "member:p-9", "member:p-2"])) == {
            "member:p-1",
            "member:p-2",
        }

    def test_load_reads_more_keys_than_one_query_takes(self, store: Store) -> None:
        keys = [f"member:p-{n:05d}" for n in range(1_234)]
        _create(store, *keys)
        loaded = store.load([*keys, "member:absent", keys[0]])
        assert sorted(loaded) == keys
        assert all(record.version == 1 for record in loaded.values())

    def test_snapshots_keep_unicode_and_large_text_exactly(self, store: Store) -> None:
        texts = {
            "member:王女士": '{"name":"王女士","tier":"钻石","note":"😀 ✓ \\u0000 \'quoted\'"}',
            "member:large": '{"notes":"' + "病历摘要 lorem ipsum " * 60_000 + '"}',
            "member:lines": "first line\nsecond\r\nthird\ttabbed \x00 nul",
        }
        store.commit(Commit(changes=[_change(key, snapshot=text) for key, text in texts.items()]))
        loaded = store.load(list(texts))
        assert {key: record.snapshot for key, record in loaded.items()} == texts

    def test_each_commit_moves_the_version_on_by_one(self, store: Store) -> None:
        for expected in range(5):
            store.commit(Commit(changes=[_change("member:p-1", expected, snapshot=f"s{expected}")]))
        record = store.load(["member:p-1"])["member:p-1"]
        assert (record.version, record.snapshot) == (5, "s4")

    def test_a_new_record_must_expect_version_zero(self, store: Store) -> None:
        with pytest.raises(VersionConflictError) as raised:
            store.commit(Commit(changes=[_change("member:p-1", 1)]))
        assert raised.value.conflicts == {"member:p-1": 1}
        assert store.load(["member:p-1"]) == {}

    def test_creating_a_stored_record_again_conflicts(self, store: Store) -> None:
        _create(store, "member:p-1")
        with pytest.raises(VersionConflictError) as raised:
            _create(store, "member:p-1")
        assert raised.value.conflicts == {"member:p-1": 0}

    def test_a_stale_version_names_every_conflicting_key(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-2", "member:p-3")
        store.commit(Commit(changes=[_change("member:p-1", 1), _change("member:p-3", 1)]))
        stale = Commit(
            changes=[
                _change("member:p-1", 1),  # stale: p-1 is at version 2
                _change("member:p-2", 1),  # fine
                _change("member:p-3", 0),  # stale: p-3 is at version 2
                _change("member:p-4", 3),  # p-4 does not exist
            ]
        )
        with pytest.raises(VersionConflictError) as raised:
            store.commit(stale)
        assert raised.value.conflicts == {"member:p-1": 1, "member:p-3": 0, "member:p-4": 3}
        assert raised.value.store == store.url
        assert "member:p-4" in str(raised.value)

    def test_a_stale_version_writes_nothing_of_its_commit(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-2")
        before = {key: r.version for key, r in store.load(["member:p-1", "member:p-2"]).items()}
        stale = Commit(
            changes=[
                _change("member:p-1", 1, events=3, due_at=T0),  # fine on its own
                _change("member:p-2", 0),  # stale
                _change("member:p-3", 0),  # new, fine on its own
            ],
            inbox=[_fact("fact-1")],
            outbox=[_message("msg-1")],
            dead_letters=[_letter("bad-1")],
            tasks=[_task("task-1")],
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

    def test_changes_of_one_record_in_one_commit_chain_their_versions(self, store: Store) -> None:
        store.commit(
            Commit(changes=[_change("member:p-1", 0), _change("member:p-1", 1, snapshot="two")])
        )
        assert store.load(["member:p-1"])["member:p-1"].version == 2
        assert store.load(["member:p-1"])["member:p-1"].snapshot == "two"
        assert [e.version for e in store.events("member:p-1")] == [1, 2]

    def test_changes_of_one_record_that_do_not_chain_conflict(self, store: Store) -> None:
        with pytest.raises(VersionConflictError) as raised:
            store.commit(Commit(changes=[_change("member:p-1", 0), _change("member:p-1", 0)]))
        assert raised.value.conflicts == {"member:p-1": 0}
        assert store.load(["member:p-1"]) == {}

    # -- events -------------------------------------------------------------------------

    def test_events_come_back_in_order_with_every_field(self, store: Store) -> None:
        at = datetime(2025, 3, 1, 17, 45, 12, 345678, tzinfo=_SHANGHAI)
        first = StoredEvent(key="member:p-1", version=1, type="joined", at=at, payload='{"a":1}')
        second = StoredEvent(
            key="member:p-1", version=1, type="posting", at=at, payload='{"积分":100}'
        )
        third = StoredEvent(key="member:p-1", version=2, type="tier_changed", at=T0, payload="{}")
        store.commit(
            Commit(
                changes=[
                    Change(
                        key="member:p-1", expected_version=0, snapshot="{}", events=[first, second]
                    )
                ]
            )
        )
        store.commit(
            Commit(
                changes=[
                    Change(key="member:p-1", expected_version=1, snapshot="{}", events=[third])
                ]
            )
        )
        assert store.events("member:p-1") == [first, second, third]

    def test_events_after_a_version_start_at_the_next_commit(self, store: Store) -> None:
        for expected in range(4):
            store.commit(Commit(changes=[_change("member:p-1", expected, events=2)]))
        assert [e.version for e in store.events("member:p-1", after_version=2)] == [3, 3, 4, 4]
        assert store.events("member:p-1", after_version=4) == []
        assert len(store.events("member:p-1", after_version=0)) == 8

    def test_events_belong_to_their_record_only(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-10", "member:p-2")
        assert {e.key for e in store.events("member:p-1")} == {"member:p-1"}
        assert store.events("member:p") == []

    def test_a_record_may_change_without_events(self, store: Store) -> None:
        store.commit(Commit(changes=[_change("member:p-1", events=0)]))
        assert store.load(["member:p-1"])["member:p-1"].version == 1
        assert store.events("member:p-1") == []

    def test_a_change_without_a_snapshot_keeps_the_stored_one(self, store: Store) -> None:
        store.commit(Commit(changes=[_change("member:p-1", snapshot='{"v":1}')]))
        later = Change(
            key="member:p-1", expected_version=1, snapshot=None, events=[_event("member:p-1", 2)]
        )
        store.commit(Commit(changes=[later]))
        record = store.load(["member:p-1"])["member:p-1"]
        assert (record.version, record.snapshot, record.snapshot_version) == (2, '{"v":1}', 1)
        assert [event.version for event in store.events("member:p-1", after_version=1)] == [2]
        store.commit(Commit(changes=[_change("member:p-1", 2, snapshot='{"v":3}')]))
        record = store.load(["member:p-1"])["member:p-1"]
        assert (record.version, record.snapshot, record.snapshot_version) == (3, '{"v":3}', 3)
        assert [r.snapshot_version for r in store.scan("member:")] == [3]

    def test_a_new_record_without_a_snapshot_is_refused(self, store: Store) -> None:
        bare = Change(key="member:p-1", expected_version=0, snapshot=None)
        with pytest.raises(StorageError, match="member:p-1"):
            store.commit(Commit(changes=[bare], inbox=[_fact("f-1")]))
        assert store.load(["member:p-1"]) == {}
        assert store.seen(["f-1"]) == {}

    def test_a_change_expecting_version_zero_needs_a_snapshot_even_if_stored(
        self, store: Store
    ) -> None:
        _create(store, "member:p-1")
        bare = Change(key="member:p-1", expected_version=0, snapshot=None)
        with pytest.raises(StorageError, match="member:p-1") as raised:
            store.commit(Commit(changes=[bare, _change("member:p-2")]))
        assert not isinstance(raised.value, VersionConflictError)
        assert [r.version for r in store.scan()] == [1]

    def test_a_change_without_a_snapshot_of_a_record_not_stored_is_refused(
        self, store: Store
    ) -> None:
        bare = Change(
            key="member:p-1", expected_version=2, snapshot=None, events=[_event("member:p-1", 3)]
        )
        with pytest.raises(StorageError, match="member:p-1") as raised:
            store.commit(Commit(changes=[_change("member:p-2"), bare]))
        assert not isinstance(raised.value, VersionConflictError)
        assert list(store.scan()) == []
        assert store.events("member:p-1") == []

    def test_a_later_change_expecting_version_zero_needs_a_snapshot_too(self, store: Store) -> None:
        bare = Change(key="member:p-1", expected_version=0, snapshot=None)
        with pytest.raises(StorageError, match="member:p-1") as raised:
            store.commit(Commit(changes=[_change("member:p-1"), bare]))
        assert not isinstance(raised.value, VersionConflictError)
        assert list(store.scan()) == []

    def test_a_cancelled_message_is_no_longer_pending(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1"), _message("m-2"), _message("m-3")]))
        store.record_delivery(Delivery(message_id="m-3", at=T0, receipt="r-3"))
        store.commit(Commit(cancelled=["m-1", "m-3", "m-unknown"]))
        assert _ids(store.pending_outbox(T0 + _MINUTE, 10)) == ["m-2"]
        assert _ids(store.outbox("cancelled")) == ["m-1"]
        assert _ids(store.outbox("delivered")) == ["m-3"]

    def test_an_event_that_does_not_follow_its_change_is_refused(self, store: Store) -> None:
        wrong = Change(
            key="member:p-1",
            expected_version=0,
            snapshot="{}",
            events=[_event("member:p-1", 2)],  # the commit makes version 1
        )
        with pytest.raises(StorageError):
            store.commit(Commit(changes=[wrong], inbox=[_fact("fact-1")]))
        assert store.load(["member:p-1"]) == {}
        assert store.seen(["fact-1"]) == {}

    # -- inbox --------------------------------------------------------------------------

    def test_seen_answers_the_fingerprints_of_facts_taken(self, store: Store) -> None:
        store.commit(
            Commit(inbox=[_fact("fact-1", fingerprint="a"), _fact("fact-2", "member:p-2")])
        )
        assert store.seen(["fact-1", "fact-2", "fact-3"]) == {"fact-1": "a", "fact-2": "f1"}
        assert store.seen([]) == {}

    def test_a_fact_taken_twice_keeps_its_first_fingerprint(self, store: Store) -> None:
        store.commit(Commit(inbox=[_fact("fact-1", fingerprint="first")]))
        store.commit(Commit(inbox=[_fact("fact-1", fingerprint="second")]))
        store.commit(
            Commit(inbox=[_fact("fact-2", fingerprint="one"), _fact("fact-2", fingerprint="two")])
        )
        assert store.seen(["fact-1", "fact-2"]) == {"fact-1": "first", "fact-2": "one"}

    def test_seen_reads_more_ids_than_one_query_takes(self, store: Store) -> None:
        ids = [f"fact-{n}" for n in range(1_111)]
        store.commit(Commit(inbox=[_fact(fact_id, fingerprint=fact_id[::-1]) for fact_id in ids]))
        assert store.seen([*ids, "fact-x"]) == {fact_id: fact_id[::-1] for fact_id in ids}

    # -- outbox -------------------------------------------------------------------------

    def test_pending_messages_come_in_commit_order_across_commits(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-z"), _message("m-a")]))
        store.commit(Commit(outbox=[_message("m-m")]))
        store.commit(Commit(outbox=[_message("m-b"), _message("m-y")]))
        assert _ids(store.pending_outbox(T0, 10)) == ["m-z", "m-a", "m-m", "m-b", "m-y"]
        assert _ids(store.outbox()) == ["m-z", "m-a", "m-m", "m-b", "m-y"]

    def test_a_pending_message_keeps_every_field(self, store: Store) -> None:
        message = OutboxMessage(
            message_id="m-1",
            key="member:王女士",
            channel="wecom",
            payload='{"text":"您好，体检报告已出"}',
            send_at=datetime(2025, 3, 1, 17, 30, 0, 1, tzinfo=_SHANGHAI),
        )
        store.commit(Commit(outbox=[message]))
        assert store.pending_outbox(message.send_at, 1) == [message]
        assert list(store.outbox("pending")) == [message]

    def test_a_message_waits_for_its_send_at(self, store: Store) -> None:
        later = T0 + timedelta(hours=10)
        store.commit(Commit(outbox=[_message("m-later", send_at=later), _message("m-now")]))
        assert _ids(store.pending_outbox(T0, 10)) == ["m-now"]
        assert _ids(store.pending_outbox(later - _MINUTE, 10)) == ["m-now"]
        assert _ids(store.pending_outbox(later, 10)) == ["m-later", "m-now"]

    def test_pending_outbox_honours_the_limit(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message(f"m-{n}") for n in range(7)]))
        assert _ids(store.pending_outbox(T0, 3)) == ["m-0", "m-1", "m-2"]
        assert store.pending_outbox(T0, 0) == []

    def test_a_message_committed_twice_is_kept_once_as_first_written(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1", payload="first"), _message("m-2")]))
        store.commit(Commit(outbox=[_message("m-1", payload="second"), _message("m-3")]))
        assert [(m.message_id, m.payload) for m in store.outbox()] == [
            ("m-1", "first"),
            ("m-2", "{}"),
            ("m-3", "{}"),
        ]

    def test_a_delivered_message_is_no_longer_pending(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1"), _message("m-2")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="sms-123"))
        assert _ids(store.pending_outbox(T0, 10)) == ["m-2"]
        (delivered,) = store.outbox("delivered")
        assert (delivered.message_id, delivered.status, delivered.attempts) == (
            "m-1",
            "delivered",
            0,
        )

    def test_a_failed_delivery_backs_off_until_its_retry(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1"), _message("m-2")]))
        retry_at = T0 + timedelta(minutes=5)
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="timeout", retry_at=retry_at))
        assert _ids(store.pending_outbox(T0, 10)) == ["m-2"]
        assert _ids(store.pending_outbox(retry_at - _MINUTE, 10)) == ["m-2"]
        (retried, _) = store.pending_outbox(retry_at, 10)
        assert (retried.message_id, retried.attempts, retried.status) == ("m-1", 1, "pending")
        later = retry_at + timedelta(minutes=10)
        store.record_delivery(Delivery(message_id="m-1", at=retry_at, error="502", retry_at=later))
        assert _ids(store.pending_outbox(later - _MINUTE, 10)) == ["m-2"]
        assert [m.attempts for m in store.pending_outbox(later, 10)] == [2, 0]

    def test_a_failure_without_a_retry_gives_up(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="timeout", retry_at=T0))
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="number unreachable"))
        assert store.pending_outbox(T0 + timedelta(days=30), 10) == []
        (failed,) = store.outbox("failed")
        assert (failed.message_id, failed.status, failed.attempts) == ("m-1", "failed", 2)
        # Given up is final for failures: another one counts nothing.
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="again"))
        assert [m.attempts for m in store.outbox()] == [2]

    def test_a_message_is_delivered_at_most_once(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1")]))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="first"))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="second"))
        store.record_delivery(
            Delivery(message_id="m-1", at=T0, error="late error", retry_at=T0 + _MINUTE)
        )
        store.record_delivery(Delivery(message_id="m-1", at=T0, error="late error"))
        (message,) = store.outbox()
        assert (message.status, message.attempts) == ("delivered", 0)
        assert store.pending_outbox(T0 + timedelta(days=1), 10) == []

    def test_a_delivery_of_an_unknown_message_is_refused(self, store: Store) -> None:
        with pytest.raises(StorageError, match="m-404"):
            store.record_delivery(Delivery(message_id="m-404", at=T0, receipt="r"))

    def test_the_outbox_lists_one_status_or_every_message_in_commit_order(
        self, store: Store
    ) -> None:
        store.commit(Commit(outbox=[_message(f"m-{n}") for n in range(5)]))
        store.record_delivery(Delivery(message_id="m-3", at=T0, receipt="r3"))
        store.record_delivery(Delivery(message_id="m-1", at=T0, receipt="r1"))
        store.record_delivery(Delivery(message_id="m-2", at=T0, error="gone"))
        assert _ids(store.outbox()) == ["m-0", "m-1", "m-2", "m-3", "m-4"]
        assert _ids(store.outbox("delivered")) == ["m-1", "m-3"]
        assert _ids(store.outbox("failed")) == ["m-2"]
        assert _ids(store.outbox("pending")) == ["m-0", "m-4"]

    def test_a_long_outbox_is_listed_whole_and_in_order(self, store: Store) -> None:
        ids = [f"m-{n:04d}" for n in range(1_203)]
        store.commit(Commit(outbox=[_message(message_id) for message_id in reversed(ids)]))
        assert _ids(store.outbox()) == list(reversed(ids))

    # -- outbox claims ------------------------------------------------------------------

    def test_a_claim_takes_due_messages_in_commit_order_up_to_the_limit(self, store: Store) -> None:
        later = T0 + _MINUTE  # the claims of T0 still hold then
        store.commit(Commit(outbox=[_message("m-z"), _message("m-later", send_at=later)]))
        store.commit(Commit(outbox=[_message("m-a"), _message("m-m"), _message("m-b")]))
        claimed = store.claim_outbox(T0, 3, worker="w-1", lease=_LEASE)
        assert _ids(claimed) == ["m-z", "m-a", "m-m"]
        assert claimed[0] == _message("m-z")
        assert _ids(store.claim_outbox(T0, 10, worker="w-1", lease=_LEASE)) == ["m-b"]
        assert store.claim_outbox(T0, 0, worker="w-1", lease=_LEASE) == []
        assert _ids(store.claim_outbox(later, 10, worker="w-1", lease=_LEASE)) == ["m-later"]

    def test_a_claimed_message_is_not_claimed_again_before_its_lease_ends(
        self, store: Store
    ) -> None:
        store.commit(Commit(outbox=[_message("m-1"), _message("m-2")]))
        assert _ids(store.claim_outbox(T0, 1, worker="w-1", lease=_LEASE)) == ["m-1"]
        just_before = T0 + _LEASE - _SECOND
        assert _ids(store.claim_outbox(just_before, 10, worker="w-2", lease=_LEASE)) == ["m-2"]
        # Not by the same name either: a message is never sent by two dispatchers at
        # once, even two given one name.
        assert store.claim_outbox(just_before, 10, worker="w-1", lease=_LEASE) == []

    def test_an_expired_lease_makes_a_message_claimable_again(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1")]))
        store.claim_outbox(T0, 10, worker="crashed", lease=_LEASE)
        ended = T0 + _LEASE
        assert _ids(store.claim_outbox(ended, 10, worker="w-2", lease=_LEASE)) == ["m-1"]
        assert store.claim_outbox(ended, 10, worker="w-3", lease=_LEASE) == []

    def test_two_claimers_get_disjoint_messages_that_cover_the_due_ones(self, store: Store) -> None:
        ids = [f"m-{n}" for n in range(7)]
        store.commit(Commit(outbox=[_message(message_id) for message_id in ids]))
        first = _ids(store.claim_outbox(T0, 3, worker="w-1", lease=_LEASE))
        second = _ids(store.claim_outbox(T0, 3, worker="w-2", lease=_LEASE))
        third = _ids(store.claim_outbox(T0, 3, worker="w-1", lease=_LEASE))
        assert not set(first) & set(second)
        assert first + second + third == ids

    def test_a_claim_leaves_the_pending_listing_as_it_was(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1"), _message("m-2")]))
        store.claim_outbox(T0, 1, worker="w-1", lease=_LEASE)
        assert _ids(store.pending_outbox(T0, 10)) == ["m-1", "m-2"]
        assert _ids(store.outbox("pending")) == ["m-1", "m-2"]

    def test_a_recorded_delivery_releases_the_claim(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-ok"), _message("m-retry"), _message("m-gone")]))
        store.claim_outbox(T0, 10, worker="w-1", lease=_LEASE)
        retry_at = T0 + _MINUTE  # well before the lease ends
        store.record_delivery(Delivery(message_id="m-ok", at=T0, receipt="r-1"))
        store.record_delivery(
            Delivery(message_id="m-retry", at=T0, error="timeout", retry_at=retry_at)
        )
        store.record_delivery(Delivery(message_id="m-gone", at=T0, error="unreachable"))
        assert store.claim_outbox(retry_at - _SECOND, 10, worker="w-2", lease=_LEASE) == []
        (retried,) = store.claim_outbox(retry_at, 10, worker="w-2", lease=_LEASE)
        assert (retried.message_id, retried.attempts) == ("m-retry", 1)
        store.record_delivery(Delivery(message_id="m-retry", at=retry_at, receipt="r-2"))
        after = T0 + 2 * _LEASE
        assert store.claim_outbox(after, 10, worker="w-3", lease=_LEASE) == []

    def test_a_cancelled_claimed_message_is_never_claimed_again(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1")]))
        store.claim_outbox(T0, 10, worker="w-1", lease=_LEASE)
        store.commit(Commit(cancelled=["m-1"]))
        assert store.claim_outbox(T0 + 2 * _LEASE, 10, worker="w-2", lease=_LEASE) == []
        assert _ids(store.outbox("cancelled")) == ["m-1"]

    def test_a_claim_without_a_worker_or_a_positive_lease_is_refused(self, store: Store) -> None:
        store.commit(Commit(outbox=[_message("m-1")]))
        with pytest.raises(StorageError, match="worker"):
            store.claim_outbox(T0, 10, worker="", lease=_LEASE)
        with pytest.raises(StorageError, match="lease"):
            store.claim_outbox(T0, 10, worker="w-1", lease=timedelta(0))
        assert _ids(store.claim_outbox(T0, 10, worker="w-1", lease=_LEASE)) == ["m-1"]

    # -- due-record claims --------------------------------------------------------------

    def test_a_due_claim_takes_due_records_earliest_first_up_to_the_limit(
        self, store: Store
    ) -> None:
        later = T0 + _MINUTE  # the claims of T0 still hold then
        store.commit(
            Commit(
                changes=[
                    _change("member:p-b", due_at=T0 - _MINUTE),
                    _change("member:p-c", due_at=T0 - 2 * _MINUTE),
                    _change("member:p-a", due_at=T0 - _MINUTE),
                    _change("member:p-d", due_at=T0),
                    _change("member:p-later", due_at=later),
                    _change("member:p-never"),
                ]
            )
        )
        assert store.claim_due(T0, 3, worker="w-1", lease=_LEASE) == [
            ("member:p-c", T0 - 2 * _MINUTE),
            ("member:p-a", T0 - _MINUTE),
            ("member:p-b", T0 - _MINUTE),
        ]
        assert store.claim_due(T0, 0, worker="w-1", lease=_LEASE) == []
        assert store.claim_due(T0, 10, worker="w-2", lease=_LEASE) == [("member:p-d", T0)]
        assert store.claim_due(later, 10, worker="w-3", lease=_LEASE) == [("member:p-later", later)]
        # Every claim above still holds just before the first lease ends.
        assert store.claim_due(T0 + _LEASE - _SECOND, 10, worker="w-4", lease=_LEASE) == []

    def test_a_claimed_record_is_not_claimed_again_before_its_lease_ends(
        self, store: Store
    ) -> None:
        _create(store, "member:p-1", "member:p-2", due_at=T0)
        assert store.claim_due(T0, 1, worker="w-1", lease=_LEASE) == [("member:p-1", T0)]
        just_before = T0 + _LEASE - _SECOND
        assert store.claim_due(just_before, 10, worker="w-2", lease=_LEASE) == [("member:p-2", T0)]
        assert store.claim_due(just_before, 10, worker="w-3", lease=_LEASE) == []

    def test_a_worker_started_again_under_its_name_takes_its_records_back(
        self, store: Store
    ) -> None:
        _create(store, "member:p-1", "member:p-2", due_at=T0)
        store.claim_due(T0, 1, worker="w-1", lease=_LEASE)
        restarted = T0 + _SECOND
        claimed = store.claim_due(restarted, 10, worker="w-1", lease=_LEASE)
        assert claimed == [("member:p-1", T0), ("member:p-2", T0)]
        assert store.claim_due(restarted, 10, worker="w-2", lease=_LEASE) == []

    def test_an_expired_lease_makes_a_record_claimable_again(self, store: Store) -> None:
        _create(store, "member:p-1", due_at=T0)
        store.claim_due(T0, 10, worker="crashed", lease=_LEASE)
        ended = T0 + _LEASE
        assert store.claim_due(ended, 10, worker="w-2", lease=_LEASE) == [("member:p-1", T0)]
        assert store.claim_due(ended, 10, worker="w-3", lease=_LEASE) == []

    def test_two_claimers_get_disjoint_records_that_cover_the_due_ones(self, store: Store) -> None:
        keys = [f"member:p-{n}" for n in range(7)]
        _create(store, *keys, due_at=T0)
        first = [key for key, _ in store.claim_due(T0, 3, worker="w-1", lease=_LEASE)]
        second = [key for key, _ in store.claim_due(T0, 3, worker="w-2", lease=_LEASE)]
        third = [key for key, _ in store.claim_due(T0, 3, worker="w-3", lease=_LEASE)]
        assert not set(first) & set(second)
        assert first + second + third == keys

    def test_a_due_claim_leaves_the_due_listing_as_it_was(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-2", due_at=T0)
        store.claim_due(T0, 1, worker="w-1", lease=_LEASE)
        assert store.due(T0, 10) == [("member:p-1", T0), ("member:p-2", T0)]

    def test_a_commit_of_the_record_releases_its_claim(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-2", "member:p-3", due_at=T0)
        store.claim_due(T0, 10, worker="w-1", lease=_LEASE)
        store.commit(
            Commit(
                changes=[
                    _change("member:p-1", 1, due_at=T0),  # still due: claimable again
                    attrs.evolve(_change("member:p-2", 1, due_at=T0), snapshot=None),
                    _change("member:p-3", 1, due_at=T0 + _MINUTE),
                ]
            )
        )
        assert store.claim_due(T0, 10, worker="w-2", lease=_LEASE) == [
            ("member:p-1", T0),
            ("member:p-2", T0),
        ]
        later = T0 + _MINUTE
        assert store.claim_due(later, 10, worker="w-3", lease=_LEASE) == [("member:p-3", later)]

    def test_a_due_claim_without_a_worker_or_a_positive_lease_is_refused(
        self, store: Store
    ) -> None:
        _create(store, "member:p-1", due_at=T0)
        with pytest.raises(StorageError, match="worker"):
            store.claim_due(T0, 10, worker="", lease=_LEASE)
        with pytest.raises(StorageError, match="lease"):
            store.claim_due(T0, 10, worker="w-1", lease=timedelta(0))
        with pytest.raises(StorageError, match="lease"):
            store.claim_due(T0, 10, worker="w-1", lease=-_LEASE)
        assert store.claim_due(T0, 10, worker="w-1", lease=_LEASE) == [("member:p-1", T0)]

    # -- timers -------------------------------------------------------------------------

    def test_due_records_come_earliest_first_then_by_key(self, store: Store) -> None:
        store.commit(
            Commit(
                changes=[
                    _change("member:p-b", due_at=T0 + _MINUTE),
                    _change("member:p-c", due_at=T0),
                    _change("member:p-a", due_at=T0 + _MINUTE),
                    _change("member:p-d", due_at=T0 + timedelta(days=1)),
                    _change("member:p-e"),
                ]
            )
        )
        assert store.due(T0 + timedelta(hours=1), 10) == [
            ("member:p-c", T0),
            ("member:p-a", T0 + _MINUTE),
            ("member:p-b", T0 + _MINUTE),
        ]

    def test_due_honours_now_and_the_limit(self, store: Store) -> None:
        store.commit(
            Commit(changes=[_change(f"member:p-{n}", due_at=T0 + n * _MINUTE) for n in range(6)])
        )
        assert [key for key, _ in store.due(T0 + 3 * _MINUTE, 10)] == [
            "member:p-0",
            "member:p-1",
            "member:p-2",
            "member:p-3",
        ]
        assert [key for key, _ in store.due(T0 + timedelta(days=1), 2)] == [
            "member:p-0",
            "member:p-1",
        ]
        assert store.due(T0 - _MINUTE, 10) == []
        assert store.due(T0 + timedelta(days=1), 0) == []

    def test_a_change_without_due_at_clears_the_timer(self, store: Store) -> None:
        _create(store, "member:p-1", due_at=T0)
        store.commit(Commit(changes=[_change("member:p-1", 1, due_at=None)]))
        assert store.due(T0 + timedelta(days=1), 10) == []

    def test_a_new_due_at_moves_the_timer(self, store: Store) -> None:
        _create(store, "member:p-1", "member:p-2", due_at=T0)
        store.commit(Commit(changes=[_change("member:p-1", 1, due_at=T0 + timedelta(hours=2))]))
        assert store.due(T0 + timedelta(hours=1), 10) == [("member:p-2", T0)]
        assert store.due(T0 + timedelta(hours=2), 10) == [
            ("member:p-2", T0),
            ("member:p-1", T0 + timedelta(hours=2)),
        ]

    # -- dead letters -------------------------------------------------------------------

    def test_dead_letters_are_kept_with_their_reason_oldest_first(self, store: Store) -> None:
        first = _letter("bad-2", "unknown fact type 'mystery'")
        second = _letter("bad-1", "patient_id: must not be empty", at=T0 + _MINUTE)
        third = DeadLetter(
            fact_id="sha256:ab12", fact_type="", payload="{not json", reason="not JSON", at=T0
        )
        store.commit(Commit(dead_letters=[first, second]))
        store.commit(Commit(dead_letters=[third]))
        assert list(store.dead_letters()) == [first, second, third]

    def test_other_inputs_refused_under_one_fact_id_are_each_kept(self, store: Store) -> None:
        first = _letter("bad-1", "first reason")
        other = attrs.evolve(first, payload='{"type":"mystery","n":2}', reason="other input")
        store.commit(Commit(dead_letters=[first]))
        store.commit(Commit(dead_letters=[other, first]))
        assert [(d.fact_id, d.reason) for d in store.dead_letters()] == [
            ("bad-1", "first reason"),
            ("bad-1", "other input"),
        ]

    def test_a_fact_refused_twice_is_one_dead_letter(self, store: Store) -> None:
        store.commit(Commit(dead_letters=[_letter("bad-1", "first reason")]))
        store.commit(Commit(dead_letters=[_letter("bad-1", "second reason"), _letter("bad-2")]))
        assert [(d.fact_id, d.reason) for d in store.dead_letters()] == [
            ("bad-1", "first reason"),
            ("bad-2", "unknown fact type"),
        ]

    # -- tasks --------------------------------------------------------------------------

    def test_open_tasks_are_listed_by_due_instant_then_task_key(self, store: Store) -> None:
        store.commit(
            Commit(
                tasks=[
                    _task("task-c", due_at=T0 + _MINUTE),
                    _task("task-b", due_at=T0 + timedelta(days=1)),
                    _task("task-a", due_at=T0 + _MINUTE),
                    _task("task-d", due_at=T0, status="closed"),
                    _task("task-e", due_at=T0 + timedelta(hours=1)),
                ]
            )
        )
        assert [t.task_key for t in store.tasks()] == ["task-a", "task-c", "task-e", "task-b"]
        assert [t.task_key for t in store.tasks("closed")] == ["task-d"]
        assert [t.task_key for t in store.tasks(None)] == [
            "task-d",
            "task-a",
            "task-c",
            "task-e",
            "task-b",
        ]

    def test_a_task_keeps_every_field(self, store: Store) -> None:
        task = TaskRow(
            task_key="task:p-1:hba1c",
            key="member:p-1",
            kind="call",
            role="health_manager",
            assignee=None,
            due_at=datetime(2025, 3, 2, 9, 0, 0, 250, tzinfo=_SHANGHAI),
            status="open",
            payload='{"reason":"两次糖化血红蛋白复查未到"}',
        )
        store.commit(Commit(tasks=[task]))
        assert list(store.tasks()) == [task]

    def test_a_task_committed_again_replaces_its_row(self, store: Store) -> None:
        store.commit(Commit(tasks=[_task("task-1"), _task("task-2")]))
        store.commit(Commit(tasks=[_task("task-1", assignee="dr-wang", payload='{"n":2}')]))
        store.commit(Commit(tasks=[_task("task-2", status="closed")]))
        (open_task,) = store.tasks()
        assert (open_task.task_key, open_task.assignee, open_task.payload) == (
            "task-1",
            "dr-wang",
            '{"n":2}',
        )
        assert [t.task_key for t in store.tasks("closed")] == ["task-2"]
        assert len(list(store.tasks(None))) == 2

    def test_task_loads_count_open_tasks_per_assignee(self, store: Store) -> None:
        store.commit(
            Commit(
                tasks=[
                    _task("t-1", assignee="nurse-li"),
                    _task("t-2", assignee="nurse-li"),
                    _task("t-3", assignee="dr-wang"),
                    _task("t-4", assignee="dr-wang", status="closed"),
                    _task("t-5", assignee="dr-zhao", status="closed"),
                    _task("t-6", assignee=None),
                ]
            )
        )
        assert store.task_loads() == {"nurse-li": 2, "dr-wang": 1}
        store.commit(Commit(tasks=[_task("t-1", assignee="nurse-li", status="closed")]))
        assert store.task_loads() == {"nurse-li": 1, "dr-wang": 1}

    def test_a_long_task_list_is_listed_whole_and_in_order(self, store: Store) -> None:
        tasks = [_task(f"t-{n:04d}", due_at=T0 + (n % 7) * _MINUTE) for n in range(1_111)]
        store.commit(Commit(tasks=tasks))
        expected = [t.task_key for t in sorted(tasks, key=lambda t: (t.due_at, t.task_key))]
        assert [t.task_key for t in store.tasks()] == expected
        assert [t.task_key for t in store.tasks(None)] == expected

    # -- scanning -----------------------------------------------------------------------

    def test_scan_streams_the_records_of_a_prefix_in_key_order(self, store: Store) -> None:
        _create(
            store,
            "member:p-2",
            "household:h-1",
            "member:p-10",
            "member;after",
            "member:p-1",
            "member",
            "members:x",
        )
        assert [r.key for r in store.scan("member:")] == ["member:p-1", "member:p-10", "member:p-2"]
        assert [r.key for r in store.scan("member")] == [
            "member",
            "member:p-1",
            "member:p-10",
            "member:p-2",
            "member;after",
            "members:x",
        ]
        assert [r.key for r in store.scan("nobody:")] == []

    def test_scan_without_a_prefix_lists_every_record(self, store: Store) -> None:
        keys = [f"member:p-{n:05d}" for n in range(1_234)] + ["household:h-1", "catalogue"]
        _create(store, *keys)
        scanned = list(store.scan())
        assert [r.key for r in scanned] == sorted(keys)
        assert all(r.version == 1 for r in scanned)

    def test_scan_orders_unicode_keys_by_code_point(self, store: Store) -> None:
        keys = ["member:王", "member:z", "member:é", "member:😀", "member:A", "member:\uffff"]
        _create(store, *keys)
        assert [r.key for r in store.scan("member:")] == sorted(keys)
        assert [r.key for r in store.scan("member:\uffff")] == ["member:\uffff"]

    def test_a_scan_in_progress_tolerates_commits(self, store: Store) -> None:
        keys = [f"member:p-{n:04d}" for n in range(1_100)]
        _create(store, *keys)
        seen: list[str] = []
        for record in store.scan("member:"):
            seen.append(record.key)
            if len(seen) % 400 == 0:  # as a ticker might: commit while scanning
                store.commit(Commit(changes=[_change(record.key, record.version)]))
        assert seen == keys
        assert store.load([keys[399]])[keys[399]].version == 2

    # -- instants -----------------------------------------------------------------------

    def test_every_instant_comes_back_aware_in_utc(self, store: Store) -> None:
        at = datetime(2025, 3, 1, 18, 0, 0, 123456, tzinfo=_SHANGHAI)  # 10:00 UTC
        store.commit(
            Commit(
                changes=[
                    Change(
                        key="member:p-1",
                        expected_version=0,
                        snapshot="{}",
                        events=[_event("member:p-1", 1, at=at)],
                        due_at=at,
                    )
                ],
                outbox=[_message("m-1", send_at=at)],
                dead_letters=[_letter("bad-1", at=at)],
                tasks=[_task("t-1", due_at=at)],
            )
        )
        now = at + _MINUTE
        instants = [
            store.events("member:p-1")[0].at,
            store.due(now, 1)[0][1],
            store.pending_outbox(now, 1)[0].send_at,
            next(store.dead_letters()).at,
            next(store.tasks()).due_at,
        ]
        assert all(_is_utc(instant) for instant in instants)
        assert instants == [at] * 5
        assert instants[0] == datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)

    def test_a_naive_now_is_refused(self, store: Store) -> None:
        naive = T0.replace(tzinfo=None)
        with pytest.raises(NaiveInstantError):
            store.due(naive, 10)
        with pytest.raises(NaiveInstantError):
            store.pending_outbox(naive, 10)
        with pytest.raises(NaiveInstantError):
            store.claim_outbox(naive, 10, worker="w-1", lease=_LEASE)
        with pytest.raises(NaiveInstantError):
            store.claim_due(naive, 10, worker="w-1", lease=_LEASE)

    def test_now_in_another_timezone_means_the_same_instant(self, store: Store) -> None:
        _create(store, "member:p-1", due_at=T0)
        store.commit(Commit(outbox=[_message("m-1", send_at=T0)]))
        just_before = (T0 - _MINUTE).astimezone(_SHANGHAI)
        assert store.due(just_before, 10) == []
        assert store.pending_outbox(just_before, 10) == []
        assert [key for key, _ in store.due(T0.astimezone(_SHANGHAI), 10)] == ["member:p-1"]
        assert _ids(store.pending_outbox(T0.astimezone(_SHANGHAI), 10)) == ["m-1"]

    # -- properties ---------------------------------------------------------------------
    # Each property runs as an inner test, so that its settings are made when it runs
    # (from the profile the suite's conftest loaded) and its examples share the one store
    # without Hypothesis' fixture checks: each example works under keys of its own.

    def test_any_run_of_commits_leaves_the_last_snapshot_and_counts_versions(
        self, store: Store
    ) -> None:
        @_examples
        @given(
            snapshots=st.lists(st.text(), min_size=1, max_size=8),
            events_per_commit=st.lists(st.integers(0, 3), min_size=8, max_size=8),
        )
        def check(snapshots: list[str], events_per_commit: list[int]) -> None:
            key = f"member:example-{next(_EXAMPLES)}"
            written: list[StoredEvent] = []
            for expected, snapshot in enumerate(snapshots):
                events = events_per_commit[expected]
                change = _change(key, expected, snapshot=snapshot, events=events)
                written += change.events
                store.commit(Commit(changes=[change]))
            record = store.load([key])[key]
            assert (record.version, record.snapshot) == (len(snapshots), snapshots[-1])
            assert store.events(key) == written
            middle = len(snapshots) // 2
            assert store.events(key, after_version=middle) == [
                e for e in written if e.version > middle
            ]

        check()

    def test_scan_finds_exactly_the_keys_of_a_prefix_in_order(self, store: Store) -> None:
        text = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)

        @_examples
        @given(keys=st.lists(text, unique=True, max_size=12), prefix=text.map(lambda t: t[:2]))
        def check(keys: list[str], prefix: str) -> None:
            namespace = f"scan-{next(_EXAMPLES)}/"
            full = [namespace + key for key in keys]
            store.commit(Commit(changes=[_change(key, events=0) for key in full]))
            expected = sorted(key for key in full if key.startswith(namespace + prefix))
            assert [r.key for r in store.scan(namespace + prefix)] == expected

        check()

    def test_any_instant_and_text_round_trip(self, store: Store) -> None:
        @_examples
        @given(
            instant=st.datetimes(
                min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of naive wall times
                max_value=datetime(2200, 1, 1),  # noqa: DTZ001
                timezones=st.sampled_from([UTC, _SHANGHAI, timezone(-timedelta(hours=9.5))]),
            ),
            text=st.text(),
        )
        def check(instant: datetime, text: str) -> None:
            key = f"member:instant-{next(_EXAMPLES)}"
            event = StoredEvent(key=key, version=1, type="posting", at=instant, payload=text)
            store.commit(
                Commit(
                    changes=[Change(key=key, expected_version=0, snapshot=text, events=[event])],
                    inbox=[InboxEntry(fact_id=key, key=key, fingerprint=text, at=instant)],
                )
            )
            (stored,) = store.events(key)
            assert stored == event
            assert _is_utc(stored.at)
            assert stored.at == instant
            assert store.load([key])[key].snapshot == text
            assert store.seen([key]) == {key: text}

        check()

    def test_due_is_the_earliest_timers_in_order(self, store: Store) -> None:
        @_examples
        @given(
            offsets=st.lists(st.integers(-10_000, 10_000), min_size=1, max_size=15),
            limit=st.integers(1, 20),
        )
        def check(offsets: list[int], limit: int) -> None:
            namespace = f"due-{next(_EXAMPLES)}/"
            timers = {f"{namespace}{n:02d}": T0 + s * _SECOND for n, s in enumerate(offsets)}
            store.commit(
                Commit(changes=[_change(k, due_at=t, events=0) for k, t in timers.items()])
            )
            try:
                expected = sorted((at, key) for key, at in timers.items() if at <= T0)[:limit]
                assert store.due(T0, limit) == [(key, at) for at, key in expected]
            finally:
                # Clear this example's timers, so that the next one sees only its own.
                store.commit(Commit(changes=[_change(k, 1, events=0) for k in timers]))

        check()

    def test_the_outbox_keeps_commit_order_and_the_first_of_each_message(
        self, store: Store
    ) -> None:
        @_examples
        @given(batches=st.lists(st.lists(st.integers(0, 20), max_size=6), max_size=6))
        def check(batches: list[list[int]]) -> None:
            member = f"member:outbox-{next(_EXAMPLES)}"
            for number, batch in enumerate(batches):
                messages = [
                    _message(f"{member}/m-{n}", key=member, payload=f"batch {number}")
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


def _examples(test: Callable[..., None]) -> Callable[..., None]:
    """Hypothesis settings for a property, made from the profile loaded when it runs."""
    return settings(deadline=None)(test)
