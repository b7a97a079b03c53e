"""Rest-hook notifications posted over loopback: answered once their facts are committed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from membercore import Engine
from membercore_fhir.server.config import SubscriptionConfig
from membercore_fhir.server.subscriptions import SubscriptionListener

from .fhirserver import FhirServer
from .serverkit import MAPPING, open_engine, patient, settings, visit, visits, without

Exchange = Callable[[httpx.AsyncClient, str], Awaitable[Any]]


def _listen(
    engine: Engine,
    exchange: Exchange,
    *,
    server: FhirServer | None = None,
    secret: str | None = None,
) -> Any:
    subscription = SubscriptionConfig(
        path="/fhir",
        secret_header="X-Secret" if secret else None,
        secret_env="S" if secret else None,
    )

    async def run() -> Any:
        listener = SubscriptionListener(
            engine,
            MAPPING,
            subscription,
            server=settings(server) if server is not None else None,
            secret=secret,
            port=0,
        )
        await listener.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                return await exchange(client, f"http://127.0.0.1:{listener.port}/fhir")
        finally:
            await listener.stop()

    return asyncio.run(run())


def _sent(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource as the server sends it: with its version and when it stored it."""
    return {**resource, "meta": {"versionId": "1", "lastUpdated": "2026-02-01T02:00:00Z"}}


def _json(response: httpx.Response) -> dict[str, Any]:
    return {"status": response.status_code, **response.json()}


def test_an_empty_notification_fetches_what_changed_since_the_position() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))

        async def notify(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
            return _json(await client.post(url, content=b""))

        answer = _listen(engine, notify, server=server)
        assert answer["status"] == 200, answer
        assert visits(engine, "MR0") == {"V0"}
        assert engine.position("fhir-server") is not None
        server.put(visit(1, 0))
        assert _listen(engine, notify, server=server)["status"] == 200
        assert visits(engine, "MR0") == {"V0", "V1"}
        assert len(server.searches("Encounter")) == 2


def test_a_full_resource_put_to_its_type_and_id_is_taken_before_the_200() -> None:
    with open_engine() as engine:

        async def notify(client: httpx.AsyncClient, url: str) -> list[int]:
            headers = {"Content-Type": "application/fhir+json"}
            first = await client.put(f"{url}/Patient/p0", json=_sent(patient(0)), headers=headers)
            second = await client.put(
                f"{url}/Encounter/e0", json=_sent(visit(0, 0)), headers=headers
            )
            return [first.status_code, second.status_code]

        assert _listen(engine, notify) == [200, 200]
        assert visits(engine, "MR0") == {"V0"}


def test_a_notification_bundle_carries_its_resources_and_names_the_rest_by_url() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(1))
        server.put(visit(5, 1))
        status = {
            "resourceType": "Parameters",
            "parameter": [{"name": "type", "valueCode": "event-notification"}],
        }
        bundle = {
            "resourceType": "Bundle",
            "type": "history",
            "entry": [
                {"fullUrl": "urn:uuid:status", "resource": status},
                {"fullUrl": "Patient/p0", "resource": _sent(patient(0))},
                {"fullUrl": "Encounter/e0", "resource": _sent(visit(0, 0))},
                {"fullUrl": f"{server.base_url}/Encounter/e5"},  # id-only: fetched
            ],
        }

        async def notify(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
            return _json(await client.post(url, json=bundle))

        answer = _listen(engine, notify, server=server)
        assert answer["status"] == 200, answer
        assert visits(engine, "MR0") == {"V0"}
        assert visits(engine, "MR1") == {"V5"}


def test_a_resource_that_cannot_become_facts_is_a_422_with_an_operation_outcome() -> None:
    with open_engine() as engine:

        async def notify(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
            await client.put(f"{url}/Patient/p0", json=_sent(patient(0)))
            return _json(
                await client.put(f"{url}/Encounter/e1", json=_sent(without(visit(1, 0), "period")))
            )

        answer = _listen(engine, notify)
        assert answer["status"] == 422
        assert answer["resourceType"] == "OperationOutcome"
        assert (
            "Encounter/e1.period has neither a start nor an end"
            in answer["issue"][0]["details"]["text"]
        )
        (letter,) = engine.store.dead_letters()
        assert '"id": "e1"' in letter.payload


def test_a_body_that_is_not_fhir_json_is_a_400_kept_as_a_dead_letter() -> None:
    with open_engine() as engine:

        async def notify(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
            return _json(await client.post(url, content=b"MSH|^~\\&|not FHIR"))

        answer = _listen(engine, notify)
        assert answer["status"] == 400
        assert "not JSON" in answer["issue"][0]["details"]["text"]
        (letter,) = engine.store.dead_letters()
        assert "MSH|^~\\&|not FHIR" in letter.payload


def test_a_notification_without_the_shared_secret_is_a_401_and_changes_nothing() -> None:
    with open_engine() as engine:

        async def notify(client: httpx.AsyncClient, url: str) -> list[int]:
            wrong = await client.put(
                f"{url}/Patient/p0", json=_sent(patient(0)), headers={"X-Secret": "no"}
            )
            right = await client.put(
                f"{url}/Patient/p1", json=_sent(patient(1)), headers={"X-Secret": "yes"}
            )
            return [wrong.status_code, right.status_code]

        assert _listen(engine, notify, secret="yes") == [401, 200]
        assert [m.member_id for m in engine.members()] == ["MR1"]


def test_an_empty_notification_without_a_server_to_fetch_from_is_a_422() -> None:
    with open_engine() as engine:

        async def notify(client: httpx.AsyncClient, url: str) -> int:
            return (await client.post(url)).status_code

        assert _listen(engine, notify) == 422


def test_a_server_that_cannot_be_read_makes_the_notification_a_503_to_send_again() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.fail(503, times=10)

        async def notify(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
            return _json(await client.post(url))

        answer = _listen(engine, notify, server=server)
        assert answer["status"] == 503
        assert "could not fetch what changed" in answer["issue"][0]["details"]["text"]
        assert engine.position("fhir-server") is None


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_other_methods_are_refused(method: str) -> None:
    with open_engine() as engine:

        async def notify(client: httpx.AsyncClient, url: str) -> int:
            return (await client.request(method, f"{url}/Patient/p0")).status_code

        assert _listen(engine, notify) == 405


def test_concurrent_empty_notifications_fetch_once_for_all() -> None:
    with FhirServer() as server, open_engine() as engine:
        server.put(patient(0))
        server.put(visit(0, 0))

        async def notify(client: httpx.AsyncClient, url: str) -> list[int]:
            answers = await asyncio.gather(*(client.post(url) for _ in range(5)))
            return [a.status_code for a in answers]

        assert _listen(engine, notify, server=server) == [200] * 5
        assert 1 <= len(server.searches("Patient")) <= 2
        assert json.dumps(sorted(visits(engine, "MR0"))) == '["V0"]'
