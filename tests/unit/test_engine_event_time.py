"""Journeys on real timelines, through the engine: event time, late facts, ticks that come late.

Each case of a hospital's timeline: a fact reported days or months after it happened, a
tick that comes a day late, a batch out of order, a fact at a timer's very instant, a
profile stage that ends with no new fact. Run on memory and SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from membercore import journeys, reference_config, segments
from membercore.config.journeys import Call, Delay, JourneyDefinition, Transition, Trigger
from membercore.consent import GrantConsent, Purpose
from membercore.facts import (
    AppointmentBooked,
    CheckupCompleted,
    DeliveryRecorded,
    Discharged,
    PatientRegistered,
    SurgeryCompleted,
)
from membercore.plugins import make_plugin_manager
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.staff import offers, tasks
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

from .conftest import OpenEngine, consent

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # a Monday morning
ME = "p-lin"


def _registered(at: datetime = T0 - timedelta(days=30)) -> PatientRegistered:
    return PatientRegistered(
        fact_id=f"reg-{ME}",
        patient_id=ME,
        occurred_at=at,
        name="林女士",
        birth_date=date(1990, 6, 1),
    )


def _consent(purpose: Purpose = "care") -> GrantConsent:
    return consent(ME, purpose)


def _joined(engine: Engine, at: datetime, *purposes: Purpose) -> None:
    """Registered with consent to ``purposes``, all learnt of at ``at``."""
    engine.ingest([_registered(at), *(_consent(p) for p in purposes or ("care",))], now=at)


def _events(engine: Engine) -> list[Any]:
    return [message_from_json(event.payload) for event in engine.store.events(member_key(ME))]


def _of(engine: Engine, kind: type[Any]) -> list[Any]:
    return [event for event in _events(engine) if isinstance(event, kind)]


def _templates(engine: Engine) -> list[str]:
    """The templates of the messages queued for the member."""
    return [e.template_key for e in _events(engine) if getattr(e, "TYPE", "") == "message_queued"]


def _instance(engine: Engine, journey: str) -> journeys.JourneyInstance:
    (found,) = [i for i in engine.member(ME).journeys.instances.values() if i.journey == journey]
    return found


# -- timers count from when the fact happened ----------------------------------------------


def test_a_delivery_reported_three_days_late_is_assessed_42_days_after_it_happened(
    engine: Engine,
) -> None:
    _joined(engine, T0 - timedelta(days=30))
    delivered = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    delivery = DeliveryRecorded(
        fact_id="dl-1", patient_id=ME, occurred_at=delivered, visit_id="ip-1"
    )
    engine.ingest([delivery], now=datetime(2026, 3, 5, 9, 0, tzinfo=SH))
    (timer,) = _instance(engine, "postpartum_rehab").timers
    assert timer.due_at == datetime(2026, 4, 13, 10, 0, tzinfo=SH)  # not 16 April
    engine.tick(datetime(2026, 4, 14, 8, 0, tzinfo=SH))  # a day late: still useful
    (message,) = [
        m for m in _of(engine, journeys.JourneyActionIssued) if m.step == "assessment_offer"
    ]
    assert message.at == datetime(2026, 4, 13, 10, 0, tzinfo=SH)
    assert "postpartum_assessment" in _templates(engine)


def test_a_discharge_loaded_months_later_sends_nothing_and_says_why(engine: Engine) -> None:
    july = datetime(2025, 7, 10, 10, 0, tzinfo=SH)
    _joined(engine, july - timedelta(days=9))
    discharge = Discharged(
        fact_id="dc-1", patient_id=ME, occurred_at=july, visit_id="ip-1", department="ortho"
    )
    engine.ingest([discharge], now=T0)
    engine.tick(T0)  # the worker's next tick: day 1, 7 and 30 are long past
    assert list(engine.store.outbox()) == []
    assert list(engine.store.tasks(None)) == []
    skipped = _of(engine, journeys.JourneyActionSkipped)
    assert {(s.step, s.action.name, s.reason) for s in skipped} == {
        ("entry", "send_message", "stale"),
        ("day_1_call", "create_task", "stale"),
        ("day_7_check", "send_message", "stale"),
        ("day_30_review", "send_message", "stale"),
        ("day_30_review", "create_task", "stale"),
    }
    day_1 = next(s for s in skipped if s.step == "day_1_call")
    assert day_1.at == july + timedelta(days=1)
    assert day_1.learnt_at == T0
    assert "stale after 2 days" in day_1.explanation
    # The journey ran its course at the instants it would have, and ended.
    instance = _instance(engine, "post_discharge")
    assert (instance.state, instance.ended) == ("done", "completed")
    assert instance.started_at == july


# -- timers act at their own instant ----------------------------------------------------


def test_a_daily_tick_creates_the_call_task_dated_at_its_timer(engine: Engine) -> None:
    _joined(engine, T0 - timedelta(days=1))
    checkup = CheckupCompleted(
        fact_id="ck-1", patient_id=ME, occurred_at=T0, visit_id="c-1", abnormal=True
    )
    engine.ingest([checkup], now=T0)
    for day in range(1, 5):  # ticks at 23:00, 13 hours after the timers' 10:00
        engine.tick(T0 + timedelta(days=day, hours=13))
    (task,) = engine.store.tasks(None)
    assert task.due_at == T0 + timedelta(days=3, hours=24)  # 24 hours from the timer
    (created,) = _of(engine, tasks.TaskCreated)
    assert created.at == T0 + timedelta(days=3)  # not at the tick, 13 hours later


def test_an_offer_made_by_a_timer_is_valid_from_the_timer(engine: Engine) -> None:
    _joined(engine, T0 - timedelta(days=1), "care", "marketing")
    surgery = SurgeryCompleted(
        fact_id="op-1",
        patient_id=ME,
        occurred_at=T0,
        visit_id="ip-1",
        department="ortho",
        procedure="TKA",
    )
    engine.ingest([surgery], now=T0)
    engine.tick(T0 + timedelta(days=3, hours=20))
    (offer,) = _of(engine, offers.OfferMade)
    assert offer.at == T0 + timedelta(days=3)
    assert offer.expires_at == T0 + timedelta(days=17)


def _every_eight_days(url: str, clock: ManualClock) -> Engine:
    """An engine whose programme sends a marketing note 8, 16 and 24 days after registration."""
    states = ("s0", "s1", "s2", "s3")
    note = Call(
        name="send_message", params={"template": "member_day_invite", "purpose": "marketing"}
    )
    journey = JourneyDefinition(
        key="notes",
        label="提醒",
        purpose="marketing",
        states=states,
        initial="s0",
        final=("s3",),
        entry=Trigger(kind="fact", type="patient_registered"),
        transitions=tuple(
            Transition(
                name=f"note_{n}",
                source=states[n - 1],
                target=states[n],
                trigger=Trigger(kind="after", delay=Delay(days=8)),
                actions=(note,),
            )
            for n in (1, 2, 3)
        ),
    )
    config = reference_config()
    config = attrs.evolve(config, journeys=(*config.journeys, journey))
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    return Engine.open(url, config=config, clock=clock, plugin_manager=manager)


def _notes(engine: Engine) -> list[tuple[str, datetime]]:
    return sorted(
        (e.key, e.decided_at)
        for e in _events(engine)
        if getattr(e, "TYPE", "") in ("message_queued", "message_refused") and "notes" in e.key
    )


def test_a_catch_up_tick_decides_each_message_at_its_instant_under_the_weekly_cap(
    clock: ManualClock,
) -> None:
    schedules: list[Sequence[int]] = [range(1, 31), [30]]
    seen = []
    for days in schedules:
        with _every_eight_days("memory://", clock) as engine:
            _joined(engine, T0, "marketing")
            for day in days:
                engine.tick(T0 + timedelta(days=day, hours=1))
            seen.append(_notes(engine))
            queued = [e for e in _events(engine) if getattr(e, "TYPE", "") == "message_queued"]
            assert sum("notes" in e.key for e in queued) == 3
    assert seen[0] == seen[1]
    assert [at for _, at in seen[0]] == [T0 + timedelta(days=8 * n) for n in (1, 2, 3)]


# -- order within a batch, and a fact at a timer's instant --------------------------------


def test_a_batch_is_decided_in_the_order_things_happened(engine: Engine) -> None:
    _joined(engine, T0 - timedelta(days=1))
    morning = T0.replace(hour=8, minute=30)
    checkup = CheckupCompleted(
        fact_id="ck-1", patient_id=ME, occurred_at=morning, visit_id="c-1", abnormal=True
    )
    booked = AppointmentBooked(
        fact_id="ap-1",
        patient_id=ME,
        occurred_at=T0.replace(hour=11),
        appointment_id="a-1",
        department="checkup_clinic",
        scheduled_at=T0 + timedelta(days=2),
    )
    engine.ingest([booked, checkup], now=T0.replace(hour=12))  # sent out of order
    engine.tick(T0 + timedelta(days=10))
    assert _instance(engine, "checkup_follow_up").state == "booked"
    assert list(engine.store.tasks(None)) == []  # no chase of a patient who booked


def test_a_fact_at_a_timers_instant_is_decided_after_the_timer_whoever_ticked(
    open_engine: OpenEngine, clock: ManualClock, tmp_path: Any
) -> None:
    chase = T0 + timedelta(days=3)
    booked = AppointmentBooked(
        fact_id="ap-1",
        patient_id=ME,
        occurred_at=chase,
        appointment_id="a-1",
        department="checkup_clinic",
        scheduled_at=chase + timedelta(days=2),
    )
    outcomes = []
    for ticked_first in (True, False):
        with open_engine(f"sqlite:///{tmp_path}/{ticked_first}.db", clock) as engine:
            _joined(engine, T0 - timedelta(days=1))
            checkup = CheckupCompleted(
                fact_id="ck-1", patient_id=ME, occurred_at=T0, visit_id="c-1", abnormal=True
            )
            engine.ingest([checkup], now=T0)
            if ticked_first:
                engine.tick(chase)
            engine.ingest([booked], now=chase)
            instance = _instance(engine, "checkup_follow_up")
            tasks = [(t.kind, t.due_at) for t in engine.store.tasks(None)]
            outcomes.append((instance.state, instance.steps, tasks))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == "booked"
    assert outcomes[0][1] == {"chase": 1, "booked_after_call": 1}


# -- profiles move on with time ------------------------------------------------------------


def test_ticks_end_the_post_partum_stage_a_year_after_the_delivery(engine: Engine) -> None:
    _joined(engine, T0 - timedelta(days=1))
    delivery = DeliveryRecorded(fact_id="dl-1", patient_id=ME, occurred_at=T0, visit_id="ip-1")
    engine.ingest([delivery], now=T0)
    assert "stage:postpartum" in segments.tags(engine.member(ME).profile)
    for month in range(1, 14):
        engine.tick(T0 + timedelta(days=30 * month))
    tags = segments.tags(engine.member(ME).profile)
    assert "stage:postpartum" not in tags
    assert "stage:adult" in tags
    removed = [e for e in _events(engine) if getattr(e, "TYPE", "") == "tag_removed"]
    ended = next(e for e in removed if e.tag == "stage:postpartum")
    config = reference_config()
    assert ended.at.astimezone(SH).date() == T0.date() + timedelta(
        days=config.segments.postpartum_days
    )


# -- bad instants -------------------------------------------------------------------------


def test_a_naive_instant_in_a_pair_is_a_dead_letter_and_the_batch_goes_on(engine: Engine) -> None:
    naive = datetime(2026, 3, 1, 9, 0)  # noqa: DTZ001 - the mistake under test
    report = engine.ingest([(naive, _registered()), _registered()], now=T0)
    assert (report.applied, report.rejected) == (1, 1)
    (letter,) = engine.store.dead_letters()
    assert "timezone" in letter.reason or "naive" in letter.reason


def test_a_command_holds_back_only_the_facts_of_its_own_member(engine: Engine) -> None:
    other = "p-wu"
    engine.ingest(
        [PatientRegistered(fact_id="reg-wu", patient_id=other, occurred_at=T0 - timedelta(days=1))],
        now=T0,
    )
    checkup = CheckupCompleted(
        fact_id="ck-1", patient_id=ME, occurred_at=T0.replace(hour=8, minute=30), visit_id="c-1"
    )
    consent = GrantConsent(
        key="consent-wu",
        member_id=other,
        purpose="care",
        channels=("sms",),
        given_by=other,
        source="app",
    )
    registered = attrs.evolve(_registered(), occurred_at=T0.replace(hour=8))
    report = engine.ingest([checkup, consent, registered], now=T0)
    assert (report.applied, report.rejected) == (3, 0)


def test_the_views_read_the_profile_at_the_clocks_instant(
    engine: Engine, clock: ManualClock
) -> None:
    _joined(engine, T0 - timedelta(days=1))
    delivery = DeliveryRecorded(fact_id="dl-1", patient_id=ME, occurred_at=T0, visit_id="ip-1")
    engine.ingest([delivery], now=T0)
    assert "stage:postpartum" in engine.tags(ME)
    clock.set(T0 + timedelta(days=400))  # no tick since
    assert "stage:postpartum" not in engine.tags(ME)
    assert "stage:postpartum" in segments.tags(engine.member(ME).profile)  # the stored record
