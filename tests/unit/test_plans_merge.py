"""Subscriptions move whole when two records of one person are merged."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from membercore import MergeMembers, reference_config
from membercore import plans as p
from membercore.errors import SubscriptionExistsError
from membercore.serialization import message_from_dict, message_to_dict

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=SH)
KEEP, DUP = "p-1001", "p-2002"
CONFIG = reference_config()


def _subscribed(member: str, subscription_id: str, plan_key: str = "annual_999") -> p.PlansState:
    state = p.PlansState(member_id=member)
    price = next(plan.price_fen for plan in CONFIG.plans.plans if plan.key == plan_key)
    for command in (
        p.Subscribe(
            key=f"{subscription_id}-s",
            member_id=member,
            subscription_id=subscription_id,
            plan_key=plan_key,
        ),
        p.RecordPayment(
            key=f"{subscription_id}-p",
            member_id=member,
            subscription_id=subscription_id,
            amount_fen=price,
            paid_at=T0,
        ),
    ):
        for event in p.decide(command, state, CONFIG, T0):
            state = p.evolve(state, event)
    return state


def _merge() -> MergeMembers:
    return MergeMembers(
        key="m-1", member_id=KEEP, duplicate_id=DUP, operator="staff", reason="同一人"
    )


def _apply(states: dict[str, p.PlansState], events: list[p.SubscriptionEvent]) -> None:
    for event in events:
        states[event.member_id] = p.evolve(states[event.member_id], event)


def test_the_duplicates_subscription_moves_to_the_survivor_as_it_stands() -> None:
    states = {KEEP: p.PlansState(member_id=KEEP), DUP: _subscribed(DUP, "sub-9")}
    later = T0 + timedelta(days=30)
    events = p.decide_merge(_merge(), states[KEEP], states[DUP], later)
    _apply(states, events)
    assert p.active_plans(states[KEEP], later) == ("annual_999",)
    assert p.tier_floor(states[KEEP], CONFIG, later) == "L3"
    assert p.active_plans(states[DUP], later) == ()
    moved = states[KEEP].subscriptions["sub-9"]
    assert moved.term_end == datetime(2027, 3, 1, 10, 0, tzinfo=SH)  # the paid year is kept
    assert p.decide_merge(_merge(), states[KEEP], states[DUP], later) == []


def test_the_merge_events_round_trip_and_replay() -> None:
    states = {KEEP: _subscribed(KEEP, "sub-1", "annual_299"), DUP: _subscribed(DUP, "sub-9")}
    events = p.decide_merge(_merge(), states[KEEP], states[DUP], T0 + timedelta(days=1))
    for event in events:
        assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
    _apply(states, events)
    assert set(p.active_plans(states[KEEP], T0 + timedelta(days=2))) == {"annual_299", "annual_999"}


def test_two_records_holding_one_subscription_id_are_refused() -> None:
    states = {KEEP: _subscribed(KEEP, "sub-1"), DUP: _subscribed(DUP, "sub-1")}
    with pytest.raises(SubscriptionExistsError):
        p.decide_merge(_merge(), states[KEEP], states[DUP], T0)
