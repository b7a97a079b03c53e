"""The contract of the dead-letter role: inputs refused, oldest first, each input once."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

import attrs

from membercore.ports import (
    Commit,
    DeadLetter,
    DeadLetterStore,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    MINUTE,
    T0,
    letter_of,
)

__all__ = ["DeadLettersContract"]


class DeadLettersContract(Contract):
    """What every :class:`~membercore.ports.DeadLetterStore` does."""

    role = DeadLetterStore

    # -- dead letters -----------------------------------------------------------------------

    def test_dead_letters_are_kept_with_their_reason_oldest_first(
        self, store: DeadLetterStore
    ) -> None:
        first = letter_of("bad-2", "unknown fact type 'mystery'")
        second = letter_of("bad-1", "patient_id: must not be empty", at=T0 + MINUTE)
        third = DeadLetter(
            fact_id="sha256:ab12", fact_type="", payload="{not json", reason="not JSON", at=T0
        )
        store.commit(Commit(dead_letters=[first, second]))
        store.commit(Commit(dead_letters=[third]))
        assert list(store.dead_letters()) == [first, second, third]

    def test_other_inputs_refused_under_one_fact_id_are_each_kept(
        self, store: DeadLetterStore
    ) -> None:
        first = letter_of("bad-1", "first reason")
        other = attrs.evolve(first, payload='{"type":"mystery","n":2}', reason="other input")
        store.commit(Commit(dead_letters=[first]))
        store.commit(Commit(dead_letters=[other, first]))
        assert [(d.fact_id, d.reason) for d in store.dead_letters()] == [
            ("bad-1", "first reason"),
            ("bad-1", "other input"),
        ]

    def test_a_fact_refused_twice_is_one_dead_letter(self, store: DeadLetterStore) -> None:
        store.commit(Commit(dead_letters=[letter_of("bad-1", "first reason")]))
        store.commit(Commit(dead_letters=[letter_of("bad-1", "second reason"), letter_of("bad-2")]))
        assert [(d.fact_id, d.reason) for d in store.dead_letters()] == [
            ("bad-1", "first reason"),
            ("bad-2", "unknown fact type"),
        ]
