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
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, ContentShared, Fact, RefundIssued
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState, balances, decide, decide_merge, evolve
from membercore.ledger.commands import AdjustPoints, Redeem, ReversePosting
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

Message = Fact | Redeem | ReversePosting | AdjustPoints


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
    adjustments: list[AdjustPoints] = []
    n = 0
    for pause, count in bursts:
        at += timedelta(days=pause)
        for _ in range(count):
            at += timedelta(days=1, hours=draw(st.integers(0, 5)))
            n += 1
            kind = draw(st.sampled_from("iiccrxvals"))
            message: Message
            if kind == "a" and adjustments and draw(st.booleans()):
                message = draw(st.sampled_from(adjustments))  # the same command again
            elif kind == "a":
                adjustments.append(
                    AdjustPoints(key=f"k-{n}", member_id=ME, points=5, operator="s", reason="r")
                )
                message = adjustments[-1]
            elif kind == "l":  # a share reported long after it happened (capped: 15 a day)
                late = at - timedelta(days=draw(st.integers(0, 400)))
                message = ContentShared(
                    fact_id=f"f-{n}", patient_id=ME, occurred_at=late, content_id=f"x-{n}"
                )
            elif kind == "c":
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


@pytest.mark.slow
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


def test_a_merged_record_brings_what_it_earned_once_per_reference_even_let_go() -> None:
    duplicate, survivor = LedgerState(member_id="dup"), LedgerState(member_id=ME)
    for day in range(2 * FORGET_AT_ONCE):  # contents shared; their points expire
        at = START + timedelta(days=day)
        share = ContentShared(
            fact_id=f"s-{day}", patient_id="dup", occurred_at=at, content_id=f"c-{day}"
        )
        for posting in decide(share, duplicate, REFERENCE, at):
            duplicate = evolve(duplicate, posting)
    later = START + timedelta(days=4 * 366)
    for day in range(FORGET_AT_ONCE):  # later earnings let the old, empty lots go
        at = later + timedelta(days=day)
        share = ContentShared(
            fact_id=f"n-{day}", patient_id="dup", occurred_at=at, content_id=f"n-{day}"
        )
        for posting in decide(share, duplicate, REFERENCE, at):
            duplicate = evolve(duplicate, posting)
    assert "dup/1" not in duplicate.lots
    merge = MergeMembers(key="merge", member_id=ME, duplicate_id="dup", operator="s", reason="r")
    at += timedelta(days=1)
    for posting in decide_merge(merge, survivor, duplicate, REFERENCE, at):
        if posting.member_id == ME:
            survivor = evolve(survivor, posting)
    again = ContentShared(fact_id="again", patient_id=ME, occurred_at=at, content_id="c-0")
    assert decide(again, survivor, REFERENCE, at) == []  # shared before: earned once


def test_a_capped_earning_dated_before_the_horizon_earns_nothing() -> None:
    state = LedgerState(member_id=ME)

    def share(at: datetime, content: str, now: datetime) -> list[Posting]:
        fact = ContentShared(fact_id=content, patient_id=ME, occurred_at=at, content_id=content)
        made = decide(fact, state, REFERENCE, now)
        return made

    for day in range(FORGET_AT_ONCE):  # a share a day, then all spent
        at = START + timedelta(days=day)
        for posting in share(at, f"c-{day}", at):
            state = evolve(state, posting)
    at += timedelta(days=1)
    for posting in decide(
        Redeem(key="all", member_id=ME, points=state.balance), state, REFERENCE, at
    ):
        state = evolve(state, posting)
    later = START + timedelta(days=4 * 366)
    for posting in share(later, "new", later):  # the old, empty lots are let go
        state = evolve(state, posting)
    assert f"{ME}/1" not in state.lots
    # a share of the first day, reported now: its day's cap cannot be reckoned any more
    assert share(START + timedelta(hours=1), "late", later) == []
    # one of last month is reckoned as ever
    last_month = later - timedelta(days=20)
    assert [p.kind.value for p in share(last_month, "recent", later)] == ["earn"]
