"""What a tier state lets go never changes the ladder's decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import hypothesis
import pytest
from hypothesis import given, target
from hypothesis import strategies as st

from membercore import tiers
from membercore.config import ProgrammeConfig
from membercore.config.tiers import TierLevel
from membercore.facts import ChargeLine, ChargePaid, Fact, RefundIssued, VisitCompleted
from membercore.ledger import LedgerState
from membercore.tiers.forget import FORGET_AT_ONCE

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2023, 1, 2, 9, 0, tzinfo=SH)
ME = "p-long"
LADDER = (
    TierLevel(key="L1", label="普通", threshold=0),
    TierLevel(key="L2", label="银卡", threshold=10**9, min_visits=3),
    TierLevel(key="L3", label="金卡", threshold=2 * 10**9, min_spend_fen=500_000),
)
REFERENCE = ProgrammeConfig()


def _ladder(months: int) -> ProgrammeConfig:
    rules = attrs.evolve(REFERENCE.tiers, levels=LADDER, window_months=months)
    return attrs.evolve(REFERENCE, tiers=rules)


#: A short window, so that a few hundred days of facts let activity go.
CONFIGS = (_ladder(1), _ladder(2))


@st.composite
def streams(draw: st.DrawFn) -> list[Fact]:
    """Visits, charges and refunds: bursts of daily facts between pauses."""
    bursts = draw(st.lists(st.tuples(st.integers(0, 120), st.integers(1, 60)), max_size=6))
    at, facts, charges, n = START, [], [], 0
    visits: list[VisitCompleted] = []
    for pause, count in bursts:
        at += timedelta(days=pause)
        for _ in range(count):
            at += timedelta(days=1, hours=draw(st.integers(0, 5)))
            n += 1
            common = {"fact_id": f"f-{n}", "patient_id": ME, "occurred_at": at}
            kind = draw(st.sampled_from("vvccr"))
            if kind == "v" and visits and draw(st.booleans()):
                # a visit sent again under another fact, as it happened
                again = draw(st.sampled_from(visits))
                facts.append(attrs.evolve(again, fact_id=f"f-{n}"))
            elif kind == "v":
                visits.append(VisitCompleted(**common, visit_id=f"v-{n}"))
                facts.append(visits[-1])
            elif kind == "c" or not charges:
                fen = draw(st.integers(1, 40)) * 10_000
                line = ChargeLine(department="internal", category="exam", amount_fen=fen)
                facts.append(ChargePaid(**common, charge_id=f"c-{n}", lines=(line,)))
                charges.append(f"c-{n}")
            else:
                charge = draw(st.sampled_from(charges))
                facts.append(RefundIssued(**common, charge_id=charge, amount_fen=50_000))
    return facts


def _decisions(events: list[tiers.TierEvent]) -> list[tiers.TierEvent]:
    """What the ladder decided: a visit sent again once let go is recorded again, alone."""
    return [e for e in events if not isinstance(e, tiers.TierActivityRecorded)]


def _whole(events: list[tiers.TierEvent]) -> list[tiers.TierEvent]:
    """The events of a state that never lets go."""
    return [
        attrs.evolve(e, forgets_visits=(), forgets_spend=())
        if isinstance(e, tiers.TierActivityRecorded)
        else e
        for e in events
    ]


@pytest.mark.slow
@given(streams(), st.sampled_from(CONFIGS))
def test_what_is_let_go_never_changes_a_decision(
    facts: list[Fact], config: ProgrammeConfig
) -> None:
    ledger = LedgerState(member_id=ME)
    kept = whole = tiers.TierState(member_id=ME)
    let_go = 0
    now = START
    for fact in facts:
        now = max(now, fact.occurred_at)  # the record's clock: a fact sent again is late
        made = tiers.decide(fact, kept, ledger, config, now)
        unforgetting = _whole(tiers.decide(fact, whole, ledger, config, now))
        assert _decisions(made) == _decisions(unforgetting)
        for event in made:
            kept = tiers.evolve(kept, event)
            if isinstance(event, tiers.TierActivityRecorded):
                let_go += len(event.forgets_visits) + len(event.forgets_spend)
        for event in unforgetting:
            whole = tiers.evolve(whole, event)
        later = now + timedelta(days=1)
        assert tiers.qualification(kept, ledger, config, later) == tiers.qualification(
            whole, ledger, config, later
        )
    assert (kept.tier, kept.held, kept.review_at, kept.history) == (
        whole.tier,
        whole.held,
        whole.review_at,
        whole.history,
    )
    hypothesis.event("some let go" if let_go else "none let go")
    target(let_go)
    assert len(kept.visits) + len(kept.spend) <= len(whole.visits) + len(whole.spend)


def test_a_long_history_keeps_the_window() -> None:
    ledger = LedgerState(member_id=ME)
    state = tiers.TierState(member_id=ME)
    for n in range(3 * 365):
        at = START + timedelta(days=n)
        fact = VisitCompleted(fact_id=f"f-{n}", patient_id=ME, occurred_at=at, visit_id=f"v-{n}")
        for event in tiers.decide(fact, state, ledger, REFERENCE, at):
            state = tiers.evolve(state, event)
    assert 365 <= len(state.visits) <= 366 + FORGET_AT_ONCE
    assert "v-0" not in state.visits


def test_a_review_that_fell_due_in_a_pause_reads_what_it_read() -> None:
    config = CONFIGS[1]  # a two-month window; three visits in it hold 银卡
    ledger = LedgerState(member_id=ME)
    for stop in range(10, 10 + FORGET_AT_ONCE):
        kept = whole = tiers.TierState(member_id=ME)
        days = 365 + config.tiers.grace_days - stop  # visits stop before the review falls due
        facts: list[Fact] = [
            VisitCompleted(
                fact_id=f"f-{n}",
                patient_id=ME,
                occurred_at=START + timedelta(days=n),
                visit_id=f"v-{n}",
            )
            for n in range(days)
        ]
        back = START + timedelta(days=days + 60)  # after a pause, past the review
        facts.append(VisitCompleted(fact_id="back", patient_id=ME, occurred_at=back, visit_id="b"))
        for fact in facts:
            made = tiers.decide(fact, kept, ledger, config, fact.occurred_at)
            for event in made:
                kept = tiers.evolve(kept, event)
            for event in _whole(tiers.decide(fact, whole, ledger, config, fact.occurred_at)):
                whole = tiers.evolve(whole, event)
        assert kept.history == whole.history
        assert kept.history[-1].to_tier == "L2"  # reviewed on the visits before the pause
