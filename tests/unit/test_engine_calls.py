"""The engine's named calls: views of a member and the everyday commands by name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from membercore import InsufficientPointsError, reference_config
from membercore.benefits import BillItem
from membercore.facts import ChargeLine, ChargePaid, PatientRegistered
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock

CONFIG = reference_config()
ME = "p-lin"


def _registered(engine: Engine, clock: ManualClock, yuan: int = 1_280) -> None:
    now = clock.now()
    line = ChargeLine(department="dental", category="treatment", amount_fen=yuan * 100)
    engine.ingest(
        [
            PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=now),
            ChargePaid(fact_id="ch", patient_id=ME, occurred_at=now, charge_id="c", lines=[line]),
        ]
    )


def test_points_lots_and_tier_read_the_member_at_the_clocks_instant(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    assert engine.points(ME).pending == 1_280  # spending points vest after the refund window
    clock.advance(timedelta(days=8))
    assert engine.points(ME).available == 1_280
    assert [lot.remaining for lot in engine.lots(ME)] == [1_280]
    assert engine.tier(ME) == "L2"
    (change,) = engine.tier_history(ME)
    assert (change.from_tier, change.to_tier, change.reason) == ("L1", "L2", "upgrade")


def test_redeem_by_name_spends_and_refuses_with_the_ledgers_error(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)
    clock.advance(timedelta(days=8))
    engine.redeem(ME, 280, key="order-1")
    assert engine.points(ME).available == 1_000
    with pytest.raises(InsufficientPointsError):
        engine.redeem(ME, 1_001, key="order-2")
    assert engine.points(ME).available == 1_000
    engine.adjust_points(ME, 50, key="goodwill", operator="staff-7", reason="late appointment")
    assert engine.points(ME).available == 1_050


def test_a_paid_plan_by_name_grants_its_benefits_and_prices_a_bill(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock, yuan=10)
    assert "expert_consults" not in {e.key for e in engine.entitlements(ME)}
    engine.subscribe(ME, "annual_999", key="s-1", subscription_id="sub-1")
    price = next(plan.price_fen for plan in CONFIG.plans.plans if plan.key == "annual_999")
    engine.record_payment(
        ME, key="p-1", subscription_id="sub-1", amount_fen=price, paid_at=clock.now()
    )
    (held,) = engine.subscriptions(ME)
    assert held.status.value == "active"
    assert "expert_consults" in {e.key for e in engine.entitlements(ME)}
    consult = BillItem(item_code="EXP-1", category="expert_consult", list_price_fen=30_000)
    quote = engine.quote(ME, [consult])
    assert quote.lines[0].free_units == 1  # one of the plan's free expert consults
    engine.reserve_quota(ME, "expert_consults", key="r-1", appointment_id="appt-1")
    engine.release_quota(ME, key="rel-1", appointment_id="appt-1", reason="cancelled")
    engine.reserve_quota(ME, "expert_consults", key="r-2", appointment_id="appt-2")
    engine.consume_quota(ME, key="c-2", appointment_id="appt-2")
    engine.cancel(ME, key="x-1", subscription_id="sub-1", reason="moving away")
    (held,) = engine.subscriptions(ME)
    assert held.status.value == "refunded"


def test_consent_by_name_starts_and_stops_marketing(engine: Engine, clock: ManualClock) -> None:
    _registered(engine, clock, yuan=10)
    engine.record_consent(ME, "marketing", ["wecom"], key="m-1", given_by=ME, source="app")
    assert "member_day" in {journey.journey for journey in engine.journeys(ME)}
    engine.withdraw_consent(ME, "marketing", key="m-2")
    assert "member_day" not in {journey.journey for journey in engine.journeys(ME)}
    assert engine.segment(ME) in {"A", "B", "C"}
    assert engine.tags(ME)  # spending power at least
    assert engine.pending_outbox() == list(engine.store.outbox("pending"))
    assert engine.open_tasks() == []
    assert engine.dead_letters() == []


def test_lots_are_listed_in_the_order_they_would_be_spent(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock)  # 1,280 points pending for the refund window
    for n in range(3):
        clock.advance(timedelta(hours=1))  # the same month: the same expiry instant
        engine.adjust_points(ME, 10 + n, key=f"a-{n}", operator="s", reason="r")
    listed = engine.lots(ME)
    assert [lot.remaining for lot in listed] == [10, 11, 12, 1_280]  # pending last
    engine.redeem(ME, 15, key="spend")
    assert [lot.remaining for lot in engine.lots(ME)] == [6, 12, 1_280]


def test_a_quote_for_a_booked_appointment_counts_its_reserved_uses_free(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine, clock, yuan=10)
    engine.subscribe(ME, "annual_999", key="s-1", subscription_id="sub-1")
    price = next(plan.price_fen for plan in CONFIG.plans.plans if plan.key == "annual_999")
    engine.record_payment(
        ME, key="p-1", subscription_id="sub-1", amount_fen=price, paid_at=clock.now()
    )
    engine.reserve_quota(ME, "expert_consults", key="r-1", appointment_id="ap-1", units=4)
    consult = BillItem(
        item_code="EXP-1", category="expert_consult", list_price_fen=30_000, quantity=4
    )
    assert engine.quote(ME, [consult]).lines[0].free_units == 0  # all four set aside
    booked = engine.quote(ME, [consult], appointment_id="ap-1")
    assert booked.lines[0].free_units == 4
    assert booked.member_total_fen == 0
