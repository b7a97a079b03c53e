from __future__ import annotations

import gc
import importlib
import itertools
import sys
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import Engine, consent, households, ledger, plans, reference_config
from membercore.dates import local_date
from membercore.experiments import experiment_results, variant_for
from membercore.facts import (
    AppointmentBooked,
    AppointmentMissed,
    AssessmentCompleted,
    ChargePaid,
    CheckedIn,
    CheckupCompleted,
    ContentLiked,
    ContentShared,
    DeliveryRecorded,
    DiagnosisRecorded,
    Discharged,
    EventAttended,
    Fact,
    LabResultRecorded,
    PatientRegistered,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    SurgeryCompleted,
    SurveyAnswered,
    VisitCompleted,
)
from membercore.ledger.commands import Redeem
from membercore.serialization import message_from_dict, message_to_dict
from membercore.testing.clock import ManualClock
from membercore_adapters.demo import run_demo, shard_of_member
from membercore_adapters.demo.hospital import (
    HospitalSpec,
    messages,
    shard_of,
    small,
    timed_messages,
)
from membercore_adapters.demo.programme import demo_programme

CONFIG = reference_config()
DEMO = demo_programme()
TZ = CONFIG.tz

Stream = list[tuple[datetime, object]]
PLAN_COMMANDS = (
    plans.Subscribe,
    plans.RecordPayment,
    plans.Renew,
    plans.Cancel,
    plans.AddCoveredDependent,
)


@pytest.fixture(scope="module")
def stream() -> Stream:
    return list(timed_messages(small()))


def _tiny(seed: int) -> HospitalSpec:
    return HospitalSpec(patients=40, months=3, seed=seed)


def _people(message: object) -> Iterator[str]:
    """Every patient a message names."""
    for field in ("patient_id", "member_id", "referred_patient_id", "head_id", "dependent_id"):
        value = getattr(message, field, None)
        if value is not None:
            yield value
    if isinstance(message, consent.GrantConsent):
        yield message.given_by
    if isinstance(message, plans.Subscribe):
        yield from message.dependents


def _age(birth: date, instant: datetime) -> int:
    return households.age_on(birth, local_date(instant, TZ))


def _check_order_and_registration(pairs: Iterable[tuple[datetime, object]]) -> int:
    registered: set[str] = set()
    last: datetime | None = None
    count = 0
    for instant, message in pairs:
        count += 1
        assert instant.utcoffset() is not None
        assert last is None or instant >= last
        last = instant
        if isinstance(message, Fact):
            assert message.occurred_at == instant
        if isinstance(message, PatientRegistered):
            assert message.patient_id not in registered
            registered.add(message.patient_id)
        for person in _people(message):
            assert person in registered, f"{person} is named before registering: {message!r}"
    return count


# --- determinism ---------------------------------------------------------------------------


def test_the_same_seed_yields_the_same_stream() -> None:
    first = [message_to_dict(message) for message in messages(small(3))]
    again = [message_to_dict(message) for message in messages(small(3))]
    assert first == again
    assert len(first) > 1_000


def test_another_seed_yields_another_stream() -> None:
    first = [message_to_dict(message) for message in messages(small(3))]
    other = [message_to_dict(message) for message in messages(small(4))]
    assert first != other


@settings(max_examples=10)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_any_seed_gives_a_repeatable_stream_in_time_order(seed: int) -> None:
    first = list(timed_messages(_tiny(seed)))
    again = list(timed_messages(_tiny(seed)))
    assert [(i, message_to_dict(m)) for i, m in first] == [
        (i, message_to_dict(m)) for i, m in again
    ]
    assert _check_order_and_registration(first) == len(first)


def test_messages_are_the_timed_messages_without_their_instants() -> None:
    spec = _tiny(11)
    assert list(messages(spec)) == [message for _, message in timed_messages(spec)]


# --- time, identity and registration ------------------------------------------------------


def test_every_message_happens_at_an_aware_instant_in_non_decreasing_order(
    stream: Stream,
) -> None:
    assert _check_order_and_registration(stream) == len(stream)


def test_the_stream_starts_at_the_start_and_ends_before_the_period_does(stream: Stream) -> None:
    spec = small()
    assert stream[0][0] >= spec.start
    assert stream[-1][0] < datetime(2025, 12, 1, tzinfo=spec.start.tzinfo)


def test_every_patient_registers_exactly_once_over_the_period(stream: Stream) -> None:
    registrations = [m for _, m in stream if isinstance(m, PatientRegistered)]
    ids = sorted(m.patient_id for m in registrations)
    assert ids == [f"P{n:06d}" for n in range(1, small().patients + 1)]
    days = {local_date(m.occurred_at, TZ) for m in registrations}
    assert len(days) > 60  # they arrive over the period, not all on the first day


def test_fact_ids_and_command_keys_are_unique_across_the_stream(stream: Stream) -> None:
    fact_ids = [m.fact_id for _, m in stream if isinstance(m, Fact)]
    keys = [getattr(m, "key", None) for _, m in stream if not isinstance(m, Fact)]
    assert len(set(fact_ids)) == len(fact_ids)
    assert None not in keys
    assert len(set(keys)) == len(keys)


def test_every_message_round_trips_through_serialization(stream: Stream) -> None:
    for _, message in stream:
        assert message_from_dict(message_to_dict(message)) == message


def test_every_kind_of_message_appears_in_the_small_hospital(stream: Stream) -> None:
    kinds = Counter(type(m) for _, m in stream)
    expected = {
        PatientRegistered,
        households.FormHousehold,
        households.AddDependent,
        consent.GrantConsent,
        consent.WithdrawConsent,
        VisitCompleted,
        ChargePaid,
        RefundIssued,
        DiagnosisRecorded,
        LabResultRecorded,
        AppointmentBooked,
        AppointmentMissed,
        DeliveryRecorded,
        Discharged,
        CheckupCompleted,
        SurgeryCompleted,
        AssessmentCompleted,
        SurveyAnswered,
        CheckedIn,
        EventAttended,
        ContentShared,
        ContentLiked,
        RehabPlanJoined,
        ReferralQualified,
        plans.Subscribe,
        plans.RecordPayment,
        plans.Renew,
        plans.Cancel,
        plans.AddCoveredDependent,
        Redeem,
    }
    assert expected - set(kinds) == set()
    assert set(kinds) - expected == set()


# --- the clinical story ---------------------------------------------------------------------


def test_charges_carry_insurance_on_some_lines_and_refunds_follow_their_charge(
    stream: Stream,
) -> None:
    charges: dict[str, ChargePaid] = {}
    insured = 0
    for _, message in stream:
        if isinstance(message, ChargePaid):
            charges[message.charge_id] = message
            insured += any(line.insurance_fen for line in message.lines)
        if isinstance(message, RefundIssued):
            charge = charges[message.charge_id]
            assert charge.patient_id == message.patient_id
            assert charge.occurred_at < message.occurred_at
            assert 0 < message.amount_fen <= charge.amount_fen
    assert 0 < insured < len(charges)
    departments = {line.department for charge in charges.values() for line in charge.lines}
    assert {"dental", "obstetrics", "ortho", "checkup", "cosmetic", "endocrinology"} <= departments


def test_diabetics_are_diagnosed_with_e11_then_have_hba1c_rechecks(stream: Stream) -> None:
    diagnosed: dict[str, datetime] = {}
    rechecked, missed = set(), set()
    for instant, message in stream:
        if isinstance(message, DiagnosisRecorded) and message.icd10.startswith("E11"):
            diagnosed.setdefault(message.patient_id, instant)
        elif isinstance(message, LabResultRecorded):
            assert message.test == "hba1c"
            assert message.patient_id in diagnosed
            if (instant - diagnosed[message.patient_id]).days >= 60:
                rechecked.add(message.patient_id)
        elif isinstance(message, AppointmentMissed) and message.department == "endocrinology":
            missed.add(message.patient_id)
    assert diagnosed
    assert rechecked
    assert missed <= set(diagnosed)
    assert missed


def test_referrals_qualify_after_the_referred_patients_first_visit(stream: Stream) -> None:
    first_visits: dict[str, str] = {}
    referrals = 0
    for _, message in stream:
        if isinstance(message, VisitCompleted) and message.first_visit:
            assert message.patient_id not in first_visits
            first_visits[message.patient_id] = message.visit_id
        if isinstance(message, ReferralQualified):
            referrals += 1
            assert message.referred_patient_id != message.patient_id
            assert first_visits[message.referred_patient_id] == message.visit_id
    assert referrals


def test_dental_implants_are_surveyed_and_mostly_highly_rated(stream: Stream) -> None:
    implant_visits: dict[str, str] = {}
    visits: dict[str, str] = {}
    scores = []
    for _, message in stream:
        if isinstance(message, VisitCompleted):
            visits[message.patient_id] = message.visit_id
        if isinstance(message, ChargePaid) and any(
            line.category == "implant" and line.department == "dental" for line in message.lines
        ):
            implant_visits[visits[message.patient_id]] = message.patient_id
        if isinstance(message, SurveyAnswered) and message.visit_id in implant_visits:
            scores.append(message.score)
    assert scores
    assert sum(score >= 9 for score in scores) > len(scores) / 2


# --- households, consent, plans and points, through the pure deciders ------------------------


def test_minors_join_a_household_with_an_adult_guardian_before_their_guardian_consents(
    stream: Stream,
) -> None:
    births: dict[str, date] = {}
    homes: dict[str, households.HouseholdState] = {}
    home_of: dict[str, str] = {}
    consents: dict[str, consent.ConsentState] = {}
    minors = by_guardian = 0
    for now, message in stream:
        if isinstance(message, PatientRegistered):
            assert message.birth_date is not None
            births[message.patient_id] = message.birth_date
        if isinstance(message, households.FormHousehold | households.AddDependent):
            if isinstance(message, households.AddDependent) and (
                _age(births[message.member_id], now) < households.ADULT_AGE
            ):
                minors += 1
                assert message.guardian_id is not None
                assert _age(births[message.guardian_id], now) >= households.ADULT_AGE
            home = homes.get(message.household_id) or households.HouseholdState(
                household_id=message.household_id
            )
            for event in households.decide(message, home, now, TZ):
                home = households.evolve(home, event)
            homes[message.household_id] = home
            if isinstance(message, households.FormHousehold):
                home_of[message.head_id] = message.household_id
            else:
                home_of[message.member_id] = message.household_id
        if isinstance(message, consent.GrantConsent | consent.WithdrawConsent):
            member = message.member_id
            age = _age(births[member], now)
            guardians: frozenset[str] = frozenset()
            if member in home_of:
                home = homes[home_of[member]]
                guardians = frozenset(
                    person
                    for person in households.members(home)
                    if person == home.head_id
                    or not households.is_minor(home.dependents[person], now, TZ)
                )
            if age < consent.GUARDIAN_AGE:
                assert isinstance(message, consent.GrantConsent)
                assert message.given_by in guardians
                by_guardian += 1
            state = consents.get(member) or consent.ConsentState(member_id=member)
            for granted in consent.decide(message, state, now, age=age, guardians=guardians):
                state = consent.evolve(state, granted)
            consents[member] = state
    assert minors > 0
    assert by_guardian > 0


def test_plan_payments_equal_the_plan_prices_of_the_reference_programme(stream: Stream) -> None:
    plan_of: dict[str, str] = {}
    paid = Counter[str]()
    for _, message in stream:
        if isinstance(message, plans.Subscribe):
            plan_of[message.subscription_id] = message.plan_key
        if isinstance(message, plans.RecordPayment):
            # The demo's price test quotes some patients the premium card monthly.
            chosen = [(e.key, variant_for(e, message.member_id).key) for e in DEMO.experiments]
            quoted = DEMO.variant_config(chosen)
            plan = quoted.plans.plan(plan_of[message.subscription_id])
            assert plan is not None
            assert message.amount_fen == plan.price_fen
            paid[plan.key] += 1
    assert set(paid) >= {"monthly_99", "family_steward", "diabetes_steward"}
    assert any(key.startswith("annual") for key in paid)


def test_the_plans_decider_accepts_every_plan_command(stream: Stream) -> None:
    states: dict[str, plans.PlansState] = {}
    renewed = cancelled = 0
    for now, message in stream:
        if isinstance(message, PLAN_COMMANDS):
            state = states.get(message.member_id) or plans.PlansState(member_id=message.member_id)
            chosen = [(e.key, variant_for(e, message.member_id).key) for e in DEMO.experiments]
            for event in plans.decide(message, state, DEMO.variant_config(chosen), now):
                state = plans.evolve(state, event)
                renewed += isinstance(event, plans.SubscriptionRenewed)
                cancelled += isinstance(event, plans.SubscriptionCancelled)
            states[message.member_id] = state
    assert renewed > 0
    assert cancelled > 0


def test_family_plans_cover_relatives_of_the_holders_household(stream: Stream) -> None:
    members: dict[str, set[str]] = {}
    home_of: dict[str, str] = {}
    covered = 0
    for _, message in stream:
        if isinstance(message, households.FormHousehold):
            members[message.household_id] = {message.head_id}
            home_of[message.head_id] = message.household_id
        if isinstance(message, households.AddDependent):
            members[message.household_id].add(message.member_id)
        people: tuple[str, ...] = ()
        if isinstance(message, plans.Subscribe) and message.plan_key == "family_steward":
            people = message.dependents
            assert people
        elif isinstance(message, plans.AddCoveredDependent):
            people = (message.dependent_id,)
        for person in people:
            assert isinstance(message, plans.SubscriptionCommand)
            assert person in members[home_of[message.member_id]]
            covered += 1
    assert covered > 0


def test_redemptions_stay_within_the_points_the_ledger_holds(stream: Stream) -> None:
    states: dict[str, ledger.LedgerState] = {}
    redeemed = 0
    for now, message in stream:
        if isinstance(message, Fact | Redeem):
            member = message.patient_id if isinstance(message, Fact) else message.member_id
            state = states.get(member) or ledger.LedgerState(member_id=member)
            for posting in ledger.decide(message, state, CONFIG, now):
                state = ledger.evolve(state, posting)
            states[member] = state
            redeemed += isinstance(message, Redeem)
    assert redeemed > 0
    assert all(state.balance >= 0 for state in states.values())


def test_a_household_and_everything_about_its_members_share_one_shard(stream: Stream) -> None:
    shard_of_home: dict[str, int] = {}
    for _, message in stream:
        if isinstance(message, households.FormHousehold):
            shard_of_home[message.household_id] = shard_of(message.head_id)
            assert shard_of(message) == shard_of(message.head_id)
        if isinstance(message, households.AddDependent):
            assert shard_of(message.member_id) == shard_of_home[message.household_id]
            assert shard_of(message) == shard_of_home[message.household_id]
        if isinstance(message, Fact):
            assert shard_of(message) == shard_of(message.patient_id)
        if isinstance(message, plans.Subscribe):
            assert shard_of(message) == shard_of(message.member_id)
            assert {shard_of(person) for person in message.dependents} <= {shard_of(message)}
    assert len(set(shard_of_home.values())) > 10


def test_shard_of_refuses_what_names_no_patient() -> None:
    with pytest.raises(TypeError, match="names no patient"):
        shard_of(object())


# --- streaming -------------------------------------------------------------------------------


def _peak_bytes(spec: HospitalSpec) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    try:
        count = sum(1 for _ in messages(spec))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_memory_does_not_grow_with_the_number_of_messages() -> None:
    short_count, short_peak = _peak_bytes(HospitalSpec(patients=150, months=2, seed=5))
    long_count, long_peak = _peak_bytes(HospitalSpec(patients=150, months=16, seed=5))
    assert long_count > 2 * short_count
    assert long_peak < 2 * short_peak


def test_the_stream_is_generated_lazily() -> None:
    stream = messages(HospitalSpec(patients=1_000_000, months=600))
    first = list(itertools.islice(stream, 50))
    assert isinstance(first[0], PatientRegistered)


# --- the spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"patients": 0},
        {"months": 0},
        {"refund_share": 1.5},
        {"engaged_share": -0.1},
        {"start": datetime(2025, 6, 1)},  # noqa: DTZ001 - a naive start is what is refused
    ],
)
def test_the_spec_refuses_impossible_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        HospitalSpec(**changes)


def test_small_is_a_small_hospital_over_six_months() -> None:
    spec = small(9)
    assert (spec.patients, spec.months, spec.seed) == (300, 6, 9)
    assert HospitalSpec().patients == 10_000
    assert HospitalSpec().start.utcoffset() is not None


def test_the_demo_hospital_feeds_the_engine_nothing_it_refuses() -> None:
    from membercore.service.engine import Engine  # noqa: PLC0415
    from membercore.testing.clock import ManualClock  # noqa: PLC0415
    from membercore_adapters.demo.hospital import HospitalSpec, timed_messages  # noqa: PLC0415

    stream = list(timed_messages(HospitalSpec(patients=400, months=12)))
    clock = ManualClock(stream[-1][0])
    with Engine.open("memory://", config=demo_programme(), clock=clock) as engine:
        report = engine.ingest(stream)
        assert [letter.reason for letter in engine.dead_letters()] == []
    assert report.rejected == 0
    assert report.applied == len(stream)


@pytest.mark.slow
def test_a_run_is_the_same_whatever_the_number_of_workers(tmp_path: Path) -> None:
    # Many referrals, most of them of a patient of the other worker than the referrer's.
    spec = HospitalSpec(patients=80, months=2, seed=2, referral_share=0.8)
    across = [
        message
        for _, message in timed_messages(spec)
        if isinstance(message, ReferralQualified)
        and shard_of_member(message.patient_id, 2)
        != shard_of_member(message.referred_patient_id, 2)
    ]
    assert len(across) > 10
    alone = run_demo(spec, f"sqlite:///{tmp_path / 'alone.db'}", workers=1)
    shared = run_demo(spec, f"sqlite:///{tmp_path / 'shared.db'}", workers=2)
    assert shared.rejected == alone.rejected == Counter()
    assert shared.report.rejected == alone.report.rejected == 0
    assert shared.figures == alone.figures
    assert shared.tally == alone.tally
    assert (shared.messages, shared.report.applied) == (alone.messages, alone.report.applied)
    assert shared.end == alone.end
    assert shared.measurement == alone.measurement
    assert shared.experiments == alone.experiments


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_the_demos_measurement_and_experiments_are_those_of_its_store(
    tmp_path: Path, workers: int
) -> None:
    # Each worker measures its own members at the end; put together, the figures are
    # those the store gives when measured whole afterwards.
    spec = HospitalSpec(patients=120, months=4, seed=3)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_demo(spec, url, workers=workers)
    with Engine.open(url, config=demo_programme(), clock=ManualClock(result.end)) as engine:
        assert result.measurement == engine.measure(now=result.end)
        assert result.experiments == experiment_results(engine.store, engine.config)
    assert result.measurement.patients > 100
    assert sum(row.exposed for row in result.experiments[0].variants) > 0


# --- the old import paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("membercore_adapters.hospital", "membercore_adapters.demo.hospital"),
        ("membercore_adapters.walkthrough", "membercore_adapters.demo.walkthrough"),
    ],
)
def test_the_demos_old_module_paths_import_the_new_modules_with_a_warning(
    old: str, new: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_the_demo_package_offers_what_the_demo_module_did() -> None:
    demo = importlib.import_module("membercore_adapters.demo")
    names = {"DemoResult", "ProgressBar", "dashboard", "run_demo", "shard_of_member"}
    names |= {"HospitalSpec", "shard_of", "timed_messages"}
    assert all(callable(getattr(demo, name)) for name in names)
