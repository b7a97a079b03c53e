"""Splitting an input log by connected records: groups whole, ticks shared, order kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from membercore.ports import LoggedInput
from membercore.service.whatif import Grouping, partitions, sample_of

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _input(seq: int, *keys: str, kind: str = "fact") -> LoggedInput:
    at = T0 + timedelta(hours=seq)
    return LoggedInput(kind=kind, keys=keys, at=at, occurred_at=at, batch_at=at, seq=seq)


_KEYS = st.sampled_from([f"member:P{n}" for n in range(8)] + ["household:H1", "stock:gift"])
_LOGS = st.lists(
    st.tuples(st.booleans(), st.lists(_KEYS, min_size=1, max_size=3, unique=True)),
    max_size=40,
).map(
    lambda rows: [
        _input(seq, *keys, kind="tick" if tick else "fact")
        for seq, (tick, keys) in enumerate(rows, 1)
    ]
)


@given(log=_LOGS, count=st.integers(1, 4), most=st.integers(1, 12))
def test_each_group_goes_whole_to_one_partition_in_the_logs_order(
    log: list[LoggedInput], count: int, most: int
) -> None:
    parts = partitions(log, count, most)
    inputs = [entry for entry in log if entry.kind != "tick"]
    placed = {}
    for place, part in enumerate(parts):
        assert [entry.seq for entry in part] == sorted(entry.seq for entry in part)
        for entry in part:
            for key in entry.keys:
                assert placed.setdefault(key, place) == place  # connected: one partition
    # Every input other than a tick goes to exactly one partition, whole.
    assert sorted(e.seq for part in parts for e in part if e.kind != "tick") == [
        e.seq for e in inputs if e.keys
    ]
    # A tick goes to the partitions of the records it ticked that an input names.
    named = {key for entry in inputs for key in entry.keys}
    for entry in log:
        if entry.kind == "tick":
            shared = [e for part in parts for e in part if e.seq == entry.seq]
            assert sorted(k for e in shared for k in e.keys) == sorted(
                k for k in entry.keys if k in named
            )
    groups = len({placed[e.keys[0]] for e in inputs}) if inputs else 0
    assert len(parts) <= max(groups, 1)


def test_a_long_log_is_split_into_more_partitions_than_asked_with_at_most_so_many_inputs() -> None:
    log = [_input(seq, f"member:P{seq % 10}") for seq in range(1, 101)]
    log.append(_input(101, *(f"member:P{n}" for n in range(10)), kind="tick"))
    parts = partitions(log, 1, most=25)
    assert len(parts) == 4
    assert all(sum(e.kind != "tick" for e in part) <= 30 for part in parts)
    ticks = [e for part in parts for e in part if e.kind == "tick"]
    assert sorted(k for tick in ticks for k in tick.keys) == sorted(
        f"member:P{n}" for n in range(10)
    )
    assert len(partitions(log, 1)) == 1  # within MOST_INPUTS: as many as asked


def test_the_grouping_reads_the_log_once_and_keeps_what_grows_with_the_records() -> None:
    log = [_input(1, "member:P1"), _input(2, "member:P1"), _input(3, "member:P2")]
    log.append(_input(4, "member:P1", "member:P2", kind="tick"))
    read = iter(log)
    grouping = Grouping(read)
    assert next(read, None) is None
    assert (grouping.inputs, grouping.last, grouping.end) == (4, 4, T0 + timedelta(hours=4))
    assert grouping.members == {"P1", "P2"}
    home = grouping.placed(2)
    assert sorted(set(home.values())) == [0, 1]  # P1 and P2 are not connected
    assert [place for place, _ in grouping.route(log[3], home)] == [0, 1]
    assert sample_of(grouping.members, 1) == sample_of(["P2", "P1", "P1"], 1)
