"""The HTTP API against its own OpenAPI document: schemathesis's property-based checks.

Schemathesis reads the document the ASGI application serves at ``/openapi.json`` and
sends every operation requests generated from it, valid and not, through the
application over a SQLite store: no answer may be a server error, and every answer must
be one the document declares, with its media type and schema (problems included).

``schemathesis.openapi.from_asgi`` would start the application (and open its store) when
this module is collected, in every test run; the document is taken from the application
without starting it instead, and the application starts on the first request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar.testing import TestClient
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from membercore import Engine, reference_config
from membercore.plugins import make_plugin_manager
from membercore.testing.clock import ManualClock
from membercore_adapters.http import Principal, StaticTokens, app
from membercore_adapters.stores import memory, sqlite

pytestmark = pytest.mark.slow

TOKEN = {"Authorization": "Bearer fuzz-token"}
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FOLDER = tempfile.TemporaryDirectory(prefix="membercore-http-schema-")


def _seeded() -> Engine:
    """The engine over a SQLite store holding one member to read."""
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    url = f"sqlite:///{Path(FOLDER.name) / 'fuzz.db'}"
    engine = Engine.open(
        url, config=reference_config(), clock=ManualClock(NOW), plugin_manager=manager
    )
    registered = {"type": "patient_registered", "fact_id": "HIS-1", "patient_id": "P-1"}
    engine.ingest([{**registered, "occurred_at": NOW.isoformat()}])
    return engine


API = app(
    _seeded,
    authenticator=StaticTokens(
        {"fuzz-token": Principal(kind="staff", id="hm-01", scopes={"admin"}, role="admin")}
    ),
)
schema = schemathesis.openapi.from_dict(API.openapi_schema.to_schema())
schema.app = API  # requests go to the application, as from_asgi's do


@pytest.fixture(scope="module", autouse=True)
def _stopped_afterwards() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()  # the application closes its engine
    FOLDER.cleanup()


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_document_declares_and_none_is_a_server_error(
    case: Any,
) -> None:
    # Left out: whether the programme takes what the document allows (a fact valid in
    # form may be refused by its rules: an unknown patient, an empty item code) and
    # whether it refuses what the document does not name (a query parameter it ignores).
    # Those are the programme's rules, tested where they are decided.
    case.call_and_validate(
        headers=TOKEN, excluded_checks=[positive_data_acceptance, negative_data_rejection]
    )


def test_the_served_document_is_the_one_checked() -> None:
    with TestClient(API) as client:
        served = client.get("/openapi.json").json()
    assert served == schema.raw_schema
    assert len(served["paths"]) == 18
