"""The contract of the identity role: any of a patient's identifiers finds the patient."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from membercore.ports import Commit, IdentifierLink, IdentityStore
from membercore.testing.contracts.base import Contract

__all__ = ["IdentitiesContract"]


def _link(system: str, value: str, patient_id: str) -> IdentifierLink:
    return IdentifierLink(system=system, value=value, patient_id=patient_id)


def _found(store: IdentityStore, *values: str) -> set[tuple[str, str, str]]:
    return {(link.system, link.value, link.patient_id) for link in store.identified(values)}


class IdentitiesContract(Contract):
    """What every :class:`~membercore.ports.IdentityStore` does."""

    role = IdentityStore

    def test_an_identifier_finds_its_patient_in_every_system_that_issued_the_value(
        self, store: IdentityStore
    ) -> None:
        store.commit(
            Commit(
                identifiers=[
                    _link("MR", "1234", "p-1"),
                    _link("SS", "1234", "p-2"),
                    _link("ID", "330102", "p-1"),
                ]
            )
        )
        assert _found(store, "1234", "nobody") == {("MR", "1234", "p-1"), ("SS", "1234", "p-2")}
        assert _found(store, "330102") == {("ID", "330102", "p-1")}
        assert store.identified([]) == []

    def test_an_identifier_keeps_the_patient_it_named_first(self, store: IdentityStore) -> None:
        store.commit(Commit(identifiers=[_link("MR", "1", "p-1"), _link("MR", "1", "p-9")]))
        store.commit(Commit(identifiers=[_link("MR", "1", "p-2")]))
        assert _found(store, "1") == {("MR", "1", "p-1")}

    def test_a_patients_identifiers_are_listed_by_system_then_value(
        self, store: IdentityStore
    ) -> None:
        store.commit(
            Commit(
                identifiers=[
                    _link("SS", "9", "p-1"),
                    _link("MR", "2", "p-1"),
                    _link("", "old-id", "p-1"),
                    _link("MR", "1", "p-1"),
                    _link("MR", "3", "p-2"),
                ]
            )
        )
        listed = [(link.system, link.value) for link in store.identifiers_of("p-1")]
        assert listed == [("", "old-id"), ("MR", "1"), ("MR", "2"), ("SS", "9")]
        assert store.identifiers_of("p-3") == []

    def test_identified_reads_more_values_than_one_query_takes(self, store: IdentityStore) -> None:
        links = [_link("MR", f"v-{n}", f"p-{n}") for n in range(1_111)]
        store.commit(Commit(identifiers=links))
        found = store.identified([link.value for link in links] + ["v-x"])
        assert sorted(found, key=lambda link: link.value) == sorted(
            links, key=lambda link: link.value
        )

    def test_identifiers_hold_any_text(self, store: IdentityStore) -> None:
        odd = _link("urn:oid:2.16.840.1|'\"", "王 \u00e9\t%_?", "p-\u738b")
        store.commit(Commit(identifiers=[odd]))
        assert store.identified([odd.value]) == [odd]
        assert store.identifiers_of(odd.patient_id) == [odd]
