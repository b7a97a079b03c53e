"""The reference programme as a whole: its parts load, validate and work together."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import ChargeLine, ChargePaid, ConfigError, journeys, load_config, reference_config
from membercore import benefits as b
from membercore import plans as p
from membercore import tiers as t
from membercore.serialization import dump_config, load_config_toml
from membercore.testing import Book

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def test_the_reference_programme_has_five_tiers_their_packages_plans_and_gifts() -> None:
    config = reference_config()
    assert config.tiers.keys == ("L1", "L2", "L3", "L4", "L5")
    tier_packages = {package.tier for package in config.packages if package.tier}
    assert tier_packages == set(config.tiers.keys)
    plans = {plan.key: plan for plan in config.plans.plans}
    assert [plans[k].price_fen for k in ("annual_299", "annual_599", "annual_999")] == [
        29_900,
        59_900,
        99_900,
    ]
    assert plans["monthly_99"].annual_equivalent_fen == 118_800
    assert plans["family_steward"].max_dependents == 3
    assert plans["diabetes_steward"].programme == "diabetes"
    assert {package.plan for package in config.packages if package.plan} == set(plans)
    assert config.rewards.yearly_value_cap_fen == 200_000
    assert load_config(dump_config(config)) == config


def test_every_part_must_name_what_the_programme_defines() -> None:
    config = reference_config()
    stray = {"key": "x", "label": "x", "benefits": [], "plan": "platinum_plus"}
    with pytest.raises(ConfigError) as refusal:
        load_config({**dump_config(config), "packages": [stray]})
    assert refusal.value.key == "$.packages[0].plan"
    with pytest.raises(ConfigError, match="higher than the level below"):
        load_config_toml(
            """
            [[tiers.levels]]
            key = "L1"
            label = "普通"
            threshold = 0
            [[tiers.levels]]
            key = "L2"
            label = "银卡"
            threshold = 0
            """
        )


def test_a_paid_plan_lifts_the_tier_which_lifts_earning_and_benefits() -> None:
    config = reference_config()
    member = "p-zhao"
    plans = p.PlansState(member_id=member)
    for command in (
        p.Subscribe(key="s1", member_id=member, subscription_id="sub-1", plan_key="annual_999"),
        p.RecordPayment(
            key="s2", member_id=member, subscription_id="sub-1", amount_fen=99_900, paid_at=T0
        ),
    ):
        for event in p.decide(command, plans, config, T0):
            plans = p.evolve(plans, event)
    floor = p.tier_floor(plans, config, T0)
    assert floor == "L3"  # the 999 元 plan holds its subscriber at gold
    book = Book(config)
    tier_state = t.TierState(member_id=member)
    for event in t.decide(None, tier_state, book.state(member), config, T0, floor=floor):
        tier_state = t.evolve(tier_state, event)
    tier = t.tier_of(tier_state, config)
    assert tier == "L3"
    charge = ChargePaid(
        fact_id="f1",
        patient_id=member,
        occurred_at=T0,
        charge_id="c1",
        lines=[ChargeLine(department="dental", category="treatment", amount_fen=100_000)],
    )
    (earned,) = book.apply(charge, T0, tier=tier)
    assert earned.points == 1_500  # 1,000 元 at x1.5 for gold
    for event in t.decide(charge, tier_state, book.state(member), config, T0, floor=floor):
        tier_state = t.evolve(tier_state, event)
    standing = b.Standing(member_id=member, tier=tier, plans=p.active_plans(plans, T0))
    held = {entitlement.key: entitlement for entitlement in b.entitlements(standing, config)}
    assert {source.grant for source in held["health_manager"].sources} == {
        "tier:L3",
        "plan:annual_999",
    }
    # A year and the plan's grace on, the floor is gone; the tier review (due at the
    # anniversary plus 30 days' grace) has not yet come.
    later = T0 + timedelta(days=385)
    for event in p.decide(p.AdvanceSubscriptions(member_id=member), plans, config, later):
        plans = p.evolve(plans, event)
    assert p.tier_floor(plans, config, later) is None
    for event in t.decide(None, tier_state, book.state(member), config, later):
        tier_state = t.evolve(tier_state, event)
    assert t.tier_of(tier_state, config) == "L2"  # held on the 1,500 points earned
    assert t.history(tier_state)[-1].reason == "floor_ended"


def test_the_reference_journeys_hold_together_and_name_existing_templates() -> None:
    config = reference_config()
    registry = journeys.builtin_registry()
    assert len(config.journeys) == 13
    for definition in config.journeys:
        journeys.validate(definition, registry)
    bad = attrs.evolve(
        config.journeys[1],
        entry_actions=(
            journeys.Call(name="send_message", params={"template": "nope", "purpose": "care"}),
        ),
    )
    with pytest.raises(ConfigError, match="no template 'nope'"):
        attrs.evolve(config, journeys=(bad,))
    wrong = attrs.evolve(
        config.journeys[1],
        entry_actions=(
            journeys.Call(name="send_message", params={"template": "birthday", "purpose": "care"}),
        ),
    )
    with pytest.raises(ConfigError, match="is for marketing, not care"):
        attrs.evolve(config, journeys=(wrong,))
