"""The programme's rules through the engine: spending order, tier reviews, refunds, windows.

Each test drives the whole engine over the in-memory store, as a hospital system would,
and reads the outcome from the member's stored record. The pure deciders' own tests are
in test_ledger_operations.py, test_tiers.py and test_households.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import ledger, reference_config, tiers
from membercore.clinical import PatientRegistered
from membercore.commands import Redeem
from membercore.config import ProgrammeConfig
from membercore.engine import Engine
from membercore.events import Draw, Posting
from membercore.facts import EventAttended, ReferralQualified, SurveyAnswered
from membercore.plugins import make_plugin_manager
from membercore.testing.clock import ManualClock
from membercore_adapters import memory

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ME = "p-lin"


def _open(config: ProgrammeConfig, clock: ManualClock) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory])
    return Engine.open("memory://", config=config, clock=clock, plugin_manager=manager)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    with _open(reference_config(), clock) as opened:
        yield opened


def _registered(engine: Engine, member: str = ME, at: datetime = T0) -> None:
    engine.ingest([PatientRegistered(fact_id=f"reg-{member}", patient_id=member, occurred_at=at)])


def _postings(events: Iterator[Any] | tuple[Any, ...]) -> list[Posting]:
    return [event for event in events if isinstance(event, Posting)]


# -- 3a: the order lots are spent in -----------------------------------------------------


def test_lots_expiring_together_are_spent_oldest_earned_first(
    engine: Engine, clock: ManualClock
) -> None:
    _registered(engine)
    referral = ReferralQualified(
        fact_id="ref-1",
        patient_id=ME,
        occurred_at=T0 + timedelta(days=18),  # 20 March: 500 points
        referred_patient_id="p-new",
        visit_id="v-new",
    )
    clock.set(T0 + timedelta(days=18))
    engine.ingest([referral])
    # the survey of 5 March is reported after it: opened second, earned first
    survey = SurveyAnswered(
        fact_id="sv-1", patient_id=ME, occurred_at=T0 + timedelta(days=3), visit_id="v-1", score=5
    )
    clock.set(T0 + timedelta(days=19))
    engine.ingest([survey])
    lots = engine.member(ME).ledger.lots
    by_rule = {held.lot.rule_id: held.lot for held in lots.values()}
    referral_lot, survey_lot = by_rule["earning.referral"], by_rule["earning.survey"]
    assert referral_lot.expires_at == survey_lot.expires_at

    (redeemed,) = _postings(engine.execute(Redeem(key="rd-1", member_id=ME, points=15)))
    assert redeemed.draws == (Draw(survey_lot.lot_id, 10), Draw(referral_lot.lot_id, 5))


def _with_tiers(**changes: Any) -> ProgrammeConfig:
    config = reference_config()
    return attrs.evolve(config, tiers=attrs.evolve(config.tiers, **changes))


# -- 3e: qualifying points are the ladder's ----------------------------------------------


@pytest.mark.parametrize(
    ("window", "expected"),
    [({"window": "calendar_year"}, 40), ({"window_months": 6}, 20)],
    ids=["calendar year", "6 months"],
)
def test_the_qualifying_balance_is_what_the_tier_ladder_counts(
    clock: ManualClock, window: dict[str, Any], expected: int
) -> None:
    config = _with_tiers(**window)
    days = [datetime(2025, 12, 25, 10, tzinfo=SH), datetime(2026, 3, 5, 10, tzinfo=SH)]
    days.append(datetime(2026, 12, 1, 10, tzinfo=SH))
    with _open(config, clock) as engine:
        _registered(engine)
        lectures = [
            EventAttended(fact_id=f"ev-{n}", patient_id=ME, occurred_at=at, event_id=f"e-{n}")
            for n, at in enumerate(days)
        ]
        now = datetime(2026, 12, 20, tzinfo=SH)  # twelve months would count all three
        clock.set(now)
        engine.ingest(lectures)
        member = engine.member(ME)
        counted = tiers.qualification(member.tier, member.ledger, config, now).points
        assert counted == expected
        assert engine.points(ME).qualifying == counted
        assert ledger.balances(member.ledger, config, now).qualifying == counted
