"""Several members earning points and redeeming gifts from one stock, against a plain model.

The model writes the catalogue's rules out directly (stock, per-member limits, the yearly
value cap in Shanghai's calendar, tiers, points); every refusal must be the one the model
expects, and a refused redemption must change nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import hypothesis
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from membercore import AdjustPoints, InsufficientPointsError, PostingKind, reference_config
from membercore.config import Reward, RewardCatalogue
from membercore.errors import (
    OutOfStockError,
    PerMemberLimitError,
    TierTooLowError,
    UnknownRewardError,
    YearlyValueCapError,
)
from membercore.ledger import evolve
from membercore.rewards import (
    CancelRedemption,
    RedeemReward,
    Redemption,
    RedemptionCancelled,
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
from membercore.testing import Book

SH = ZoneInfo("Asia/Shanghai")
MEMBERS = ("m-1", "m-2", "m-3")
TIERS = ("L1", "L2", "L3", "L4", "L5")
# A week before the new year in Shanghai, so the yearly cap soon meets a new year.
START = datetime(2025, 12, 24, 20, 0, tzinfo=SH).astimezone(UTC)
CATALOGUE = RewardCatalogue(
    version=2,
    rewards=(
        Reward(key="pen", label="笔", points=50, value_fen=500),
        Reward(key="mug", label="杯子", points=100, value_fen=2_000, stock=4, per_member_limit=2),
        Reward(key="kit", label="礼盒", points=300, value_fen=6_000, stock=2, min_tier="L3"),
        Reward(key="voucher", label="体检券", points=200, value_fen=8_000),
    ),
    yearly_value_cap_fen=20_000,
)
CONFIG = attrs.evolve(reference_config(), rewards=CATALOGUE)
REWARD_KEYS = [reward.key for reward in CATALOGUE.rewards]


@dataclass
class Held:
    """The model's record of one redemption."""

    member: str
    reward_key: str
    quantity: int
    value_fen: int
    year: int
    cancelled: bool = False


class RewardsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.keys = itertools.count(1)
        self.book = Book(CONFIG)
        self.histories = {member: RewardHistory(member_id=member) for member in MEMBERS}
        self.stock = StockState()
        self.events: list[RewardRedeemed | RedemptionCancelled] = []
        self.accepted: list[tuple[RedeemReward, str]] = []
        # The model.
        self.held: dict[str, Held] = {}

    # --- helpers --------------------------------------------------------------------------

    def key(self, prefix: str) -> str:
        return f"{prefix}-{next(self.keys)}"

    def apply(self, decision: Redemption) -> None:
        for posting in decision.postings:
            member = posting.member_id
            self.book.states[member] = evolve(self.book.state(member), posting)
            self.book.journal.append(posting)
        for event in decision.events:
            self.histories[event.member_id] = evolve_history(self.histories[event.member_id], event)
            self.stock = evolve_stock(self.stock, event)
            self.events.append(event)

    def standing(self, member: str | None = None) -> list[Held]:
        return [
            held
            for held in self.held.values()
            if not held.cancelled and (member is None or held.member == member)
        ]

    def expected_refusal(
        self, member: str, reward_key: str, quantity: int, tier: str
    ) -> type[Exception] | None:
        reward = CATALOGUE.reward(reward_key)
        if reward is None:
            return UnknownRewardError
        cap = CATALOGUE.yearly_value_cap_fen
        assert cap is not None
        year = self.now.astimezone(SH).year
        out = sum(h.quantity for h in self.standing() if h.reward_key == reward_key)
        mine = [h for h in self.standing(member) if h.reward_key == reward_key]
        received = sum(h.value_fen for h in self.standing(member) if h.year == year)
        available = self.book.balances(member, self.now).available
        broken: list[tuple[bool, type[Exception]]] = [
            (
                reward.min_tier is not None and TIERS.index(tier) < TIERS.index(reward.min_tier),
                TierTooLowError,
            ),
            (reward.stock is not None and out + quantity > reward.stock, OutOfStockError),
            (
                reward.per_member_limit is not None
                and sum(h.quantity for h in mine) + quantity > reward.per_member_limit,
                PerMemberLimitError,
            ),
            (received + reward.value_fen * quantity > cap, YearlyValueCapError),
            (reward.points * quantity > available, InsufficientPointsError),
        ]
        # The first rule broken, in the order the issue lists them.
        return next((error for is_broken, error in broken if is_broken), None)

    # --- rules ----------------------------------------------------------------------------

    @rule(member=st.sampled_from(MEMBERS), points=st.integers(1, 1_500))
    def earn(self, member: str, points: int) -> None:
        command = AdjustPoints(
            key=self.key("earn"), member_id=member, points=points, operator="staff", reason="t"
        )
        self.book.apply(command, self.now)

    @rule(hours=st.integers(1, 24 * 120))
    def wait(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(
        member=st.sampled_from(MEMBERS),
        reward_key=st.sampled_from([*REWARD_KEYS, "unknown"]),
        quantity=st.integers(1, 3),
        tier=st.sampled_from(TIERS),
    )
    def redeem(self, member: str, reward_key: str, quantity: int, tier: str) -> None:
        command = RedeemReward(
            key=self.key("redeem"), member_id=member, reward_key=reward_key, quantity=quantity
        )
        expected = self.expected_refusal(member, reward_key, quantity, tier)
        hypothesis.event("redeem: " + (expected.__name__ if expected else "accepted"))
        ledger, history, stock = self.book.state(member), self.histories[member], self.stock
        if expected is not None:
            with pytest.raises(expected):
                decide_redemption(command, ledger, history, stock, CONFIG, self.now, tier=tier)
            # Nothing was returned to apply, and the states given were left as they were.
            assert self.book.state(member) == ledger
            assert self.histories[member] is history
            assert self.stock is stock
            return
        decision = decide_redemption(command, ledger, history, stock, CONFIG, self.now, tier=tier)
        reward = CATALOGUE.reward(reward_key)
        assert reward is not None
        (event,) = decision.events
        assert isinstance(event, RewardRedeemed)
        *expiries, posting = decision.postings
        assert all(p.kind is PostingKind.EXPIRE for p in expiries)
        assert posting.kind is PostingKind.REDEEM
        assert event.points == reward.points * quantity == -posting.points
        assert event.value_fen == reward.value_fen * quantity
        assert event.posting_id == posting.posting_id
        self.apply(decision)
        self.held[event.redemption_id] = Held(
            member=member,
            reward_key=reward_key,
            quantity=quantity,
            value_fen=event.value_fen,
            year=self.now.astimezone(SH).year,
        )
        self.accepted.append((command, tier))

    @precondition(lambda self: self.accepted)
    @rule(data=st.data())
    def redeem_again(self, data: st.DataObject) -> None:
        command, tier = data.draw(st.sampled_from(self.accepted))
        member = command.member_id
        decision = decide_redemption(
            command,
            self.book.state(member),
            self.histories[member],
            self.stock,
            CONFIG,
            self.now,
            tier=tier,
        )
        assert decision == Redemption()

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        redemption_id = data.draw(st.sampled_from(sorted(self.held)))
        held = self.held[redemption_id]
        command = CancelRedemption(
            key=self.key("cancel"),
            member_id=held.member,
            redemption_id=redemption_id,
            reason="returned",
        )
        before = self.book.balances(held.member, self.now).balance
        decision = decide_cancellation(
            command, self.book.state(held.member), self.histories[held.member], CONFIG, self.now
        )
        if held.cancelled:
            assert decision == Redemption()
            return
        (event,) = decision.events
        assert isinstance(event, RedemptionCancelled)
        given_back = decision.postings[-1]
        assert given_back.kind is PostingKind.ADJUST
        assert given_back.operator == "rewards"
        expired = sum(p.points for p in decision.postings[:-1])
        self.apply(decision)
        held.cancelled = True
        after = self.book.balances(held.member, self.now).balance
        assert after == before + expired + event.points

    @rule(member=st.sampled_from(MEMBERS), tier=st.sampled_from(TIERS))
    def options_agree_with_the_decider(self, member: str, tier: str) -> None:
        available = self.book.balances(member, self.now).available
        options = available_rewards(
            self.histories[member],
            self.stock,
            CONFIG,
            self.now,
            tier=tier,
            points_available=available,
        )
        reasons: dict[type[Exception] | None, str | None] = {
            None: None,
            UnknownRewardError: "unknown",
            TierTooLowError: "tier_too_low",
            OutOfStockError: "out_of_stock",
            PerMemberLimitError: "limit_reached",
            YearlyValueCapError: "yearly_cap",
            InsufficientPointsError: "insufficient_points",
        }
        for option in options:
            expected = self.expected_refusal(member, option.reward_key, 1, tier)
            assert option.reason == reasons[expected]

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def stock_is_never_negative_nor_above_what_there_is(self) -> None:
        for reward in CATALOGUE.rewards:
            issued = self.stock.issued.get(reward.key, 0)
            model = sum(h.quantity for h in self.standing() if h.reward_key == reward.key)
            assert issued == model
            assert issued >= 0
            if reward.stock is not None:
                assert issued <= reward.stock
                assert self.stock.left(reward) == reward.stock - issued

    @invariant()
    def no_member_holds_more_than_the_per_member_limit(self) -> None:
        for member in MEMBERS:
            for reward in CATALOGUE.rewards:
                held = self.histories[member].redeemed(reward.key)
                if reward.per_member_limit is not None:
                    assert held <= reward.per_member_limit

    @invariant()
    def no_member_receives_more_than_the_cap_in_a_year(self) -> None:
        cap = CATALOGUE.yearly_value_cap_fen
        assert cap is not None
        for member in MEMBERS:
            history = self.histories[member]
            for year in {record.at.astimezone(SH).year for record in history.redemptions}:
                assert history.value_in_year(year, SH) <= cap

    @invariant()
    def the_ledger_balance_is_the_sum_of_the_postings(self) -> None:
        for member in MEMBERS:
            postings = self.book.postings(member)
            assert self.book.state(member).balance == sum(p.points for p in postings)

    @invariant()
    def the_points_redeemed_are_the_points_of_the_gifts_kept(self) -> None:
        for member in MEMBERS:
            redeemed = self.book.state(member).totals.redeemed
            mine = [e for e in self.events if e.member_id == member]
            assert redeemed == sum(e.points for e in mine if isinstance(e, RewardRedeemed))

    @invariant()
    def replaying_the_events_rebuilds_every_state(self) -> None:
        assert replay_stock(self.events) == self.stock
        for member in MEMBERS:
            mine = [e for e in self.events if e.member_id == member]
            assert replay_history(member, mine) == self.histories[member]


RewardsMachine.TestCase.settings = settings(stateful_step_count=40)
test_the_catalogue_agrees_with_the_reference_model = RewardsMachine.TestCase
