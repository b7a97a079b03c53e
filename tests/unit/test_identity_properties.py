"""Properties of patient identity through the engine: one person, one member.

Whatever order a person's registrations at several campuses arrive in, and however the
feed is cut into batches, each person is one member, every identifier of theirs names
that member, and a fact sent under any of their campus ids reaches it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.conftest import MONDAY, OpenEngine

from membercore import ledger
from membercore.facts import ChargeLine, ChargePaid, Identifier, PatientRegistered
from membercore.testing.clock import ManualClock


def _registration(person: int, campus: int, n: int) -> PatientRegistered:
    patient = f"c{campus}-{person}"
    return PatientRegistered(
        fact_id=f"reg-{patient}-{n}",
        patient_id=patient,
        occurred_at=MONDAY + timedelta(minutes=n),
        identifiers=[
            Identifier(system=f"campus{campus}^MR", value=patient),
            Identifier(system="CHN^NNCHN", value=f"id-{person}"),
        ],
    )


def _paid(patient: str, n: int) -> ChargePaid:
    line = ChargeLine(department="internal", category="exam", amount_fen=100)
    return ChargePaid(
        fact_id=f"paid-{patient}-{n}",
        patient_id=patient,
        occurred_at=MONDAY + timedelta(hours=1, minutes=n),
        charge_id=f"ch-{patient}-{n}",
        lines=(line,),
    )


# ``open_engine`` is a factory: each example opens an engine of its own.
@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    visits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=12),
    batch_size=st.integers(1, 12),
)
def test_each_person_is_one_member_whatever_the_order_and_the_batches(
    open_engine: OpenEngine, visits: list[tuple[int, int]], batch_size: int
) -> None:
    registrations = [_registration(p, c, n) for n, (p, c) in enumerate(visits)]
    charges = [_paid(r.patient_id, n) for n, r in enumerate(registrations)]
    clock = ManualClock(MONDAY + timedelta(days=1))
    with open_engine("memory://", clock, batch_size=batch_size) as engine:
        report = engine.ingest([*registrations, *charges])
        assert report.rejected == 0, report.refusals
        people = {p for p, _ in visits}
        members = sorted(record.key for record in engine.store.scan("member:"))
        assert len(members) == len(people)
        for person in people:
            (member,) = {engine.identified("CHN^NNCHN", f"id-{person}")}
            campuses = {c for p, c in visits if p == person}
            for campus in campuses:
                patient = f"c{campus}-{person}"
                assert engine.identified(f"campus{campus}^MR", patient) == member
            earned = ledger.balances(
                engine.member(member or "").ledger, engine.config, clock.now()
            ).lifetime_earned
            assert earned == sum(1 for p, _ in visits if p == person)
