"""The plugin's journey run end to end by an engine, from facts as the HIS sends them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from membercore import message_to_dict, reference_config
from membercore.consent import GrantConsent
from membercore.facts import AppointmentBooked, LabResultRecorded, PatientRegistered
from membercore.journeys import JourneyInstance
from membercore.outreach import MessageQueued
from membercore.ports import TaskRow
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_clinic_example import INVITE_TEMPLATE

# 10:00 in Shanghai: outside the reference programme's quiet hours.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    # The default plugin manager: the installed plugins, this one among them.
    with Engine.open("memory://", config=reference_config(), clock=clock) as engine:
        registered = PatientRegistered(
            fact_id="his-reg-1", patient_id="p-1", occurred_at=T0, preferred_channel="wecom"
        )
        consent = GrantConsent(
            key="consent-1",
            member_id="p-1",
            purpose="care",
            channels=("wecom",),
            given_by="p-1",
            source="app",
        )
        engine.ingest([message_to_dict(registered), consent])
        yield engine


def _bmi(fact_id: str, value: str, at: datetime = T0) -> dict[str, object]:
    lab = LabResultRecorded(
        fact_id=fact_id, patient_id="p-1", occurred_at=at, test="bmi", value=value
    )
    return message_to_dict(lab)


def _booked(fact_id: str, at: datetime, department: str = "nutrition") -> dict[str, object]:
    booked = AppointmentBooked(
        fact_id=fact_id,
        patient_id="p-1",
        occurred_at=at,
        appointment_id=f"ap-{fact_id}",
        department=department,
        scheduled_at=at + timedelta(days=3),
    )
    return message_to_dict(booked)


def _journey(engine: Engine) -> JourneyInstance | None:
    instances = engine.member("p-1").journeys.instances.values()
    return next((i for i in instances if i.journey == "weight_management"), None)


def _journal(engine: Engine, member_id: str) -> list[object]:
    return [message_from_json(e.payload) for e in engine.store.events(f"member:{member_id}")]


def _tasks(engine: Engine, kind: str) -> list[TaskRow]:
    return [task for task in engine.store.tasks(status=None) if task.kind == kind]


def test_a_high_bmi_refers_the_member_to_the_clinic_and_invites_them(engine: Engine) -> None:
    report = engine.ingest([_bmi("lab-1", "31.5")])
    assert (report.applied, report.rejected) == (1, 0)
    journey = _journey(engine)
    assert journey is not None
    assert journey.state == "referred"
    (task,) = _tasks(engine, "clinic_referral")
    assert task.key == "member:p-1"
    assert task.task_key.startswith("weight_management:")
    assert task.role == "nurse"
    assert task.assignee is not None  # the reference staff has nurses
    assert task.due_at == T0 + timedelta(hours=48)
    # The channel is handed the text; the template it came from stays in the journal.
    queued = [e for e in _journal(engine, "p-1") if isinstance(e, MessageQueued)]
    assert [(m.template_key, m.channel) for m in queued] == [(INVITE_TEMPLATE, "wecom")]
    (sent,) = [json.loads(message.payload) for message in engine.store.outbox()]
    assert (sent["text"], sent["channel"]) == (queued[0].text, "wecom")


def test_a_normal_bmi_starts_nothing(engine: Engine) -> None:
    engine.ingest([_bmi("lab-1", "23.4")])
    assert _journey(engine) is None
    assert _tasks(engine, "clinic_referral") == []
    assert list(engine.store.outbox()) == []


def test_the_same_result_twice_and_a_second_high_result_make_one_referral(
    engine: Engine,
) -> None:
    engine.ingest([_bmi("lab-1", "31.5")])
    report = engine.ingest([_bmi("lab-1", "31.5"), _bmi("lab-2", "32.0")])
    assert report.duplicates == 1
    assert len(_tasks(engine, "clinic_referral")) == 1
    assert len(list(engine.store.outbox())) == 1


def test_a_booking_at_the_clinic_ends_the_journey_before_any_call(
    engine: Engine, clock: ManualClock
) -> None:
    engine.ingest([_bmi("lab-1", "29")])
    engine.ingest([_booked("book-1", clock.advance(timedelta(days=2)))])
    journey = _journey(engine)
    assert journey is not None
    assert journey.state == "booked"
    assert journey.ended is not None
    engine.tick(clock.advance(timedelta(days=60)))
    assert _tasks(engine, "call") == []


def test_a_booking_elsewhere_does_not_count(engine: Engine, clock: ManualClock) -> None:
    engine.ingest([_bmi("lab-1", "29")])
    engine.ingest([_booked("book-1", clock.advance(timedelta(days=2)), department="dental")])
    journey = _journey(engine)
    assert journey is not None
    assert journey.state == "referred"


def test_two_weeks_without_a_booking_a_nurse_calls_then_the_journey_lapses(
    engine: Engine, clock: ManualClock
) -> None:
    engine.ingest([_bmi("lab-1", "30.1")])
    engine.tick(clock.advance(timedelta(days=13)))
    assert _tasks(engine, "call") == []
    engine.tick(clock.advance(timedelta(days=1)))
    (call,) = _tasks(engine, "call")
    assert call.role == "nurse"
    assert call.due_at == T0 + timedelta(days=14, hours=24)
    journey = _journey(engine)
    assert journey is not None
    assert journey.state == "reminded"
    engine.tick(clock.advance(timedelta(days=30)))
    journey = _journey(engine)
    assert journey is not None
    assert journey.state == "lapsed"


def test_a_referral_from_a_loaded_history_reaches_no_one() -> None:
    # A BMI result of three years ago, loaded as history: the plugin's referral task is
    # as historical as the reference programme's own messages.
    now = T0 + timedelta(days=3 * 365)
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(now)) as engine:
        registered = PatientRegistered(fact_id="his-reg-1", patient_id="p-1", occurred_at=T0)
        report = engine.ingest([registered, _bmi("his-lab-1", "31.5")], history=True)
        assert (report.applied, report.rejected) == (2, 0)
        assert list(engine.store.tasks(None)) == []
        skipped = [
            message_from_json(event.payload)
            for event in engine.store.events("member:p-1")
            if event.type == "journey_action_skipped"
        ]
        assert ("notify_clinic", "historical") in {(s.action.name, s.reason) for s in skipped}
