"""The contract of the input-log role: every input the engine took, in order, appended."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from membercore.errors import VersionConflictError
from membercore.ports import Change, Commit, InputLog, LoggedInput
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import SHANGHAI, T0, change_of

__all__ = ["InputLogContract"]


def logged(n: int, *, kind: str = "fact", keys: tuple[str, ...] = ("member:p-1",)) -> LoggedInput:
    """A logged input numbered ``n`` (its payload names it)."""
    return LoggedInput(
        kind=kind,
        payload="" if kind == "tick" else f'{{"type":"checked_in","fact_id":"f-{n}"}}',
        keys=() if kind == "tick" else keys,
        at=T0 + timedelta(minutes=n),
        occurred_at=T0 + timedelta(minutes=n) - timedelta(hours=1),
        batch_at=T0 + timedelta(hours=1),
    )


class InputLogContract(Contract):
    """What every :class:`~membercore.ports.InputLog` does."""

    role = InputLog

    def test_a_store_begun_empty_has_an_empty_log_and_nothing_unlogged(
        self, store: InputLog
    ) -> None:
        assert list(store.inputs()) == []
        assert store.unlogged() == 0

    def test_inputs_come_back_in_commit_order_numbered_from_one(self, store: InputLog) -> None:
        store.commit(Commit(inputs=[logged(1), logged(2, kind="command")]))
        store.commit(Commit(inputs=[logged(3, kind="tick")]))
        store.commit(Commit(inputs=[logged(4, keys=("member:p-1", "member:p-2"))]))
        read = list(store.inputs())
        assert [entry.seq for entry in read] == [1, 2, 3, 4]
        expected = [logged(1), logged(2, kind="command"), logged(3, kind="tick")]
        expected.append(logged(4, keys=("member:p-1", "member:p-2")))
        assert [attrs.evolve(entry, seq=0) for entry in read] == expected

    def test_reading_after_a_seq_gives_the_rest(self, store: InputLog) -> None:
        store.commit(Commit(inputs=[logged(n) for n in range(1, 6)]))
        assert [entry.seq for entry in store.inputs(after=3)] == [4, 5]
        assert list(store.inputs(after=5)) == []

    def test_a_long_log_is_read_whole(self, store: InputLog) -> None:
        store.commit(Commit(inputs=[logged(n) for n in range(1, 1202)]))
        read = list(store.inputs())
        assert len(read) == 1201
        assert [entry.seq for entry in read] == list(range(1, 1202))

    def test_every_field_round_trips_with_instants_in_utc(self, store: InputLog) -> None:
        odd = LoggedInput(
            kind="command",
            payload='{"type":"redeem","note":"页 \x00 \x01 %_\'"}',
            keys=("member:页-1", "household:h 1"),
            at=(T0 + timedelta(hours=1)).astimezone(SHANGHAI),
            occurred_at=T0.astimezone(SHANGHAI),
            batch_at=T0 + timedelta(hours=2),
            refused="member p-1: not enough points (5 < 10)",
            cutoff=T0 - timedelta(days=1),
        )
        store.commit(Commit(inputs=[odd]))
        (read,) = store.inputs()
        assert attrs.evolve(read, seq=0) == odd
        for instant in (read.at, read.occurred_at, read.batch_at, read.cutoff):
            assert instant is not None
            assert instant.utcoffset() == timedelta(0)

    def test_a_refused_commit_logs_nothing(self, store: InputLog) -> None:
        store.commit(Commit(changes=[change_of("member:p-1", 0)], inputs=[logged(1)]))
        stale = Change(key="member:p-1", expected_version=0, snapshot="{}")
        with pytest.raises(VersionConflictError):
            store.commit(Commit(changes=[stale], inputs=[logged(2)]))
        assert [entry.seq for entry in store.inputs()] == [1]

    def test_a_commit_of_inputs_alone_is_written(self, store: InputLog) -> None:
        assert Commit(inputs=[logged(1, kind="tick")])
        store.commit(Commit(inputs=[logged(1, kind="tick")]))
        assert [entry.kind for entry in store.inputs()] == ["tick"]
