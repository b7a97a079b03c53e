from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import (
    AdjustPoints,
    ConfigError,
    Draw,
    IdempotencyConflictError,
    InsufficientPointsError,
    InvalidFactError,
    MembercoreError,
    MemberMismatchError,
    NaiveInstantError,
    PostingKind,
    ProgrammeConfig,
    Redeem,
    reference_config,
)
from membercore.config import Reward, RewardCatalogue
from membercore.errors import (
    OutOfStockError,
    PerMemberLimitError,
    RewardError,
    TierTooLowError,
    UnknownRedemptionError,
    UnknownRewardError,
    YearlyValueCapError,
)
from membercore.ledger import LedgerState, evolve
from membercore.rewards import (
    MESSAGE_TYPES,
    OPERATOR,
    REASON_LABELS,
    CancelRedemption,
    RedeemReward,
    Redemption,
    RedemptionCancelled,
    RewardCommand,
    RewardEvent,
    RewardHistory,
    RewardRedeemed,
    StockState,
    available_rewards,
    decide_cancellation,
    decide_redemption,
    evolve_history,
    evolve_stock,
    replay_history,
    replay_stock,
)
from membercore.serialization import converter
from membercore.testing import Book

SH = ZoneInfo("Asia/Shanghai")
MEMBER = "p-1"
OTHER = "p-2"
_ids = itertools.count(1)


def sh(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_ids)}"


class Shop:
    """The ledger book, every member's reward history and the stock, applied together."""

    def __init__(self, config: ProgrammeConfig | None = None) -> None:
        self.config = config or reference_config()
        self.book = Book(self.config)
        self.histories: dict[str, RewardHistory] = {}
        self.stock = StockState()
        self.events: list[RewardRedeemed | RedemptionCancelled] = []

    def history(self, member: str = MEMBER) -> RewardHistory:
        return self.histories.get(member) or RewardHistory(member_id=member)

    def earn(self, points: int, at: datetime, member: str = MEMBER) -> None:
        command = AdjustPoints(
            key=key("earn"), member_id=member, points=points, operator="staff", reason="test"
        )
        self.book.apply(command, at)

    def available(self, at: datetime, member: str = MEMBER) -> int:
        return self.book.balances(member, at).available

    def redeem(
        self,
        reward_key: str,
        at: datetime,
        *,
        tier: str = "L1",
        quantity: int = 1,
        member: str = MEMBER,
        command_key: str | None = None,
    ) -> Redemption:
        command = RedeemReward(
            key=command_key or key("redeem"),
            member_id=member,
            reward_key=reward_key,
            quantity=quantity,
        )
        return self.run(command, at, tier=tier)

    def run(
        self, command: RedeemReward | CancelRedemption, at: datetime, *, tier: str = "L1"
    ) -> Redemption:
        member = command.member_id
        ledger = self.book.state(member)
        if isinstance(command, RedeemReward):
            decision = decide_redemption(
                command, ledger, self.history(member), self.stock, self.config, at, tier=tier
            )
        else:
            decision = decide_cancellation(command, ledger, self.history(member), self.config, at)
        self.apply(decision)
        return decision

    def cancel(
        self, redemption_id: str, at: datetime, *, command_key: str | None = None
    ) -> Redemption:
        command = CancelRedemption(
            key=command_key or key("cancel"),
            member_id=MEMBER,
            redemption_id=redemption_id,
            reason="returned unopened",
        )
        return self.run(command, at)

    def apply(self, decision: Redemption) -> None:
        for posting in decision.postings:
            member = posting.member_id
            self.book.states[member] = evolve(self.book.state(member), posting)
            self.book.journal.append(posting)
        for event in decision.events:
            self.histories[event.member_id] = evolve_history(self.history(event.member_id), event)
            self.stock = evolve_stock(self.stock, event)
            self.events.append(event)


def with_rewards(*rewards: Reward, cap_fen: int | None = None) -> ProgrammeConfig:
    catalogue = RewardCatalogue(version=3, rewards=rewards, yearly_value_cap_fen=cap_fen)
    return attrs.evolve(reference_config(), rewards=catalogue)


@pytest.fixture
def shop() -> Shop:
    return Shop()


# --- the reference catalogue ---------------------------------------------------------------


def test_the_reference_catalogue_offers_five_gifts_capped_at_two_thousand_yuan_a_year() -> None:
    catalogue = reference_config().rewards
    assert [reward.key for reward in catalogue.rewards] == [
        "parking",
        "flu_vaccine",
        "bp_monitor",
        "checkup_basic",
        "checkup_premium",
    ]
    assert catalogue.yearly_value_cap_fen == 200_000  # 2,000 元
    premium = catalogue.reward("checkup_premium")
    assert premium is not None
    assert (premium.min_tier, premium.per_member_limit, premium.stock) == ("L4", 1, 20)


def test_a_new_silver_member_with_no_points_sees_every_gift_and_why_not(shop: Shop) -> None:
    now = sh(2026, 3, 1)
    options = available_rewards(
        shop.history(), shop.stock, shop.config, now, tier="L2", points_available=0
    )
    assert [(o.reward_key, o.left, o.reason) for o in options] == [
        ("parking", None, "insufficient_points"),
        ("flu_vaccine", 500, "insufficient_points"),
        ("bp_monitor", 100, "insufficient_points"),
        ("checkup_basic", 200, "insufficient_points"),
        ("checkup_premium", 20, "tier_too_low"),
    ]
    assert not any(option.redeemable for option in options)


def test_the_options_follow_tier_points_limits_and_stock(shop: Shop) -> None:
    now = sh(2026, 3, 1)
    shop.earn(13_000, now)
    shop.redeem("bp_monitor", now, tier="L2")
    # 13,000 - 6,000 for the blood-pressure monitor = 7,000 left.
    assert shop.available(now) == 7_000
    options = available_rewards(
        shop.history(), shop.stock, shop.config, now, tier="L2", points_available=7_000
    )
    assert [(o.reward_key, o.left, o.reason) for o in options] == [
        ("parking", None, None),
        ("flu_vaccine", 500, None),
        ("bp_monitor", 99, "limit_reached"),  # 100 - 1 just redeemed
        ("checkup_basic", 200, "insufficient_points"),  # 8,000 > 7,000
        ("checkup_premium", 20, "tier_too_low"),
    ]
    assert [o.label for o in options if o.redeemable] == ["停车券", "流感疫苗"]


def test_every_reason_has_a_chinese_label() -> None:
    assert set(REASON_LABELS) == {
        "tier_too_low",
        "out_of_stock",
        "limit_reached",
        "yearly_cap",
        "insufficient_points",
    }
    assert REASON_LABELS["out_of_stock"] == "已兑完"


# --- a successful redemption ---------------------------------------------------------------


def test_a_redemption_draws_the_cost_times_the_quantity_earliest_expiring_lots_first(
    shop: Shop,
) -> None:
    january, march = sh(2026, 1, 10), sh(2026, 3, 10)
    shop.earn(500, january)  # expires at the start of February 2028
    shop.earn(300, march)  # expires at the start of April 2028
    decision = shop.redeem("parking", sh(2026, 4, 1), quantity=3, command_key="order-1")

    (posting,) = decision.postings
    assert posting.kind is PostingKind.REDEEM
    assert posting.points == -600  # 3 vouchers x 200 points
    # 500 from the January lot, which expires first, then 100 of the March lot.
    assert posting.draws == (Draw(f"{MEMBER}/1", 500), Draw(f"{MEMBER}/2", 100))
    assert posting.idempotency_key == "order-1"
    assert posting.reason == "parking"
    (event,) = decision.events
    assert event == RewardRedeemed(
        redemption_id=f"{MEMBER}/reward/1",
        member_id=MEMBER,
        reward_key="parking",
        quantity=3,
        points=600,
        value_fen=3_000,  # 3 x 1,000 fen
        at=sh(2026, 4, 1),
        catalogue_version=1,
        posting_id=posting.posting_id,
        idempotency_key="order-1",
        fingerprint=event.fingerprint,
    )
    assert shop.available(sh(2026, 4, 1)) == 200  # 800 - 600


def test_a_redemption_keeps_the_expiry_postings_the_ledger_makes_first(shop: Shop) -> None:
    shop.earn(100, sh(2026, 1, 10))  # good until the end of January 2028
    shop.earn(300, sh(2027, 1, 10))  # good until the end of January 2029
    decision = shop.redeem("parking", sh(2028, 3, 1))

    kinds = [posting.kind for posting in decision.postings]
    assert kinds == [PostingKind.EXPIRE, PostingKind.REDEEM]
    expiry, redemption = decision.postings
    assert expiry.points == -100
    assert redemption.draws == (Draw(f"{MEMBER}/2", 200),)
    (event,) = decision.events
    assert event.posting_id == redemption.posting_id
    assert shop.available(sh(2028, 3, 1)) == 100  # 300 - 200; the 100 expired


def test_a_redemption_counts_against_stock_limit_and_yearly_value(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(9_000, now)
    shop.redeem("bp_monitor", now)
    shop.redeem("flu_vaccine", now)
    assert shop.stock.issued == {"bp_monitor": 1, "flu_vaccine": 1}
    assert shop.history().redeemed("bp_monitor") == 1
    # 25,000 fen for the monitor + 12,800 fen for the vaccine.
    assert shop.history().value_in_year(2026, SH) == 37_800


def test_gifts_with_unlimited_stock_are_counted_but_never_run_out(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(2_000, now)
    shop.redeem("parking", now, quantity=10)
    parking = shop.config.rewards.reward("parking")
    assert parking is not None
    assert shop.stock.issued["parking"] == 10
    assert shop.stock.left(parking) is None


def test_a_redemption_records_the_catalogue_version() -> None:
    shop = Shop(with_rewards(Reward(key="pen", label="笔", points=10)))
    shop.earn(10, sh(2026, 5, 1))
    (event,) = shop.redeem("pen", sh(2026, 5, 1)).events
    assert isinstance(event, RewardRedeemed)
    assert event.catalogue_version == 3


# --- refusals --------------------------------------------------------------------------------


def test_an_unknown_reward_is_refused(shop: Shop) -> None:
    shop.earn(1_000, sh(2026, 5, 1))
    with pytest.raises(UnknownRewardError) as caught:
        shop.redeem("massage", sh(2026, 5, 1))
    assert str(caught.value) == "member p-1: no reward 'massage' in the catalogue"
    assert (caught.value.member_id, caught.value.reward_key) == (MEMBER, "massage")


def test_a_gift_above_the_members_tier_is_refused(shop: Shop) -> None:
    shop.earn(10_000, sh(2026, 5, 1))
    with pytest.raises(TierTooLowError) as caught:
        shop.redeem("checkup_basic", sh(2026, 5, 1), tier="L1")
    assert str(caught.value) == (
        "member p-1: reward 'checkup_basic' needs tier L2 or higher; the member is L1"
    )
    assert (caught.value.tier, caught.value.required) == ("L1", "L2")


def test_the_required_tier_and_any_above_it_may_redeem(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(16_000, now)
    shop.redeem("checkup_basic", now, tier="L2")
    shop.redeem("checkup_basic", now, tier="L5")
    assert shop.history().redeemed("checkup_basic") == 2


def test_a_tier_not_on_the_ladder_is_a_config_error(shop: Shop) -> None:
    with pytest.raises(ConfigError, match="no tier 'gold'"):
        shop.redeem("parking", sh(2026, 5, 1), tier="gold")


def test_more_than_is_left_in_stock_is_refused_naming_requested_and_left(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.stock = StockState(issued={"flu_vaccine": 499})
    shop.earn(6_000, now)
    with pytest.raises(OutOfStockError) as caught:
        shop.redeem("flu_vaccine", now, quantity=2)
    assert str(caught.value) == (
        "member p-1: reward 'flu_vaccine' is out of stock: requested 2, left 1"  # 500 - 499
    )
    assert (caught.value.requested, caught.value.left) == (2, 1)
    shop.redeem("flu_vaccine", now, quantity=1)
    flu = shop.config.rewards.reward("flu_vaccine")
    assert flu is not None
    assert shop.stock.left(flu) == 0


def test_the_last_gift_goes_to_the_first_member_who_redeems_it() -> None:
    shop = Shop(with_rewards(Reward(key="kit", label="礼盒", points=100, stock=1)))
    now = sh(2026, 5, 1)
    shop.earn(100, now)
    shop.earn(100, now, member=OTHER)
    shop.redeem("kit", now)
    with pytest.raises(OutOfStockError, match="member p-2: reward 'kit' is out of stock"):
        shop.redeem("kit", now, member=OTHER)


def test_stock_lowered_below_what_is_out_leaves_none() -> None:
    reward = Reward(key="kit", label="礼盒", points=100, stock=5)
    assert StockState(issued={"kit": 7}).left(reward) == 0


def test_a_second_gift_over_the_per_member_limit_is_refused(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(12_000, now)
    shop.redeem("bp_monitor", now)
    with pytest.raises(PerMemberLimitError) as caught:
        shop.redeem("bp_monitor", sh(2027, 5, 1))
    assert str(caught.value) == (
        "member p-1: reward 'bp_monitor' is limited to 1 per member; already redeemed 1, "
        "requested 1"
    )
    assert (caught.value.member_id, caught.value.reward_key, caught.value.limit) == (
        MEMBER,
        "bp_monitor",
        1,
    )


def test_the_per_member_limit_counts_the_quantity_asked_for(shop: Shop) -> None:
    with pytest.raises(PerMemberLimitError, match="already redeemed 0, requested 2"):
        shop.redeem("bp_monitor", sh(2026, 5, 1), quantity=2)


def test_the_per_member_limit_is_per_member(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(6_000, now)
    shop.earn(6_000, now, member=OTHER)
    shop.redeem("bp_monitor", now)
    shop.redeem("bp_monitor", now, member=OTHER)
    assert shop.stock.issued["bp_monitor"] == 2


def test_gifts_past_the_yearly_value_cap_are_refused_naming_value_asked_and_left(
    shop: Shop,
) -> None:
    now = sh(2026, 6, 1)
    shop.earn(44_000, now)
    shop.redeem("checkup_premium", now, tier="L4")  # 150,000 fen
    shop.redeem("checkup_basic", now, tier="L4")  # 30,000 fen: 180,000 received
    with pytest.raises(YearlyValueCapError) as caught:
        shop.redeem("bp_monitor", now, tier="L4")  # 25,000 fen > 200,000 - 180,000
    assert str(caught.value) == (
        "member p-1: reward 'bp_monitor' worth 25000 fen exceeds the yearly gift value cap "
        "of 200000 fen; 20000 fen left this year"
    )
    assert (caught.value.requested_fen, caught.value.left_fen, caught.value.cap_fen) == (
        25_000,
        20_000,
        200_000,
    )
    # 180,000 + 12,800 for the vaccine = 192,800 fits under the cap.
    shop.redeem("flu_vaccine", now, tier="L4")
    assert shop.history().value_in_year(2026, SH) == 192_800


def test_the_yearly_cap_follows_the_shanghai_calendar_across_new_year(shop: Shop) -> None:
    eve = sh(2025, 12, 31, 23, 30)
    shop.earn(44_000, eve)
    shop.redeem("checkup_premium", eve, tier="L4")  # 150,000 fen
    shop.redeem("checkup_basic", eve, tier="L4")  # 30,000 fen: 180,000 in 2025
    with pytest.raises(YearlyValueCapError, match="20000 fen left this year"):
        shop.redeem("bp_monitor", sh(2025, 12, 31, 23, 45), tier="L4")

    new_year = sh(2026, 1, 1, 0, 30)
    # Still 31 December in UTC: a cap reckoned in UTC would refuse this.
    assert new_year.astimezone(UTC).year == 2025
    (event,) = shop.redeem("bp_monitor", new_year, tier="L4").events
    assert event.value_fen == 25_000
    assert shop.history().value_in_year(2025, SH) == 180_000
    assert shop.history().value_in_year(2026, SH) == 25_000


def test_a_catalogue_without_a_cap_lets_any_value_through() -> None:
    shop = Shop(with_rewards(Reward(key="tv", label="电视", points=10, value_fen=10_000_000)))
    shop.earn(30, sh(2026, 5, 1))
    shop.redeem("tv", sh(2026, 5, 1), quantity=3)
    assert shop.history().value_in_year(2026, SH) == 30_000_000


def test_a_redemption_without_enough_points_is_refused_by_the_ledger(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(199, now)
    with pytest.raises(InsufficientPointsError) as caught:
        shop.redeem("parking", now)
    assert str(caught.value) == "member p-1: insufficient points: requested 200, available 199"


def test_a_refused_redemption_posts_nothing_and_moves_no_stock(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(100, now)
    ledger, history, stock = shop.book.state(MEMBER), shop.history(), shop.stock
    for reward_key, quantity, error in [
        ("checkup_basic", 1, TierTooLowError),
        ("bp_monitor", 2, PerMemberLimitError),
        ("flu_vaccine", 1, InsufficientPointsError),
    ]:
        with pytest.raises(error):
            shop.redeem(reward_key, now, quantity=quantity)
    assert shop.book.state(MEMBER) is ledger
    assert shop.history() == history
    assert shop.histories == {}  # no reward event was applied
    assert shop.stock is stock
    assert len(shop.book.journal) == 1  # the earning only


def test_the_catalogue_checks_run_before_the_points_check(shop: Shop) -> None:
    # No points at all: the tier refusal is the one reported.
    with pytest.raises(TierTooLowError):
        shop.redeem("checkup_premium", sh(2026, 5, 1), tier="L3")


def test_every_refusal_is_a_reward_error_under_the_root() -> None:
    for error in (
        UnknownRewardError,
        OutOfStockError,
        PerMemberLimitError,
        TierTooLowError,
        YearlyValueCapError,
        UnknownRedemptionError,
    ):
        assert issubclass(error, RewardError)
        assert issubclass(error, MembercoreError)


def test_a_quantity_below_one_is_refused_when_the_command_is_built() -> None:
    with pytest.raises(InvalidFactError) as caught:
        RedeemReward(key="k", member_id=MEMBER, reward_key="parking", quantity=0)
    assert str(caught.value) == "redeem_reward.quantity = 0: must be positive"


def test_a_naive_instant_is_refused(shop: Shop) -> None:
    naive = datetime(2026, 5, 1, 10)  # noqa: DTZ001 - the point of the test
    with pytest.raises(NaiveInstantError):
        shop.redeem("parking", naive)


def test_a_command_for_another_member_is_refused(shop: Shop) -> None:
    command = RedeemReward(key="k", member_id=OTHER, reward_key="parking")
    with pytest.raises(MemberMismatchError):
        decide_redemption(
            command,
            LedgerState(member_id=OTHER),
            RewardHistory(member_id=MEMBER),
            StockState(),
            shop.config,
            sh(2026, 5, 1),
            tier="L1",
        )


# --- idempotency -----------------------------------------------------------------------------


def test_the_same_redemption_twice_yields_nothing_the_second_time(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(1_000, now)
    first = shop.redeem("parking", now, command_key="order-7")
    again = shop.redeem("parking", sh(2026, 5, 2), command_key="order-7")
    assert again == Redemption()
    assert len(first.events) == 1
    assert shop.available(now) == 800  # 1,000 - 200, once
    assert shop.stock.issued == {"parking": 1}


def test_the_same_key_on_a_different_redemption_is_a_conflict(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(1_000, now)
    shop.redeem("parking", now, command_key="order-7")
    with pytest.raises(IdempotencyConflictError) as caught:
        shop.redeem("parking", now, quantity=2, command_key="order-7")
    assert str(caught.value) == (
        "member p-1: idempotency key 'order-7' was already used by a different command"
    )


def test_a_key_already_used_by_another_ledger_command_is_a_conflict(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(1_000, now)
    shop.book.apply(Redeem(key="order-8", member_id=MEMBER, points=200), now)
    # The ledger alone would call this a replay and post nothing: the gift would be free.
    with pytest.raises(IdempotencyConflictError, match="'order-8'"):
        shop.redeem("parking", now, command_key="order-8")


def test_applying_an_event_twice_counts_it_once(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(1_000, now)
    (event,) = shop.redeem("parking", now).events
    assert evolve_stock(shop.stock, event) is shop.stock
    assert evolve_history(shop.history(), event) is shop.history()


def test_replaying_the_events_rebuilds_history_and_stock(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(20_000, now)
    shop.earn(6_000, now, member=OTHER)
    shop.redeem("bp_monitor", now)
    shop.redeem("bp_monitor", now, member=OTHER)
    shop.redeem("parking", now, quantity=2)
    shop.cancel(f"{MEMBER}/reward/1", now)
    mine = [event for event in shop.events if event.member_id == MEMBER]
    assert replay_history(MEMBER, mine) == shop.history()
    assert replay_stock(shop.events) == shop.stock
    assert shop.stock.issued == {"bp_monitor": 1, "parking": 2}


def test_an_event_of_another_member_cannot_enter_a_history(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(1_000, now, member=OTHER)
    (event,) = shop.redeem("parking", now, member=OTHER).events
    with pytest.raises(MemberMismatchError):
        evolve_history(RewardHistory(member_id=MEMBER), event)


# --- cancellation ----------------------------------------------------------------------------


def test_a_cancellation_restocks_and_gives_the_points_back_as_an_adjustment(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(7_000, now)
    (redeemed,) = shop.redeem("bp_monitor", now).events
    later = sh(2026, 5, 3)
    decision = shop.cancel(redeemed.redemption_id, later, command_key="return-1")

    (posting,) = decision.postings
    assert posting.kind is PostingKind.ADJUST
    assert posting.points == 6_000
    assert (posting.operator, posting.reason) == (OPERATOR, "returned unopened")
    assert OPERATOR == "rewards"
    (event,) = decision.events
    assert event == RedemptionCancelled(
        redemption_id=f"{MEMBER}/reward/1",
        member_id=MEMBER,
        reward_key="bp_monitor",
        quantity=1,
        points=6_000,
        value_fen=25_000,
        at=later,
        reason="returned unopened",
        posting_id=posting.posting_id,
        idempotency_key="return-1",
        fingerprint=event.fingerprint,
    )
    assert shop.available(later) == 7_000  # 7,000 - 6,000 + 6,000
    assert shop.stock.issued == {"bp_monitor": 0}
    assert shop.history().redeemed("bp_monitor") == 0
    assert shop.history().value_in_year(2026, SH) == 0
    record = shop.history().redemption(redeemed.redemption_id)
    assert record is not None
    assert record.cancelled_at == later


def test_after_a_cancellation_the_limited_gift_may_be_redeemed_again(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(6_000, now)
    shop.redeem("bp_monitor", now)
    shop.cancel(f"{MEMBER}/reward/1", now)
    (event,) = shop.redeem("bp_monitor", now).events
    assert event.redemption_id == f"{MEMBER}/reward/2"


def test_a_cancellation_frees_room_under_the_yearly_cap(shop: Shop) -> None:
    now = sh(2026, 6, 1)
    shop.earn(44_000, now)
    shop.redeem("checkup_premium", now, tier="L4")  # 150,000 fen
    shop.redeem("checkup_basic", now, tier="L4")  # 180,000 fen
    shop.cancel(f"{MEMBER}/reward/2", now)  # back to 150,000 fen
    shop.redeem("bp_monitor", now, tier="L4")  # 175,000 fen
    assert shop.history().value_in_year(2026, SH) == 175_000


def test_cancelling_twice_is_a_no_op(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(200, now)
    shop.redeem("parking", now)
    shop.cancel(f"{MEMBER}/reward/1", now, command_key="c-1")
    balance = shop.available(now)
    assert shop.cancel(f"{MEMBER}/reward/1", now, command_key="c-1") == Redemption()
    assert shop.cancel(f"{MEMBER}/reward/1", now, command_key="c-2") == Redemption()
    assert shop.available(now) == balance == 200
    assert shop.stock.issued == {"parking": 0}


def test_cancelling_an_unknown_redemption_is_refused(shop: Shop) -> None:
    with pytest.raises(UnknownRedemptionError) as caught:
        shop.cancel("p-1/reward/9", sh(2026, 5, 1))
    assert str(caught.value) == "member p-1: no redemption 'p-1/reward/9' to cancel"
    assert caught.value.redemption_id == "p-1/reward/9"


def test_a_cancellation_may_not_reuse_the_key_of_the_redemption(shop: Shop) -> None:
    now = sh(2026, 5, 1)
    shop.earn(200, now)
    shop.redeem("parking", now, command_key="order-9")
    with pytest.raises(IdempotencyConflictError, match="'order-9'"):
        shop.cancel(f"{MEMBER}/reward/1", now, command_key="order-9")


# --- messages --------------------------------------------------------------------------------

_instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - bounds of a strategy for aware instants
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(SH),
)
_texts = st.text(alphabet="abc-/1", min_size=1, max_size=8)
_counts = st.integers(1, 50)
_messages = st.one_of(
    st.builds(RedeemReward, key=_texts, member_id=_texts, reward_key=_texts, quantity=_counts),
    st.builds(CancelRedemption, key=_texts, member_id=_texts, redemption_id=_texts, reason=_texts),
    st.builds(
        RewardRedeemed,
        redemption_id=_texts,
        member_id=_texts,
        reward_key=_texts,
        quantity=_counts,
        points=_counts,
        value_fen=st.integers(0, 10**7),
        at=_instants,
        catalogue_version=_counts,
        posting_id=_texts,
        idempotency_key=_texts,
        fingerprint=_texts,
    ),
    st.builds(
        RedemptionCancelled,
        redemption_id=_texts,
        member_id=_texts,
        reward_key=_texts,
        quantity=_counts,
        points=_counts,
        value_fen=st.integers(0, 10**7),
        at=_instants,
        reason=_texts,
        posting_id=_texts,
        idempotency_key=_texts,
        fingerprint=_texts,
    ),
)


@given(_messages)
def test_every_reward_message_survives_a_round_trip_through_the_converter(
    message: RewardCommand | RewardEvent,
) -> None:
    data = converter().unstructure(message)
    assert converter().structure(data, type(message)) == message


def test_the_reward_message_tags_are_stable_and_unique() -> None:
    assert [cls.TYPE for cls in MESSAGE_TYPES] == [
        "redeem_reward",
        "cancel_redemption",
        "reward_redeemed",
        "redemption_cancelled",
        "reward_history_merged",
        "reward_history_merged_away",
    ]
