"""Properties of the commands that span records, over generated sequences of them.

A household of four and a duplicate record of each of them; points are given, moved
between relatives, spent on gifts and cancelled, and records merged, in any order. Every
command is either carried out or refused with the part's error, and whatever happens the
points are conserved: what was given is what the records hold plus what was spent, and
the gift's stock counts exactly the gifts held.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pluggy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import (
    AdjustPoints,
    Engine,
    MembercoreError,
    MergeMembers,
    Redeem,
    TransferPoints,
    reference_config,
    rewards,
)
from membercore.facts import PatientRegistered
from membercore.households import AddDependent, FormHousehold
from membercore.plugins import make_plugin_manager
from membercore.serialization import message_from_json, record_to_json
from membercore.service.member import replay
from membercore.service.recording import member_key
from membercore.service.unit_of_work import RecordCache, decode
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory

START = datetime.fromisoformat("2026-03-02T02:00:00+00:00")
FAMILY = ("p-a", "p-b", "p-c", "p-d")
EVERYONE = FAMILY + tuple(f"{p}-old" for p in FAMILY)
GIFT = "bp_monitor"  # 6,000 points, 100 in stock, one per member

people = st.sampled_from(EVERYONE)
commands = st.one_of(
    st.builds(lambda who, points: ("adjust", who, points), people, st.integers(1, 9_000)),
    st.builds(
        lambda a, b, points: ("transfer", a, b, points),
        st.sampled_from(FAMILY),
        st.sampled_from(FAMILY),
        st.integers(1, 5_000),
    ),
    st.builds(lambda who, points: ("redeem", who, points), people, st.integers(1, 3_000)),
    st.builds(lambda who: ("gift", who), people),
    st.builds(lambda who, n: ("ungift", who, n), people, st.integers(1, 2)),
    st.builds(lambda a, b: ("merge", a, b), people, people),
)


@pytest.fixture(scope="module")
def manager() -> pluggy.PluginManager:
    return make_plugin_manager(load_entrypoints=False, plugins=[memory])


def _command(step: tuple[Any, ...], n: int) -> object:
    kind, who, *rest = step
    key = f"k-{n}"
    if kind == "adjust":
        return AdjustPoints(key=key, member_id=who, points=rest[0], operator="s", reason="r")
    if kind == "transfer":
        return TransferPoints(key=key, member_id=who, target_id=rest[0], points=rest[1])
    if kind == "redeem":
        return Redeem(key=key, member_id=who, points=rest[0])
    if kind == "gift":
        return rewards.RedeemReward(key=key, member_id=who, reward_key=GIFT)
    if kind == "ungift":
        redemption = f"{who}/reward/{rest[0]}"
        return rewards.CancelRedemption(
            key=key, member_id=who, redemption_id=redemption, reason="r"
        )
    return MergeMembers(key=key, member_id=who, duplicate_id=rest[0], operator="s", reason="r")


@pytest.mark.slow
@given(st.lists(commands, max_size=30))
def test_commands_that_span_records_conserve_points_and_stock(
    manager: pluggy.PluginManager, steps: list[tuple[Any, ...]]
) -> None:
    clock = ManualClock(START)
    with Engine.open(
        "memory://", config=reference_config(), clock=clock, plugin_manager=manager
    ) as engine:
        engine.ingest(
            PatientRegistered(fact_id=f"reg-{p}", patient_id=p, occurred_at=START) for p in EVERYONE
        )
        engine.execute(FormHousehold(key="hh", household_id="hh", head_id=FAMILY[0]))
        for person in FAMILY[1:]:
            engine.execute(
                AddDependent(
                    key=f"hh-{person}", household_id="hh", member_id=person, relationship="other"
                )
            )
        given_points = returned = 0
        for person in EVERYONE:
            engine.adjust_points(person, 7_000, key=f"seed-{person}", operator="s", reason="r")
            given_points += 7_000
        for n, step in enumerate(steps):
            clock.set(START + timedelta(minutes=n + 1))
            try:
                events = engine.execute(_command(step, n))  # type: ignore[arg-type]
            except MembercoreError:
                continue
            if step[0] == "adjust":
                given_points += step[2]
            returned += sum(e.points for e in events if isinstance(e, rewards.RedemptionCancelled))

        held = {p: engine.points(p) for p in EVERYONE}
        assert all(b.available >= 0 for b in held.values())
        # Points are conserved: moving or merging them creates and loses none.
        assert sum(b.transferred_in for b in held.values()) == sum(
            b.transferred_out for b in held.values()
        )
        assert sum(b.merged for b in held.values()) == 0
        assert sum(b.adjusted for b in held.values()) == given_points + returned
        spent = sum(b.redeemed for b in held.values())
        assert sum(b.available for b in held.values()) == given_points + returned - spent
        # The gift's stock counts exactly the gifts members hold.
        holding = sum(engine.member(p).rewards.redeemed(GIFT) for p in EVERYONE)
        record = engine.store.load([f"stock:{GIFT}"]).get(f"stock:{GIFT}")
        stock = decode(engine.store, RecordCache(1), record) if record else None
        assert (stock.issued.get(GIFT, 0) if stock else 0) == holding
        # Each record's journal replays to the record stored.
        for member in engine.members():
            journal = engine.store.events(member_key(member.member_id))
            rebuilt = replay(member.member_id, [message_from_json(e.payload) for e in journal])
            assert record_to_json(rebuilt) == record_to_json(member)
