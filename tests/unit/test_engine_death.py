"""Death is final for the programme, through the engine on memory and SQLite.

A patient dies: what is queued is never handed over, journeys end, open tasks close,
facts dated later have no effect (a refund of an earlier charge excepted), time does
nothing more, and staff may reverse a death recorded by mistake.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from membercore import journeys
from membercore.consent import GrantConsent
from membercore.errors import MemberDiedError, NoDeathRecordedError
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    Discharged,
    PatientDied,
    PatientRegistered,
    RefundIssued,
)
from membercore.identity import FactSetAside, ReverseDeath
from membercore.ledger import balances
from membercore.ports import OutboxMessage
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.staff.offers import MakeOffer
from membercore.staff.tasks import CreateTask
from membercore.testing.clock import ManualClock

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # a Monday morning
ME = "p-wang"


class Provider:
    def __init__(self) -> None:
        self.handed: list[OutboxMessage] = []

    def send(self, message: OutboxMessage) -> str:
        self.handed.append(message)
        return f"r-{message.message_id}"


def _charge(fact_id: str, yuan: int, at: datetime) -> ChargePaid:
    line = ChargeLine(department="internal", category="exam", amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id, patient_id=ME, occurred_at=at, charge_id=f"ch-{fact_id}", lines=(line,)
    )


def _start(engine: Engine) -> None:
    registration = PatientRegistered(
        fact_id="reg", patient_id=ME, occurred_at=T0, name="王先生", birth_date=date(1950, 6, 1)
    )
    engine.ingest([registration], now=T0)
    for purpose in ("care", "marketing"):
        engine.execute(
            GrantConsent(
                key=f"g-{purpose}",
                member_id=ME,
                purpose=purpose,  # type: ignore[arg-type]
                channels=("wecom",),
                given_by=ME,
                source="app",
            ),
            now=T0,
        )


def _died(at: datetime) -> PatientDied:
    return PatientDied(fact_id="died", patient_id=ME, occurred_at=at)


def test_a_message_deferred_to_the_morning_is_not_handed_over_after_a_death(
    engine: Engine,
) -> None:
    _start(engine)
    evening = T0.replace(hour=22)
    stay = Discharged(
        fact_id="dis-1", patient_id=ME, occurred_at=evening, visit_id="v-1", department="icu"
    )
    engine.ingest([stay], now=evening)
    deferred = [m for m in engine.store.outbox("pending") if m.send_at > evening]
    assert deferred  # the discharge preview waits for the end of quiet hours
    engine.ingest([_died(evening + timedelta(hours=1))], now=evening + timedelta(hours=1))
    provider = Provider()
    engine.dispatch({"wecom": provider}, now=T0.replace(hour=8) + timedelta(days=1))
    assert provider.handed == []
    assert {m.status for m in engine.store.outbox()} == {"cancelled"}
    assert journeys.active(engine.member(ME).journeys) == []


def test_facts_after_a_death_are_recorded_without_effect(engine: Engine) -> None:
    _start(engine)
    engine.ingest([_charge("c-1", 400, T0)], now=T0)
    before = engine.member(ME)
    died = T0 + timedelta(days=1)
    engine.ingest([_died(died)], now=died)
    later = died + timedelta(hours=2)
    discharge = Discharged(
        fact_id="dis-2", patient_id=ME, occurred_at=later, visit_id="v-2", department="icu"
    )
    report = engine.ingest([discharge, _charge("c-2", 50_000, later)], now=later)
    assert report.applied == 2  # taken: recorded, not refused
    after = engine.member(ME)
    assert after.ledger.lots == before.ledger.lots  # no points
    assert after.tier == before.tier  # no tier change
    assert journeys.active(after.journeys) == []  # no post-discharge journey
    assert not engine.member(ME).offers.offers  # no annual-plan offer
    journal = [message_from_json(e.payload) for e in engine.store.events(member_key(ME))]
    aside = [e for e in journal if isinstance(e, FactSetAside)]
    assert [e.fact_id for e in aside] == ["dis-2", "c-2"]


def test_a_refund_of_a_charge_before_the_death_still_claws_back(engine: Engine) -> None:
    _start(engine)
    engine.ingest([_charge("c-1", 400, T0)], now=T0)
    earned = balances(engine.member(ME).ledger, engine.config, T0).lifetime_earned
    died = T0 + timedelta(days=1)
    engine.ingest([_died(died)], now=died)
    refund = RefundIssued(
        fact_id="r-1",
        patient_id=ME,
        occurred_at=died + timedelta(days=2),
        charge_id="ch-c-1",
        amount_fen=40_000,
    )
    engine.ingest([refund], now=died + timedelta(days=2))
    after = balances(engine.member(ME).ledger, engine.config, died + timedelta(days=2))
    assert earned > 0
    assert after.reversed == earned  # the whole charge refunded: its points clawed back
    assert after.balance == 0


def test_open_tasks_close_and_time_does_nothing_more_after_a_death(engine: Engine) -> None:
    _start(engine)
    task = CreateTask(
        key="t-1",
        member_id=ME,
        kind="call",
        role="health_manager",
        due_at=T0 + timedelta(days=3),
        reason="staff",
    )
    engine.execute(task, now=T0)
    task_key = engine.member(ME).work.tasks["t-1"].key
    died = T0 + timedelta(days=1)
    engine.ingest([_died(died)], now=died)
    assert [t.status for t in engine.store.tasks(None) if t.task_key == task_key] == ["closed"]
    report = engine.tick(died + timedelta(days=400))
    assert report.events == 0
    with pytest.raises(MemberDiedError, match="no offer is made"):
        engine.execute(
            MakeOffer(key="o-1", member_id=ME, plan_key="annual_599", valid_days=30, reason="x"),
            now=died + timedelta(days=2),
        )


def test_staff_reverse_a_death_recorded_by_mistake_restoring_nothing(engine: Engine) -> None:
    _start(engine)
    died = T0 + timedelta(days=1)
    engine.ingest([_died(died)], now=died)
    reversal = ReverseDeath(key="rd-1", member_id=ME, reason="wrong patient", operator="nurse-1")
    engine.execute(reversal, now=died + timedelta(hours=3))
    member = engine.member(ME)
    assert member.identity.died_at is None
    assert journeys.active(member.journeys) == []  # ended journeys stay ended
    later = died + timedelta(days=1)
    engine.ingest([_charge("c-3", 400, later)], now=later)
    assert balances(engine.member(ME).ledger, engine.config, later).lifetime_earned > 0
    with pytest.raises(NoDeathRecordedError):
        engine.execute(
            ReverseDeath(key="rd-2", member_id=ME, reason="again", operator="nurse-1"),
            now=later,
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_a_fact_dated_before_the_death_but_reported_after_it_is_taken(engine: Engine) -> None:
    _start(engine)
    died = T0.replace(hour=23)
    engine.ingest([_died(died)], now=died)
    late = Discharged(
        fact_id="dis-late",
        patient_id=ME,
        occurred_at=died - timedelta(minutes=10),
        visit_id="v-9",
        department="icu",
    )
    report = engine.ingest([late], now=died + timedelta(hours=1))
    assert (report.applied, report.rejected) == (1, 0)  # the visit is kept
    assert journeys.active(engine.member(ME).journeys) == []  # but starts nothing
    assert list(engine.store.outbox("pending")) == []


def test_nothing_new_is_taken_on_for_the_dead(engine: Engine) -> None:
    _start(engine)
    died = T0 + timedelta(days=1)
    engine.ingest([_died(died)], now=died)
    later = died + timedelta(hours=1)
    task = CreateTask(
        key="t-9", member_id=ME, kind="call", role="nurse", due_at=later, reason="staff"
    )
    with pytest.raises(MemberDiedError, match="no task is created"):
        engine.execute(task, now=later)
    grant = GrantConsent(
        key="g-late",
        member_id=ME,
        purpose="research",
        channels=("sms",),
        given_by=ME,
        source="app",
    )
    with pytest.raises(MemberDiedError, match="no consent is taken"):
        engine.execute(grant, now=later)
    again = PatientDied(fact_id="died-again", patient_id=ME, occurred_at=later)
    engine.ingest([again], now=later)
    journal = [message_from_json(e.payload) for e in engine.store.events(member_key(ME))]
    (aside,) = [e for e in journal if isinstance(e, FactSetAside)]
    assert (aside.fact_id, aside.reason) == ("died-again", "the member's death was noted before")
