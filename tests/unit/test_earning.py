from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    EventAttended,
    Fact,
    Posting,
    PostingKind,
    ProgrammeConfig,
    Provenance,
    ReferralQualified,
    RehabPlanJoined,
    SurveyAnswered,
    reference_config,
)
from membercore.config import Rate, SpendingRule
from membercore.ledger.earning import spending_points
from membercore.testing.book import Book

SH = ZoneInfo("Asia/Shanghai")
MEMBER = "p-1"
_ids = itertools.count(1)


def sh(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def fid(prefix: str = "f") -> str:
    return f"{prefix}-{next(_ids)}"


def with_earning(config: ProgrammeConfig, **rules: object) -> ProgrammeConfig:
    return attrs.evolve(config, earning=attrs.evolve(config.earning, **rules))


@pytest.fixture
def book() -> Book:
    return Book(reference_config())


def points(postings: list[Posting]) -> int:
    return sum(posting.points for posting in postings)


def check_in(book: Book, at: datetime) -> int:
    fact = CheckedIn(fact_id=fid("ci"), patient_id=MEMBER, occurred_at=at)
    return points(book.apply(fact, at))


def charge(
    *lines: ChargeLine, at: datetime | None = None, charge_id: str | None = None
) -> ChargePaid:
    return ChargePaid(
        fact_id=fid("pay"),
        patient_id=MEMBER,
        occurred_at=at or sh(2026, 3, 2),
        charge_id=charge_id or fid("chg"),
        lines=lines,
    )


def line(category: str, amount_fen: int, insurance_fen: int = 0) -> ChargeLine:
    return ChargeLine(
        department="internal", category=category, amount_fen=amount_fen, insurance_fen=insurance_fen
    )


def earn_charge(book: Book, fact: ChargePaid, tier: str | None = None) -> int:
    return points(book.apply(fact, fact.occurred_at, tier=tier))


def share(book: Book, at: datetime) -> int:
    fact = ContentShared(fact_id=fid("sh"), patient_id=MEMBER, occurred_at=at, content_id=fid("c"))
    return points(book.apply(fact, at))


def like(book: Book, at: datetime) -> int:
    fact = ContentLiked(fact_id=fid("lk"), patient_id=MEMBER, occurred_at=at, content_id=fid("c"))
    return points(book.apply(fact, at))


def attend(book: Book, event_id: str, kind: str, at: datetime | None = None) -> int:
    at = at or sh(2026, 3, 5)
    fact = EventAttended(
        fact_id=fid("ev"), patient_id=MEMBER, occurred_at=at, event_id=event_id, event_kind=kind
    )
    return points(book.apply(fact, at))


# --- check-in -------------------------------------------------------------------------


def test_a_check_in_earns_one_point_available_at_once(book: Book) -> None:
    at = sh(2026, 3, 10, 9)
    assert check_in(book, at) == 1
    assert book.balances(MEMBER, at).available == 1
    assert book.balances(MEMBER, at).pending == 0


def test_a_second_check_in_on_the_same_shanghai_day_earns_nothing(book: Book) -> None:
    assert check_in(book, sh(2026, 3, 10, 8)) == 1
    assert check_in(book, sh(2026, 3, 10, 20)) == 0
    assert book.balances(MEMBER, sh(2026, 3, 11)).available == 1


def test_check_ins_at_2359_and_0001_shanghai_time_both_earn_on_one_utc_date(book: Book) -> None:
    late = sh(2026, 3, 10, 23, 59)  # = 2026-03-10T15:59Z
    early = sh(2026, 3, 11, 0, 1)  # = 2026-03-10T16:01Z, same UTC date
    assert late.astimezone(UTC).date() == early.astimezone(UTC).date()
    assert check_in(book, late) == 1
    assert check_in(book, early) == 1


def test_check_ins_either_side_of_utc_midnight_on_one_shanghai_day_earn_once(book: Book) -> None:
    before = sh(2026, 3, 11, 7, 59)  # = 2026-03-10T23:59Z
    after = sh(2026, 3, 11, 8, 1)  # = 2026-03-11T00:01Z, next UTC date, same Shanghai day
    assert before.astimezone(UTC).date() != after.astimezone(UTC).date()
    assert check_in(book, before) == 1
    assert check_in(book, after) == 0


def test_check_ins_given_in_utc_are_counted_by_the_shanghai_day(book: Book) -> None:
    # 2026-03-10T16:30Z is 2026-03-11 00:30 in Shanghai: a new day after a 23:00 check-in.
    assert check_in(book, sh(2026, 3, 10, 23)) == 1
    assert check_in(book, datetime(2026, 3, 10, 16, 30, tzinfo=UTC)) == 1
    # and 2026-03-11T03:00Z is 11:00 the same Shanghai day.
    assert check_in(book, datetime(2026, 3, 11, 3, tzinfo=UTC)) == 0


# --- spending -------------------------------------------------------------------------


def test_spending_earns_one_point_per_yuan_by_default(book: Book) -> None:
    # 123.45 yuan at 1 per yuan = 123.45 -> 123
    assert earn_charge(book, charge(line("exam", 12345))) == 123


def test_drugs_earn_one_point_per_two_yuan(book: Book) -> None:
    # 100 yuan / 2 = 50
    assert earn_charge(book, charge(line("drug", 10000))) == 50


def test_checkups_earn_two_points_per_yuan(book: Book) -> None:
    # 100 yuan x 2 = 200
    assert earn_charge(book, charge(line("checkup", 10000))) == 200


def test_the_part_paid_by_medical_insurance_never_earns(book: Book) -> None:
    # 100 yuan of which 60 by 医保: 40 yuan self-paid -> 40
    assert earn_charge(book, charge(line("exam", 10000, insurance_fen=6000))) == 40


def test_a_charge_paid_entirely_by_insurance_posts_nothing(book: Book) -> None:
    assert book.apply(charge(line("exam", 10000, insurance_fen=10000)), sh(2026, 3, 2)) == []
    assert book.postings(MEMBER) == []


def test_mixed_lines_earn_at_each_lines_category_rate(book: Book) -> None:
    # exam 30 yuan -> 30, drug 40 yuan -> 20, checkup 50 yuan -> 100: 150
    fact = charge(line("exam", 3000), line("drug", 4000), line("checkup", 5000))
    assert earn_charge(book, fact) == 150


def test_the_l3_tier_multiplies_spending_points_by_one_and_a_half(book: Book) -> None:
    # 100 yuan -> 100 points x 1.5 = 150
    assert earn_charge(book, charge(line("exam", 10000)), tier="L3") == 150


def test_a_tier_without_a_multiplier_earns_at_the_base_rate(book: Book) -> None:
    assert earn_charge(book, charge(line("exam", 10000)), tier="staff") == 100


def test_fractions_of_a_point_are_dropped_once_on_the_whole_charge(book: Book) -> None:
    # three drug lines of 3 yuan: 1.5 each, 4.5 together -> 4 (per line it would be 3)
    fact = charge(line("drug", 300), line("drug", 300), line("drug", 300))
    assert earn_charge(book, fact) == 4


def test_the_tier_multiplier_applies_before_the_fraction_is_dropped(book: Book) -> None:
    # exam 10.50 yuan -> 10.5; drug 3.33 yuan -> 1.665; sum 12.165 x 1.2 (L2) = 14.598 -> 14
    # (dropping fractions first would give (10 + 1) x 1.2 = 13.2 -> 13)
    fact = charge(line("exam", 1050), line("drug", 333))
    assert earn_charge(book, fact, tier="L2") == 14


@given(
    lines=st.lists(
        st.tuples(
            st.integers(0, 10**9),
            st.integers(0, 50),
            st.integers(1, 40),
            st.sampled_from(["exam", "drug", "surgery"]),
        ),
        min_size=1,
        max_size=6,
    ),
    multiplier=st.integers(0, 400),
)
def test_spending_points_are_the_exact_rational_sum_with_the_fraction_dropped_once(
    lines: list[tuple[int, int, int, str]], multiplier: int
) -> None:
    # Each line at its own rate (category by category), the sum times the multiplier,
    # truncated once: the same as exact fractions.
    rates = {
        category: Rate(points=points, per_yuan=per_yuan) for _, points, per_yuan, category in lines
    }
    rule = SpendingRule(category_rates=rates, tier_multipliers_pct={"T": multiplier})
    fact = charge(*(line(category, fen) for fen, _, _, category in lines))
    exact = sum(
        (
            Fraction(
                paid.self_paid_fen * rates[paid.category].points,
                rates[paid.category].per_yuan * 100,
            )
            for paid in fact.lines
        ),
        Fraction(0),
    )
    assert spending_points(fact, rule, "T") == int(exact * Fraction(multiplier, 100))


def test_a_charge_earns_once_even_when_reported_twice_under_different_fact_ids(
    book: Book,
) -> None:
    assert earn_charge(book, charge(line("exam", 10000), charge_id="HIS-1")) == 100
    assert earn_charge(book, charge(line("exam", 10000), charge_id="HIS-1")) == 0


def test_a_spending_lot_remembers_the_charge_total_as_its_basis(book: Book) -> None:
    fact = charge(line("exam", 10000, insurance_fen=6000), line("drug", 2000))
    (posting,) = book.apply(fact, fact.occurred_at)
    (lot,) = posting.lots
    # 40 yuan self-paid exam -> 40, drug 20 yuan -> 10
    assert lot.points == 50
    assert lot.basis_fen == 12000
    assert lot.reference == fact.charge_id


# --- vesting --------------------------------------------------------------------------


def test_spending_points_are_pending_for_exactly_seven_days(book: Book) -> None:
    at = sh(2026, 3, 2, 14, 30)
    earn_charge(book, charge(line("exam", 10000), at=at))
    just_before = book.balances(MEMBER, at + timedelta(days=7) - timedelta(microseconds=1))
    assert (just_before.pending, just_before.available) == (100, 0)
    on_time = book.balances(MEMBER, at + timedelta(days=7))
    assert (on_time.pending, on_time.available) == (0, 100)


def test_a_spending_lot_vests_seven_days_after_the_charge(book: Book) -> None:
    at = sh(2026, 3, 2, 14, 30)
    (posting,) = book.apply(charge(line("exam", 10000), at=at), at)
    assert posting.lots[0].vests_at == sh(2026, 3, 9, 14, 30)


def test_check_in_points_vest_the_instant_they_are_earned(book: Book) -> None:
    at = sh(2026, 3, 2, 8)
    (posting,) = book.apply(CheckedIn(fact_id="ci-x", patient_id=MEMBER, occurred_at=at), at)
    assert posting.lots[0].vests_at == at


# --- events ---------------------------------------------------------------------------


def test_a_health_lecture_earns_twenty_points(book: Book) -> None:
    assert attend(book, "lec-1", "lecture") == 20


def test_a_member_day_earns_thirty_points(book: Book) -> None:
    assert attend(book, "md-1", "member_day") == 30


def test_an_event_kind_without_its_own_points_earns_the_default_twenty(book: Book) -> None:
    assert attend(book, "clinic-open-day", "open_day") == 20


def test_attending_the_same_event_twice_earns_once(book: Book) -> None:
    assert attend(book, "lec-1", "lecture") == 20
    assert attend(book, "lec-1", "lecture", at=sh(2026, 3, 5, 15)) == 0
    assert attend(book, "lec-2", "lecture") == 20


# --- sharing --------------------------------------------------------------------------


def test_sharing_earns_five_points(book: Book) -> None:
    assert share(book, sh(2026, 3, 2)) == 5


def test_the_fourth_share_of_a_shanghai_day_earns_nothing(book: Book) -> None:
    earned = [share(book, sh(2026, 3, 2, hour)) for hour in (9, 12, 15, 18)]
    assert earned == [5, 5, 5, 0]  # daily cap 15 = 3 shares
    assert share(book, sh(2026, 3, 3, 9)) == 5  # a new Shanghai day


def test_sharing_stops_at_the_monthly_cap_of_two_hundred(book: Book) -> None:
    # 13 days x 3 shares x 5 = 195 points; on day 14 one more share reaches 200
    for day in range(1, 14):
        for hour in (9, 12, 15):
            assert share(book, sh(2026, 3, day, hour)) == 5
    assert share(book, sh(2026, 3, 14, 9)) == 5
    assert share(book, sh(2026, 3, 14, 12)) == 0
    assert share(book, sh(2026, 3, 20, 9)) == 0
    assert share(book, sh(2026, 4, 1, 9)) == 5  # a new month


def test_a_partly_used_monthly_cap_awards_only_what_is_left() -> None:
    config = reference_config()
    config = with_earning(config, sharing=attrs.evolve(config.earning.sharing, monthly_cap=12))
    book = Book(config)
    # 5 + 5 = 10 on the 2nd; on the 3rd only 12 - 10 = 2 is left
    assert [share(book, sh(2026, 3, 2, h)) for h in (9, 12)] == [5, 5]
    assert share(book, sh(2026, 3, 3, 9)) == 2
    assert share(book, sh(2026, 3, 3, 12)) == 0


def test_a_partly_used_daily_cap_awards_only_what_is_left() -> None:
    config = reference_config()
    config = with_earning(config, sharing=attrs.evolve(config.earning.sharing, daily_cap=12))
    book = Book(config)
    # 5 + 5 + min(5, 12 - 10) = 12
    assert [share(book, sh(2026, 3, 2, h)) for h in (9, 12, 15, 18)] == [5, 5, 2, 0]


# --- referral, survey, rehab ------------------------------------------------------------


def refer(book: Book, referred: str, visit: str) -> int:
    at = sh(2026, 3, 8)
    fact = ReferralQualified(
        fact_id=fid("ref"),
        patient_id=MEMBER,
        occurred_at=at,
        referred_patient_id=referred,
        visit_id=visit,
    )
    return points(book.apply(fact, at))


def survey(book: Book, visit: str, score: int) -> int:
    at = sh(2026, 3, 9)
    fact = SurveyAnswered(
        fact_id=fid("sv"), patient_id=MEMBER, occurred_at=at, visit_id=visit, score=score
    )
    return points(book.apply(fact, at))


def join_rehab(book: Book, plan: str) -> int:
    at = sh(2026, 3, 12)
    fact = RehabPlanJoined(fact_id=fid("rh"), patient_id=MEMBER, occurred_at=at, plan_id=plan)
    return points(book.apply(fact, at))


def test_a_qualified_referral_earns_five_hundred_points(book: Book) -> None:
    assert refer(book, "p-new", "v-1") == 500


def test_a_referred_patient_earns_the_referrer_points_only_once(book: Book) -> None:
    assert refer(book, "p-new", "v-1") == 500
    assert refer(book, "p-new", "v-2") == 0
    assert refer(book, "p-other", "v-3") == 500


def test_a_survey_earns_ten_points_whatever_the_score(book: Book) -> None:
    assert survey(book, "v-1", score=1) == 10
    assert survey(book, "v-2", score=10) == 10


def test_a_visit_survey_earns_only_once(book: Book) -> None:
    assert survey(book, "v-1", score=3) == 10
    assert survey(book, "v-1", score=5) == 0


def test_joining_a_rehab_plan_earns_one_hundred_points_once(book: Book) -> None:
    assert join_rehab(book, "plan-1") == 100
    assert join_rehab(book, "plan-1") == 0
    assert join_rehab(book, "plan-2") == 100


# --- liking ---------------------------------------------------------------------------


def test_liking_earns_one_point_up_to_five_a_day(book: Book) -> None:
    earned = [like(book, sh(2026, 3, 2, hour)) for hour in range(9, 15)]
    assert earned == [1, 1, 1, 1, 1, 0]
    assert like(book, sh(2026, 3, 3, 9)) == 1


def test_liking_points_are_available_but_not_qualifying(book: Book) -> None:
    for hour in (9, 10, 11):
        like(book, sh(2026, 3, 2, hour))
    balances = book.balances(MEMBER, sh(2026, 3, 3))
    assert balances.available == 3
    assert balances.qualifying == 0


def test_a_disabled_rule_earns_nothing() -> None:
    config = reference_config()
    config = with_earning(config, check_in=attrs.evolve(config.earning.check_in, enabled=False))
    book = Book(config)
    assert check_in(book, sh(2026, 3, 2)) == 0


# --- provenance of earnings -----------------------------------------------------------


def test_an_earning_records_its_rule_its_version_and_the_fact_behind_it() -> None:
    config = reference_config()
    config = with_earning(config, spending=attrs.evolve(config.earning.spending, version=3))
    book = Book(config)
    fact = charge(line("exam", 10000))
    (posting,) = book.apply(fact, fact.occurred_at)
    assert posting.kind is PostingKind.EARN
    assert posting.provenance == Provenance(
        rule_id="earning.spending",
        rule_version=3,
        trigger_type="charge_paid",
        trigger_id=fact.fact_id,
    )
    assert posting.idempotency_key == fact.fact_id


@pytest.mark.parametrize(
    ("fact", "rule_id", "trigger_type"),
    [
        (CheckedIn(fact_id="t-1", patient_id=MEMBER, occurred_at=sh(2026, 3, 2)),
         "earning.check_in", "checked_in"),
        (EventAttended(fact_id="t-2", patient_id=MEMBER, occurred_at=sh(2026, 3, 2),
                       event_id="e-1"),
         "earning.event_attendance", "event_attended"),
        (ContentShared(fact_id="t-3", patient_id=MEMBER, occurred_at=sh(2026, 3, 2),
                       content_id="c-1"),
         "earning.sharing", "content_shared"),
        (ContentLiked(fact_id="t-4", patient_id=MEMBER, occurred_at=sh(2026, 3, 2),
                      content_id="c-1"),
         "earning.liking", "content_liked"),
        (ReferralQualified(fact_id="t-5", patient_id=MEMBER, occurred_at=sh(2026, 3, 2),
                           referred_patient_id="p-9", visit_id="v-9"),
         "earning.referral", "referral_qualified"),
        (SurveyAnswered(fact_id="t-6", patient_id=MEMBER, occurred_at=sh(2026, 3, 2),
                        visit_id="v-1", score=4),
         "earning.survey", "survey_answered"),
        (RehabPlanJoined(fact_id="t-7", patient_id=MEMBER, occurred_at=sh(2026, 3, 2),
                         plan_id="plan-1"),
         "earning.rehab_plan", "rehab_plan_joined"),
    ],
)  # fmt: skip
def test_every_action_records_its_rule_and_triggering_fact(
    fact: Fact, rule_id: str, trigger_type: str
) -> None:
    book = Book(reference_config())
    (posting,) = book.apply(fact, sh(2026, 3, 2))
    assert posting.provenance == Provenance(
        rule_id=rule_id, rule_version=1, trigger_type=trigger_type, trigger_id=fact.fact_id
    )
    assert posting.lots[0].rule_id == rule_id
