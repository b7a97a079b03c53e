"""Rest-hook notifications to the HTTP API's webhook, ``membercore serve --webhook fhir``.

The FHIR server's Subscription names ``/webhooks/fhir`` as its endpoint and sends, in
``channel.header``, the API token (``Authorization: Bearer mc_…``) and the shared
secret; the webhook takes what the listener of ``membercore worker --listen fhir``
takes, and answers in FHIR's terms once the facts are committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

import membercore_fhir
from membercore import Engine, reference_config
from membercore.plugins import make_plugin_manager
from membercore.ports import AccountStore
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_token
from membercore_adapters.http import app, engine_thread
from membercore_adapters.stores import memory, sqlite

from .fhirserver import FhirServer
from .serverkit import NOW, patient, visit, visits, without

FHIR_JSON = "application/fhir+json"
SECRET = "s3cret-of-the-subscription"


@pytest.fixture
def server() -> Iterator[FhirServer]:
    with FhirServer() as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path, server: FhirServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FHIR_NOTIFY_SECRET", SECRET)
    path = tmp_path / "fhir.toml"
    path.write_text(
        f"""
[fhir_server]
base_url = "{server.base_url}"
types = ["Patient", "Encounter"]
page_size = 3
backoff_seconds = 0.001

[fhir_subscription]
secret_header = "X-Notify-Secret"
secret_env = "FHIR_NOTIFY_SECRET"

[fhir]
sender = "his"

[fhir.departments]
default = "outpatient"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def api(tmp_path: Path, settings: Path) -> Litestar:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, membercore_fhir])
    url = f"sqlite:///{tmp_path / 'api.db'}"

    def open_engine() -> Engine:
        return Engine.open(
            url, config=reference_config(), clock=ManualClock(NOW), plugin_manager=manager
        )

    return app(open_engine, webhooks={"fhir": {"mapping": str(settings)}})


@pytest.fixture
def client(api: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(api) as held:
        yield held


@pytest.fixture
def headers(api: Litestar, client: TestClient[Litestar]) -> dict[str, str]:
    """The Subscription's ``channel.header``: a stored API token, and the shared secret."""
    token, secret = new_token("FHIR subscription", ["ingest"], NOW)

    def add(engine: Engine) -> None:
        store = engine.store
        assert isinstance(store, AccountStore)
        store.add_token(token)

    engine_thread(api).call_blocking(add)
    return {"Authorization": f"Bearer {secret}", "X-Notify-Secret": SECRET}


def _sent(resource: dict[str, Any]) -> dict[str, Any]:
    return {**resource, "meta": {"versionId": "1", "lastUpdated": "2026-02-01T02:00:00Z"}}


def _visits(api: Litestar, patient_id: str) -> set[str]:
    return engine_thread(api).call_blocking(lambda engine: visits(engine, patient_id))


def _outcome(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(FHIR_JSON)
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    text: str = body["issue"][0]["details"]["text"]
    return text


def test_full_resource_notifications_become_facts_before_the_200(
    api: Litestar, client: TestClient[Litestar], headers: dict[str, str]
) -> None:
    fhir = {**headers, "Content-Type": FHIR_JSON}
    first = client.put("/webhooks/fhir/Patient/p0", json=_sent(patient(0)), headers=fhir)
    assert "taken: " in _outcome(first, 200)
    second = client.post("/webhooks/fhir", json=_sent(visit(0, 0)), headers=fhir)
    _outcome(second, 200)
    assert _visits(api, "MR0") == {"V0"}


def test_an_empty_notification_fetches_what_changed_from_the_fhir_server(
    api: Litestar,
    client: TestClient[Litestar],
    headers: dict[str, str],
    server: FhirServer,
    settings: Path,
) -> None:
    server.put(patient(1))
    server.put(visit(4, 1))
    assert "fetched: " in _outcome(client.post("/webhooks/fhir", headers=headers), 200)
    assert _visits(api, "MR1") == {"V4"}
    name = f"fhir-server:{settings.resolve()}"  # where `worker --poll` resumes from too
    assert engine_thread(api).call_blocking(lambda engine: engine.position(name)) is not None
    server.put(visit(5, 1))
    _outcome(client.post("/webhooks/fhir", headers=headers), 200)
    assert _visits(api, "MR1") == {"V4", "V5"}


def test_a_resource_that_cannot_become_facts_is_the_webhooks_422(
    client: TestClient[Litestar], headers: dict[str, str]
) -> None:
    client.put("/webhooks/fhir/Patient/p0", json=_sent(patient(0)), headers=headers)
    broken = _sent(without(visit(1, 0), "period"))
    answer = client.put("/webhooks/fhir/Encounter/e1", json=broken, headers=headers)
    assert "neither a start nor an end" in _outcome(answer, 422)


def test_the_shared_secret_is_checked_after_the_token(
    api: Litestar, client: TestClient[Litestar], headers: dict[str, str]
) -> None:
    token_only = {"Authorization": headers["Authorization"]}
    answer = client.put("/webhooks/fhir/Patient/p0", json=_sent(patient(0)), headers=token_only)
    assert "shared secret" in _outcome(answer, 401)
    secret_only = {"X-Notify-Secret": SECRET}
    refused = client.put("/webhooks/fhir/Patient/p0", json=_sent(patient(0)), headers=secret_only)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"  # the API's own
    assert engine_thread(api).call_blocking(lambda engine: list(engine.members())) == []


def test_what_no_fhir_server_sends_is_refused_in_fhirs_terms(
    client: TestClient[Litestar], headers: dict[str, str]
) -> None:
    assert "GET is not taken" in _outcome(
        client.get("/webhooks/fhir/Patient/p0", headers=headers), 405
    )
    assert "nothing is served" in _outcome(
        client.post("/webhooks/fhir/Patient", json={}, headers=headers), 404
    )
