"""The contract of the position role: how far each source's inputs were committed."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from membercore.ports import Commit, PositionStore, SourcePosition
from membercore.testing.contracts.base import Contract

__all__ = ["PositionsContract"]


class PositionsContract(Contract):
    """What every :class:`~membercore.ports.PositionStore` does."""

    role = PositionStore

    def test_a_source_without_a_commit_has_no_position(self, store: PositionStore) -> None:
        assert store.position("hl7v2:adt") is None

    def test_each_commit_moves_its_sources_to_the_last_position_it_names(
        self, store: PositionStore
    ) -> None:
        store.commit(Commit(positions=[SourcePosition(source="a", position="offset 10")]))
        store.commit(
            Commit(
                positions=[
                    SourcePosition(source="a", position="offset 20"),
                    SourcePosition(source="b", position="2025-01-01T00:00:00+00:00"),
                    SourcePosition(source="a", position="offset 30"),
                ]
            )
        )
        assert store.position("a") == "offset 30"
        assert store.position("b") == "2025-01-01T00:00:00+00:00"

    def test_positions_hold_any_text(self, store: PositionStore) -> None:
        odd = SourcePosition(source="fhir:https://his/fhir?x='1'", position="页 %_\t\u00e9")
        store.commit(Commit(positions=[odd]))
        assert store.position(odd.source) == odd.position
