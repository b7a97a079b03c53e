"""The contract of the record role: records, their versions and journals, and the commit.

Checks :class:`~membercore.ports.RecordStore`: a commit changes records only from the
versions it expects (conflicts name every key and write nothing), refuses a malformed
commit, and the records, their journals and prefix scans read back exactly.
"""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import StorageError, VersionConflictError
from membercore.ports import (
    Change,
    Commit,
    RecordStore,
    StoredEvent,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    EXAMPLES,
    SHANGHAI,
    T0,
    change_of,
    create,
    event_of,
    examples,
)

__all__ = ["RecordsContract"]


class RecordsContract(Contract):
    """What every :class:`~membercore.ports.RecordStore` does."""

    role = RecordStore

    # -- the commit -------------------------------------------------------------------------

    def test_an_empty_commit_writes_nothing(self, store: RecordStore) -> None:
        store.commit(Commit())
        assert list(store.scan()) == []

    def test_a_closed_store_refuses_work_with_a_storage_error(self, store: RecordStore) -> None:
        create(store, "member:p-1")
        store.close()
        store.close()  # closing again is harmless
        with pytest.raises(StorageError):
            store.load(["member:p-1"])
        with pytest.raises(StorageError):
            store.commit(Commit(changes=[change_of("member:p-2")]))

    # -- records and versions ---------------------------------------------------------------

    def test_a_new_record_is_stored_at_version_one_with_its_snapshot(
        self, store: RecordStore
    ) -> None:
        store.commit(Commit(changes=[change_of("member:p-1", snapshot='{"points":10}')]))
        (record,) = store.load(["member:p-1"]).values()
        assert (record.key, record.version, record.snapshot) == ("member:p-1", 1, '{"points":10}')

    def test_load_leaves_absent_keys_out(self, store: RecordStore) -> None:
        create(store, "member:p-1", "member:p-2")
        assert set(store.load(["member:p-1", "member:p-9", "member:p-2"])) == {
            "member:p-1",
            "member:p-2",
        }

    def test_load_reads_more_keys_than_one_query_takes(self, store: RecordStore) -> None:
        keys = [f"member:p-{n:05d}" for n in range(1_234)]
        create(store, *keys)
        loaded = store.load([*keys, "member:absent", keys[0]])
        assert sorted(loaded) == keys
        assert all(record.version == 1 for record in loaded.values())

    def test_snapshots_keep_unicode_and_large_text_exactly(self, store: RecordStore) -> None:
        texts = {
            "member:王女士": '{"name":"王女士","tier":"钻石","note":"😀 ✓ \\u0000 \'quoted\'"}',
            "member:large": '{"notes":"' + "病历摘要 lorem ipsum " * 60_000 + '"}',
            "member:lines": "first line\nsecond\r\nthird\ttabbed \x00 nul",
        }
        store.commit(Commit(changes=[change_of(key, snapshot=text) for key, text in texts.items()]))
        loaded = store.load(list(texts))
        assert {key: record.snapshot for key, record in loaded.items()} == texts

    def test_each_commit_moves_the_version_on_by_one(self, store: RecordStore) -> None:
        for expected in range(5):
            store.commit(
                Commit(changes=[change_of("member:p-1", expected, snapshot=f"s{expected}")])
            )
        record = store.load(["member:p-1"])["member:p-1"]
        assert (record.version, record.snapshot) == (5, "s4")

    def test_a_new_record_must_expect_version_zero(self, store: RecordStore) -> None:
        with pytest.raises(VersionConflictError) as raised:
            store.commit(Commit(changes=[change_of("member:p-1", 1)]))
        assert raised.value.conflicts == {"member:p-1": 1}
        assert store.load(["member:p-1"]) == {}

    def test_creating_a_stored_record_again_conflicts(self, store: RecordStore) -> None:
        create(store, "member:p-1")
        with pytest.raises(VersionConflictError) as raised:
            create(store, "member:p-1")
        assert raised.value.conflicts == {"member:p-1": 0}

    def test_a_stale_version_names_every_conflicting_key(self, store: RecordStore) -> None:
        create(store, "member:p-1", "member:p-2", "member:p-3")
        store.commit(Commit(changes=[change_of("member:p-1", 1), change_of("member:p-3", 1)]))
        stale = Commit(
            changes=[
                change_of("member:p-1", 1),  # stale: p-1 is at version 2
                change_of("member:p-2", 1),  # fine
                change_of("member:p-3", 0),  # stale: p-3 is at version 2
                change_of("member:p-4", 3),  # p-4 does not exist
            ]
        )
        with pytest.raises(VersionConflictError) as raised:
            store.commit(stale)
        assert raised.value.conflicts == {"member:p-1": 1, "member:p-3": 0, "member:p-4": 3}
        assert raised.value.store == store.url
        assert "member:p-4" in str(raised.value)

    def test_changes_of_one_record_in_one_commit_chain_their_versions(
        self, store: RecordStore
    ) -> None:
        store.commit(
            Commit(changes=[change_of("member:p-1", 0), change_of("member:p-1", 1, snapshot="two")])
        )
        assert store.load(["member:p-1"])["member:p-1"].version == 2
        assert store.load(["member:p-1"])["member:p-1"].snapshot == "two"
        assert [e.version for e in store.events("member:p-1")] == [1, 2]

    def test_changes_of_one_record_that_do_not_chain_conflict(self, store: RecordStore) -> None:
        with pytest.raises(VersionConflictError) as raised:
            store.commit(Commit(changes=[change_of("member:p-1", 0), change_of("member:p-1", 0)]))
        assert raised.value.conflicts == {"member:p-1": 0}
        assert store.load(["member:p-1"]) == {}

    # -- events -----------------------------------------------------------------------------

    def test_events_come_back_in_order_with_every_field(self, store: RecordStore) -> None:
        at = datetime(2025, 3, 1, 17, 45, 12, 345678, tzinfo=SHANGHAI)
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

    def test_events_after_a_version_start_at_the_next_commit(self, store: RecordStore) -> None:
        for expected in range(4):
            store.commit(Commit(changes=[change_of("member:p-1", expected, events=2)]))
        assert [e.version for e in store.events("member:p-1", after_version=2)] == [3, 3, 4, 4]
        assert store.events("member:p-1", after_version=4) == []
        assert len(store.events("member:p-1", after_version=0)) == 8

    def test_events_belong_to_their_record_only(self, store: RecordStore) -> None:
        create(store, "member:p-1", "member:p-10", "member:p-2")
        assert {e.key for e in store.events("member:p-1")} == {"member:p-1"}
        assert store.events("member:p") == []

    def test_a_record_may_change_without_events(self, store: RecordStore) -> None:
        store.commit(Commit(changes=[change_of("member:p-1", events=0)]))
        assert store.load(["member:p-1"])["member:p-1"].version == 1
        assert store.events("member:p-1") == []

    def test_a_change_without_a_snapshot_keeps_the_stored_one(self, store: RecordStore) -> None:
        store.commit(Commit(changes=[change_of("member:p-1", snapshot='{"v":1}')]))
        later = Change(
            key="member:p-1", expected_version=1, snapshot=None, events=[event_of("member:p-1", 2)]
        )
        store.commit(Commit(changes=[later]))
        record = store.load(["member:p-1"])["member:p-1"]
        assert (record.version, record.snapshot, record.snapshot_version) == (2, '{"v":1}', 1)
        assert [event.version for event in store.events("member:p-1", after_version=1)] == [2]
        store.commit(Commit(changes=[change_of("member:p-1", 2, snapshot='{"v":3}')]))
        record = store.load(["member:p-1"])["member:p-1"]
        assert (record.version, record.snapshot, record.snapshot_version) == (3, '{"v":3}', 3)
        assert [r.snapshot_version for r in store.scan("member:")] == [3]

    # -- malformed commits ------------------------------------------------------------------

    def test_a_change_expecting_version_zero_needs_a_snapshot_even_if_stored(
        self, store: RecordStore
    ) -> None:
        create(store, "member:p-1")
        bare = Change(key="member:p-1", expected_version=0, snapshot=None)
        with pytest.raises(StorageError, match="member:p-1") as raised:
            store.commit(Commit(changes=[bare, change_of("member:p-2")]))
        assert not isinstance(raised.value, VersionConflictError)
        assert [r.version for r in store.scan()] == [1]

    def test_a_change_without_a_snapshot_of_a_record_not_stored_is_refused(
        self, store: RecordStore
    ) -> None:
        bare = Change(
            key="member:p-1", expected_version=2, snapshot=None, events=[event_of("member:p-1", 3)]
        )
        with pytest.raises(StorageError, match="member:p-1") as raised:
            store.commit(Commit(changes=[change_of("member:p-2"), bare]))
        assert not isinstance(raised.value, VersionConflictError)
        assert list(store.scan()) == []
        assert store.events("member:p-1") == []

    def test_a_later_change_expecting_version_zero_needs_a_snapshot_too(
        self, store: RecordStore
    ) -> None:
        bare = Change(key="member:p-1", expected_version=0, snapshot=None)
        with pytest.raises(StorageError, match="member:p-1") as raised:
            store.commit(Commit(changes=[change_of("member:p-1"), bare]))
        assert not isinstance(raised.value, VersionConflictError)
        assert list(store.scan()) == []

    # -- scanning ---------------------------------------------------------------------------

    def test_scan_streams_the_records_of_a_prefix_in_key_order(self, store: RecordStore) -> None:
        create(
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

    def test_scan_without_a_prefix_lists_every_record(self, store: RecordStore) -> None:
        keys = [f"member:p-{n:05d}" for n in range(1_234)] + ["household:h-1", "catalogue"]
        create(store, *keys)
        scanned = list(store.scan())
        assert [r.key for r in scanned] == sorted(keys)
        assert all(r.version == 1 for r in scanned)

    def test_scan_orders_unicode_keys_by_code_point(self, store: RecordStore) -> None:
        keys = ["member:王", "member:z", "member:é", "member:😀", "member:A", "member:\uffff"]
        create(store, *keys)
        assert [r.key for r in store.scan("member:")] == sorted(keys)
        assert [r.key for r in store.scan("member:\uffff")] == ["member:\uffff"]

    def test_a_scan_in_progress_tolerates_commits(self, store: RecordStore) -> None:
        keys = [f"member:p-{n:04d}" for n in range(1_100)]
        create(store, *keys)
        seen: list[str] = []
        for record in store.scan("member:"):
            seen.append(record.key)
            if len(seen) % 400 == 0:  # as a ticker might: commit while scanning
                store.commit(Commit(changes=[change_of(record.key, record.version)]))
        assert seen == keys
        assert store.load([keys[399]])[keys[399]].version == 2

    # -- properties -------------------------------------------------------------------------

    def test_any_run_of_commits_leaves_the_last_snapshot_and_counts_versions(
        self, store: RecordStore
    ) -> None:
        @examples
        @given(
            snapshots=st.lists(st.text(), min_size=1, max_size=8),
            events_per_commit=st.lists(st.integers(0, 3), min_size=8, max_size=8),
        )
        def check(snapshots: list[str], events_per_commit: list[int]) -> None:
            key = f"member:example-{next(EXAMPLES)}"
            written: list[StoredEvent] = []
            for expected, snapshot in enumerate(snapshots):
                events = events_per_commit[expected]
                change = change_of(key, expected, snapshot=snapshot, events=events)
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

    def test_scan_finds_exactly_the_keys_of_a_prefix_in_order(self, store: RecordStore) -> None:
        text = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)

        @examples
        @given(keys=st.lists(text, unique=True, max_size=12), prefix=text.map(lambda t: t[:2]))
        def check(keys: list[str], prefix: str) -> None:
            namespace = f"scan-{next(EXAMPLES)}/"
            full = [namespace + key for key in keys]
            store.commit(Commit(changes=[change_of(key, events=0) for key in full]))
            expected = sorted(key for key in full if key.startswith(namespace + prefix))
            assert [r.key for r in store.scan(namespace + prefix)] == expected

        check()
