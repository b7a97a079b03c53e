from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import (
    AdjustPoints,
    AwardBonus,
    ChargeLine,
    ChargePaid,
    CheckedIn,
    Draw,
    EventAttended,
    ExpireDue,
    IdempotencyConflictError,
    InsufficientPointsError,
    InvalidAmountError,
    MemberMismatchError,
    NaiveInstantError,
    NotReversibleError,
    Posting,
    PostingKind,
    ProgrammeConfig,
    Provenance,
    Redeem,
    ReferralQualified,
    RefundIssued,
    ReversePosting,
    SurveyAnswered,
    TransferNotAllowedError,
    TransferPoints,
    UnknownPostingError,
    UnknownRuleError,
    reference_config,
    tiers,
)
from membercore.config import ExpiryPolicy
from membercore.ledger import LedgerState, balances, decide, decide_transfer, expiry_of
from membercore.ledger.events import Lot, LotState
from membercore.ledger.lots import spending_order
from membercore.testing.book import Book

SH = ZoneInfo("Asia/Shanghai")
MEMBER = "p-1"
SPOUSE = "p-2"
US = timedelta(microseconds=1)
_ids = itertools.count(1)


def sh(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def fid(prefix: str = "f") -> str:
    return f"{prefix}-{next(_ids)}"


def with_ledger(config: ProgrammeConfig, **changes: object) -> ProgrammeConfig:
    return attrs.evolve(config, ledger=attrs.evolve(config.ledger, **changes))


def with_expiry(mode: str, months: int = 12) -> ProgrammeConfig:
    return with_ledger(reference_config(), expiry=ExpiryPolicy(mode=mode, months=months))


@pytest.fixture
def book() -> Book:
    return Book(reference_config())


# --- helpers that apply one message and return its postings -----------------------------


def check_in(book: Book, at: datetime, member: str = MEMBER) -> list[Posting]:
    return book.apply(CheckedIn(fact_id=fid("ci"), patient_id=member, occurred_at=at), at)


def refer(book: Book, at: datetime, member: str = MEMBER) -> list[Posting]:
    fact = ReferralQualified(
        fact_id=fid("ref"),
        patient_id=member,
        occurred_at=at,
        referred_patient_id=fid("new"),
        visit_id=fid("v"),
    )
    return book.apply(fact, at)


def survey(book: Book, at: datetime, now: datetime | None = None) -> list[Posting]:
    fact = SurveyAnswered(
        fact_id=fid("sv"), patient_id=MEMBER, occurred_at=at, visit_id=fid("v"), score=5
    )
    return book.apply(fact, now or at)


def lecture(book: Book, at: datetime) -> list[Posting]:
    fact = EventAttended(fact_id=fid("ev"), patient_id=MEMBER, occurred_at=at, event_id=fid("e"))
    return book.apply(fact, at)


def pay(
    book: Book, at: datetime, amount_fen: int, charge_id: str, insurance_fen: int = 0
) -> list[Posting]:
    fact = ChargePaid(
        fact_id=fid("pay"),
        patient_id=MEMBER,
        occurred_at=at,
        charge_id=charge_id,
        lines=[
            ChargeLine(
                department="internal",
                category="exam",
                amount_fen=amount_fen,
                insurance_fen=insurance_fen,
            )
        ],
    )
    return book.apply(fact, at)


def refund(
    book: Book, at: datetime, amount_fen: int, charge_id: str, fact_id: str | None = None
) -> list[Posting]:
    fact = RefundIssued(
        fact_id=fact_id or fid("rf"),
        patient_id=MEMBER,
        occurred_at=at,
        charge_id=charge_id,
        amount_fen=amount_fen,
    )
    return book.apply(fact, at)


def redeem(book: Book, at: datetime, points: int, key: str | None = None) -> list[Posting]:
    return book.apply(Redeem(key=key or fid("rd"), member_id=MEMBER, points=points), at)


def only(postings: list[Posting], kind: PostingKind) -> Posting:
    (posting,) = [p for p in postings if p.kind is kind]
    return posting


# --- expiry -----------------------------------------------------------------------------


def test_points_earned_mid_january_2026_expire_when_february_2028_begins_in_shanghai(
    book: Book,
) -> None:
    (posting,) = check_in(book, sh(2026, 1, 15))
    # end of the 24th month after January 2026 = 2028-02-01 00:00 +08:00 = 2028-01-31T16:00Z
    expiry = datetime(2028, 1, 31, 16, tzinfo=UTC)
    assert posting.lots[0].expires_at == expiry == sh(2028, 2, 1, 0)
    assert book.balances(MEMBER, expiry - US).available == 1
    assert book.balances(MEMBER, expiry).available == 0


def test_the_expiry_month_is_the_shanghai_month_of_the_earning(book: Book) -> None:
    # 2026-01-31T17:00Z is already 1 February in Shanghai: expiry moves to 2028-03-01 00:00
    (posting,) = check_in(book, datetime(2026, 1, 31, 17, tzinfo=UTC))
    assert posting.lots[0].expires_at == datetime(2028, 2, 29, 16, tzinfo=UTC)


def test_expire_due_posts_what_is_left_of_a_lot_at_its_expiry_instant(book: Book) -> None:
    (earning,) = pay(book, sh(2026, 1, 15), 10000, "HIS-1")  # 100 points, vested 01-22
    redeem(book, sh(2026, 2, 1), 30)
    (expiry,) = book.apply(ExpireDue(member_id=MEMBER), sh(2028, 3, 1))
    assert expiry.kind is PostingKind.EXPIRE
    assert expiry.points == -70  # 100 - 30 redeemed
    assert expiry.draws == (Draw(earning.posting_id, 70),)
    assert expiry.at == datetime(2028, 1, 31, 16, tzinfo=UTC)
    assert expiry.provenance.rule_id == "ledger.expiry"
    assert book.apply(ExpireDue(member_id=MEMBER), sh(2028, 4, 1)) == []
    assert book.balances(MEMBER, sh(2028, 4, 1)).expired == 70


def test_expire_due_before_the_expiry_instant_posts_nothing(book: Book) -> None:
    check_in(book, sh(2026, 1, 15))
    assert book.apply(ExpireDue(member_id=MEMBER), sh(2028, 2, 1, 0) - US) == []
    assert len(book.apply(ExpireDue(member_id=MEMBER), sh(2028, 2, 1, 0))) == 1


def test_a_leap_day_lot_expires_on_28_february_at_the_same_wall_time_after_12_months() -> None:
    book = Book(with_expiry("inactivity", months=12))
    earned_at = sh(2028, 2, 29, 21, 30)
    (posting,) = check_in(book, earned_at)
    assert posting.lots[0].expires_at is None  # reckoned from the last activity instead
    expiry = sh(2029, 2, 28, 21, 30)  # 2029 has no 29 February
    state = book.state(MEMBER)
    assert expiry_of(state.lots[posting.posting_id], state, book.config) == expiry
    assert book.balances(MEMBER, expiry - US).available == 1
    assert book.balances(MEMBER, expiry).available == 0


def test_points_never_expire_under_the_never_policy() -> None:
    book = Book(with_expiry("never"))
    check_in(book, sh(2026, 1, 15))
    assert book.apply(ExpireDue(member_id=MEMBER), sh(2099, 12, 31)) == []
    assert book.balances(MEMBER, sh(2099, 12, 31)).available == 1


def test_under_inactivity_a_new_earning_pushes_back_the_expiry_of_older_points() -> None:
    book = Book(with_expiry("inactivity", months=12))
    check_in(book, sh(2026, 1, 10, 9))  # would expire 2027-01-10 09:00
    refer(book, sh(2026, 12, 1, 9))  # 500; every lot now expires 2027-12-01 09:00
    assert book.apply(ExpireDue(member_id=MEMBER), sh(2027, 6, 1)) == []
    assert book.balances(MEMBER, sh(2027, 12, 1, 9) - US).available == 501
    assert book.balances(MEMBER, sh(2027, 12, 1, 9)).available == 0


def test_under_inactivity_an_earning_after_the_expiry_does_not_revive_expired_points() -> None:
    book = Book(with_expiry("inactivity", months=12))
    (old,) = check_in(book, sh(2026, 1, 10, 9))  # expires 2027-01-10 09:00
    postings = refer(book, sh(2027, 2, 1, 9))
    expired = only(postings, PostingKind.EXPIRE)
    assert expired.draws == (Draw(old.posting_id, 1),)
    assert expired.at == sh(2027, 1, 10, 9)
    assert only(postings, PostingKind.EARN).points == 500
    balances = book.balances(MEMBER, sh(2027, 2, 2))
    assert (balances.available, balances.expired) == (500, 1)


# --- redemption -------------------------------------------------------------------------


def test_redeeming_consumes_the_earliest_expiring_lot_first(book: Book) -> None:
    (late,) = refer(book, sh(2026, 3, 10))  # 500, expires 2028-04-01
    # a survey of January reported late: 10 points opened second but expiring 2028-02-01
    (early,) = survey(book, sh(2026, 1, 20), now=sh(2026, 3, 11))
    (posting,) = redeem(book, sh(2026, 4, 1), 505)
    assert posting.kind is PostingKind.REDEEM
    assert posting.points == -505
    assert posting.draws == (Draw(early.posting_id, 10), Draw(late.posting_id, 495))
    assert book.balances(MEMBER, sh(2026, 4, 1)).available == 5


def test_lots_expiring_together_are_spent_oldest_earned_first(book: Book) -> None:
    (late,) = refer(book, sh(2026, 3, 20))  # 500, expires 2028-04-01
    # a survey of 5 March reported after it: opened second, same expiry, earned earlier
    (early,) = survey(book, sh(2026, 3, 5), now=sh(2026, 3, 21))
    assert late.lots[0].expires_at == early.lots[0].expires_at
    (posting,) = redeem(book, sh(2026, 4, 1), 15)
    assert posting.draws == (Draw(early.posting_id, 10), Draw(late.posting_id, 5))


def test_lots_alike_in_expiry_and_earning_are_spent_in_the_order_they_were_numbered() -> None:
    config = reference_config()
    at = sh(2026, 3, 2)
    lots = {}
    for seq in (10, 9, 11):  # opened out of order: only their ids tell them apart
        lot_id = f"{MEMBER}/{seq}"
        lot = Lot(
            lot_id=lot_id,
            points=5,
            earned_at=at,
            vests_at=at,
            expires_at=sh(2028, 4, 1),
            qualifying=True,
            rule_id="earning.check_in",
        )
        lots[lot_id] = LotState(lot=lot, remaining=5)
    state = LedgerState(member_id=MEMBER, seq=11, lots=lots)
    order = spending_order(state, config, sh(2026, 4, 1), vested=True)
    assert [held.lot.lot_id for held in order] == [f"{MEMBER}/9", f"{MEMBER}/10", f"{MEMBER}/11"]


def test_pending_points_cannot_be_redeemed(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100 pending until 03-09
    check_in(book, sh(2026, 3, 3))  # 1 available
    with pytest.raises(InsufficientPointsError) as refused:
        redeem(book, sh(2026, 3, 4), 2)
    assert (refused.value.member_id, refused.value.requested, refused.value.available) == (
        MEMBER,
        2,
        1,
    )


def test_redeeming_more_than_available_is_refused_with_member_and_amounts(book: Book) -> None:
    check_in(book, sh(2026, 3, 3))
    before = book.state(MEMBER)
    with pytest.raises(InsufficientPointsError) as refused:
        redeem(book, sh(2026, 3, 4), 50)
    assert refused.value.member_id == MEMBER
    assert refused.value.requested == 50
    assert refused.value.available == 1
    message = str(refused.value)
    assert MEMBER in message
    assert "50" in message
    assert "available 1" in message
    assert len(book.postings(MEMBER)) == 1
    assert book.state(MEMBER) == before


# --- idempotency ------------------------------------------------------------------------


def test_the_same_fact_twice_posts_once_and_leaves_the_state_unchanged(book: Book) -> None:
    fact = CheckedIn(fact_id="ci-1", patient_id=MEMBER, occurred_at=sh(2026, 3, 2))
    book.apply(fact, sh(2026, 3, 2))
    state = book.state(MEMBER)
    assert decide(fact, state, book.config, sh(2026, 3, 3)) == []
    assert book.apply(fact, sh(2026, 3, 3)) == []
    assert book.state(MEMBER) == state


def test_the_same_command_twice_posts_once(book: Book) -> None:
    refer(book, sh(2026, 3, 2))
    command = Redeem(key="rd-1", member_id=MEMBER, points=100)
    assert len(book.apply(command, sh(2026, 3, 3))) == 1
    state = book.state(MEMBER)
    assert book.apply(command, sh(2026, 3, 4)) == []
    assert book.state(MEMBER) == state
    assert book.balances(MEMBER, sh(2026, 3, 4)).available == 400


def test_a_key_reused_for_a_different_command_is_refused(book: Book) -> None:
    refer(book, sh(2026, 3, 2))
    book.apply(Redeem(key="rd-1", member_id=MEMBER, points=100), sh(2026, 3, 3))
    with pytest.raises(IdempotencyConflictError) as refused:
        book.apply(Redeem(key="rd-1", member_id=MEMBER, points=101), sh(2026, 3, 4))
    assert (refused.value.member_id, refused.value.key) == (MEMBER, "rd-1")


def test_a_fact_id_reused_for_a_different_fact_is_refused(book: Book) -> None:
    book.apply(
        CheckedIn(fact_id="x-1", patient_id=MEMBER, occurred_at=sh(2026, 3, 2)), sh(2026, 3, 2)
    )
    other = CheckedIn(fact_id="x-1", patient_id=MEMBER, occurred_at=sh(2026, 3, 5))
    with pytest.raises(IdempotencyConflictError):
        book.apply(other, sh(2026, 3, 5))


def test_the_same_fact_given_in_utc_on_redelivery_is_recognised_as_a_replay(
    book: Book,
) -> None:
    # the HIS first sends +08:00, then redelivers the very same message with a Z offset
    first = CheckedIn(fact_id="ci-1", patient_id=MEMBER, occurred_at=sh(2026, 3, 2, 10))
    again = CheckedIn(
        fact_id="ci-1", patient_id=MEMBER, occurred_at=datetime(2026, 3, 2, 2, tzinfo=UTC)
    )
    assert again == first
    book.apply(first, sh(2026, 3, 2, 10))
    assert book.apply(again, sh(2026, 3, 2, 11)) == []


def test_the_same_transfer_twice_moves_the_points_once(book: Book) -> None:
    refer(book, sh(2026, 3, 10))
    assert len(transfer(book, 100, sh(2026, 4, 1))) == 2
    assert transfer(book, 100, sh(2026, 4, 2)) == []
    assert book.balances(SPOUSE, sh(2026, 4, 3)).available == 100


# --- refunds and reversals --------------------------------------------------------------


def test_a_full_refund_reverses_all_the_points_of_the_charge(book: Book) -> None:
    (earning,) = pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100 points
    (reversal,) = refund(book, sh(2026, 3, 4), 10000, "HIS-1")
    assert reversal.kind is PostingKind.REVERSE
    assert reversal.points == -100
    assert reversal.reverses == earning.posting_id
    assert reversal.refunded_fen == 10000
    balances = book.balances(MEMBER, sh(2026, 3, 20))
    assert (balances.balance, balances.pending, balances.available) == (0, 0, 0)
    assert (balances.reversed, balances.qualifying) == (100, 0)


def test_partial_refunds_adding_up_to_the_charge_reverse_exactly_its_points(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100 points
    # cumulative: 100 x 3333 // 10000 = 33; x 6666 // 10000 = 66 (-33 more); x 10000 = 100 (-34)
    reversed_points = [
        only(refund(book, sh(2026, 3, day), amount, "HIS-1"), PostingKind.REVERSE).points
        for day, amount in ((3, 3333), (4, 3333), (5, 3334))
    ]
    assert reversed_points == [-33, -33, -34]
    assert book.balances(MEMBER, sh(2026, 3, 20)).balance == 0


def test_the_same_refund_twice_reverses_once(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")
    fact = RefundIssued(
        fact_id="rf-1",
        patient_id=MEMBER,
        occurred_at=sh(2026, 3, 3),
        charge_id="HIS-1",
        amount_fen=5000,
    )
    assert book.apply(fact, sh(2026, 3, 3))[0].points == -50
    assert book.apply(fact, sh(2026, 3, 4)) == []
    assert book.balances(MEMBER, sh(2026, 3, 20)).balance == 50


def test_reversing_an_already_reversed_earning_posts_nothing(book: Book) -> None:
    (earning,) = pay(book, sh(2026, 3, 2), 10000, "HIS-1")
    refund(book, sh(2026, 3, 3), 10000, "HIS-1")
    command = ReversePosting(
        key="rv-1",
        member_id=MEMBER,
        posting_id=earning.posting_id,
        operator="staff-7",
        reason="voided",
    )
    assert book.apply(command, sh(2026, 3, 4)) == []
    assert refund(book, sh(2026, 3, 5), 10000, "HIS-1") == []


def test_a_refund_of_a_charge_that_earned_nothing_posts_nothing(book: Book) -> None:
    assert pay(book, sh(2026, 3, 2), 10000, "HIS-1", insurance_fen=10000) == []
    assert refund(book, sh(2026, 3, 3), 10000, "HIS-1") == []
    assert refund(book, sh(2026, 3, 3), 10000, "HIS-unknown") == []
    assert book.postings(MEMBER) == []


def test_a_refund_of_spent_points_under_the_debt_policy_leaves_a_debt(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100, vested 03-09
    redeem(book, sh(2026, 3, 10), 100)
    (reversal,) = refund(book, sh(2026, 3, 11), 10000, "HIS-1")
    assert (reversal.points, reversal.debt_change, reversal.draws) == (-100, 100, ())
    balances = book.balances(MEMBER, sh(2026, 3, 12))
    assert (balances.balance, balances.available, balances.debt) == (-100, -100, 100)


def test_a_later_earning_repays_the_debt_first(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")
    redeem(book, sh(2026, 3, 10), 100)
    refund(book, sh(2026, 3, 11), 10000, "HIS-1")  # debt 100
    (earning,) = refer(book, sh(2026, 3, 12))  # 500
    assert earning.points == 500
    assert earning.debt_change == -100
    balances = book.balances(MEMBER, sh(2026, 3, 13))
    assert (balances.available, balances.debt, balances.balance) == (400, 0, 400)


def test_a_refund_of_spent_points_under_the_cap_policy_writes_off_the_rest() -> None:
    book = Book(with_ledger(reference_config(), clawback="cap"))
    (earning,) = pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100, vested 03-09
    redeem(book, sh(2026, 3, 10), 60)
    (reversal,) = refund(book, sh(2026, 3, 11), 10000, "HIS-1")
    # the member still holds 40 of the 100: those are clawed back, 60 written off
    assert reversal.draws == (Draw(earning.posting_id, 40),)
    assert (reversal.points, reversal.written_off, reversal.debt_change) == (-40, 60, 0)
    balances = book.balances(MEMBER, sh(2026, 3, 12))
    assert (balances.available, balances.debt, balances.balance) == (0, 0, 0)
    assert (balances.reversed, balances.written_off) == (40, 60)


def test_under_the_cap_policy_other_points_the_member_holds_are_clawed_back_first() -> None:
    book = Book(with_ledger(reference_config(), clawback="cap"))
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100, vested 03-09
    redeem(book, sh(2026, 3, 10), 100)
    (point,) = check_in(book, sh(2026, 3, 11))  # 1
    (reversal,) = refund(book, sh(2026, 3, 12), 10000, "HIS-1")
    # nothing left of the charge's lot: the check-in point is taken, 100 - 1 = 99 written off
    assert reversal.draws == (Draw(point.posting_id, 1),)
    assert (reversal.points, reversal.written_off, reversal.debt_change) == (-1, 99, 0)
    assert book.balances(MEMBER, sh(2026, 3, 13)).available == 0


def test_under_the_debt_policy_other_points_are_taken_before_a_debt_is_owed(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")  # 100, vested 03-09
    redeem(book, sh(2026, 3, 10), 100)
    (point,) = check_in(book, sh(2026, 3, 11))  # 1
    (reversal,) = refund(book, sh(2026, 3, 12), 10000, "HIS-1")
    assert reversal.draws == (Draw(point.posting_id, 1),)
    assert (reversal.points, reversal.debt_change) == (-100, 99)  # 1 taken + 99 owed
    assert book.balances(MEMBER, sh(2026, 3, 13)).available == -99


def test_points_of_a_refunded_earning_that_already_expired_are_not_clawed_back_twice(
    book: Book,
) -> None:
    pay(book, sh(2026, 1, 15), 10000, "HIS-1")  # 100, expires 2028-02-01 00:00
    redeem(book, sh(2026, 2, 1), 30)
    # half refunded after the expiry: the 70 left expired first; 50 reversed = 50 expired
    postings = refund(book, sh(2028, 3, 1), 5000, "HIS-1")
    assert only(postings, PostingKind.EXPIRE).points == -70
    first = only(postings, PostingKind.REVERSE)
    assert (first.points, first.offset_by_expiry, first.debt_change) == (0, 50, 0)
    # the other half: 50 more, of which 70 - 50 = 20 expired; the 30 redeemed become debt
    (second,) = refund(book, sh(2028, 3, 2), 5000, "HIS-1")
    assert (second.points, second.offset_by_expiry, second.debt_change) == (-30, 20, 30)
    assert book.balances(MEMBER, sh(2028, 3, 3)).debt == 30


def test_staff_can_reverse_a_fraudulent_referral(book: Book) -> None:
    (earning,) = refer(book, sh(2026, 3, 2))
    command = ReversePosting(
        key="rv-1",
        member_id=MEMBER,
        posting_id=earning.posting_id,
        operator="staff-7",
        reason="fraud",
    )
    (reversal,) = book.apply(command, sh(2026, 3, 3))
    assert (reversal.points, reversal.reverses) == (-500, earning.posting_id)
    assert (reversal.operator, reversal.reason) == ("staff-7", "fraud")


def test_reversing_an_unknown_posting_is_refused(book: Book) -> None:
    command = ReversePosting(
        key="rv-1", member_id=MEMBER, posting_id="p-1/99", operator="staff-7", reason="typo"
    )
    with pytest.raises(UnknownPostingError) as refused:
        book.apply(command, sh(2026, 3, 3))
    assert refused.value.posting_id == "p-1/99"


def test_reversing_a_redemption_is_refused(book: Book) -> None:
    refer(book, sh(2026, 3, 2))
    (redemption,) = redeem(book, sh(2026, 3, 3), 100)
    command = ReversePosting(
        key="rv-1", member_id=MEMBER, posting_id=redemption.posting_id, operator="s", reason="r"
    )
    with pytest.raises(NotReversibleError) as refused:
        book.apply(command, sh(2026, 3, 4))
    assert (refused.value.posting_id, refused.value.kind) == (redemption.posting_id, "redeem")


# --- adjustments ------------------------------------------------------------------------


def adjust(book: Book, points: int, at: datetime) -> list[Posting]:
    command = AdjustPoints(
        key=fid("adj"), member_id=MEMBER, points=points, operator="staff-7", reason="goodwill"
    )
    return book.apply(command, at)


def test_an_upward_adjustment_records_operator_and_reason(book: Book) -> None:
    (posting,) = adjust(book, 50, sh(2026, 3, 2))
    assert (posting.kind, posting.points) == (PostingKind.ADJUST, 50)
    assert (posting.operator, posting.reason) == ("staff-7", "goodwill")
    balances = book.balances(MEMBER, sh(2026, 3, 3))
    assert (balances.available, balances.adjusted, balances.qualifying) == (50, 50, 0)


def test_a_downward_adjustment_takes_points_away(book: Book) -> None:
    adjust(book, 50, sh(2026, 3, 2))
    (posting,) = adjust(book, -20, sh(2026, 3, 3))
    assert (posting.kind, posting.points) == (PostingKind.ADJUST, -20)
    assert (posting.operator, posting.reason) == ("staff-7", "goodwill")
    balances = book.balances(MEMBER, sh(2026, 3, 4))
    assert (balances.available, balances.adjusted) == (30, 30)  # 50 - 20


def test_a_zero_adjustment_cannot_be_built() -> None:
    with pytest.raises(InvalidAmountError) as refused:
        AdjustPoints(key="adj-0", member_id=MEMBER, points=0, operator="s", reason="r")
    assert (refused.value.member_id, refused.value.amount) == (MEMBER, 0)


def test_a_downward_adjustment_beyond_available_is_refused(book: Book) -> None:
    adjust(book, 50, sh(2026, 3, 2))
    with pytest.raises(InsufficientPointsError) as refused:
        adjust(book, -60, sh(2026, 3, 3))
    assert (refused.value.requested, refused.value.available) == (60, 50)


# --- bonuses ----------------------------------------------------------------------------


def bonus(book: Book, rule_id: str, points: int, key: str | None = None) -> list[Posting]:
    command = AwardBonus(key=key or fid("bn"), member_id=MEMBER, rule_id=rule_id, points=points)
    return book.apply(command, sh(2026, 3, 2))


def test_a_bonus_is_available_but_not_qualifying(book: Book) -> None:
    (posting,) = bonus(book, "welcome", 50)
    assert (posting.kind, posting.points) == (PostingKind.EARN, 50)
    assert posting.provenance.rule_id == "earning.bonuses.welcome"
    balances = book.balances(MEMBER, sh(2026, 3, 3))
    assert (balances.available, balances.qualifying, balances.lifetime_earned) == (50, 0, 50)


def test_a_bonus_is_capped_at_its_max_points(book: Book) -> None:
    assert bonus(book, "campaign", 1500)[0].points == 1000
    assert bonus(book, "welcome", 150)[0].points == 100


def test_the_welcome_bonus_is_awarded_only_once(book: Book) -> None:
    assert bonus(book, "welcome", 50, key="bn-1")[0].points == 50
    assert bonus(book, "welcome", 50, key="bn-2") == []


def test_an_unknown_bonus_rule_is_refused(book: Book) -> None:
    with pytest.raises(UnknownRuleError) as refused:
        bonus(book, "lottery", 88)
    assert (refused.value.member_id, refused.value.rule_id, refused.value.points) == (
        MEMBER,
        "lottery",
        88,
    )


# --- transfers --------------------------------------------------------------------------

HOUSEHOLD = frozenset({MEMBER, SPOUSE})


def transfer(
    book: Book,
    points: int,
    at: datetime,
    *,
    target: str = SPOUSE,
    household: frozenset[str] = HOUSEHOLD,
) -> list[Posting]:
    command = TransferPoints(key="tr-1", member_id=MEMBER, target_id=target, points=points)
    return book.transfer(command, at, household=household)


def test_a_transfer_posts_a_debit_to_the_giver_and_a_credit_to_the_receiver(book: Book) -> None:
    check_in(book, sh(2026, 1, 10))  # 1, expires 2028-02-01
    refer(book, sh(2026, 3, 10))  # 500, expires 2028-04-01
    out, into = transfer(book, 300, sh(2026, 4, 1))
    assert (out.member_id, out.kind, out.points, out.counterparty) == (
        MEMBER,
        PostingKind.TRANSFER,
        -300,
        SPOUSE,
    )
    assert (into.member_id, into.kind, into.points, into.counterparty) == (
        SPOUSE,
        PostingKind.TRANSFER,
        300,
        MEMBER,
    )
    assert out.idempotency_key == into.idempotency_key == "tr-1"
    now = sh(2026, 4, 1)
    assert book.balances(MEMBER, now).available == 201  # 501 - 300
    assert book.balances(SPOUSE, now).available == 300
    assert book.balances(MEMBER, now).balance + book.balances(SPOUSE, now).balance == 501


def test_transferred_points_keep_their_expiry_and_arrive_available_and_non_qualifying(
    book: Book,
) -> None:
    check_in(book, sh(2026, 1, 10))
    refer(book, sh(2026, 3, 10))
    _, into = transfer(book, 300, sh(2026, 4, 1))
    # 1 from the January lot, then 299 from the March lot
    assert [(lot.points, lot.expires_at) for lot in into.lots] == [
        (1, sh(2028, 2, 1, 0)),
        (299, sh(2028, 4, 1, 0)),
    ]
    assert all(lot.vests_at == sh(2026, 4, 1) and not lot.qualifying for lot in into.lots)
    balances = book.balances(SPOUSE, sh(2026, 4, 2))
    assert (balances.available, balances.pending, balances.qualifying) == (300, 0, 0)


def test_transferred_points_expire_at_the_givers_expiry_instant(book: Book) -> None:
    check_in(book, sh(2026, 1, 10))  # 1, expires 2028-02-01 00:00
    refer(book, sh(2026, 3, 10))  # 500, expires 2028-04-01 00:00
    transfer(book, 300, sh(2026, 4, 1))  # 1 + 299 received
    assert book.balances(SPOUSE, sh(2028, 2, 1, 0) - US).available == 300
    assert book.balances(SPOUSE, sh(2028, 2, 1, 0)).available == 299
    assert book.balances(SPOUSE, sh(2028, 4, 1, 0)).available == 0


def test_a_transfer_outside_the_household_is_refused(book: Book) -> None:
    refer(book, sh(2026, 3, 10))
    with pytest.raises(TransferNotAllowedError) as refused:
        transfer(book, 100, sh(2026, 4, 1), target="p-3")
    assert (refused.value.member_id, refused.value.target_id, refused.value.points) == (
        MEMBER,
        "p-3",
        100,
    )
    assert book.postings("p-3") == []


def test_a_transfer_to_oneself_is_refused(book: Book) -> None:
    refer(book, sh(2026, 3, 10))
    with pytest.raises(TransferNotAllowedError):
        transfer(book, 100, sh(2026, 4, 1), target=MEMBER)


def test_a_transfer_beyond_the_givers_available_points_is_refused(book: Book) -> None:
    refer(book, sh(2026, 3, 10))
    with pytest.raises(InsufficientPointsError) as refused:
        transfer(book, 501, sh(2026, 4, 1))
    assert (refused.value.member_id, refused.value.requested, refused.value.available) == (
        MEMBER,
        501,
        500,
    )
    assert book.postings(SPOUSE) == []


# --- provenance and statement -----------------------------------------------------------


def test_a_redemption_records_the_ledger_rule_version_and_the_command_key() -> None:
    book = Book(with_ledger(reference_config(), version=4))
    refer(book, sh(2026, 3, 2))
    (posting,) = book.apply(Redeem(key="rd-9", member_id=MEMBER, points=10), sh(2026, 3, 3))
    assert posting.provenance == Provenance(
        rule_id="ledger.redeem", rule_version=4, trigger_type="redeem", trigger_id="rd-9"
    )
    assert posting.idempotency_key == "rd-9"


def test_a_refund_reversal_records_the_refund_fact(book: Book) -> None:
    pay(book, sh(2026, 3, 2), 10000, "HIS-1")
    (reversal,) = refund(book, sh(2026, 3, 3), 10000, "HIS-1", fact_id="rf-7")
    assert reversal.provenance == Provenance(
        rule_id="ledger.reverse", rule_version=1, trigger_type="refund_issued", trigger_id="rf-7"
    )


def test_a_bonus_records_its_own_rule_version() -> None:
    config = reference_config()
    welcome = attrs.evolve(config.earning.bonuses["welcome"], version=2)
    bonuses = {**config.earning.bonuses, "welcome": welcome}
    book = Book(attrs.evolve(config, earning=attrs.evolve(config.earning, bonuses=bonuses)))
    command = AwardBonus(key="bn-1", member_id=MEMBER, rule_id="welcome", points=50)
    (posting,) = book.apply(command, sh(2026, 3, 2))
    assert posting.provenance == Provenance(
        rule_id="earning.bonuses.welcome",
        rule_version=2,
        trigger_type="award_bonus",
        trigger_id="bn-1",
    )


def test_adjustments_reversals_and_transfers_record_the_command_behind_them() -> None:
    book = Book(with_ledger(reference_config(), version=3))
    (earning,) = refer(book, sh(2026, 3, 2))
    adjustment = AdjustPoints(key="adj-1", member_id=MEMBER, points=5, operator="s", reason="r")
    (adjusted,) = book.apply(adjustment, sh(2026, 3, 3))
    out, into = transfer(book, 5, sh(2026, 3, 4))
    reversal_command = ReversePosting(
        key="rv-1", member_id=MEMBER, posting_id=earning.posting_id, operator="s", reason="r"
    )
    (reversal,) = book.apply(reversal_command, sh(2026, 3, 5))
    assert adjusted.provenance == Provenance(
        rule_id="ledger.adjust", rule_version=3, trigger_type="adjust_points", trigger_id="adj-1"
    )
    assert (
        out.provenance
        == into.provenance
        == Provenance(
            rule_id="ledger.transfer",
            rule_version=3,
            trigger_type="transfer_points",
            trigger_id="tr-1",
        )
    )
    assert reversal.provenance == Provenance(
        rule_id="ledger.reverse", rule_version=3, trigger_type="reverse_posting", trigger_id="rv-1"
    )


def test_an_expiry_records_the_lot_that_expired(book: Book) -> None:
    (earning,) = check_in(book, sh(2026, 1, 15))
    (expiry,) = book.apply(ExpireDue(member_id=MEMBER), sh(2028, 2, 1, 0))
    assert expiry.provenance == Provenance(
        rule_id="ledger.expiry",
        rule_version=1,
        trigger_type="expire_due",
        trigger_id=earning.posting_id,
    )


def test_the_statement_explains_the_balance_line_by_line(book: Book) -> None:
    refer(book, sh(2026, 3, 2))  # +500
    book.apply(Redeem(key="rd-1", member_id=MEMBER, points=120), sh(2026, 3, 3))  # -120
    check_in(book, sh(2026, 3, 4))  # +1
    lines = book.statement(MEMBER)
    assert [(line.kind, line.points, line.balance) for line in lines] == [
        ("earn", 500, 500),
        ("redeem", -120, 380),
        ("earn", 1, 381),
    ]
    assert lines[1].rule == "ledger.redeem v1"
    assert lines[1].trigger == "redeem rd-1"
    assert lines[2].rule == "earning.check_in v1"
    assert lines[-1].balance == book.balances(MEMBER, sh(2026, 3, 5)).balance == 381


# --- balances ---------------------------------------------------------------------------


def test_balances_of_a_month_of_activity() -> None:
    book = Book(reference_config())
    check_in(book, sh(2026, 3, 2, 9))  # 1
    # 200 yuan exam, 50 by insurance: 150 points, pending until 03-09 10:00
    pay(book, sh(2026, 3, 2), 20000, "HIS-1", insurance_fen=5000)
    lecture(book, sh(2026, 3, 5))  # 20
    redeem(book, sh(2026, 3, 12), 100)  # all expire 2028-04-01: check-in 1, then 99 of charge
    # 25 yuan refunded out of 200: 150 x 2500 // 20000 = 18 (18.75)
    refund(book, sh(2026, 3, 13), 2500, "HIS-1")
    drugs = ChargePaid(  # 80 yuan of drugs at 1 per 2 yuan = 40, pending until 03-25
        fact_id="pay-2",
        patient_id=MEMBER,
        occurred_at=sh(2026, 3, 18),
        charge_id="HIS-2",
        lines=[ChargeLine(department="pharmacy", category="drug", amount_fen=8000)],
    )
    book.apply(drugs, sh(2026, 3, 18))
    b = book.balances(MEMBER, sh(2026, 3, 20))
    # lots left: check-in 0, charge 150 - 99 - 18 = 33, lecture 20; drug 40 pending
    assert (b.available, b.pending) == (53, 40)
    assert b.lifetime_earned == 1 + 150 + 20 + 40
    assert (b.redeemed, b.reversed, b.expired, b.debt) == (100, 18, 0, 0)
    assert b.qualifying == 1 + (150 - 18) + 20 + 40
    assert b.balance == 211 - 100 - 18 == b.available + b.pending


def test_qualifying_points_exclude_earnings_before_the_window_start(book: Book) -> None:
    check_in(book, sh(2026, 3, 2))  # 1
    lecture(book, sh(2026, 3, 5))  # 20
    refer(book, sh(2026, 3, 8))  # 500
    now = sh(2026, 3, 20)
    state = book.state(MEMBER)
    assert balances(state, book.config, now).qualifying == 521
    assert balances(state, book.config, now, qualifying_since=sh(2026, 3, 5)).qualifying == 520


def test_the_default_qualifying_window_is_the_last_twelve_months(book: Book) -> None:
    lecture(book, sh(2026, 1, 10))  # 20, outside the window at 2027-03-01
    lecture(book, sh(2026, 6, 1))  # 20, inside
    assert book.balances(MEMBER, sh(2027, 3, 1)).qualifying == 20


def with_tier_window(**changes: object) -> ProgrammeConfig:
    config = reference_config()
    return attrs.evolve(config, tiers=attrs.evolve(config.tiers, **changes))


def test_qualifying_points_follow_a_calendar_year_tier_window() -> None:
    book = Book(with_tier_window(window="calendar_year"))
    lecture(book, sh(2026, 12, 31, 23, 30))  # 20, in 2026 in Shanghai
    lecture(book, sh(2027, 1, 1, 0, 30))  # 20, in 2027
    now = sh(2027, 6, 1)
    assert book.balances(MEMBER, now).qualifying == 20
    assert (
        tiers.qualification(
            tiers.TierState(member_id=MEMBER), book.state(MEMBER), book.config, now
        ).points
        == 20
    )


def test_qualifying_points_follow_a_shorter_rolling_tier_window() -> None:
    book = Book(with_tier_window(window_months=6))
    lecture(book, sh(2026, 1, 10))  # 20, more than six months before 2026-09-01
    lecture(book, sh(2026, 6, 1))  # 20, inside
    assert book.balances(MEMBER, sh(2026, 9, 1)).qualifying == 20
    assert balances(book.state(MEMBER), book.config, sh(2026, 9, 1)).qualifying == 20


@given(
    window=st.sampled_from(["rolling", "calendar_year"]),
    months=st.integers(min_value=1, max_value=24),
    days=st.lists(st.integers(min_value=0, max_value=900), min_size=1, max_size=8),
    later=st.integers(min_value=0, max_value=900),
)
def test_qualifying_points_are_what_the_tier_ladder_counts(
    window: str, months: int, days: list[int], later: int
) -> None:
    book = Book(with_tier_window(window=window, window_months=months))
    start = sh(2026, 1, 1)
    for day in sorted(days):
        lecture(book, start + timedelta(days=day))
    now = start + timedelta(days=max(days) + later)
    counted = tiers.qualification(
        tiers.TierState(member_id=MEMBER), book.state(MEMBER), book.config, now
    )
    assert book.balances(MEMBER, now).qualifying == counted.points


# --- errors -----------------------------------------------------------------------------


def naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None)


def test_a_naive_decision_instant_is_refused(book: Book) -> None:
    fact = CheckedIn(fact_id="ci-1", patient_id=MEMBER, occurred_at=sh(2026, 3, 2))
    with pytest.raises(NaiveInstantError) as refused:
        book.apply(fact, naive(sh(2026, 3, 2)))
    assert refused.value.field == "now"


def test_a_fact_with_a_naive_occurrence_instant_cannot_be_built() -> None:
    with pytest.raises(NaiveInstantError) as refused:
        CheckedIn(fact_id="ci-1", patient_id=MEMBER, occurred_at=naive(sh(2026, 3, 2)))
    assert refused.value.field == "occurred_at"


def test_balances_at_a_naive_instant_are_refused(book: Book) -> None:
    with pytest.raises(NaiveInstantError):
        book.balances(MEMBER, naive(sh(2026, 3, 2)))


def test_a_naive_qualifying_window_start_is_refused(book: Book) -> None:
    check_in(book, sh(2026, 3, 2))
    with pytest.raises(NaiveInstantError):
        balances(
            book.state(MEMBER),
            book.config,
            sh(2026, 3, 20),
            qualifying_since=naive(sh(2026, 3, 1)),
        )


def test_a_transfer_at_a_naive_instant_is_refused(book: Book) -> None:
    refer(book, sh(2026, 3, 2))
    with pytest.raises(NaiveInstantError):
        transfer(book, 10, naive(sh(2026, 3, 3)))


def test_a_command_for_another_member_is_refused() -> None:
    state = LedgerState(member_id=MEMBER)
    command = Redeem(key="rd-1", member_id=SPOUSE, points=1)
    with pytest.raises(MemberMismatchError) as refused:
        decide(command, state, reference_config(), sh(2026, 3, 2))
    assert (refused.value.member_id, refused.value.given) == (MEMBER, SPOUSE)


def test_a_fact_about_another_patient_is_refused() -> None:
    fact = CheckedIn(fact_id="ci-1", patient_id=SPOUSE, occurred_at=sh(2026, 3, 2))
    with pytest.raises(MemberMismatchError):
        decide(fact, LedgerState(member_id=MEMBER), reference_config(), sh(2026, 3, 2))


def test_expire_due_for_another_member_is_refused() -> None:
    with pytest.raises(MemberMismatchError):
        decide(
            ExpireDue(member_id=SPOUSE),
            LedgerState(member_id=MEMBER),
            reference_config(),
            sh(2026, 3, 2),
        )


def test_a_transfer_whose_ledgers_do_not_match_the_command_is_refused() -> None:
    command = TransferPoints(key="tr-1", member_id=MEMBER, target_id=SPOUSE, points=1)
    with pytest.raises(MemberMismatchError):
        decide_transfer(
            command,
            LedgerState(member_id=MEMBER),
            LedgerState(member_id="p-3"),
            reference_config(),
            sh(2026, 3, 2),
            household=HOUSEHOLD,
        )
