from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from membercore.testing.contracts import AccountsContract, ErasureContract, StoreContract
from membercore_adapters.stores.sqlite import SqliteStore


class TestSqliteFileStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteStore]:
        store = SqliteStore.open(f"sqlite:///{tmp_path}/contract.db")
        yield store
        store.close()


class TestSqliteMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[SqliteStore]:
        store = SqliteStore.open("sqlite:///:memory:")
        yield store
        store.close()


class TestSqliteFileStoreAccounts(AccountsContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteStore]:
        store = SqliteStore.open(f"sqlite:///{tmp_path}/contract.db")
        yield store
        store.close()


class TestSqliteMemoryStoreAccounts(AccountsContract):
    @pytest.fixture
    def store(self) -> Iterator[SqliteStore]:
        store = SqliteStore.open("sqlite:///:memory:")
        yield store
        store.close()


class TestSqliteFileStoreErasure(ErasureContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqliteStore]:
        store = SqliteStore.open(f"sqlite:///{tmp_path}/contract.db")
        yield store
        store.close()
