"""Retractions through the engine: a discharge or an admission the HIS withdraws.

What the withdrawn fact started is undone while nothing of it went out — the journey
ends, its messages are cancelled, its tasks closed — and recorded, left to run, once
something did.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.unit.conftest import MONDAY, consent

from membercore.facts import (
    AdmissionCancelled,
    DischargeCancelled,
    Discharged,
    PatientRegistered,
)
from membercore.identity import FactSetAside
from membercore.ports import OutboxMessage
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.staff.offers import open_offers

ME = "p-zhao"


class _Collecting:
    name = "sms"

    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []

    def send(self, message: OutboxMessage) -> str:
        self.sent.append(message)
        return f"r-{message.message_id}"


def _admitted_and_discharged(engine: Engine) -> None:
    engine.ingest(
        [
            PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=MONDAY),
            consent(ME),
            Discharged(
                fact_id="dis",
                patient_id=ME,
                occurred_at=MONDAY + timedelta(minutes=5),
                visit_id="ZY-1",
                department="surgery",
            ),
        ]
    )


def _withdrawn(kind: Any = DischargeCancelled, at: timedelta = timedelta(minutes=30)) -> Any:
    return kind(fact_id="undo", patient_id=ME, occurred_at=MONDAY + at, visit_id="ZY-1")


def _journey(engine: Engine) -> Any:
    (instance,) = [
        i for i in engine.member(ME).journeys.instances.values() if i.journey == "post_discharge"
    ]
    return instance


def _set_aside(engine: Engine) -> list[str]:
    events = [message_from_json(e.payload) for e in engine.store.events(member_key(ME))]
    return [e.reason for e in events if isinstance(e, FactSetAside)]


def test_a_discharge_withdrawn_before_anything_went_out_is_undone(engine: Engine) -> None:
    _admitted_and_discharged(engine)
    assert _journey(engine).occasion == "discharged:ZY-1"
    (pending,) = engine.pending_outbox()
    engine.clock.advance(timedelta(minutes=30))  # type: ignore[attr-defined]
    engine.ingest([_withdrawn()])
    assert _journey(engine).ended == "retracted:discharged"
    assert engine.pending_outbox() == []
    # The plan offer the discharge made is withdrawn: its code no longer redeems.
    (offer,) = engine.member(ME).offers.offers.values()
    assert offer.withdrawn is not None
    assert open_offers(engine.member(ME).offers, engine.now()) == ()
    (cancelled,) = engine.store.outbox("cancelled")
    assert cancelled.message_id == pending.message_id
    assert _set_aside(engine) == []
    # Nothing of the journey comes back with time: its timers went with it.
    engine.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    engine.tick()
    assert engine.open_tasks() == []


def test_a_discharge_withdrawn_after_its_message_went_out_is_recorded_and_left_to_run(
    engine: Engine,
) -> None:
    _admitted_and_discharged(engine)
    channel = _Collecting()
    engine.clock.advance(timedelta(minutes=20))  # type: ignore[attr-defined]
    report = engine.dispatch({"sms": channel, "wecom": channel})
    assert report.delivered == 1
    engine.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    engine.ingest([_withdrawn()])
    assert _journey(engine).ended is None
    (reason,) = _set_aside(engine)
    assert "went out already" in reason


def test_the_day_one_call_task_of_a_withdrawn_discharge_is_closed(engine: Engine) -> None:
    _admitted_and_discharged(engine)
    engine.clock.advance(timedelta(days=1, hours=1))  # type: ignore[attr-defined]
    engine.tick()
    (task,) = engine.open_tasks()
    assert task.kind == "call"
    engine.ingest([_withdrawn(at=timedelta(days=1, hours=1))])
    assert engine.open_tasks() == []
    assert _journey(engine).ended == "retracted:discharged"


def test_a_withdrawn_admission_that_started_nothing_is_recorded(engine: Engine) -> None:
    _admitted_and_discharged(engine)
    engine.clock.advance(timedelta(minutes=30))  # type: ignore[attr-defined]
    engine.ingest([_withdrawn(AdmissionCancelled)])
    assert _set_aside(engine) == ["the admitted fact of stay ZY-1 started nothing still running"]
    assert _journey(engine).ended is None
