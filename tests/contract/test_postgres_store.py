from __future__ import annotations

from collections.abc import Iterator

import pytest

from membercore.testing.contracts import AccountsContract, ErasureContract, StoreContract
from membercore_adapters.stores.postgres import PostgresStore


class TestPostgresStore(StoreContract):
    """The conformance suite, each test in a PostgreSQL schema of its own."""

    @pytest.fixture
    def store(self, postgres_schema_url: str) -> Iterator[PostgresStore]:
        store = PostgresStore.open(postgres_schema_url)
        yield store
        store.close()


class TestPostgresStoreAccounts(AccountsContract):
    """The accounts' contract, each test in a PostgreSQL schema of its own."""

    @pytest.fixture
    def store(self, postgres_schema_url: str) -> Iterator[PostgresStore]:
        store = PostgresStore.open(postgres_schema_url)
        yield store
        store.close()


class TestPostgresStoreErasure(ErasureContract):
    """The erasure contract, each test in a PostgreSQL schema of its own."""

    @pytest.fixture
    def store(self, postgres_schema_url: str) -> Iterator[PostgresStore]:
        store = PostgresStore.open(postgres_schema_url)
        yield store
        store.close()
