"""Bad input never stops the engine: each input is applied, a duplicate, or refused."""

from __future__ import annotations

from datetime import timedelta

from membercore import DiagnosisRecorded, Engine, PatientRegistered
from membercore.testing.clock import ManualClock


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
