"""The programme measured on a small store whose every figure is worked out by hand.

Four patients, in Asia/Shanghai, measured on 2026-06-15:

- A came online on 2025-01-10 (internal medicine, type 2 diabetes, 100 yuan), came back
  on 2025-03-05 (dental, 50 yuan) and bought the 299 yuan annual plan from hm-1 that day
  (not renewed: over by the measuring day), came back on 2026-02-01 (internal, 200 yuan);
  A referred B.
- B, referred by A, came on 2025-09-01 (orthopaedics, 80 yuan).
- C walked in on 2026-05-01 (internal, 30 yuan) and bought the 299 yuan plan from hm-1
  the next day (in force).
- D registered and never came.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from membercore import Engine, reference_config
from membercore.analytics import Measurement, Rate, Tallies, ValueModel, figures, measurement_of
from membercore.rewards import RedeemReward
from membercore.testing.clock import ManualClock
from membercore.tiers import SetTierOverride

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 12, tzinfo=SHANGHAI)


def _at(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).isoformat()


def _registered(pid: str, at: str, source: str | None = None) -> dict[str, Any]:
    fact = {"type": "patient_registered", "fact_id": f"reg-{pid}", "patient_id": pid}
    fact["occurred_at"] = _at(at)
    return fact | ({"source": source} if source else {})


def _visit(pid: str, visit: str, at: str, department: str, fen: int) -> list[dict[str, Any]]:
    common = {"patient_id": pid, "occurred_at": _at(at)}
    line = {"department": department, "category": "exam", "amount_fen": fen}
    return [
        {"type": "visit_completed", "fact_id": f"v-{visit}", "visit_id": visit, **common}
        | {"department": department},
        {"type": "charge_paid", "fact_id": f"c-{visit}", "charge_id": visit, **common}
        | {"lines": [line]},
    ]


def _history() -> list[dict[str, Any]]:
    return [
        _registered("A", "2025-01-10T09:00", "online"),
        *_visit("A", "A1", "2025-01-10T10:00", "internal", 10_000),
        {
            "type": "diagnosis_recorded",
            "fact_id": "d-A1",
            "patient_id": "A",
            "occurred_at": _at("2025-01-10T10:30"),
            "visit_id": "A1",
            "icd10": "E11.9",
        },
        *_visit("A", "A2", "2025-03-05T10:00", "dental", 5_000),
        _registered("B", "2025-09-01T09:00"),
        *_visit("B", "B1", "2025-09-01T10:00", "ortho", 8_000),
        {
            "type": "referral_qualified",
            "fact_id": "ref-B",
            "patient_id": "A",
            "occurred_at": _at("2025-09-01T11:00"),
            "referred_patient_id": "B",
            "visit_id": "B1",
        },
        *_visit("A", "A3", "2026-02-01T10:00", "internal", 20_000),
        _registered("C", "2026-05-01T09:00", "walk_in"),
        *_visit("C", "C1", "2026-05-01T10:00", "internal", 3_000),
        _registered("D", "2026-05-03T09:00"),
    ]


def _buy(engine: Engine, pid: str, paid_at: datetime) -> None:
    sub = f"s-{pid}"
    engine.subscribe(pid, "annual_299", key=f"sub-{pid}", subscription_id=sub, attributed_to="hm-1")
    engine.record_payment(
        pid, key=f"pay-{pid}", subscription_id=sub, amount_fen=29_900, paid_at=paid_at
    )


@pytest.fixture(params=["memory", "sqlite"])
def measured(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Engine, Measurement]]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'm.db'}"
    clock = ManualClock(datetime(2025, 3, 5, 10, 30, tzinfo=SHANGHAI))
    with Engine.open(url, config=reference_config(), clock=clock) as engine:
        history = _history()
        a_paid = datetime(2025, 3, 5, 11, tzinfo=SHANGHAI)
        c_paid = datetime(2026, 5, 2, 10, tzinfo=SHANGHAI)
        engine.ingest(history[:6], history=True)  # A's first two visits
        clock.set(a_paid)
        _buy(engine, "A", a_paid)
        clock.set(datetime(2026, 5, 1, 12, tzinfo=SHANGHAI))
        engine.ingest(history[6:15], history=True)
        clock.set(c_paid)
        _buy(engine, "C", c_paid)
        until = datetime(2027, 1, 1, tzinfo=SHANGHAI)
        held = SetTierOverride(
            key="vip-C", member_id="C", tier="L3", operator="hm-1", reason="vip", expires_at=until
        )
        engine.execute(held)
        clock.set(NOW)
        engine.ingest(history[15:], history=True)
        engine.execute(RedeemReward(key="gift-A", member_id="A", reward_key="parking"))
        engine.tick()
        yield engine, engine.measure(now=NOW)


def test_counts_patients_and_the_value_they_brought(measured: tuple[Engine, Measurement]) -> None:
    _, measurement = measured
    assert (measurement.patients, measurement.visited) == (4, 3)
    rows = {(row.dimension, row.value): row for row in measurement.value}
    everyone = rows[("all", "all")]
    # A 100 + 50 + 299 + 200, B 80, C 30 + 299: 1,058 yuan over three patients.
    assert (everyone.patients, everyone.realised_fen) == (3, 35_267)
    assert everyone.first_year_fen == 44_900  # only A's first year has ended
    assert {key[1]: rows[key].realised_fen for key in rows if key[0] == "channel"} == {
        "online": 64_900,
        "referral": 8_000,
        "walk_in": 32_900,
    }
    assert {key[1]: rows[key].patients for key in rows if key[0] == "department"} == {
        "internal": 2,
        "ortho": 1,
    }
    conditions = {key[1]: rows[key] for key in rows if key[0] == "condition"}
    assert "type2_diabetes" in conditions
    assert conditions["none"].patients == 2
    assert all(row.realised_fen == 64_900 for key, row in conditions.items() if key != "none")
    assert measurement.value_by_year == ((0, 1, 44_900),)


def test_habits_referrals_and_the_ladder(measured: tuple[Engine, Measurement]) -> None:
    _, measurement = measured
    assert measurement.repurchase == Rate(part=1, whole=1)  # A came back in the first year
    assert measurement.departments_per_patient_x100 == 133  # 2 + 1 + 1 over 3
    assert measurement.cross_purchase == Rate(part=1, whole=3)
    assert measurement.referral == Rate(part=1, whole=3)
    assert (measurement.referred_fen, measurement.others_fen) == (8_000, 48_900)
    assert measurement.referrers == Rate(part=1, whole=4)
    assert measurement.referrals == 1
    ladder = measurement.ladder
    assert (ladder.visited, ladder.members, ladder.family, ladder.family_first) == (3, 2, 0, 0)
    assert ladder.median_days_to_member == 1  # 54 days (A) and 1 day (C): the lower one
    assert ladder.median_days_to_family is None
    assert measurement.renewal == Rate(part=0, whole=1)


def test_spend_projection_staff_and_cohorts(measured: tuple[Engine, Measurement]) -> None:
    _, measurement = measured
    # In the last year: C, a member, spent 30 yuan; A and B, not members, 200 and 80.
    assert (measurement.member_spend_fen, measurement.other_spend_fen) == (3_000, 14_000)
    assert (measurement.member_spenders, measurement.other_spenders) == (1, 2)
    assert measurement.spend_ratio_x100 == 21
    projection = measurement.projection
    assert (projection.members, projection.active, projection.visits) == (1, 1, 1)
    assert (projection.spend_fen, projection.fees_fen) == (3_000, 29_900)
    assert projection.revenue_fen == 32_900
    assert projection.with_members(10).revenue_fen == 329_000
    staff = [(row.staff, row.enrolments, row.renewals, row.sales_fen) for row in measurement.staff]
    assert staff == [("hm-1", 2, 0, 59_800)]
    cohorts = {cohort.month: cohort for cohort in measurement.cohorts}
    assert {month: c.patients for month, c in cohorts.items()} == {
        "2025-01": 1,
        "2025-09": 1,
        "2026-05": 1,
    }
    january = cohorts["2025-01"].retention  # months 1..16 after January 2025: to May 2026
    assert len(january) == 16  # June 2026, under way, is left out
    assert [later + 1 for later, share in enumerate(january) if share] == [2, 13]
    assert set(january) == {0, 1000}
    months = dict(measurement.tiers)
    assert "2026-06" not in months  # under way
    assert sum(months["2026-05"].values()) == 3
    assert sum(months["2025-01"].values()) == 1
    # C was put in L3 on 2 May 2026: at May's end, one member in L3.
    assert [month for month, counts in measurement.tiers if counts["L3"]] == ["2026-05"]
    assert months["2026-04"] == {"L1": 2, "L2": 0, "L3": 0, "L4": 0, "L5": 0}
    tiers = {row.value: row.patients for row in measurement.value if row.dimension == "tier"}
    assert tiers == {"L1": 2, "L3": 1}


def test_the_points_liability_follows_its_definition(measured: tuple[Engine, Measurement]) -> None:
    engine, measurement = measured
    liability = measurement.liability
    assert liability.outstanding == sum(engine.points(pid).balance for pid in "ABCD")
    assert liability.outstanding > 0
    # A's parking voucher: 200 points for 10 yuan, so 100 points are worth 5 yuan.
    assert (liability.redeemed, liability.fen_per_100_points) == (200, 500)
    assert liability.breakage == 0  # nothing has expired yet
    assert liability.liability_fen == liability.outstanding * 5


def test_the_projected_value_states_its_model(measured: tuple[Engine, Measurement]) -> None:
    _, measurement = measured
    everyone = next(row for row in measurement.value if row.dimension == "all")
    # No second year has ended: retention is the share back within their first year (A).
    assert (everyone.retention, everyone.basis) == (1000, "repeat")
    first = everyone.first_year_fen
    expected = first + sum(first / 1.08**year for year in range(1, 5))
    assert everyone.projected_fen == round(expected)
    shorter = measurement_with(measured[0], ValueModel(horizon_years=1))
    assert next(row for row in shorter.value if row.dimension == "all").projected_fen == first


def test_a_group_blends_its_own_figures_with_the_hospitals() -> None:
    """Credibility: a group's figure is its own, with the hospital's counted as 30 more."""
    sums = Tallies(now=NOW, tz=SHANGHAI)
    everyone, online = ("all", "all"), ("channel", "online")
    sums.grouped.update({everyone: 100, online: 10})
    sums.first_year.update({everyone: 100, online: 10})
    sums.first_year_fen.update({everyone: 2_000_000, online: 500_000})  # 200 and 500 yuan
    sums.returned.update({everyone: 40, online: 10})  # 40 % come back; all of online's
    rows = measurement_of(sums, reference_config(), ValueModel()).value
    hospital, group = rows
    assert (hospital.first_year_fen, hospital.retention) == (20_000, 400)
    assert group.first_year_fen == (500_000 + 20_000 * 30) // (10 + 30)  # 27,500
    assert group.retention == round((10 + 0.4 * 30) / (10 + 30) * 1000)  # 550
    assert group.basis == "repeat"  # no second year has ended anywhere
    alone = measurement_of(sums, reference_config(), ValueModel(prior_patients=0)).value[1]
    assert (alone.first_year_fen, alone.retention) == (50_000, 1000)


def test_while_nobody_s_first_year_has_ended_there_is_no_retention_to_show() -> None:
    """No first year over: no retention, no projection — not a retention of zero."""
    clock = ManualClock(NOW)
    with Engine.open("memory://", config=reference_config(), clock=clock) as engine:
        engine.ingest(
            [
                _registered("NEW", "2026-05-01T09:00", "online"),
                *_visit("NEW", "N1", "2026-05-01T10:00", "internal", 6_000),
            ],
            history=True,
        )
        rows = engine.measure(now=NOW).value
    assert rows
    assert all(row.retention is None and row.projected_fen is None for row in rows)
    assert {row.basis for row in rows} == {"repeat"}


def measurement_with(engine: Engine, model: ValueModel) -> Measurement:
    return engine.measure(now=NOW, model=model)


def test_yearly_spend_is_over_the_patients_seen_in_the_year() -> None:
    """A patient last seen two years ago does not lower the others' average to nothing."""
    clock = ManualClock(NOW)
    with Engine.open("memory://", config=reference_config(), clock=clock) as engine:
        engine.ingest(
            [
                _registered("OLD", "2024-03-01T09:00"),
                *_visit("OLD", "O1", "2024-03-01T10:00", "internal", 50_000),
                _registered("NEW", "2026-05-01T09:00"),
                *_visit("NEW", "N1", "2026-05-01T10:00", "internal", 6_000),
            ],
            history=True,
        )
        held = figures(engine.members(), engine.config, NOW)
        measurement = engine.measure(now=NOW)
    assert held.spenders.get(False) == 1
    assert held.average_spend_fen(members=False) == 6_000
    assert measurement.other_spend_fen == 6_000


def test_breakage_lowers_the_liability_and_the_catalogue_values_points_until_redeemed() -> None:
    sums = Tallies(now=NOW, tz=SHANGHAI)
    sums.points.update(earned=1_400, redeemed=100, expired=300, balance=1_000)
    sums.redeemed_value_fen, sums.redeemed_points = 500, 100
    liability = measurement_of(sums, reference_config(), ValueModel()).liability
    assert (liability.breakage, liability.fen_per_100_points) == (750, 500)
    assert liability.liability_fen == 1_250  # 1,000 points × 5 fen × (1 − 75 %)
    sums.redeemed_value_fen = sums.redeemed_points = 0
    gifts = reference_config().rewards.rewards
    average = round(sum(g.value_fen for g in gifts) * 100 / sum(g.points for g in gifts))
    unredeemed = measurement_of(sums, reference_config(), ValueModel()).liability
    assert unredeemed.fen_per_100_points == average
