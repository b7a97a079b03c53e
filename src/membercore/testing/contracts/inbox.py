"""The contract of the inbox role: the facts taken, each once, with its first fingerprint."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from membercore.ports import (
    Commit,
    InboxStore,
)
from membercore.testing.contracts.base import Contract
from membercore.testing.contracts.builders import (
    fact_of,
)

__all__ = ["InboxContract"]


class InboxContract(Contract):
    """What every :class:`~membercore.ports.InboxStore` does."""

    role = InboxStore

    # -- inbox ------------------------------------------------------------------------------

    def test_seen_answers_the_fingerprints_of_facts_taken(self, store: InboxStore) -> None:
        store.commit(
            Commit(inbox=[fact_of("fact-1", fingerprint="a"), fact_of("fact-2", "member:p-2")])
        )
        assert store.seen(["fact-1", "fact-2", "fact-3"]) == {"fact-1": "a", "fact-2": "f1"}
        assert store.seen([]) == {}

    def test_a_fact_taken_twice_keeps_its_first_fingerprint(self, store: InboxStore) -> None:
        store.commit(Commit(inbox=[fact_of("fact-1", fingerprint="first")]))
        store.commit(Commit(inbox=[fact_of("fact-1", fingerprint="second")]))
        store.commit(
            Commit(
                inbox=[fact_of("fact-2", fingerprint="one"), fact_of("fact-2", fingerprint="two")]
            )
        )
        assert store.seen(["fact-1", "fact-2"]) == {"fact-1": "first", "fact-2": "one"}

    def test_seen_reads_more_ids_than_one_query_takes(self, store: InboxStore) -> None:
        ids = [f"fact-{n}" for n in range(1_111)]
        store.commit(Commit(inbox=[fact_of(fact_id, fingerprint=fact_id[::-1]) for fact_id in ids]))
        assert store.seen([*ids, "fact-x"]) == {fact_id: fact_id[::-1] for fact_id in ids}
