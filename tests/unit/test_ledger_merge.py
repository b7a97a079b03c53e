from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    MergeMembers,
    PostingKind,
    Redeem,
    RefundIssued,
    ReversePosting,
    TransferNotAllowedError,
    UnknownPostingError,
    reference_config,
)
from membercore.config import ExpiryPolicy
from membercore.ledger import qualifying_points, replay
from membercore.serialization import message_from_dict, message_to_dict
from membercore.testing import Book

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 4, 1, 10, 0, tzinfo=SHANGHAI)
KEEP, DUP = "p-1001", "p-2002"  # one person, registered twice


def _charge(member: str, fact_id: str, charge_id: str, yuan: int, at: datetime) -> ChargePaid:
    line = ChargeLine(department="internal", category="consult", amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id, patient_id=member, occurred_at=at, charge_id=charge_id, lines=[line]
    )


def _merge(key: str = "merge-1") -> MergeMembers:
    return MergeMembers(
        key=key,
        member_id=KEEP,
        duplicate_id=DUP,
        operator="staff-07",
        reason="同一身份证号重复建档",
    )


def _book() -> Book:
    book = Book(reference_config())
    book.apply(_charge(KEEP, "f1", "c1", 300, T0), T0)  # 300 points
    book.apply(_charge(DUP, "f2", "c2", 800, T0), T0)  # 800 points
    return book


def test_a_merge_moves_every_point_and_conserves_them() -> None:
    book = _book()
    later = T0 + timedelta(days=10)
    book.apply(Redeem(key="r1", member_id=DUP, points=200), later)
    postings = book.merge(_merge(), later)
    out, into = postings
    assert (out.member_id, out.kind, out.points) == (DUP, PostingKind.MERGE, -600)
    assert (into.member_id, into.kind, into.points) == (KEEP, PostingKind.MERGE, 600)
    assert out.idempotency_key == into.idempotency_key == "merge-1"
    assert book.balances(KEEP, later).available == 300 + 600
    assert book.balances(DUP, later).balance == 0
    assert book.balances(KEEP, later).merged == 600
    assert book.state(DUP).lots == {}


def test_moved_lots_keep_vesting_expiry_and_qualifying_history() -> None:
    book = _book()
    soon = T0 + timedelta(days=2)  # the duplicate's points are still pending
    book.merge(_merge(), soon)
    moved = book.state(KEEP).lots[f"{DUP}/1"]
    assert moved.lot.vests_at == T0 + timedelta(days=7)
    assert moved.lot.expires_at == datetime(2028, 5, 1, tzinfo=SHANGHAI)  # end of the 24th month
    assert book.balances(KEEP, soon).pending == 300 + 800
    assert book.balances(KEEP, T0 + timedelta(days=7)).available == 1_100
    # the duplicate's earnings count toward the survivor's tier
    assert qualifying_points(book.state(KEEP), T0, T0 + timedelta(days=1)) == 1_100


def test_spent_history_still_counts_toward_tiers_after_the_merge() -> None:
    book = _book()
    later = T0 + timedelta(days=8)
    book.apply(Redeem(key="r1", member_id=DUP, points=800), later)  # all spent
    book.merge(_merge(), later)
    assert qualifying_points(book.state(KEEP), T0, later) == 300 + 800


def test_a_refund_of_the_duplicates_charge_reverses_on_the_survivor() -> None:
    book = _book()
    book.merge(_merge(), T0 + timedelta(days=1))
    refund = RefundIssued(
        fact_id="f3",
        patient_id=KEEP,
        occurred_at=T0 + timedelta(days=3),
        charge_id="c2",
        amount_fen=40_000,
    )
    (reversal,) = book.apply(refund, T0 + timedelta(days=3))
    assert reversal.reverses == f"{DUP}/1"
    assert reversal.points == -400  # half of the 800 yuan charge


def test_a_fact_the_duplicate_took_is_not_taken_again_under_the_survivors_id() -> None:
    book = _book()
    book.merge(_merge(), T0 + timedelta(days=1))
    again = _charge(KEEP, "f2", "c2", 800, T0)  # f2 re-sent, now addressed to KEEP
    assert book.apply(again, T0 + timedelta(days=2)) == []


def test_a_debt_of_the_duplicate_is_repaid_from_the_survivors_points() -> None:
    book = _book()
    later = T0 + timedelta(days=8)
    book.apply(Redeem(key="r1", member_id=DUP, points=800), later)
    refund = RefundIssued(
        fact_id="f3", patient_id=DUP, occurred_at=later, charge_id="c2", amount_fen=80_000
    )
    book.apply(refund, later)  # the 800 spent points are clawed back: debt 800
    assert book.balances(DUP, later).debt == 800
    (_, into) = book.merge(_merge(), later)
    assert into.debt_change == 800 - 300  # the survivor's 300 points repay part of it
    balances = book.balances(KEEP, later)
    assert (balances.available, balances.debt, balances.balance) == (-500, 500, -500)


def test_merging_twice_changes_nothing_and_a_record_cannot_merge_into_itself() -> None:
    book = _book()
    book.merge(_merge(), T0 + timedelta(days=1))
    assert book.merge(_merge(), T0 + timedelta(days=2)) == []
    with pytest.raises(TransferNotAllowedError, match="itself"):
        book.merge(attrs.evolve(_merge("merge-2"), duplicate_id=KEEP), T0 + timedelta(days=2))


def test_the_duplicates_earnings_are_reversed_on_the_survivor_not_on_the_duplicate() -> None:
    book = _book()
    book.merge(_merge(), T0 + timedelta(days=1))
    staff = {"operator": "staff-07", "reason": "虚假推荐"}
    with pytest.raises(UnknownPostingError):
        book.apply(ReversePosting(key="rv1", member_id=DUP, posting_id=f"{DUP}/1", **staff), T0)
    (reversal,) = book.apply(
        ReversePosting(key="rv2", member_id=KEEP, posting_id=f"{DUP}/1", **staff),
        T0 + timedelta(days=2),
    )
    assert reversal.points == -800


def test_a_check_in_of_the_duplicate_counts_toward_the_survivors_daily_cap() -> None:
    book = _book()
    book.apply(CheckedIn(fact_id="ci-1", patient_id=DUP, occurred_at=T0), T0)
    book.merge(_merge(), T0 + timedelta(hours=1))
    same_day = CheckedIn(fact_id="ci-2", patient_id=KEEP, occurred_at=T0 + timedelta(hours=2))
    assert book.apply(same_day, T0 + timedelta(hours=2)) == []


def test_both_ledgers_replay_to_the_same_state_after_a_merge() -> None:
    book = _book()
    book.merge(_merge(), T0 + timedelta(days=1))
    for member in (KEEP, DUP):
        assert replay(member, book.postings(member)) == book.state(member)
    lines = book.statement(KEEP)
    assert lines[-1].kind == "merge"
    assert f"with {DUP}" in lines[-1].note


def test_under_inactivity_expiry_the_survivors_points_run_from_the_later_activity() -> None:
    config = reference_config()
    config = attrs.evolve(
        config,
        ledger=attrs.evolve(config.ledger, expiry=ExpiryPolicy(mode="inactivity", months=12)),
    )
    book = Book(config)
    book.apply(_charge(KEEP, "f1", "c1", 300, T0), T0)  # the survivor: quiet since T0
    now = T0 + timedelta(days=330)
    last_week = now - timedelta(days=7)
    book.apply(_charge(DUP, "f2", "c2", 800, last_week), last_week)
    (_, into) = book.merge(_merge(), now)
    assert into.carried_activity_at == last_week
    survivor = book.state(KEEP)
    assert survivor.last_activity_at == last_week
    assert book.balances(KEEP, now + timedelta(days=40)).available == 300 + 800
    assert replay(KEEP, book.postings(KEEP)) == survivor


def test_a_merge_posting_stored_without_the_carried_activity_still_reads() -> None:
    book = _book()
    (_, into) = book.merge(_merge(), T0 + timedelta(days=1))
    stored = message_to_dict(into)
    del stored["carried_activity_at"]
    read = message_from_dict(stored)
    assert read == attrs.evolve(into, carried_activity_at=None)
    assert replay(KEEP, [*book.postings(KEEP)[:-1], read]).last_activity_at == T0
