"""Each role's contract needs only its role: it runs against a store that has nothing else.

A backend author checks one role at a time while the others are still missing; these
tests show that works, by running each role's contract against the memory store seen
through that role's protocol alone (every other method is missing).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from membercore.ports import (
    ROLES,
    AccountStore,
    DeadLetterStore,
    ErasureStore,
    IdentityStore,
    InboxStore,
    InputLog,
    OutboxStore,
    PositionStore,
    RecordStore,
    Store,
    TaskStore,
    TimerStore,
    lacks,
    plays,
)
from membercore.testing import contracts
from membercore.testing.contracts import (
    AccountsContract,
    DeadLettersContract,
    ErasureContract,
    IdentitiesContract,
    InboxContract,
    InputLogContract,
    OutboxContract,
    PositionsContract,
    RecordsContract,
    StoreContract,
    TasksContract,
    TimersContract,
)
from membercore_adapters.stores.memory import MemoryStore


def _members(role: type[Any]) -> set[str]:
    """The attributes a protocol (with the protocols it extends) names."""
    names: set[str] = set()
    for cls in role.__mro__:
        if cls.__module__.startswith("membercore.ports."):  # the port's, not Protocol's
            names |= set(getattr(cls, "__annotations__", {}))
            names |= {name for name in vars(cls) if not name.startswith("_")}
    return names


class _Only:
    """A store seen through one role: what the role does not name is missing."""

    def __init__(self, store: MemoryStore, role: type[Any]) -> None:
        self._store = store
        self._names = _members(role)

    def __getattr__(self, name: str) -> Any:
        if name in self._names:
            return getattr(self._store, name)
        raise AttributeError(f"{name} is not part of this role")


def _only(role: type[Any]) -> Iterator[Any]:
    store = MemoryStore.open("memory://role")
    yield _Only(store, role)
    store.close()


class TestTheRecordRoleAlone(RecordsContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(RecordStore)


class TestTheTimerRoleAlone(TimersContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(TimerStore)


class TestTheInboxRoleAlone(InboxContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(InboxStore)


class TestTheOutboxRoleAlone(OutboxContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(OutboxStore)


class TestTheDeadLetterRoleAlone(DeadLettersContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(DeadLetterStore)


class TestTheTaskRoleAlone(TasksContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(TaskStore)


class TestTheIdentityRoleAlone(IdentitiesContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(IdentityStore)


class TestThePositionRoleAlone(PositionsContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(PositionStore)


class TestTheAccountsAlone(AccountsContract):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        yield from _only(AccountStore)


def test_a_store_seen_through_one_role_lacks_the_others() -> None:
    store = _Only(MemoryStore(), OutboxStore)
    assert isinstance(store, OutboxStore)
    assert not isinstance(store, InboxStore)
    assert not isinstance(store, Store)
    with pytest.raises(AttributeError):
        store.seen(["fact-1"])


class _Without:
    """A store without some of its methods: one written before the port had them."""

    def __init__(self, store: MemoryStore, *missing: str) -> None:
        self._store = store
        self._missing = set(missing)

    def __getattr__(self, name: str) -> Any:
        if name in self._missing:
            raise AttributeError(f"{name} is missing")
        return getattr(self._store, name)


def test_a_store_without_the_outcome_methods_lacks_them_in_the_outbox_role() -> None:
    store = _Without(MemoryStore(), "awaiting", "record_outcome", "sent_to")
    assert lacks(store) == ["OutboxStore (awaiting, record_outcome, sent_to)"]
    assert not isinstance(store, OutboxStore)
    assert lacks(_Without(MemoryStore(), "sent_to")) == ["OutboxStore (sent_to)"]
    assert lacks(MemoryStore()) == []


def test_a_store_plays_the_roles_its_class_plays_and_a_stand_in_is_asked_each_time() -> None:
    memory = MemoryStore()
    assert plays(memory, ErasureStore) is isinstance(memory, ErasureStore) is True
    assert plays(memory, OutboxStore)
    assert plays(MemoryStore(), OutboxStore)
    assert not plays(object(), OutboxStore)
    # A stand-in answers for the store behind it: two of one class may differ.
    assert plays(_Without(memory), OutboxStore)
    assert not plays(_Without(memory, "sent_to"), OutboxStore)
    assert plays(_Only(memory, OutboxStore), OutboxStore)
    assert not plays(_Only(memory, OutboxStore), InboxStore)


def test_the_store_contract_is_every_role_contract() -> None:
    roles = {
        RecordsContract,
        TimersContract,
        InboxContract,
        OutboxContract,
        DeadLettersContract,
        TasksContract,
        IdentitiesContract,
        PositionsContract,
        InputLogContract,
    }
    assert roles <= set(StoreContract.__mro__)
    # The accounts and erasure are capabilities a store may have, not roles every store has.
    assert AccountsContract not in StoreContract.__mro__
    assert ErasureContract not in StoreContract.__mro__
    assert {name for name in contracts.__all__ if name.endswith("Contract")} == {
        cls.__name__ for cls in (*roles, StoreContract, AccountsContract, ErasureContract)
    }


def test_the_store_port_is_every_role() -> None:
    roles = (
        RecordStore,
        TimerStore,
        InboxStore,
        OutboxStore,
        DeadLetterStore,
        TaskStore,
        IdentityStore,
        PositionStore,
        InputLog,
    )
    assert set(roles) <= set(Store.__mro__)
    assert set().union(*map(_members, roles)) == _members(Store)


def test_keeping_accounts_is_no_part_of_the_store_port() -> None:
    assert AccountStore not in Store.__mro__
    assert AccountStore not in ROLES
    assert isinstance(MemoryStore(), AccountStore)
    # A store without accounts is still a whole store.
    without = _Without(MemoryStore(), "add_token", "lookups")
    assert lacks(without) == []
    assert isinstance(without, Store)
    assert not isinstance(without, AccountStore)


def test_the_accounts_port_has_no_way_to_change_or_remove_a_lookup() -> None:
    writes = {name for name in _members(AccountStore) if "lookup" in name}
    assert writes == {"record_lookup", "lookups"}


def test_the_old_contract_path_gives_the_suites_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "membercore.testing.contract", raising=False)
    with pytest.warns(DeprecationWarning, match="membercore.testing.contracts"):
        old = importlib.import_module("membercore.testing.contract")
    assert old is contracts
    assert old.StoreContract is StoreContract
