"""Referral rewards, through the engine on memory and SQLite: once, for a patient seen."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from membercore.facts import PatientRegistered, ReferralQualified, VisitCompleted
from membercore.identity import MergeMembers
from membercore.ledger import balances
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ALICE, BOB, NEW = "p-alice", "p-bob", "p-new"


def _setup(engine: Engine, *, visit: bool = True) -> None:
    facts: list[object] = [
        PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=T0)
        for p in (ALICE, BOB, NEW)
    ]
    if visit:
        facts.append(
            VisitCompleted(
                fact_id="visit-1", patient_id=NEW, occurred_at=T0, visit_id="V-1", first_visit=True
            )
        )
    engine.ingest(facts, now=T0)  # type: ignore[arg-type]


def _referral(fact_id: str, referrer: str, referred: str = NEW) -> ReferralQualified:
    return ReferralQualified(
        fact_id=fact_id,
        patient_id=referrer,
        occurred_at=T0 + timedelta(hours=1),
        referred_patient_id=referred,
        visit_id="V-1",
    )


def _earned(engine: Engine, member: str) -> int:
    later = T0 + timedelta(days=30)
    return balances(engine.member(member).ledger, engine.config, later).lifetime_earned


def test_a_referral_of_a_seen_patient_is_rewarded_once(engine: Engine) -> None:
    _setup(engine)
    report = engine.ingest([_referral("ref-1", ALICE)], now=T0 + timedelta(hours=1))
    assert report.applied == 1
    assert _earned(engine, ALICE) > 0
    assert engine.member(NEW).identity.referred_by == ALICE


def test_a_second_referrer_of_the_same_patient_is_not_rewarded(engine: Engine) -> None:
    _setup(engine)
    engine.ingest([_referral("ref-1", ALICE)], now=T0 + timedelta(hours=1))
    report = engine.ingest([_referral("ref-2", BOB)], now=T0 + timedelta(hours=2))
    assert (report.applied, report.rejected) == (0, 1)
    assert _earned(engine, BOB) == 0
    (letter,) = engine.dead_letters()
    assert "p-alice was rewarded for referring this patient" in letter.reason


def test_a_patient_referring_themself_is_not_rewarded(engine: Engine) -> None:
    _setup(engine)
    report = engine.ingest([_referral("ref-1", NEW, referred=NEW)], now=T0 + timedelta(hours=1))
    assert report.rejected == 1
    assert _earned(engine, NEW) == 0
    (letter,) = engine.dead_letters()
    assert "refers themselves" in letter.reason


def test_a_referral_of_a_patient_never_seen_to_visit_is_not_rewarded(engine: Engine) -> None:
    _setup(engine, visit=False)
    report = engine.ingest([_referral("ref-1", ALICE)], now=T0 + timedelta(hours=1))
    assert report.rejected == 1
    assert _earned(engine, ALICE) == 0
    (letter,) = engine.dead_letters()
    assert "no completed visit 'V-1'" in letter.reason
    stranger = engine.ingest(
        [_referral("ref-2", ALICE, referred="p-stranger")], now=T0 + timedelta(hours=2)
    )
    assert stranger.rejected == 1  # a patient the hospital has never seen


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_a_referral_of_a_returning_patient_is_not_rewarded(engine: Engine) -> None:
    _setup(engine)  # the programme knows p-new from visit V-1
    again = VisitCompleted(
        fact_id="visit-2", patient_id=NEW, occurred_at=T0 + timedelta(days=40), visit_id="V-2"
    )
    engine.ingest([again], now=T0 + timedelta(days=40))
    late = ReferralQualified(
        fact_id="ref-9",
        patient_id=ALICE,
        occurred_at=T0 + timedelta(days=40),
        referred_patient_id=NEW,
        visit_id="V-2",
    )
    report = engine.ingest([late], now=T0 + timedelta(days=40))
    assert report.rejected == 1
    (letter,) = engine.dead_letters()
    assert "is not their first" in letter.reason


def test_a_referral_of_ones_own_merged_away_record_is_not_rewarded(engine: Engine) -> None:
    _setup(engine)
    engine.execute(
        MergeMembers(
            key="merge-1",
            member_id=ALICE,
            duplicate_id=NEW,
            operator="records-office",
            reason="same ID card",
        ),
        now=T0 + timedelta(minutes=30),
    )
    report = engine.ingest([_referral("ref-1", ALICE)], now=T0 + timedelta(hours=1))
    assert report.rejected == 1
    assert _earned(engine, ALICE) == 0
    (letter,) = engine.dead_letters()
    assert "the same person as the referrer" in letter.reason
