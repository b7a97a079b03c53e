from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import (
    ChargeLine,
    ChargePaid,
    IdempotencyConflictError,
    MergeMembers,
    RefundIssued,
    reference_config,
)
from membercore import tiers as t
from membercore.config import ProgrammeConfig, TierLevel, TierRules
from membercore.errors import UnknownTierError
from membercore.facts import VisitCompleted
from membercore.testing import Book

SHANGHAI = ZoneInfo("Asia/Shanghai")
MEMBER = "p-zhang"
START = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


class Member:
    """The ledger and the tier of one member, driven as the engine would."""

    def __init__(self, config: ProgrammeConfig | None = None) -> None:
        self.config = config or reference_config()
        self.book = Book(self.config)
        self.state = t.TierState(member_id=MEMBER)
        self.events: list[t.TierEvent] = []
        self.ids = count(1)

    @property
    def tier(self) -> str:
        return t.tier_of(self.state, self.config)

    def decide(self, message: object, now: datetime, floor: str | None = None) -> list[t.TierEvent]:
        events = t.decide(
            message,  # type: ignore[arg-type]
            self.state,
            self.book.state(MEMBER),
            self.config,
            now,
            floor=floor,
        )
        for event in events:
            self.state = t.evolve(self.state, event)
        self.events.extend(events)
        return events

    def pay(self, yuan: int, now: datetime, charge_id: str | None = None) -> list[t.TierEvent]:
        n = next(self.ids)
        charge = ChargePaid(
            fact_id=f"f-{n}",
            patient_id=MEMBER,
            occurred_at=now,
            charge_id=charge_id or f"c-{n}",
            lines=[ChargeLine(department="internal", category="consult", amount_fen=yuan * 100)],
        )
        self.book.apply(charge, now, tier=self.tier)
        return self.decide(charge, now)

    def visit(self, now: datetime) -> list[t.TierEvent]:
        n = next(self.ids)
        visit = VisitCompleted(
            fact_id=f"f-{n}", patient_id=MEMBER, occurred_at=now, visit_id=f"v-{n}"
        )
        self.book.apply(visit, now)
        return self.decide(visit, now)

    def review(self, now: datetime) -> list[t.TierEvent]:
        return self.decide(t.ReviewTier(member_id=MEMBER), now)


def _changes(events: list[t.TierEvent]) -> list[t.TierChanged]:
    return [event for event in events if isinstance(event, t.TierChanged)]


def test_the_reference_ladder_has_five_named_levels() -> None:
    levels = reference_config().tiers.levels
    assert [level.key for level in levels] == ["L1", "L2", "L3", "L4", "L5"]
    assert [level.label for level in levels] == ["普通", "银卡", "金卡", "铂金", "钻石"]


def test_a_new_member_holds_the_lowest_level() -> None:
    member = Member()
    assert member.tier == "L1"
    assert member.decide(None, START) == []


def test_crossing_a_threshold_upgrades_at_once_with_its_reason() -> None:
    member = Member()
    assert _changes(member.pay(999, START)) == []  # 999 qualifying points: still L1
    (changed,) = _changes(member.pay(1, START + timedelta(hours=1)))
    assert (changed.from_tier, changed.to_tier, changed.reason) == ("L1", "L2", "upgrade")
    assert changed.qualification.points == 1_000
    # the review date is the anniversary of the change
    assert changed.review_at == START + timedelta(hours=1) + timedelta(days=365)
    assert member.tier == "L2"


def test_one_big_earning_can_climb_several_levels() -> None:
    member = Member()
    (changed,) = _changes(member.pay(16_000, START))
    assert (changed.from_tier, changed.to_tier) == ("L1", "L4")


def test_an_extra_qualifier_upgrades_without_the_points() -> None:
    member = Member()
    member.pay(1_200, START)  # L2 on points
    for day in range(5):
        assert _changes(member.visit(START + timedelta(days=day + 1))) == []
    assert member.tier == "L2"
    events = member.visit(START + timedelta(days=6))  # the sixth visit: L3 needs 6 visits
    (changed,) = _changes(events)
    assert (changed.to_tier, changed.reason, changed.qualification.visits) == ("L3", "upgrade", 6)


def test_all_semantics_need_every_criterion_set() -> None:
    ladder = TierRules(
        levels=(
            TierLevel(key="L1", label="普通", threshold=0),
            TierLevel(key="L2", label="银卡", threshold=500, min_visits=2, qualify_on="all"),
        )
    )
    member = Member(ProgrammeConfig(tiers=ladder))
    member.pay(600, START)
    assert member.tier == "L1"  # points met, visits not
    member.visit(START + timedelta(days=1))
    assert member.tier == "L1"
    member.visit(START + timedelta(days=2))
    assert member.tier == "L2"


def test_spend_counts_out_of_pocket_and_refunds_take_it_back() -> None:
    member = Member()
    charge = ChargePaid(
        fact_id="f-spend",
        patient_id=MEMBER,
        occurred_at=START,
        charge_id="c-spend",
        lines=[
            ChargeLine(
                department="ortho",
                category="surgery",
                amount_fen=3_000_000,
                insurance_fen=1_000_000,
            )
        ],
    )
    member.decide(charge, START)
    assert member.state.spend["c-spend"] == (
        START.astimezone(UTC),
        2_000_000,
    )  # 20,000 元 self-paid
    refund = RefundIssued(
        fact_id="f-refund",
        patient_id=MEMBER,
        occurred_at=START + timedelta(days=3),
        charge_id="c-spend",
        amount_fen=500_000,
    )
    member.decide(refund, START + timedelta(days=3))
    # a sixth of the 30,000 元 charge refunded takes back a sixth of the 20,000 元 paid,
    # at the charge's instant, so the window sees 16,666.67 元
    assert member.state.spend["c-spend"] == (START.astimezone(UTC), 1_666_667)
    done = t.qualification(
        member.state, member.book.state(MEMBER), member.config, START + timedelta(days=4)
    )
    assert done.spend_fen == 1_666_667


def _charge_with_insurance(member: Member) -> ChargePaid:
    """10,000 元 of surgery, 4,000 元 of it paid by insurance: 6,000 元 out of pocket."""
    line = ChargeLine(
        department="ortho", category="surgery", amount_fen=1_000_000, insurance_fen=400_000
    )
    charge = ChargePaid(
        fact_id="f-spend", patient_id=MEMBER, occurred_at=START, charge_id="c-1", lines=[line]
    )
    member.book.apply(charge, START)
    member.decide(charge, START)
    return charge


def _refund(member: Member, fen: int, n: int) -> None:
    at = START + timedelta(days=n)
    refund = RefundIssued(
        fact_id=f"f-refund-{n}", patient_id=MEMBER, occurred_at=at, charge_id="c-1", amount_fen=fen
    )
    member.book.apply(refund, at)
    member.decide(refund, at)


def test_a_partial_refund_takes_back_spend_and_points_in_the_same_proportion() -> None:
    member = Member()
    _charge_with_insurance(member)
    before = t.qualification(member.state, member.book.state(MEMBER), member.config, START)
    assert (before.points, before.spend_fen) == (6_000, 600_000)
    _refund(member, 300_000, 1)  # 30% of the charge
    done = t.qualification(
        member.state, member.book.state(MEMBER), member.config, START + timedelta(days=2)
    )
    assert (done.points, done.spend_fen) == (4_200, 420_000)  # 70% of each is left


@given(st.lists(st.integers(min_value=1, max_value=1_000_000), min_size=1, max_size=6))
def test_refunds_adding_up_to_the_charge_take_back_exactly_what_was_paid(
    parts: list[int],
) -> None:
    member = Member()
    _charge_with_insurance(member)
    for n, fen in enumerate(parts, start=1):
        _refund(member, fen, n)
    refunded = min(sum(parts), 1_000_000)
    _, spent = member.state.spend["c-1"]
    assert spent == 600_000 - 600_000 * refunded // 1_000_000
    if sum(parts) < 1_000_000:
        _refund(member, 1_000_000 - sum(parts), len(parts) + 1)
    assert member.state.spend["c-1"][1] == 0


def test_the_same_visit_twice_counts_once() -> None:
    member = Member()
    visit = VisitCompleted(fact_id="f-v", patient_id=MEMBER, occurred_at=START, visit_id="v-1")
    member.decide(visit, START)
    again = VisitCompleted(fact_id="f-v2", patient_id=MEMBER, occurred_at=START, visit_id="v-1")
    assert member.decide(again, START) == []
    assert len(member.state.visits) == 1


def test_the_rolling_window_includes_its_first_instant_and_no_earlier() -> None:
    member = Member()
    member.pay(1_000, START)
    year_later = datetime(2027, 3, 2, 10, 0, tzinfo=SHANGHAI)  # twelve calendar months on
    ledger = member.book.state(MEMBER)
    assert t.qualification(member.state, ledger, member.config, year_later).points == 1_000
    just_after = year_later + timedelta(microseconds=1)
    assert t.qualification(member.state, ledger, member.config, just_after).points == 0


def test_a_calendar_year_window_starts_on_new_year_in_shanghai() -> None:
    config = attrs.evolve(
        reference_config(), tiers=attrs.evolve(reference_config().tiers, window="calendar_year")
    )
    member = Member(config)
    member.pay(800, datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI))
    member.pay(300, datetime(2027, 1, 1, 0, 30, tzinfo=SHANGHAI))
    ledger = member.book.state(MEMBER)
    in_2027 = datetime(2027, 1, 2, tzinfo=SHANGHAI)
    assert t.qualification(member.state, ledger, config, in_2027).points == 300
    assert t.window_start(config, in_2027) == datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_no_downgrade_before_the_review_date_and_its_grace() -> None:
    member = Member()  # reference grace: 30 days
    member.pay(6_000, START)  # L3
    review_at = member.state.review_at
    assert review_at is not None
    # a year on, the points have left the window: the member no longer qualifies
    assert member.review(review_at - timedelta(microseconds=1)) == []
    assert member.review(review_at + timedelta(days=30) - timedelta(microseconds=1)) == []
    assert member.tier == "L3"
    (changed,) = _changes(member.review(review_at + timedelta(days=30)))
    assert (changed.from_tier, changed.to_tier, changed.reason) == ("L3", "L2", "downgrade")


def test_a_downgrade_drops_one_level_even_when_nothing_qualifies() -> None:
    member = Member()
    member.pay(45_000, START)  # L5
    assert member.tier == "L5"
    seen = []
    while member.state.review_at is not None:
        seen.extend(_changes(member.review(member.state.review_at + timedelta(days=30))))
    ranks = member.config.tiers.rank
    assert [c.to_tier for c in seen] == ["L4", "L3", "L2", "L1"]
    assert all(ranks(c.from_tier) - ranks(c.to_tier) == 1 for c in seen)
    assert member.state.review_at is None  # nothing left to review at the lowest level


def test_a_review_that_finds_the_member_qualifying_keeps_the_level_for_a_year() -> None:
    member = Member()
    member.pay(1_500, START)  # L2
    review_at = member.state.review_at
    assert review_at is not None
    member.pay(1_200, review_at - timedelta(days=10))  # still L2 in the window
    events = member.review(review_at + timedelta(days=30))
    (reviewed,) = events
    assert isinstance(reviewed, t.TierReviewed)
    assert reviewed.review_at == datetime(2028, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert member.tier == "L2"


def test_requalifying_during_grace_avoids_the_downgrade() -> None:
    member = Member()
    member.pay(1_100, START)  # L2
    review_at = member.state.review_at
    assert review_at is not None
    member.pay(1_000, review_at + timedelta(days=5))  # inside the 30-day grace
    events = member.review(review_at + timedelta(days=30))
    assert _changes(events) == []
    assert member.tier == "L2"


def test_a_late_review_decides_every_review_due_by_then_each_at_its_own_instant() -> None:
    member = Member()  # reference grace: 30 days
    member.pay(6_000, START)  # L3, review on 2027-03-02
    grace = timedelta(days=30)
    first_due = datetime(2027, 3, 2, 10, 0, tzinfo=SHANGHAI) + grace
    events = member.review(START + timedelta(days=3 * 365))
    first, second = _changes(events)
    assert (first.from_tier, first.to_tier, first.at) == ("L3", "L2", first_due)
    assert first.review_at == datetime(2028, 4, 1, 10, 0, tzinfo=SHANGHAI)
    assert (second.from_tier, second.to_tier, second.at) == ("L2", "L1", first.review_at + grace)
    assert member.state.review_at is None


def test_a_review_inside_the_grace_leaves_it_due_at_the_grace_end() -> None:
    member = Member()
    member.pay(6_000, START)
    review_at = member.state.review_at
    assert review_at is not None
    assert t.review_due_at(member.state, member.config) == review_at + timedelta(days=30)
    assert member.review(review_at + timedelta(days=1)) == []
    assert t.due_at(member.state, member.config) == review_at + timedelta(days=30)


def _reviewed_on(days: tuple[int, ...]) -> t.TierState:
    member = Member()
    member.pay(45_000, START)  # L5: four reviews to fall to L1
    for day in days:
        member.review(START + timedelta(days=day, hours=3))
    return member.state


@functools.cache
def _reviewed_daily(until: int) -> t.TierState:
    return _reviewed_on(tuple(range(1, until + 1)))


@given(st.lists(st.integers(min_value=1, max_value=5 * 365), max_size=12))
def test_any_review_schedule_ending_on_the_same_day_makes_the_same_history(days: list[int]) -> None:
    until = 5 * 365
    assert _reviewed_on((*sorted(days), until)) == _reviewed_daily(until)


def test_a_paid_plan_floor_raises_the_tier_while_it_lasts() -> None:
    member = Member()
    (raised,) = _changes(member.decide(None, START, floor="L3"))
    assert (raised.from_tier, raised.to_tier, raised.reason, raised.held) == (
        "L1",
        "L3",
        "floor",
        "L1",
    )
    assert member.decide(None, START + timedelta(days=1), floor="L3") == []
    (ended,) = _changes(member.decide(None, START + timedelta(days=366)))
    assert (ended.to_tier, ended.reason) == ("L1", "floor_ended")


def test_a_floor_below_the_held_level_changes_nothing() -> None:
    member = Member()
    member.pay(6_000, START)  # L3
    assert member.decide(None, START, floor="L2") == []
    assert member.tier == "L3"


def test_staff_override_holds_until_it_expires() -> None:
    member = Member()
    member.pay(1_200, START)  # L2
    command = t.SetTierOverride(
        key="ov-1",
        member_id=MEMBER,
        tier="L4",
        operator="staff-wu",
        reason="VIP 患者，院长批准",
        expires_at=START + timedelta(days=90),
    )
    (changed,) = _changes(member.decide(command, START))
    assert (changed.to_tier, changed.reason) == ("L4", "override")
    assert changed.override is not None
    assert changed.override.operator == "staff-wu"
    assert member.decide(command, START) == []  # the same command twice
    assert member.decide(None, START + timedelta(days=90) - timedelta(microseconds=1)) == []
    (ended,) = _changes(member.decide(None, START + timedelta(days=90)))
    assert (ended.to_tier, ended.reason) == ("L2", "override_ended")


def test_an_override_ends_at_its_expiry_however_late_it_is_noticed() -> None:
    member = Member()
    member.pay(1_200, START)  # L2
    ends = START + timedelta(days=90)
    command = t.SetTierOverride(
        key="ov-1",
        member_id=MEMBER,
        tier="L4",
        operator="staff-wu",
        reason="VIP 患者，院长批准",
        expires_at=ends,
    )
    member.decide(command, START)
    assert t.due_at(member.state, member.config) == ends
    (ended,) = _changes(member.decide(None, ends + timedelta(days=10)))
    assert (ended.from_tier, ended.to_tier, ended.reason, ended.at) == (
        "L4",
        "L2",
        "override_ended",
        ends,
    )


def test_an_override_can_be_lifted_early() -> None:
    member = Member()
    member.decide(
        t.SetTierOverride(
            key="ov-1",
            member_id=MEMBER,
            tier="L3",
            operator="staff-wu",
            reason="投诉补偿",
            expires_at=START + timedelta(days=30),
        ),
        START,
    )
    clear = t.ClearTierOverride(key="ov-2", member_id=MEMBER, operator="staff-wu", reason="误设")
    (ended,) = _changes(member.decide(clear, START + timedelta(days=1)))
    assert (ended.to_tier, ended.reason, ended.trigger) == ("L1", "override_ended", "ov-2")


def _override(tier: str, key: str = "ov-1", days: int = 30) -> t.SetTierOverride:
    return t.SetTierOverride(
        key=key,
        member_id=MEMBER,
        tier=tier,
        operator="staff-wu",
        reason="院长批准",
        expires_at=START + timedelta(days=days),
    )


def test_an_override_to_the_tier_already_had_is_recorded_without_a_tier_change() -> None:
    member = Member()
    member.pay(1_200, START)  # L2
    (noted,) = member.decide(_override("L2"), START)
    assert isinstance(noted, t.TierBasisChanged)
    assert (noted.tier, noted.reason, noted.trigger) == ("L2", "override", "ov-1")
    assert member.state.override is not None
    assert member.decide(_override("L2"), START) == []  # the same command twice
    clear = t.ClearTierOverride(key="ov-2", member_id=MEMBER, operator="staff-wu", reason="误设")
    (lifted,) = member.decide(clear, START + timedelta(days=1))
    assert isinstance(lifted, t.TierBasisChanged)
    assert (lifted.reason, lifted.trigger, member.state.override) == (
        "override_ended",
        "ov-2",
        None,
    )
    assert [c.reason for c in t.history(member.state)] == ["upgrade"]


def test_an_override_ending_on_the_tier_held_is_recorded_without_a_tier_change() -> None:
    member = Member()
    member.decide(_override("L2"), START)
    member.pay(1_200, START + timedelta(days=1))  # earns L2 under the override
    (ended,) = member.decide(None, START + timedelta(days=31))
    assert isinstance(ended, t.TierBasisChanged)
    assert (ended.tier, ended.reason, ended.at) == ("L2", "override_ended", START + timedelta(30))
    assert member.state.override is None


def test_a_level_earned_under_an_override_is_held_without_a_tier_change() -> None:
    member = Member()
    member.decide(_override("L4"), START)
    _, earned = member.pay(6_000, START + timedelta(days=1))  # the spend, then the level
    assert isinstance(earned, t.TierBasisChanged)
    assert (earned.tier, earned.held, earned.reason) == ("L4", "L3", "upgrade")
    (ended,) = _changes(member.decide(None, START + timedelta(days=30)))
    assert (ended.from_tier, ended.to_tier, ended.reason) == ("L4", "L3", "override_ended")


def test_a_review_under_a_plan_floor_lowers_the_held_level_and_the_floor_ending_shows_it() -> None:
    member = Member()
    member.pay(1_200, START)  # L2
    member.decide(None, START, floor="L3")  # a 999 元 plan: gold
    review_at = member.state.review_at
    assert review_at is not None
    due = review_at + timedelta(days=30)
    (lowered,) = member.decide(t.ReviewTier(member_id=MEMBER), due, floor="L3")
    assert isinstance(lowered, t.TierBasisChanged)
    assert (lowered.tier, lowered.held, lowered.reason) == ("L3", "L1", "downgrade")
    (ended,) = _changes(member.decide(None, due + timedelta(days=1)))
    assert (ended.from_tier, ended.to_tier, ended.reason) == ("L3", "L1", "floor_ended")


def test_a_merge_that_changes_only_the_held_level_makes_no_tier_change() -> None:
    keep = Member()
    keep.decide(_override("L5", days=400), START)
    dup_id = "p-zhang-2"
    dup = t.TierState(member_id=dup_id)
    ledger = keep.book.state(MEMBER)
    line = ChargeLine(department="dental", category="treatment", amount_fen=600_000)
    charge = ChargePaid(
        fact_id="d-1", patient_id=dup_id, occurred_at=START, charge_id="dc-1", lines=[line]
    )
    dup_book = Book(keep.config)
    dup_book.apply(charge, START)
    for event in t.decide(charge, dup, dup_book.state(dup_id), keep.config, START):
        dup = t.evolve(dup, event)
    merge = MergeMembers(
        key="m-1", member_id=MEMBER, duplicate_id=dup_id, operator="s", reason="同一人"
    )
    events = t.decide_merge(merge, keep.state, dup, ledger, keep.config, START)
    assert [type(event) for event in events] == [t.TierRecordsMerged]
    assert _changes(events) == []


_STEPS = st.one_of(
    st.tuples(st.just("pay"), st.integers(min_value=1, max_value=20_000)),
    st.tuples(st.just("visit"), st.just(0)),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=20_000)),
    st.tuples(st.just("override"), st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("clear"), st.just(0)),
    st.tuples(st.just("floor"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("review"), st.just(0)),
)


@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=200), _STEPS), min_size=1, max_size=25)
)
def test_no_tier_change_ever_leaves_the_tier_as_it_was(
    steps: list[tuple[int, tuple[str, int]]],
) -> None:
    member = Member()
    keys = ["L1", "L2", "L3", "L4", "L5"]
    now, floor = START, None
    made: list[t.TierEvent] = []
    for n, (days, (kind, amount)) in enumerate(steps):
        now += timedelta(days=days)
        if kind == "pay":
            made += member.pay(amount, now)
        elif kind == "visit":
            made += member.visit(now)
        elif kind == "refund" and member.state.spend:
            charge = sorted(member.state.spend)[amount % len(member.state.spend)]
            refund = RefundIssued(
                fact_id=f"r-{n}",
                patient_id=MEMBER,
                occurred_at=now,
                charge_id=charge,
                amount_fen=amount * 10,
            )
            member.book.apply(refund, now)
            made += member.decide(refund, now, floor)
        elif kind == "override":
            made += member.decide(
                attrs.evolve(
                    _override(keys[amount], key=f"ov-{n}"), expires_at=now + timedelta(90)
                ),
                now,
                floor,
            )
        elif kind == "clear":
            clear = t.ClearTierOverride(key=f"cl-{n}", member_id=MEMBER, operator="s", reason="r")
            made += member.decide(clear, now, floor)
        elif kind == "floor":
            floor = keys[amount] if amount < len(keys) else None
            made += member.decide(None, now, floor)
        else:
            made += member.decide(t.ReviewTier(member_id=MEMBER), now, floor)
    changes = _changes(made)
    assert all(change.from_tier != change.to_tier for change in changes)
    assert t.history(member.state) == tuple(changes)
    assert t.replay(MEMBER, member.events) == member.state


def test_an_override_to_an_unknown_tier_is_refused() -> None:
    member = Member()
    command = t.SetTierOverride(
        key="ov-1",
        member_id=MEMBER,
        tier="L9",
        operator="staff-wu",
        reason="x",
        expires_at=START + timedelta(days=1),
    )
    with pytest.raises(UnknownTierError) as refusal:
        member.decide(command, START)
    assert refusal.value.tier == "L9"
    assert MEMBER in str(refusal.value)


def test_a_key_reused_for_another_override_is_refused() -> None:
    member = Member()
    first = t.SetTierOverride(
        key="ov-1",
        member_id=MEMBER,
        tier="L3",
        operator="a",
        reason="r",
        expires_at=START + timedelta(days=1),
    )
    member.decide(first, START)
    with pytest.raises(IdempotencyConflictError):
        member.decide(attrs.evolve(first, tier="L4"), START)


def test_the_tier_history_explains_every_change_and_replays() -> None:
    member = Member()
    member.pay(1_000, START)
    member.pay(5_000, START + timedelta(days=1))
    member.decide(None, START + timedelta(days=2), floor="L4")
    history = t.history(member.state)
    assert [(c.from_tier, c.to_tier, c.reason) for c in history] == [
        ("L1", "L2", "upgrade"),
        ("L2", "L3", "upgrade"),
        ("L3", "L4", "floor"),
    ]
    assert t.replay(MEMBER, member.events) == member.state


# --- properties ---------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=1, max_value=20_000), min_size=1, max_size=12))
def test_the_tier_after_any_earnings_is_the_ladder_level_of_the_window_points(
    amounts: list[int],
) -> None:
    member = Member()
    config = member.config
    total = 0
    for day, yuan in enumerate(amounts):
        now = START + timedelta(days=day * 20)  # all within the twelve-month window
        member.pay(yuan, now)
        total += member.book.postings(MEMBER)[-1].points
        levels = [level.key for level in config.tiers.levels if level.threshold <= total]
        assert member.tier == levels[-1]


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=30_000)
        ),
        min_size=1,
        max_size=15,
    )
)
def test_a_downgrade_never_drops_more_than_one_level(steps: list[tuple[int, int]]) -> None:
    member = Member()
    now = START
    for days, yuan in steps:
        now += timedelta(days=days)
        if yuan:
            member.pay(yuan, now)
        member.review(now)
    rank = member.config.tiers.rank
    for change in t.history(member.state):
        if change.reason == "downgrade":
            assert rank(change.from_tier) - rank(change.to_tier) == 1
        if change.reason == "upgrade":
            assert rank(change.to_tier) > rank(change.from_tier)
    assert t.replay(MEMBER, member.events) == member.state


def test_a_merge_keeps_the_higher_level_and_the_duplicates_qualifiers() -> None:
    keep = Member()
    keep.pay(1_200, START)  # L2
    dup_id = "p-zhang-2"  # the same person's second record, with its own ledger
    dup = Member()
    dup.state = t.TierState(member_id=dup_id)
    charge = ChargePaid(
        fact_id="d-1",
        patient_id=dup_id,
        occurred_at=START,
        charge_id="dc-1",
        lines=[ChargeLine(department="dental", category="treatment", amount_fen=1_600_000)],
    )
    dup.book.apply(charge, START)
    visits = [
        VisitCompleted(fact_id=f"dv-{n}", patient_id=dup_id, occurred_at=START, visit_id=f"dv-{n}")
        for n in range(3)
    ]
    for fact in (charge, *visits):
        for event in t.decide(fact, dup.state, dup.book.state(dup_id), dup.config, START):
            dup.state = t.evolve(dup.state, event)
    assert t.tier_of(dup.state, dup.config) == "L4"  # 16,000 points
    merge = MergeMembers(
        key="m-1", member_id=MEMBER, duplicate_id=dup_id, operator="s", reason="同一人"
    )
    later = START + timedelta(days=1)
    events = t.decide_merge(
        merge, keep.state, dup.state, keep.book.state(MEMBER), keep.config, later
    )
    for event in events:
        keep.state = t.evolve(keep.state, event)
    merged, changed = events
    assert isinstance(merged, t.TierRecordsMerged)
    assert isinstance(changed, t.TierChanged)
    assert (changed.from_tier, changed.to_tier, changed.reason) == ("L2", "L4", "merge")
    assert keep.state.review_at == dup.state.review_at
    assert len(keep.state.visits) == 3
    assert keep.state.spend["dc-1"][1] == 1_600_000
    again = t.decide_merge(
        merge, keep.state, dup.state, keep.book.state(MEMBER), keep.config, later
    )
    assert again == []


def test_a_merge_of_two_equal_levels_keeps_the_later_review_date() -> None:
    keep = Member()
    keep.pay(1_200, START)  # L2, reviewed on 2027-03-02
    dup_id = "p-zhang-2"
    dup_book = Book(keep.config)
    dup = t.TierState(member_id=dup_id)
    later = START + timedelta(days=200)
    line = ChargeLine(department="internal", category="consult", amount_fen=150_000)
    charge = ChargePaid(
        fact_id="d-1", patient_id=dup_id, occurred_at=later, charge_id="dc-1", lines=[line]
    )
    dup_book.apply(charge, later)
    for event in t.decide(charge, dup, dup_book.state(dup_id), keep.config, later):
        dup = t.evolve(dup, event)
    assert (dup.held, keep.state.held) == ("L2", "L2")
    assert dup.review_at is not None
    assert keep.state.review_at is not None
    assert dup.review_at > keep.state.review_at
    merge = MergeMembers(
        key="m-1", member_id=MEMBER, duplicate_id=dup_id, operator="s", reason="同一人"
    )
    now = later + timedelta(days=1)
    ledger = keep.book.state(MEMBER)
    for event in t.decide_merge(merge, keep.state, dup, ledger, keep.config, now):
        keep.state = t.evolve(keep.state, event)
    assert (keep.state.held, keep.state.review_at) == ("L2", dup.review_at)
