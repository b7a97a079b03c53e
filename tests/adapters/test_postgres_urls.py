"""The PostgreSQL store's URLs and registration, and the engine over PostgreSQL."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from membercore import ledger, reference_config
from membercore.errors import StorageError, StoreUnavailableError
from membercore.facts import ChargeLine, ChargePaid, PatientRegistered
from membercore.plugins import make_plugin_manager
from membercore.service.engine import Engine, IngestReport
from membercore.testing.clock import ManualClock
from membercore.testing.contracts import every_table
from membercore_adapters.stores import postgres as postgres_adapter
from membercore_adapters.stores.postgres import DEFAULT_SCHEMA, PostgresStore


@pytest.fixture
def url(postgres_schema_url: str) -> str:
    return postgres_schema_url


# -- URLs --------------------------------------------------------------------------------


def test_a_postgres_url_is_served_as_a_postgresql_one(url: str) -> None:
    with PostgresStore.open(url.replace("postgresql://", "postgres://", 1)) as store:
        store.commit(every_table())
        assert store.url.startswith("postgres://")
    with PostgresStore.open(url) as store:
        assert store.load(["member:p-1"])["member:p-1"].version == 1


def test_without_a_schema_parameter_the_tables_live_in_the_membercore_schema() -> None:
    # Opening is not needed to know where the tables would go: the refusal names it.
    with pytest.raises(StorageError) as raised:
        PostgresStore.open("postgresql://localhost/db?schema=Not-An-Identifier")
    assert "Not-An-Identifier" in str(raised.value)
    assert DEFAULT_SCHEMA == "membercore"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///x.db", "postgresql:/db", "mysql://host/db", "postgresql://host/db?schema=a;b"],
)
def test_a_url_that_names_no_postgresql_store_is_refused(url: str) -> None:
    with pytest.raises(StorageError) as raised:
        PostgresStore.open(url)
    assert not isinstance(raised.value, StoreUnavailableError)
    assert raised.value.store == url


# -- registration ------------------------------------------------------------------------


def _registered(hook: Callable[[Callable[[str, Any], None]], None]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    hook(found.__setitem__)
    return found


def test_the_adapter_registers_both_postgresql_schemes() -> None:
    assert _registered(postgres_adapter.membercore_register_stores) == {
        "postgresql": PostgresStore.open,
        "postgres": PostgresStore.open,
    }


def test_the_adapter_is_installed_as_an_entry_point() -> None:
    stores = {ep.name: ep.value for ep in entry_points(group="membercore")}
    assert stores["postgres"] == "membercore_adapters.stores.postgres"


def test_the_old_module_path_gives_the_moved_module_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "membercore_adapters.postgres", raising=False)
    with pytest.warns(DeprecationWarning, match="membercore_adapters.stores.postgres"):
        module = importlib.import_module("membercore_adapters.postgres")
    assert module is postgres_adapter


# -- the engine over PostgreSQL -------------------------------------------------------------


def test_the_engine_ingests_into_postgresql_and_reads_the_member_back(url: str) -> None:
    config = reference_config()
    at = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    manager = make_plugin_manager(load_entrypoints=False, plugins=[postgres_adapter])
    registration = PatientRegistered(fact_id="reg-p-lin", patient_id="p-lin", occurred_at=at)
    charge = ChargePaid(
        fact_id="f-1",
        patient_id="p-lin",
        occurred_at=at,
        charge_id="ch-f-1",
        lines=(ChargeLine(department="internal", category="exam", amount_fen=100_00),),
    )
    with Engine.open(url, config=config, clock=ManualClock(at), plugin_manager=manager) as engine:
        assert isinstance(engine.store, PostgresStore)
        report = engine.ingest([registration, charge, charge])
        assert report == IngestReport(applied=2, duplicates=1, commits=1)
    with Engine.open(url, config=config, clock=ManualClock(at), plugin_manager=manager) as engine:
        member = engine.member("p-lin")
        assert ledger.balances(member.ledger, config, at).lifetime_earned == 100
        assert engine.ingest([charge]) == IngestReport(duplicates=1)
        assert len(engine.store.events("member:p-lin")) >= 2
