"""The programme's rules through the engine: spending order, qualification windows, tier
reviews and changes, refunds and guardians.

Each test drives the whole engine over the in-memory store, as a hospital system would,
and reads the outcome from the member's stored record. The pure deciders' own tests are
in test_ledger_operations.py, test_tiers.py and test_households.py.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import households, ledger, reference_config, tiers
from membercore.config import ProgrammeConfig
from membercore.errors import GuardianRequiredError
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    EventAttended,
    PatientRegistered,
    ReferralQualified,
    RefundIssued,
    SurveyAnswered,
    VisitCompleted,
)
from membercore.identity import CommandTaken
from membercore.ledger.commands import Redeem
from membercore.ledger.events import Draw, Posting
from membercore.plugins import make_plugin_manager
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.member import due_parts, next_due
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory

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
    new = PatientRegistered(fact_id="reg-new", patient_id="p-new", occurred_at=clock.now())
    # A referral pays only for a patient whose first visit the programme knows.
    visit = VisitCompleted(
        fact_id="visit-new", patient_id="p-new", occurred_at=clock.now(), visit_id="v-new"
    )
    engine.ingest([new, visit, referral])
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


# -- 1: tier reviews fall due at the review date plus the grace --------------------------

GRACE = 30


def _gold_member(engine: Engine, clock: ManualClock) -> None:
    """A member who reaches L3 (金卡) with 6,000 qualifying points at T0, then does nothing."""
    _registered(engine)
    line = ChargeLine(department="internal", category="exam", amount_fen=600_000)
    engine.ingest(
        [ChargePaid(fact_id="pay-1", patient_id=ME, occurred_at=T0, charge_id="c-1", lines=(line,))]
    )
    assert engine.tier(ME) == "L3"


def _ticked(ticks: list[datetime]) -> tiers.TierState:
    clock = ManualClock(T0)
    with _open(_with_tiers(grace_days=GRACE), clock) as engine:
        _gold_member(engine, clock)
        for at in ticks:
            clock.set(at)
            engine.tick(at)
        return engine.member(ME).tier


def _daily(days: int) -> list[datetime]:
    # ticks at 13:00, never at the instant a review falls due (10:00)
    return [T0 + timedelta(days=day, hours=3) for day in range(1, days + 1)]


def test_daily_ticks_move_a_member_down_one_level_at_each_review_after_the_grace() -> None:
    state = _ticked(_daily(3 * 365))
    history = [(c.from_tier, c.to_tier, c.reason) for c in tiers.history(state)]
    assert history == [
        ("L1", "L3", "upgrade"),
        ("L3", "L2", "downgrade"),
        ("L2", "L1", "downgrade"),
    ]
    _, first, second = tiers.history(state)
    grace = timedelta(days=GRACE)
    assert first.at == datetime(2027, 3, 2, 10, tzinfo=SH) + grace  # the anniversary, plus grace
    assert first.review_at is not None
    assert second.at == first.review_at + grace
    assert (state.tier, state.review_at) == ("L1", None)


def test_ticks_a_hundred_days_apart_make_the_same_tier_history_as_daily_ticks() -> None:
    days = 3 * 365
    rare = [T0 + timedelta(days=day) for day in range(100, days, 100)]
    rare.append(_daily(days)[-1])
    assert _ticked(rare) == _ticked(_daily(days))


@functools.cache
def _ticked_daily(days: int) -> tiers.TierState:
    return _ticked(_daily(days))


@settings(max_examples=30)
@given(st.lists(st.tuples(st.integers(1, 3 * 365 - 1), st.integers(0, 23)), max_size=10))
def test_any_tick_schedule_makes_the_tier_history_of_daily_ticks(
    ticks: list[tuple[int, int]],
) -> None:
    days = 3 * 365
    last = _daily(days)[-1]
    schedule = sorted({T0 + timedelta(days=day, hours=hour) for day, hour in ticks})
    assert _ticked([*schedule, last]) == _ticked_daily(days)


def test_the_record_is_due_when_the_review_and_its_grace_have_passed(
    clock: ManualClock,
) -> None:
    with _open(_with_tiers(grace_days=GRACE), clock) as engine:
        _gold_member(engine, clock)
        held = engine.member(ME)
        review_at = held.tier.review_at
        assert review_at is not None
        config = engine.config
        assert tiers.due_at(held.tier, config) == review_at + timedelta(days=GRACE)
        assert next_due(held, config, after=review_at) <= review_at + timedelta(days=GRACE)
        assert "tier" not in due_parts(held, config, review_at + timedelta(days=GRACE - 1))
        assert "tier" in due_parts(held, config, review_at + timedelta(days=GRACE))
        # a tick inside the grace leaves the review due at its end
        engine.tick(review_at + timedelta(days=GRACE - 1))
        assert engine.tier(ME) == "L3"
        assert engine.store.due(review_at + timedelta(days=GRACE), 10) == [
            (member_key(ME), review_at + timedelta(days=GRACE))
        ]


def test_a_tick_ends_a_staff_override_at_its_expiry(clock: ManualClock, engine: Engine) -> None:
    _registered(engine)
    ends = T0 + timedelta(days=90)
    engine.execute(
        tiers.SetTierOverride(
            key="ov-1",
            member_id=ME,
            tier="L4",
            operator="staff-wu",
            reason="投诉补偿",
            expires_at=ends,
        )
    )
    assert engine.tier(ME) == "L4"
    assert next_due(engine.member(ME), engine.config) == ends
    engine.tick(ends + timedelta(days=1))
    assert engine.tier(ME) == "L1"
    ended = tiers.history(engine.member(ME).tier)[-1]
    assert (ended.reason, ended.at) == ("override_ended", ends)


# -- 3b: a tier change always changes the tier -------------------------------------------


def test_an_override_to_the_tier_already_had_changes_no_tier(
    clock: ManualClock, engine: Engine
) -> None:
    _gold_member(engine, clock)
    override = tiers.SetTierOverride(
        key="ov-1",
        member_id=ME,
        tier="L3",
        operator="staff-wu",
        reason="院长批准",
        expires_at=T0 + timedelta(days=90),
    )
    events = engine.execute(override)
    assert [type(event) for event in events] == [tiers.TierBasisChanged, CommandTaken]
    assert engine.member(ME).tier.override is not None
    engine.tick(T0 + timedelta(days=91))  # the override ends on the tier held anyway
    journal = [message_from_json(event.payload) for event in engine.store.events(member_key(ME))]
    changes = [event for event in journal if isinstance(event, tiers.TierChanged)]
    assert [(c.from_tier, c.to_tier) for c in changes] == [("L1", "L3")]
    basis = [event.reason for event in journal if isinstance(event, tiers.TierBasisChanged)]
    assert basis == ["override", "override_ended"]
    assert engine.tier_history(ME) == tuple(changes)


# -- 3c: a partial refund takes back tier spend in proportion, as it does points ---------


def test_a_partial_refund_takes_back_qualifying_spend_and_points_in_proportion(
    clock: ManualClock, engine: Engine
) -> None:
    _registered(engine)
    line = ChargeLine(
        department="ortho", category="surgery", amount_fen=1_000_000, insurance_fen=400_000
    )
    charge = ChargePaid(
        fact_id="pay-1", patient_id=ME, occurred_at=T0, charge_id="c-1", lines=(line,)
    )
    engine.ingest([charge])
    later = T0 + timedelta(days=3)
    clock.set(later)
    refund = RefundIssued(
        fact_id="rf-1", patient_id=ME, occurred_at=later, charge_id="c-1", amount_fen=300_000
    )
    engine.ingest([refund])  # 30% of the charge
    member = engine.member(ME)
    done = tiers.qualification(member.tier, member.ledger, engine.config, later)
    assert (done.points, done.spend_fen) == (4_200, 420_000)  # 70% of 6,000 and of 6,000 元
    assert engine.points(ME).qualifying == 4_200


# -- 3d: a minor's only guardian cannot leave the household ------------------------------


def test_the_only_guardian_of_a_minor_cannot_be_removed_from_the_household(
    engine: Engine,
) -> None:
    born = date(2018, 5, 1)
    for member, birth_date in ((ME, None), ("p-wife", None), ("p-son", born)):
        engine.ingest(
            [
                PatientRegistered(
                    fact_id=f"reg-{member}",
                    patient_id=member,
                    occurred_at=T0,
                    birth_date=birth_date,
                )
            ]
        )
    engine.execute(households.FormHousehold(key="form", household_id="hh-lin", head_id=ME))
    for member, extra in (
        ("p-wife", {"relationship": "spouse"}),
        ("p-son", {"relationship": "child", "birth_date": born, "guardian_id": "p-wife"}),
    ):
        engine.execute(
            households.AddDependent(
                key=f"add-{member}", household_id="hh-lin", member_id=member, **extra
            )
        )
    leave = households.RemoveDependent(
        key="rm-wife", household_id="hh-lin", member_id="p-wife", reason="离婚"
    )
    before = engine.household("hh-lin")
    with pytest.raises(GuardianRequiredError) as refusal:
        engine.execute(leave)
    assert (refusal.value.member_id, refusal.value.guardian_id) == ("p-son", "p-wife")
    assert engine.household("hh-lin") == before
    assert engine.member("p-wife").household_id == "hh-lin"
    # through a feed, the refusal is a dead letter that names the minor
    report = engine.ingest([leave])
    assert report.rejected == 1
    (letter,) = engine.store.dead_letters()
    assert "p-son" in letter.reason
