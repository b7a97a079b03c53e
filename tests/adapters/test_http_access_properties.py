"""A property of the HTTP API: no record is seen without a reason, and none unrecorded.

Whoever reads a member's record through the API — health managers, customer service,
an administrator, a hospital system — with or without a purpose, in any order: a
member of staff reads a member only if the member is in their care or they said why;
every read that is answered leaves exactly one look-up naming the reader and the
purpose, and a read refused or of an unknown member leaves none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from membercore import Engine, reference_config
from membercore.plugins import make_plugin_manager
from membercore.ports import AccountStore
from membercore.testing.clock import ManualClock
from membercore_adapters.access import new_staff_account, new_token
from membercore_adapters.http import Sessions, app, engine_thread
from membercore_adapters.stores import memory

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
PASSWORD = "correct horse 47"
STAFF = {"hm-01": "health_manager", "hm-02": "health_manager", "cs-01": "customer_service"}
STAFF |= {"ad-01": "admin"}
#: Whose health manager each member is (P-3 has none; P-4 is unknown).
CARE = {"P-1": "hm-01", "P-2": "hm-02"}
VIEWS = ("", "/points", "/tier", "/consent", "/messages", "/journeys")


def _accounts(engine: Engine) -> AccountStore:
    store = engine.store
    assert isinstance(store, AccountStore)
    return store


def _opened(clock: ManualClock) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory])
    engine = Engine.open(
        "memory://", config=reference_config(), clock=clock, plugin_manager=manager
    )
    for staff_id, role in STAFF.items():
        _accounts(engine).save_staff_account(
            new_staff_account(staff_id, staff_id, role, PASSWORD, T0)
        )
    return engine


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[TestClient[Litestar], Litestar, dict[str, dict[str, str]]]]:
    clock = ManualClock(T0)
    api = app(lambda: _opened(clock), sessions=Sessions(clock=lambda: 0.0))
    with TestClient(api) as client:
        token, secret = new_token("HIS", ["ingest", "read", "commands"], T0)
        engine_thread(api).call_blocking(lambda engine: _accounts(engine).add_token(token))
        system = {"Authorization": f"Bearer {secret}"}
        for patient in ("P-1", "P-2", "P-3"):
            fact = {
                "type": "patient_registered",
                "fact_id": f"REG-{patient}",
                "patient_id": patient,
                "occurred_at": T0.isoformat(),
                "name": "林女士",
            }
            assert client.post("/facts", json=fact, headers=system).status_code == 200
        for patient in CARE:  # the least loaded health manager: hm-01, then hm-02
            assign = {"type": "assign_health_manager", "key": f"hm/{patient}"}
            assign |= {"member_id": patient, "reason": "签约"}
            assert client.post("/commands", json=assign, headers=system).status_code == 200
        headers = {"system": system}
        for staff_id in STAFF:
            signed = client.post("/sessions", json={"staff_id": staff_id, "password": PASSWORD})
            headers[staff_id] = {"Authorization": f"Bearer {signed.json()['token']}"}
        yield client, api, headers


def _count(api: Litestar) -> int:
    return engine_thread(api).call_blocking(lambda engine: len(list(_accounts(engine).lookups())))


def headers_who(headers: dict[str, dict[str, str]], caller: str) -> str:
    """Who a look-up names for the caller's headers: a system by its token's id."""
    secret = headers[caller]["Authorization"].removeprefix("Bearer ")
    return f"token:{secret.split('_')[1]}"


def _allowed(caller: str, member: str, purpose: str | None) -> bool:
    if caller in ("system", "ad-01"):
        return True
    return bool(purpose and purpose.strip()) or CARE.get(member) == caller


READS = st.lists(
    st.tuples(
        st.sampled_from(["system", *STAFF]),
        st.sampled_from(["P-1", "P-2", "P-3", "P-4"]),
        st.sampled_from([None, "随访", "来电咨询", "  "]),
        st.sampled_from(VIEWS),
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(reads=READS)
def test_a_record_is_seen_only_in_care_or_for_a_purpose_and_every_sight_is_recorded(
    world: tuple[TestClient[Litestar], Litestar, dict[str, dict[str, str]]],
    reads: list[tuple[str, str, str | None, str]],
) -> None:
    client, api, headers = world
    for caller, member, purpose, view in reads:
        sent: dict[str, Any] = dict(headers[caller])
        if purpose is not None:
            sent["X-Purpose"] = purpose.encode()
        before = _count(api)
        answer = client.get(f"/members/{member}{view}", headers=sent)
        recorded = _count(api) - before
        if member == "P-4":
            assert (answer.status_code, recorded) == (404, 0)
        elif _allowed(caller, member, purpose):
            assert (answer.status_code, recorded) == (200, 1), answer.text
            last = engine_thread(api).call_blocking(
                lambda engine: list(_accounts(engine).lookups(member_id=member))[-1]  # noqa: B023
            )
            assert last.who == (headers_who(headers, caller) if caller == "system" else caller)
            if purpose and purpose.strip():
                assert last.purpose == purpose.strip()
        else:
            assert (answer.status_code, recorded) == (403, 0), answer.text
            assert answer.json()["type"] == "urn:membercore:problem:purpose-needed"
