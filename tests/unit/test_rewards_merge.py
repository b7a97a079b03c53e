"""A merged record's gifts count for the survivor's limits and yearly value cap."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from membercore import AdjustPoints, MergeMembers, reference_config
from membercore.errors import PerMemberLimitError
from membercore.rewards import (
    RedeemReward,
    RewardHistory,
    StockState,
    decide_merge,
    decide_redemption,
    evolve_history,
    evolve_stock,
)
from membercore.serialization import message_from_dict, message_to_dict
from membercore.testing import Book

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=SH)
KEEP, DUP = "p-1001", "p-2002"
CONFIG = reference_config()


def _bp_monitor_for(member: str, book: Book, stock: StockState) -> tuple[RewardHistory, StockState]:
    book.apply(
        AdjustPoints(key=f"{member}-a", member_id=member, points=6_000, operator="s", reason="r"),
        NOW,
    )
    history = RewardHistory(member_id=member)
    command = RedeemReward(key=f"{member}-r", member_id=member, reward_key="bp_monitor")
    decision = decide_redemption(
        command, book.state(member), history, stock, CONFIG, NOW, tier="L1"
    )
    for event in decision.events:
        history, stock = evolve_history(history, event), evolve_stock(stock, event)
    return history, stock


def _merge() -> MergeMembers:
    return MergeMembers(key="m-1", member_id=KEEP, duplicate_id=DUP, operator="s", reason="同一人")


def test_the_survivor_holds_the_duplicates_gifts_for_its_limits() -> None:
    book, stock = Book(CONFIG), StockState()
    dup, stock = _bp_monitor_for(DUP, book, stock)  # the monitor is limited to one a member
    keep = RewardHistory(member_id=KEEP)
    away, merged = decide_merge(_merge(), keep, dup, NOW)
    keep, dup = evolve_history(keep, merged), evolve_history(dup, away)
    assert keep.redeemed("bp_monitor") == 1
    assert dup.redemptions == ()
    assert keep.value_in_year(2026, SH) == 25_000
    book.apply(AdjustPoints(key="k-a", member_id=KEEP, points=6_000, operator="s", reason="r"), NOW)
    again = RedeemReward(key="k-r", member_id=KEEP, reward_key="bp_monitor")
    with pytest.raises(PerMemberLimitError):
        decide_redemption(again, book.state(KEEP), keep, stock, CONFIG, NOW, tier="L1")
    assert decide_merge(_merge(), keep, dup, NOW) == []


def test_history_merge_events_round_trip() -> None:
    book, stock = Book(CONFIG), StockState()
    dup, _ = _bp_monitor_for(DUP, book, stock)
    for event in decide_merge(_merge(), RewardHistory(member_id=KEEP), dup, NOW):
        assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
