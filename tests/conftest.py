from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from membercore_adapters.testing import postgres_schema, server_url

# Timing is measured in benchmarks/, never asserted in tests: no deadlines.
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# The long fuzzing run docs/reliability.md reports (HYPOTHESIS_PROFILE=fuzz).
settings.register_profile(
    "fuzz",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


# -- PostgreSQL and MariaDB ----------------------------------------------------------------
# The tests that need a server run against a real one: MEMBERCORE_TEST_POSTGRES_URL (or
# MEMBERCORE_TEST_MARIADB_URL), or the local default. Without one they skip with the
# reason, except in CI (env CI set), where a missing server is a failure: a backend must
# never go untested there unnoticed (membercore_adapters.testing.servers).


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL, once it answers (else a skip, or a failure in CI)."""
    return server_url("postgresql")


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL naming a PostgreSQL schema of this test's own, dropped afterwards."""
    with postgres_schema(postgres_url) as url:
        yield url


@pytest.fixture(autouse=True)
def _speaking_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line speaks its default, Chinese, whatever the machine's MEMBERCORE_LANG."""
    monkeypatch.delenv("MEMBERCORE_LANG", raising=False)
