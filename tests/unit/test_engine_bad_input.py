"""Bad input never stops the engine: each input is applied, a duplicate, or refused."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from membercore import DiagnosisRecorded, Engine, PatientRegistered
from membercore.errors import StorageError
from membercore.testing.clock import ManualClock

from .conftest import OpenEngine


def test_a_patient_id_with_slashes_takes_journeys_and_ticks_like_any_other(
    engine: Engine, clock: ManualClock
) -> None:
    ids = ["HIS/000123", "HIS|7:2/b", "P-1"]
    now = clock.now()
    report = engine.ingest(
        [
            *(PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=now) for p in ids),
            *(
                DiagnosisRecorded(
                    fact_id=f"dx-{p}", patient_id=p, occurred_at=now, icd10="E11.9", visit_id="v"
                )
                for p in ids
            ),
        ]
    )
    assert (report.applied, report.rejected) == (6, 0)
    for person in ids:
        assert "diabetes" in {journey.journey for journey in engine.journeys(person)}
    for day in range(1, 40):
        engine.tick(now + timedelta(days=day))
    assert engine.dead_letters() == []
    # The members with slashes went through the same steps as the one without.
    steps = {
        person: sorted(
            (instance.journey, instance.state)
            for instance in engine.member(person).journeys.instances.values()
        )
        for person in ids
    }
    assert steps["HIS/000123"] == steps["HIS|7:2/b"] == steps["P-1"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://", "names no database file"),
        ("sqlite:///", "names no database file"),
        ("sqlite:///a%00b.db", "not a usable file path"),
        ("sqlite:///x.db?mode=ro", "no query"),
    ],
)
def test_a_sqlite_url_that_would_keep_nothing_or_mislead_is_refused(
    open_engine: OpenEngine, clock: ManualClock, url: str, says: str
) -> None:
    with pytest.raises(StorageError, match=says):
        open_engine(url, clock)


def test_a_sqlite_path_is_percent_decoded(
    open_engine: OpenEngine, clock: ManualClock, tmp_path: Path
) -> None:
    with open_engine(f"sqlite:///{tmp_path}/two%20words.db", clock) as engine:
        engine.ingest([PatientRegistered(fact_id="r", patient_id="P", occurred_at=clock.now())])
    assert (tmp_path / "two words.db").exists()


@pytest.mark.parametrize("schema", ["public", "information_schema", "pg_catalog", "mc%0Atest"])
def test_a_postgres_schema_shared_or_misspelt_is_refused(postgres_url: str, schema: str) -> None:
    from membercore_adapters.postgres import PostgresStore  # noqa: PLC0415

    with pytest.raises(StorageError, match=r"schema|control character"):
        PostgresStore.open(f"{postgres_url}?schema={schema}")
    newline = f"{postgres_url}?schema=mc\\ntest".replace("\\n", "\n")
    with pytest.raises(StorageError, match="control character"):
        PostgresStore.open(newline)


def test_the_public_schema_is_used_when_asked_for_by_name(postgres_url: str) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    from membercore_adapters.postgres import PostgresStore  # noqa: PLC0415

    # A database of the test's own, so that its public schema is nobody else's.
    database = f"mc_public_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        url = f"{postgres_url.rsplit('/', 1)[0]}/{database}?schema=public&shared_schema=yes"
        store = PostgresStore.open(url)
        try:
            assert store.schema == "public"
        finally:
            store.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
