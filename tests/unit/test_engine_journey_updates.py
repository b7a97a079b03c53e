"""What a running journey does with news: a birth date given later, an offer of a plan held.

Through the engine, on memory and SQLite.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from membercore import journeys, plans
from membercore.consent import GrantConsent, Purpose
from membercore.facts import (
    AppointmentBooked,
    CheckupCompleted,
    DiagnosisRecorded,
    Discharged,
    LabResultRecorded,
    PatientRegistered,
)
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.staff import offers

from .conftest import consent

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ME = "p-lin"


def _consent(purpose: Purpose) -> GrantConsent:
    return consent(ME, purpose)


def _events(engine: Engine) -> list[Any]:
    return [message_from_json(event.payload) for event in engine.store.events(member_key(ME))]


def _queued(engine: Engine) -> list[tuple[str, datetime]]:
    return [
        (e.template_key, e.decided_at)
        for e in _events(engine)
        if getattr(e, "TYPE", "") == "message_queued"
    ]


def test_a_birth_date_given_in_a_later_registration_moves_the_birthday_greeting(
    engine: Engine,
) -> None:
    first = PatientRegistered(fact_id="reg-1", patient_id=ME, occurred_at=T0, name="林女士")
    engine.ingest([first, _consent("marketing")], now=T0)
    (birthday,) = journeys.active(engine.member(ME).journeys, "birthday")
    assert birthday.timers == ()  # no birth date: nothing to greet
    update = PatientRegistered(
        fact_id="reg-2",
        patient_id=ME,
        occurred_at=T0 + timedelta(days=5),
        name="林女士",
        birth_date=date(1990, 4, 18),
    )
    engine.ingest([update], now=T0 + timedelta(days=5))
    (birthday,) = journeys.active(engine.member(ME).journeys, "birthday")
    greeting = datetime(2026, 4, 18, 9, 0, tzinfo=SH)
    assert [timer.due_at for timer in birthday.timers] == [greeting]
    assert birthday.anchors == {"birth_date": "1990-04-18"}
    engine.tick(greeting + timedelta(hours=1))
    assert ("birthday", greeting) in _queued(engine)
    # A corrected birth date moves it again; the same one again changes nothing.
    fixed = PatientRegistered(
        fact_id="reg-3",
        patient_id=ME,
        occurred_at=T0 + timedelta(days=60),
        name="林女士",
        birth_date=date(1990, 5, 18),
    )
    engine.ingest([fixed], now=T0 + timedelta(days=60))
    (birthday,) = journeys.active(engine.member(ME).journeys, "birthday")
    # Greeted on 18 April already this year: the corrected day is next year's.
    assert [timer.due_at for timer in birthday.timers] == [datetime(2027, 5, 18, 9, 0, tzinfo=SH)]
    moved = [e for e in _events(engine) if isinstance(e, journeys.JourneyReanchored)]
    assert [e.trigger_id for e in moved] == ["reg-2", "reg-3"]


def test_no_message_offers_a_plan_the_member_already_holds(engine: Engine) -> None:
    registered = PatientRegistered(fact_id="reg-1", patient_id=ME, occurred_at=T0, name="林女士")
    engine.ingest([registered, _consent("care")], now=T0)
    engine.execute(
        plans.Subscribe(key="sub-1", member_id=ME, subscription_id="s-1", plan_key="annual_599"),
        now=T0,
    )
    engine.execute(
        plans.RecordPayment(
            key="pay-1", member_id=ME, subscription_id="s-1", amount_fen=59_900, paid_at=T0
        ),
        now=T0,
    )
    assert plans.active_plans(engine.member(ME).plans, T0) == ("annual_599",)
    at = T0 + timedelta(days=10)
    discharge = Discharged(
        fact_id="dc-1", patient_id=ME, occurred_at=at, visit_id="ip-1", department="surgery"
    )
    engine.ingest([discharge], now=at)
    assert [e for e in _events(engine) if isinstance(e, offers.OfferWithheld)]
    assert "health_plan_preview" not in [template for template, _ in _queued(engine)]
    (skipped,) = [e for e in _events(engine) if isinstance(e, journeys.JourneyActionSkipped)]
    assert (skipped.step, skipped.reason) == ("entry", "offer_withheld")
    assert "holds the plan" in skipped.explanation


def test_a_call_whose_reason_is_gone_is_closed_as_superseded(engine: Engine) -> None:
    registered = PatientRegistered(fact_id="reg-1", patient_id=ME, occurred_at=T0, name="林女士")
    engine.ingest([registered, _consent("care")], now=T0)
    checkup = CheckupCompleted(
        fact_id="ck-1", patient_id=ME, occurred_at=T0, visit_id="c-1", abnormal=True
    )
    engine.ingest([checkup], now=T0)
    engine.tick(T0 + timedelta(days=3, hours=1))  # no booking: the health manager calls
    (call,) = engine.store.tasks("open")
    booked_at = T0 + timedelta(days=3, hours=5)
    booked = AppointmentBooked(
        fact_id="ap-1",
        patient_id=ME,
        occurred_at=booked_at,
        appointment_id="a-1",
        department="checkup_clinic",
        scheduled_at=booked_at + timedelta(days=2),
    )
    engine.ingest([booked], now=booked_at)
    assert list(engine.store.tasks("open")) == []
    (closed,) = [t for t in engine.member(ME).work.tasks.values() if t.key == call.task_key]
    assert (closed.status, closed.outcome) == ("closed", "superseded")


def test_a_timer_moving_on_leaves_an_overdue_call_open(engine: Engine) -> None:
    registered = PatientRegistered(fact_id="reg-1", patient_id=ME, occurred_at=T0, name="林女士")
    engine.ingest([registered, _consent("care")], now=T0)
    discharge = Discharged(
        fact_id="dc-1", patient_id=ME, occurred_at=T0, visit_id="ip-1", department="surgery"
    )
    engine.ingest([discharge], now=T0)
    for day in range(1, 9):
        engine.tick(T0 + timedelta(days=day, hours=1))
    assert [t.kind for t in engine.store.tasks("open")] == ["call"]  # day 1's, still owed


def test_a_birth_date_corrected_after_this_years_greeting_is_greeted_next_year(
    engine: Engine,
) -> None:
    first = PatientRegistered(
        fact_id="reg-1", patient_id=ME, occurred_at=T0, name="林女士", birth_date=date(1990, 3, 10)
    )
    engine.ingest([first, _consent("marketing")], now=T0)
    engine.tick(datetime(2026, 3, 10, 9, 30, tzinfo=SH))  # greeted on 10 March
    fixed = PatientRegistered(
        fact_id="reg-2",
        patient_id=ME,
        occurred_at=datetime(2026, 3, 12, 10, 0, tzinfo=SH),
        name="林女士",
        birth_date=date(1990, 4, 18),
    )
    engine.ingest([fixed], now=fixed.occurred_at)
    (birthday,) = journeys.active(engine.member(ME).journeys, "birthday")
    assert [t.due_at for t in birthday.timers] == [datetime(2027, 4, 18, 9, 0, tzinfo=SH)]
    engine.tick(datetime(2026, 12, 31, tzinfo=SH))
    assert [at for template, at in _queued(engine) if template == "birthday"] == [
        datetime(2026, 3, 10, 9, 0, tzinfo=SH)
    ]


def test_a_result_closes_every_call_rule_c_asked_for(engine: Engine) -> None:
    registered = PatientRegistered(fact_id="reg-1", patient_id=ME, occurred_at=T0, name="林女士")
    engine.ingest([registered, _consent("care")], now=T0)
    diagnosis = DiagnosisRecorded(
        fact_id="dx-1", patient_id=ME, occurred_at=T0, icd10="E11.9", visit_id="v-1"
    )
    engine.ingest([diagnosis], now=T0)
    for month in (3, 6):  # two rechecks missed: the call
        engine.tick(T0 + timedelta(days=31 * month))
    engine.tick(T0 + timedelta(days=31 * 6 + 15))  # the follow-up: a second call
    assert len(list(engine.store.tasks("open"))) == 2
    at = T0 + timedelta(days=31 * 6 + 20)
    lab = LabResultRecorded(
        fact_id="lab-1", patient_id=ME, occurred_at=at, test="4548-4", value="7.9"
    )
    engine.ingest([lab], now=at)
    assert list(engine.store.tasks("open")) == []
    outcomes = {t.outcome for t in engine.member(ME).work.tasks.values()}
    assert outcomes == {"superseded"}
