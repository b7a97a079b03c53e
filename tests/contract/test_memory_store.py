from __future__ import annotations

from collections.abc import Iterator

import pytest

from membercore.errors import StorageError
from membercore.testing.contracts import AccountsContract, ErasureContract, StoreContract
from membercore_adapters.stores.memory import MemoryStore


def _memory() -> Iterator[MemoryStore]:
    store = MemoryStore.open("memory://contract")
    yield store
    store.close()


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        yield from _memory()


class TestMemoryStoreAccounts(AccountsContract):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        yield from _memory()


class TestMemoryStoreErasure(ErasureContract):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        yield from _memory()


def test_each_memory_url_opens_a_fresh_store() -> None:
    first = MemoryStore.open("memory://shared-name")
    second = MemoryStore.open("memory://shared-name")
    assert first is not second
    assert first.url == "memory://shared-name"
    assert MemoryStore.open("memory://").url == "memory://"


def test_a_url_of_another_scheme_is_refused() -> None:
    with pytest.raises(StorageError, match="memory://"):
        MemoryStore.open("sqlite:///x.db")
