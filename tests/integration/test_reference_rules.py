"""The reference rules as the field states them, through the engine on memory and SQLite.

Rule B (annual onboarding) ends with the annual plan; rule C (HbA1c rechecks) knows
HbA1c by its LOINC codes and its name in any case, rechecks at the cadence the last value
calls for, and follows up the call it escalates to; rule D (referral invitation) fires
for a high-value treatment the HIS charged; health managers are balanced by the members
they manage; the family-steward offer reaches every annual member who meets its
conditions, relatives seen in the HIS included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from membercore import journeys, plans, reference_config
from membercore.consent import GrantConsent
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    DiagnosisRecorded,
    LabResultRecorded,
    PatientRegistered,
    SurveyAnswered,
)
from membercore.plugins import make_plugin_manager
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.staff import offers, tasks
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ME = "p-lin"
CONFIG = reference_config()


@pytest.fixture(params=["memory", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'rules.db'}"
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])
    with Engine.open(url, config=CONFIG, clock=ManualClock(T0), plugin_manager=manager) as opened:
        yield opened


def _join(engine: Engine, member: str, at: datetime, **registration: object) -> None:
    """A registered member who agreed to care and marketing messages."""
    report = engine.ingest(
        [
            PatientRegistered(
                fact_id=f"reg-{member}", patient_id=member, occurred_at=at, **registration
            )
        ],
        now=at,
    )
    assert report.rejected == 0, engine.dead_letters()
    for purpose in ("care", "marketing"):
        engine.execute(
            GrantConsent(
                key=f"consent-{member}-{purpose}",
                member_id=member,
                purpose=purpose,
                channels=("wecom",),
                given_by=member,
                source="app",
            ),
            now=at,
        )


def _annual(engine: Engine, member: str, at: datetime, plan: str = "annual_599") -> str:
    """An annual plan bought and paid at ``at``; its subscription id."""
    sub = f"sub-{member}"
    price = next(p.price_fen for p in CONFIG.plans.plans if p.key == plan)
    subscribe = plans.Subscribe(
        key=f"{sub}-s", member_id=member, subscription_id=sub, plan_key=plan
    )
    engine.execute(subscribe, now=at)
    payment = plans.RecordPayment(
        key=f"{sub}-p", member_id=member, subscription_id=sub, amount_fen=price, paid_at=at
    )
    engine.execute(payment, now=at)
    return sub


def _diabetes(engine: Engine) -> journeys.JourneyInstance:
    (running,) = journeys.active(engine.member(ME).journeys, "diabetes")
    return running


def _lab(engine: Engine, fact_id: str, test: str, value: str, at: datetime) -> None:
    lab = LabResultRecorded(fact_id=fact_id, patient_id=ME, occurred_at=at, test=test, value=value)
    assert engine.ingest([lab], now=at).rejected == 0


def _tasks(engine: Engine) -> list[str]:
    return [t.kind for t in engine.store.tasks(None) if t.role == "health_manager"]


def _reminders(engine: Engine) -> int:
    stored = engine.store.events(member_key(ME))
    return sum(1 for e in stored if e.type == "message_queued" and "hba1c_recheck" in e.payload)


# -- rule C: HbA1c rechecks ----------------------------------------------------------------


def test_hba1c_by_loinc_sets_the_recheck_cadence_the_value_calls_for(engine: Engine) -> None:
    _join(engine, ME, T0)
    diagnosis = DiagnosisRecorded(
        fact_id="dx-1", patient_id=ME, occurred_at=T0, icd10="E11.9", visit_id="v-1"
    )
    engine.ingest([diagnosis], now=T0)
    # 8.1 % is above the 7 % target: the next recheck is due in three months.
    first = T0 + timedelta(days=10)
    _lab(engine, "lab-1", "4548-4", "8.1", first)
    running = _diabetes(engine)
    assert running.state == "monitoring"
    assert running.counters.get("missed", 0) == 0
    assert min(t.due_at for t in running.timers) == datetime(2026, 6, 12, 10, 0, tzinfo=SH)
    # 6.5 % is at target: the next recheck is due in six months.
    second = datetime(2026, 6, 5, 10, 0, tzinfo=SH)
    _lab(engine, "lab-2", "HbA1c", "6.5", second)
    running = _diabetes(engine)
    assert running.state == "at_target"
    assert {t.due_at for t in running.timers} == {datetime(2026, 12, 5, 10, 0, tzinfo=SH)}
    # Nothing is chased three months after a result at target.
    engine.tick(datetime(2026, 11, 30, tzinfo=SH))
    assert (_reminders(engine), _tasks(engine)) == (0, [])
    # The first recheck missed: a reminder; the second one missed: the call.
    engine.tick(datetime(2026, 12, 5, 10, 0, tzinfo=SH))
    assert (_reminders(engine), _tasks(engine), _diabetes(engine).counters["missed"]) == (1, [], 1)
    engine.tick(datetime(2027, 6, 4, tzinfo=SH))
    assert _tasks(engine) == []
    engine.tick(datetime(2027, 6, 5, 10, 0, tzinfo=SH))
    assert _tasks(engine) == ["call"]
    assert _diabetes(engine).state == "escalated"


def test_hba1c_is_known_by_every_loinc_code_and_its_name_in_any_case(engine: Engine) -> None:
    _join(engine, ME, T0)
    diagnosis = DiagnosisRecorded(
        fact_id="dx-1", patient_id=ME, occurred_at=T0, icd10="E11", visit_id="v-1"
    )
    engine.ingest([diagnosis], now=T0)
    at = T0
    for n, test in enumerate(["17856-6", "4549-2", "HBA1C", "hba1c", " HbA1c "], start=1):
        at += timedelta(days=30)
        _lab(engine, f"lab-{n}", test, "6.8", at)
        running = _diabetes(engine)
        assert (running.state, running.entered_at) == ("at_target", at), test
    at += timedelta(days=30)
    _lab(engine, "lab-glucose", "2345-7", "5.1", at)  # a glucose result is no recheck
    assert _diabetes(engine).entered_at == at - timedelta(days=30)


def test_an_escalated_member_is_followed_up_then_monitored_again_on_a_recheck(
    engine: Engine,
) -> None:
    _join(engine, ME, T0)
    diagnosis = DiagnosisRecorded(
        fact_id="dx-1", patient_id=ME, occurred_at=T0, icd10="E11.9", visit_id="v-1"
    )
    engine.ingest([diagnosis], now=T0)
    escalated_at = datetime(2026, 9, 2, 10, 0, tzinfo=SH)  # two rechecks missed
    engine.tick(datetime(2026, 6, 2, 10, 0, tzinfo=SH))  # the first: a reminder
    engine.tick(escalated_at)
    assert (_diabetes(engine).state, _tasks(engine), _reminders(engine)) == (
        "escalated",
        ["call"],
        1,
    )
    follow_up = CONFIG_FOLLOW_UP_DAYS
    engine.tick(escalated_at + timedelta(days=follow_up) - timedelta(minutes=1))
    assert (_tasks(engine), _reminders(engine)) == (["call"], 1)
    engine.tick(escalated_at + timedelta(days=follow_up))
    assert (_tasks(engine), _reminders(engine)) == (["call", "call"], 2)
    assert _diabetes(engine).state == "followed_up"
    _lab(engine, "lab-1", "4548-4", "7.4", escalated_at + timedelta(days=20))
    running = _diabetes(engine)
    assert (running.state, running.counters["missed"]) == ("monitoring", 0)


#: The reference programme's wait between the call of rule C and its follow-up.
CONFIG_FOLLOW_UP_DAYS = 14


# -- rule D: a high-value treatment, then a high score -------------------------------------


def _implant(engine: Engine, fact_id: str, amount_fen: int, at: datetime) -> None:
    charge = ChargePaid(
        fact_id=fact_id,
        patient_id=ME,
        occurred_at=at,
        charge_id=f"ch-{fact_id}",
        lines=(
            ChargeLine(department="dental", category="implant", amount_fen=amount_fen),
            ChargeLine(department="dental", category="exam", amount_fen=50_000),
        ),
    )
    assert engine.ingest([charge], now=at).rejected == 0


def _invited(engine: Engine) -> int:
    instances = engine.member(ME).journeys.instances.values()
    return sum(1 for i in instances if i.journey == "referral_invitation")


def test_an_implant_charged_above_the_amount_earns_the_referral_invitation(engine: Engine) -> None:
    _join(engine, ME, T0)
    _implant(engine, "ch-1", 800_000, T0)
    assert "care:high_value_treatment" in engine.tags(ME)
    survey = SurveyAnswered(
        fact_id="sv-1", patient_id=ME, occurred_at=T0 + timedelta(days=2), visit_id="v-1", score=10
    )
    engine.ingest([survey], now=T0 + timedelta(days=2))
    assert _invited(engine) == 1
    templates = [
        e.payload for e in engine.store.events(member_key(ME)) if e.type == "message_queued"
    ]
    assert any("referral_invitation" in payload for payload in templates)


def test_a_small_treatment_charge_earns_no_referral_invitation(engine: Engine) -> None:
    _join(engine, ME, T0)
    _implant(engine, "ch-1", 100_000, T0)  # the implant lines total 1,000 元
    assert "care:high_value_treatment" not in engine.tags(ME)
    survey = SurveyAnswered(
        fact_id="sv-1", patient_id=ME, occurred_at=T0 + timedelta(days=2), visit_id="v-1", score=10
    )
    engine.ingest([survey], now=T0 + timedelta(days=2))
    assert _invited(engine) == 0


# -- rule B: onboarding ends with the annual plan ------------------------------------------


def test_a_member_who_cancelled_the_annual_plan_is_assigned_no_health_manager(
    engine: Engine,
) -> None:
    _join(engine, ME, T0)
    sub = _annual(engine, ME, T0)
    engine.cancel(ME, key="cancel-1", subscription_id=sub, reason="changed their mind")
    engine.tick(T0 + timedelta(days=100))
    member = engine.member(ME)
    assert member.work.health_manager is None
    assert journeys.active(member.journeys, "annual_onboarding") == []
    stored = [e.type for e in engine.store.events(member_key(ME))]
    assert "health_manager_assigned" not in stored


def test_a_member_who_kept_the_annual_plan_is_assigned_a_health_manager(engine: Engine) -> None:
    _join(engine, ME, T0)
    _annual(engine, ME, T0)
    engine.tick(T0 + timedelta(days=100))
    assert engine.member(ME).work.health_manager == "hm-01"


# -- health managers balanced by the members they manage -----------------------------------


def test_members_reaching_three_months_on_six_days_get_managers_balanced_by_case_load(
    engine: Engine,
) -> None:
    members = [f"p-{n}" for n in range(6)]
    for day, member in enumerate(members):
        at = T0 + timedelta(days=day)
        _join(engine, member, at)
        _annual(engine, member, at)
    three_months = datetime(2026, 6, 2, 10, 0, tzinfo=SH)
    for day in range(6):
        engine.tick(three_months + timedelta(days=day))
    managers = [engine.member(member).work.health_manager for member in members]
    assert managers == ["hm-01", "hm-02", "hm-03", "hm-01", "hm-02", "hm-03"]
    assert engine.store.case_loads() == {"hm-01": 2, "hm-02": 2, "hm-03": 2}


def test_open_tasks_do_not_count_as_members_managed(engine: Engine) -> None:
    # hm-01 has a member and many open calls; hm-02 and hm-03 manage nobody yet.
    _join(engine, "p-0", T0)
    engine.execute(tasks.AssignHealthManager(key="hm-p-0", member_id="p-0", reason="by hand"))
    for n in range(5):
        engine.execute(
            tasks.CreateTask(
                key=f"call-{n}",
                member_id="p-0",
                kind="call",
                role="health_manager",
                due_at=T0 + timedelta(days=2),
                reason="a call",
            )
        )
    for n in (1, 2, 3):
        _join(engine, f"p-{n}", T0)
        engine.execute(tasks.AssignHealthManager(key=f"hm-p-{n}", member_id=f"p-{n}", reason="x"))
    managers = [engine.member(f"p-{n}").work.health_manager for n in range(4)]
    assert managers == ["hm-01", "hm-02", "hm-03", "hm-01"]


# -- the family-steward offer --------------------------------------------------------------


def _engaged(engine: Engine, member: str, start: datetime, until: datetime) -> None:
    """Charges every month and check-ins every week, from ``start`` to ``until``."""
    facts: list[ChargePaid | CheckedIn] = []
    for month in range(4):
        at = start + timedelta(days=30 * month, hours=12)
        line = ChargeLine(department="internal", category="exam", amount_fen=30_000)
        facts.append(
            ChargePaid(
                fact_id=f"{member}-ch-{month}",
                patient_id=member,
                occurred_at=at,
                charge_id=f"{member}-ch-{month}",
                lines=(line,),
            )
        )
    for week in range(16):
        at = start + timedelta(days=7 * week + 2)
        facts.append(CheckedIn(fact_id=f"{member}-in-{week}", patient_id=member, occurred_at=at))
    for fact in sorted(facts, key=lambda fact: fact.occurred_at):
        if fact.occurred_at <= until:
            assert engine.ingest([fact], now=fact.occurred_at).rejected == 0


def _family_offers(engine: Engine, member: str) -> list[str]:
    held = engine.member(member).offers
    return [o.plan_key for o in held.offers.values() if o.plan_key == "family_steward"]


def test_an_annual_member_with_relatives_seen_in_the_his_is_offered_the_family_steward(
    engine: Engine,
) -> None:
    _join(engine, ME, T0, relatives=("p-mother",))
    _annual(engine, ME, T0)
    _engaged(engine, ME, T0, until=datetime(2026, 5, 2, tzinfo=SH))
    # Spend is stable from the third month on: the offer comes with the monthly look.
    engine.tick(datetime(2026, 5, 1, tzinfo=SH))
    assert _family_offers(engine, ME) == []
    engine.tick(datetime(2026, 5, 2, 10, 0, tzinfo=SH))
    assert _family_offers(engine, ME) == ["family_steward"]
    assert offers.OfferMade.TYPE in [e.type for e in engine.store.events(member_key(ME))]


def test_an_annual_member_without_relatives_seen_is_not_offered_the_family_steward(
    engine: Engine,
) -> None:
    _join(engine, ME, T0)
    _annual(engine, ME, T0)
    _engaged(engine, ME, T0, until=T0 + timedelta(days=125))
    engine.tick(T0 + timedelta(days=125))
    assert _family_offers(engine, ME) == []
