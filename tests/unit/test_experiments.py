"""Experiments: configuration, assignment through the engine, and results."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import ConfigError, Engine, load_config, reference_config
from membercore.config import ProgrammeConfig
from membercore.experiments import (
    ExperimentAssigned,
    chi_square_p,
    experiment_results,
    newcombe_difference,
    sample_ratio,
    variant_for,
    wilson_interval,
)
from membercore.facts import PatientDied, PatientRegistered, VisitCompleted
from membercore.plans import RecordPayment, Subscribe
from membercore.serialization import dump_config, message_from_stored
from membercore.testing import ManualClock

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

MONTHLY = {
    "plans.plans.annual_999.label": "尊享会员（月付）",
    "plans.plans.annual_999.kind": "monthly",
    "plans.plans.annual_999.price_fen": 9900,
    "plans.plans.annual_999.term_months": 1,
    "plans.plans.annual_999.auto_renew": True,
    "plans.plans.annual_999.grace_days": 3,
}


def price_test(**changes: Any) -> dict[str, Any]:
    experiment: dict[str, Any] = {
        "key": "price",
        "label": "尊享年卡定价",
        "variants": [
            {"key": "yearly", "label": "年付999元", "weight": 50},
            {"key": "monthly", "label": "月付99元", "weight": 50, "overrides": dict(MONTHLY)},
        ],
        "exposure": {"on": "visit_completed"},
        "conversion": {"on": ["subscription_activated"], "plan": "annual_999", "within_days": 30},
    }
    experiment.update(changes)
    return experiment


def programme(*experiments: dict[str, Any]) -> ProgrammeConfig:
    data = dump_config(reference_config())
    data["experiments"] = list(experiments)
    return load_config(data)


CONFIG = programme(price_test())
EXPERIMENT = CONFIG.experiments[0]


def member_in(variant: str, start: int = 0) -> str:
    """The first patient id from ``start`` on whom the hash puts in ``variant``."""
    return next(
        f"p-{n}"
        for n in range(start, start + 1000)
        if variant_for(EXPERIMENT, f"p-{n}").key == variant
    )


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/m.db"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def engine(url: str, clock: ManualClock) -> Iterator[Engine]:
    with Engine.open(url, config=CONFIG, clock=clock) as opened:
        yield opened


def register(engine: Engine, pid: str, at: datetime = START) -> None:
    engine.ingest([PatientRegistered(fact_id=f"reg-{pid}", patient_id=pid, occurred_at=at)])


def visit(pid: str, n: int, at: datetime) -> VisitCompleted:
    return VisitCompleted(
        fact_id=f"visit-{pid}-{n}",
        patient_id=pid,
        occurred_at=at,
        visit_id=f"V-{pid}-{n}",
        first_visit=n == 0,
    )


def assignments(engine: Engine, pid: str) -> list[ExperimentAssigned]:
    return [
        message_from_stored(e.payload)
        for e in engine.store.events(f"member:{pid}")
        if e.type == ExperimentAssigned.TYPE
    ]


def subscribe_and_pay(engine: Engine, clock: ManualClock, pid: str) -> int:
    engine.execute(
        Subscribe(
            key=f"s-{pid}", member_id=pid, subscription_id=f"sub-{pid}", plan_key="annual_999"
        )
    )
    due = engine.member(pid).plans.subscriptions[f"sub-{pid}"].due_fen
    assert due is not None
    engine.execute(
        RecordPayment(
            key=f"pay-{pid}",
            member_id=pid,
            subscription_id=f"sub-{pid}",
            amount_fen=due,
            paid_at=clock.now(),
        )
    )
    return due


# --- assignment through the engine -----------------------------------------------------------


def test_a_member_is_assigned_once_at_first_exposure_to_the_hash_determined_variant(
    engine: Engine, clock: ManualClock
) -> None:
    pid = "p-7"
    register(engine, pid)
    clock.advance(timedelta(hours=3))
    first = visit(pid, 0, START + timedelta(hours=1))
    engine.ingest([first])
    engine.ingest([first])  # the HIS sends it again
    engine.ingest([visit(pid, 1, START + timedelta(hours=2))])
    held = assignments(engine, pid)
    assert [(a.experiment, a.variant, a.exposed_by) for a in held] == [
        ("price", variant_for(EXPERIMENT, pid).key, "visit_completed")
    ]
    assert held[0].at == START + timedelta(hours=1)
    assigned = engine.member(pid).experiments.assignments["price"]
    assert assigned.variant == variant_for(EXPERIMENT, pid).key


def test_a_registration_alone_does_not_expose_the_member(engine: Engine) -> None:
    register(engine, "p-1")
    assert assignments(engine, "p-1") == []
    assert engine.member("p-1").experiments.assignments == {}


def test_the_variant_price_is_the_one_charged_and_the_control_pays_the_base_price(
    engine: Engine, clock: ManualClock
) -> None:
    monthly, yearly = member_in("monthly"), member_in("yearly")
    for pid in (monthly, yearly):
        register(engine, pid)
    clock.advance(timedelta(hours=3))
    engine.ingest([visit(monthly, 0, START + timedelta(hours=1))])
    engine.ingest([visit(yearly, 0, START + timedelta(hours=1))])
    assert subscribe_and_pay(engine, clock, monthly) == 9_900
    assert subscribe_and_pay(engine, clock, yearly) == 99_900
    held = engine.member(monthly).plans.subscriptions[f"sub-{monthly}"]
    assert held.term_end is not None
    assert held.term_end - clock.now() < timedelta(days=32)
    year = engine.member(yearly).plans.subscriptions[f"sub-{yearly}"]
    assert year.term_end is not None
    assert year.term_end - clock.now() > timedelta(days=360)


def test_a_member_never_exposed_pays_the_base_price(engine: Engine, clock: ManualClock) -> None:
    pid = member_in("monthly")
    register(engine, pid)
    clock.advance(timedelta(hours=1))
    assert subscribe_and_pay(engine, clock, pid) == 99_900
    assert assignments(engine, pid) == []


def test_results_count_exposures_and_conversions_per_variant(
    engine: Engine, clock: ManualClock
) -> None:
    monthly = [member_in("monthly", 0), member_in("monthly", 100)]
    yearly = [member_in("yearly", 0), member_in("yearly", 100), member_in("yearly", 200)]
    for pid in (*monthly, *yearly):
        register(engine, pid)
    clock.advance(timedelta(hours=3))
    for pid in (*monthly, *yearly):
        engine.ingest([visit(pid, 0, START + timedelta(hours=1))])
    subscribe_and_pay(engine, clock, monthly[0])
    subscribe_and_pay(engine, clock, yearly[0])
    clock.advance(timedelta(days=40))
    subscribe_and_pay(engine, clock, yearly[1])  # after the 30-day window: not counted
    (result,) = experiment_results(engine.store, CONFIG)
    counts = {v.key: (v.exposed, v.converted) for v in result.variants}
    assert counts == {"yearly": (3, 1), "monthly": (2, 1)}
    monthly_result = result.variants[1]
    assert monthly_result.difference is not None
    assert monthly_result.difference.estimate == pytest.approx(1 / 2 - 1 / 3)
    assert result.sample_ratio is not None
    assert not result.sample_ratio.mismatch


def test_a_member_exposed_after_the_experiment_ended_is_not_assigned(
    url: str, clock: ManualClock
) -> None:
    ended = programme(price_test(end=(START + timedelta(days=1)).isoformat()))
    with Engine.open(url, config=ended, clock=clock) as engine:
        late, early = member_in("monthly", 0), member_in("monthly", 100)
        register(engine, late)
        register(engine, early)
        clock.advance(timedelta(days=3))
        engine.ingest([visit(late, 0, START + timedelta(days=2))])
        # Learnt of after the end, about a visit before it: the member met the experiment.
        engine.ingest([visit(early, 0, START + timedelta(hours=5))])
        assert assignments(engine, late) == []
        assert [a.variant for a in assignments(engine, early)] == ["monthly"]
        assert subscribe_and_pay(engine, clock, late) == 99_900
        assert subscribe_and_pay(engine, clock, early) == 9_900


def test_the_dead_are_not_assigned(engine: Engine, clock: ManualClock) -> None:
    pid = "p-3"
    register(engine, pid)
    clock.advance(timedelta(hours=5))
    engine.ingest(
        [PatientDied(fact_id="died-3", patient_id=pid, occurred_at=START + timedelta(hours=1))]
    )
    engine.ingest([visit(pid, 0, START + timedelta(hours=2))])
    assert assignments(engine, pid) == []


def test_an_experiment_removed_from_the_programme_leaves_its_assignments_and_the_base_price(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    pid = member_in("monthly")
    with Engine.open(url, config=CONFIG, clock=clock) as engine:
        register(engine, pid)
        clock.advance(timedelta(hours=3))
        engine.ingest([visit(pid, 0, START + timedelta(hours=1))])
    with Engine.open(url, config=reference_config(), clock=clock) as engine:
        assert [a.variant for a in assignments(engine, pid)] == ["monthly"]
        assert subscribe_and_pay(engine, clock, pid) == 99_900
        assert experiment_results(engine.store, reference_config()) == ()


# --- the property ----------------------------------------------------------------------------

PATIENTS = [f"p-{n}" for n in range(4)]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PATIENTS), st.integers(0, 2), st.integers(1, 90)),
        max_size=12,
    )
)
def test_each_member_holds_at_most_one_assignment_and_it_is_the_hashed_variant(
    visits: list[tuple[str, int, int]],
) -> None:
    clock = ManualClock(START)
    with Engine.open("memory://", config=CONFIG, clock=clock) as engine:
        for pid in PATIENTS:
            register(engine, pid)
        clock.advance(timedelta(days=100))
        for pid, n, day in visits:
            # Replays and reordering: the same visit may come again, on another day.
            engine.ingest([visit(pid, n, START + timedelta(days=day))])
        for pid in PATIENTS:
            held = assignments(engine, pid)
            assert len(held) <= 1
            assert len(held) == (1 if any(v[0] == pid for v in visits) else 0)
            for assigned in held:
                assert assigned.variant == variant_for(EXPERIMENT, pid).key


def test_assignment_is_a_stable_hash_of_member_and_experiment() -> None:
    # Fixed values: a change of hash would move every member to another variant.
    assert [variant_for(EXPERIMENT, f"p-{n}").key for n in range(8)] == [
        variant_for(EXPERIMENT, f"p-{n}").key for n in range(8)
    ]
    split = [variant_for(EXPERIMENT, f"p-{n}").key for n in range(4000)]
    assert 1850 < split.count("monthly") < 2150


# --- statistics ------------------------------------------------------------------------------


def test_wilson_intervals_match_the_published_values() -> None:
    # Newcombe (1998a), Table I: 81/263 gives 0.2553 to 0.3662.
    assert wilson_interval(81, 263).low == pytest.approx(0.2553, abs=1e-4)
    assert wilson_interval(81, 263).high == pytest.approx(0.3662, abs=1e-4)
    assert (round(wilson_interval(40, 100).low, 4), round(wilson_interval(40, 100).high, 4)) == (
        0.3094,
        0.4980,
    )
    assert (round(wilson_interval(50, 100).low, 4), round(wilson_interval(50, 100).high, 4)) == (
        0.4038,
        0.5962,
    )
    assert wilson_interval(0, 10).low == 0.0


def test_newcombe_differences_match_the_published_values() -> None:
    # Newcombe (1998b), Table II, method 10.
    a = newcombe_difference(56, 70, 48, 80)
    assert a.estimate == pytest.approx(0.2)
    assert (round(a.interval.low, 4), round(a.interval.high, 4)) == (0.0524, 0.3339)
    b = newcombe_difference(9, 10, 3, 10)
    assert (round(b.interval.low, 4), round(b.interval.high, 4)) == (0.1705, 0.8090)
    # 50/100 against 40/100, from the Wilson intervals above.
    c = newcombe_difference(50, 100, 40, 100)
    low = 0.1 - math.hypot(0.5 - 0.40383, 0.49802 - 0.4)
    high = 0.1 + math.hypot(0.59617 - 0.5, 0.4 - 0.30944)
    assert c.interval.low == pytest.approx(low, abs=1e-4)
    assert c.interval.high == pytest.approx(high, abs=1e-4)
    assert (round(c.interval.low, 3), round(c.interval.high, 3)) == (-0.037, 0.232)


def test_chi_square_tails_match_closed_forms_and_tables() -> None:
    for x in (0.1, 1.0, 3.841459, 10.0, 40.0):
        assert chi_square_p(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-9)
        assert chi_square_p(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-9)
    assert chi_square_p(3.841459, 1) == pytest.approx(0.05, abs=1e-6)
    assert chi_square_p(16.266, 3) == pytest.approx(0.001, abs=1e-5)
    assert chi_square_p(0.0, 4) == 1.0


def test_a_skewed_split_is_flagged_as_a_sample_ratio_mismatch() -> None:
    skewed = sample_ratio([600, 400], [50, 50])
    assert skewed is not None
    assert skewed.chi_square == pytest.approx(40.0)
    assert skewed.p_value < 1e-9
    assert skewed.mismatch
    fair = sample_ratio([510, 490], [50, 50])
    assert fair is not None
    assert not fair.mismatch
    assert fair.p_value == pytest.approx(0.5271, abs=1e-4)
    weighted = sample_ratio([900, 100], [90, 10])
    assert weighted is not None
    assert weighted.chi_square == pytest.approx(0.0)
    assert sample_ratio([0, 0], [1, 1]) is None


# --- configuration errors --------------------------------------------------------------------


def refused(*experiments: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        programme(*experiments)
    return caught.value


def with_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    test = price_test()
    test["variants"][1]["overrides"] = overrides
    return test


def test_an_unknown_override_key_is_refused_naming_it() -> None:
    error = refused(with_overrides({"plans.plans.annual_999.prise_fen": 1}))
    assert error.key == "$.experiments[0].variants[1].overrides['plans.plans.annual_999.prise_fen']"
    assert "no key 'prise_fen'" in error.problem


def test_an_override_of_an_unknown_plan_is_refused() -> None:
    error = refused(with_overrides({"plans.plans.annual_998.price_fen": 1}))
    assert "no item with key 'annual_998'" in error.problem


def test_a_variant_whose_programme_fails_a_check_is_refused() -> None:
    error = refused(with_overrides({"plans.plans.annual_999.price_fen": -1}))
    assert error.key.endswith("overrides['plans.plans.annual_999.price_fen']")
    assert "must not be negative" in error.problem
    error = refused(with_overrides({"plans.plans.annual_999.tier_floor": "L9"}))
    assert "'L9' is not defined" in error.problem


def test_an_override_of_the_wrong_kind_or_outside_the_parts_a_member_decides_is_refused() -> None:
    assert (
        "expected int"
        in refused(with_overrides({"plans.plans.annual_999.price_fen": "99"})).problem
    )
    assert "not 'tiers'" in refused(with_overrides({"tiers.grace_days": 3})).problem
    assert (
        "no variant may change"
        in refused(with_overrides({"plans.plans.annual_999.key": "x"})).problem
    )


def test_two_experiments_overriding_one_key_are_refused() -> None:
    other = price_test(key="price-2")
    error = refused(price_test(), other)
    assert error.key.startswith("$.experiments[1].variants[1].overrides")
    assert "experiment 'price' overrides it too" in error.problem


def test_an_exposure_naming_no_message_type_is_refused_with_the_nearest() -> None:
    error = refused(price_test(exposure={"on": "visit_complete"}))
    assert error.key == "$.experiments[0].exposure.on"
    assert "did you mean 'visit_completed'" in error.problem
    error = refused(price_test(conversion={"on": ["subscription_activate"]}))
    assert error.key == "$.experiments[0].conversion.on[0]"


def test_an_experiment_needs_two_variants_a_known_control_and_an_end_after_its_start() -> None:
    one = price_test(variants=[{"key": "only", "label": "唯一"}])
    assert "2 to 26 variants" in refused(one).problem
    assert "no variant 'nope'" in refused(price_test(control="nope")).problem
    backwards = price_test(start="2026-05-01T00:00:00+08:00", end="2026-04-01T00:00:00+08:00")
    assert refused(backwards).key == "$.experiments[0].end"
    assert "unknown key 'weight'" in refused({**price_test(), "weight": 1}).problem


def test_a_programme_with_an_experiment_round_trips() -> None:
    assert load_config(dump_config(CONFIG)) == CONFIG
    assert "experiments" not in dump_config(reference_config())
    assert CONFIG.variant_config([("price", "yearly")]) is CONFIG
    assert CONFIG.variant_config([("gone", "monthly")]) is CONFIG
    plan = CONFIG.variant_config([("price", "monthly")]).plans.plan("annual_999")
    assert plan is not None
    assert (plan.price_fen, plan.term_months) == (9_900, 1)
