"""What a ledger lets go never changes a decision or a balance; old earnings stand."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import hypothesis
import pytest
from hypothesis import given, note, target
from hypothesis import strategies as st

from membercore import EarningTooOldError, ProgrammeConfig
from membercore.config import ExpiryPolicy
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, Fact, RefundIssued
from membercore.ledger import LedgerState, balances, decide, evolve
from membercore.ledger.commands import Redeem, ReversePosting
from membercore.ledger.events import Posting
from membercore.ledger.forget import FORGET_AT_ONCE

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2021, 1, 4, 9, 0, tzinfo=SH)
ME = "p-long"
REFERENCE = ProgrammeConfig()


def _spans(expiry: ExpiryPolicy, reversible: int, window: int) -> ProgrammeConfig:
    ledger = attrs.evolve(REFERENCE.ledger, expiry=expiry, reversible_months=reversible)
    tiers = attrs.evolve(REFERENCE.tiers, window_months=window)
    return attrs.evolve(REFERENCE, ledger=ledger, tiers=tiers)


#: Short spans, so that generated streams of a few hundred days let lots go: points that
#: expire after a month, after a month without activity or never, a tier window shorter
#: or longer than reversals.
CONFIGS = (
    _spans(ExpiryPolicy(mode="month_end", months=1), reversible=2, window=1),
    _spans(ExpiryPolicy(mode="inactivity", months=1), reversible=1, window=3),
    _spans(ExpiryPolicy(mode="never"), reversible=1, window=1),
)

Message = Fact | Redeem | ReversePosting


def _charge(n: int, at: datetime, fen: int) -> ChargePaid:
    line = ChargeLine(department="internal", category="exam", amount_fen=fen)
    return ChargePaid(
        fact_id=f"f-{n}", patient_id=ME, occurred_at=at, charge_id=f"c-{n}", lines=(line,)
    )


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[datetime, Message]]:
    """A member's facts and commands: bursts of daily ones between pauses."""
    bursts = draw(st.lists(st.tuples(st.integers(0, 90), st.integers(1, 60)), max_size=6))
    at = START
    stream: list[tuple[datetime, Message]] = []
    charges: list[str] = []
    n = 0
    for pause, count in bursts:
        at += timedelta(days=pause)
        for _ in range(count):
            at += timedelta(days=1, hours=draw(st.integers(0, 5)))
            n += 1
            kind = draw(st.sampled_from("iiccrxv"))
            message: Message
            if kind == "c":
                message = _charge(n, at, draw(st.integers(1, 50)) * 10_000)
                charges.append(f"c-{n}")
            elif kind == "r" and charges:
                charge = draw(st.sampled_from(charges))
                message = RefundIssued(
                    fact_id=f"f-{n}",
                    patient_id=ME,
                    occurred_at=at,
                    charge_id=charge,
                    amount_fen=5_000,
                )
            elif kind == "x":
                points = draw(st.integers(1, 40))
                message = Redeem(key=f"k-{n}", member_id=ME, points=points)
            elif kind == "v":
                posting = f"{ME}/{draw(st.integers(1, max(n, 1)))}"
                message = ReversePosting(
                    key=f"k-{n}", member_id=ME, posting_id=posting, operator="s", reason="r"
                )
            else:
                message = CheckedIn(fact_id=f"f-{n}", patient_id=ME, occurred_at=at, channel="app")
            stream.append((at, message))
    return stream


def _outcome(
    message: Message, state: LedgerState, config: ProgrammeConfig, now: datetime
) -> list[Posting] | str:
    try:
        return [attrs.evolve(p, forgets=()) for p in decide(message, state, config, now)]
    except Exception as refused:
        return f"{type(refused).__name__}: {refused}"


def _alike(kept: list[Posting] | str, whole: list[Posting] | str) -> bool:
    """The same outcome; an old posting that is no earning is refused either way."""
    if isinstance(kept, str) and isinstance(whole, str):
        old = kept.startswith("EarningTooOldError") and whole.startswith("NotReversibleError")
        return old or kept == whole
    return kept == whole


@given(streams(), st.sampled_from(CONFIGS))
def test_what_is_let_go_never_changes_a_decision(
    stream: list[tuple[datetime, Message]], config: ProgrammeConfig
) -> None:
    kept = whole = LedgerState(member_id=ME)
    let_go = 0
    for now, message in stream:
        assert _alike(_outcome(message, kept, config, now), _outcome(message, whole, config, now))
        try:
            made = decide(message, kept, config, now)
        except Exception:
            continue
        for posting in made:
            kept = evolve(kept, posting)
            whole = evolve(whole, attrs.evolve(posting, forgets=()))
            let_go += len(posting.forgets)
        assert balances(kept, config, now) == balances(whole, config, now)
    note(f"{let_go} of {len(whole.lots)} lots let go")
    hypothesis.event(
        ("some let go" if let_go else "none let go") + f" ({config.ledger.expiry.mode})"
    )
    target(let_go)
    assert len(kept.lots) == len(whole.lots) - let_go


def test_a_long_history_keeps_the_lots_still_read() -> None:
    state = LedgerState(member_id=ME)
    let_go: list[str] = []
    for n in range(6 * 365):  # a check-in a day for six years, all spent each month
        at = START + timedelta(days=n)
        message: Message = CheckedIn(fact_id=f"in-{n}", patient_id=ME, occurred_at=at)
        if at.day == 28:
            message = Redeem(key=f"r-{n}", member_id=ME, points=state.balance)
        for posting in decide(message, state, REFERENCE, at):
            state = evolve(state, posting)
            let_go += posting.forgets
    assert len(let_go) >= 2 * 365
    assert len(state.lots) <= 37 * 31 + FORGET_AT_ONCE  # the reversible 36 months, and a batch
    assert all(lot_id not in state.kinds for lot_id in let_go)
    assert f"{ME}/1" in let_go
    # an earning let go, or still held but older than 36 months, stands
    for old in (f"{ME}/1", next(iter(state.lots))):
        command = ReversePosting(
            key=f"undo-{old}", member_id=ME, posting_id=old, operator="s", reason="r"
        )
        with pytest.raises(EarningTooOldError, match="reversed for 36 months"):
            decide(command, state, REFERENCE, at)


def test_a_refund_of_a_charge_earned_more_than_the_reversible_months_ago_takes_nothing() -> None:
    state = LedgerState(member_id=ME)
    for posting in decide(_charge(1, START, 100_000), state, REFERENCE, START):
        state = evolve(state, posting)
    late = START + timedelta(days=3 * 365 + 2)
    refund = RefundIssued(
        fact_id="ref", patient_id=ME, occurred_at=late, charge_id="c-1", amount_fen=100_000
    )
    assert decide(refund, state, REFERENCE, late) == [] or all(
        p.kind.value == "expire" for p in decide(refund, state, REFERENCE, late)
    )
    sooner = START + timedelta(days=2 * 365)
    made = decide(attrs.evolve(refund, occurred_at=sooner), state, REFERENCE, sooner)
    assert [p.kind.value for p in made] == ["reverse"]
