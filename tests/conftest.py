from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

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


# -- PostgreSQL --------------------------------------------------------------------------
# The PostgreSQL tests run against a real server: MEMBERCORE_TEST_POSTGRES_URL, or the
# local default. Without one they skip with the reason, except in CI (env CI set), where
# a missing server is a failure: the backend must never go untested there unnoticed.

POSTGRES_URL_VARIABLE = "MEMBERCORE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL, once it answers (else a skip, or a failure in CI)."""
    url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    try:
        import psycopg  # noqa: PLC0415 - the driver is optional: its absence is a skip

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # whatever it was: the driver, the network, the server
        from membercore_adapters.stores.postgres.urls import redact as _redact  # noqa: PLC0415

        reason = (
            f"PostgreSQL not reachable at {_redact(url)} ({type(e).__name__}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}); "
            f"set {POSTGRES_URL_VARIABLE}"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL naming a PostgreSQL schema of this test's own, dropped afterwards."""
    import psycopg  # noqa: PLC0415 - only reached once postgres_url found the driver
    from psycopg import sql  # noqa: PLC0415

    schema = f"mc_test_{uuid.uuid4().hex[:16]}"
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
