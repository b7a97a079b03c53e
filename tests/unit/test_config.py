from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given

from membercore import (
    ConfigError,
    MembercoreError,
    ProgrammeConfig,
    dump_config,
    load_config,
    load_config_toml,
    reference_config,
)
from membercore.config import (
    ActionRule,
    BonusRule,
    EarningRules,
    EventRule,
    ExpiryPolicy,
    LedgerConfig,
    Rate,
    SpendingRule,
)
from membercore.testing import strategies as mst

# -- the reference programme --------------------------------------------------------------


def test_the_reference_programme_is_reckoned_in_shanghai_time() -> None:
    config = reference_config()
    assert config.timezone == "Asia/Shanghai"
    assert config.tz == ZoneInfo("Asia/Shanghai")


def test_the_reference_programme_earns_one_point_per_yuan_with_drug_and_checkup_rates() -> None:
    spending = reference_config().earning.spending
    assert spending.rate == Rate(points=1, per_yuan=1)
    assert spending.rate_for("internal", "drug") == Rate(points=1, per_yuan=2)
    assert spending.rate_for("checkup", "checkup") == Rate(points=2, per_yuan=1)
    assert spending.rate_for("dental", "treatment") == Rate(points=1, per_yuan=1)
    assert spending.vesting_days == 7


def test_the_reference_programme_multiplies_spending_by_tier() -> None:
    spending = reference_config().earning.spending
    assert spending.multiplier_pct("L3") == 150
    assert spending.multiplier_pct("L5") == 200
    assert spending.multiplier_pct(None) == 100
    assert spending.multiplier_pct("黑卡") == 100


def test_the_reference_programme_keeps_points_until_the_end_of_the_24th_month() -> None:
    ledger = reference_config().ledger
    assert ledger.expiry == ExpiryPolicy(mode="month_end", months=24)
    assert ledger.clawback == "debt"


def test_the_reference_programme_rewards_engagement_as_documented() -> None:
    earning = reference_config().earning
    assert earning.check_in.points == 1
    assert earning.check_in.daily_cap == 1
    assert earning.event_attendance.points == 20
    assert earning.event_attendance.points_by_kind == {"member_day": 30}
    assert earning.referral.points == 500
    assert earning.survey.points == 10
    assert earning.rehab_plan.points == 100
    assert earning.liking.qualifying is False
    assert earning.sharing.monthly_cap == 200
    assert set(earning.bonuses) == {"welcome", "birthday", "campaign"}
    assert earning.bonuses["welcome"].once_per_member is True
    assert all(not bonus.qualifying for bonus in earning.bonuses.values())


def test_the_reference_programme_round_trips_through_plain_data() -> None:
    config = reference_config()
    assert load_config(dump_config(config)) == config


def test_the_reference_programme_round_trips_through_json_text() -> None:
    config = reference_config()
    text = json.dumps(dump_config(config), ensure_ascii=False)
    assert load_config(json.loads(text)) == config


def test_a_dumped_programme_is_plain_nested_data() -> None:
    data = dump_config(reference_config())
    assert data["name"] == "仁和医院健康会员"
    assert data["timezone"] == "Asia/Shanghai"
    assert data["ledger"] == {
        "version": 1,
        "clawback": "debt",
        "expiry": {"mode": "month_end", "months": 24},
        "reversible_months": 36,
    }
    assert data["earning"]["spending"]["category_rates"] == {
        "drug": {"points": 1, "per_yuan": 2},
        "checkup": {"points": 2, "per_yuan": 1},
    }
    assert data["earning"]["sharing"]["daily_cap"] == 15
    assert data["earning"]["referral"]["monthly_cap"] is None


def test_an_empty_mapping_is_the_default_programme() -> None:
    config = load_config({})
    assert config == ProgrammeConfig()
    assert config.name == "会员计划"
    assert config.timezone == "Asia/Shanghai"


@given(mst.programme_configs())
def test_every_generated_programme_round_trips_through_plain_data_and_json(
    config: ProgrammeConfig,
) -> None:
    assert load_config(dump_config(config)) == config
    assert load_config(json.loads(json.dumps(dump_config(config)))) == config


# -- a programme written in TOML by hand --------------------------------------------------

KANGNING_TOML = """
name = "康宁医院会员计划"
version = 3
timezone = "Asia/Shanghai"

[ledger]
clawback = "cap"

[ledger.expiry]
mode = "month_end"
months = 12

[earning.check_in]
points = 2
daily_cap = 2

[earning.spending]
vesting_days = 14

[earning.spending.rate]
points = 1
per_yuan = 2

[earning.spending.category_rates.checkup]
points = 3
per_yuan = 1

[earning.spending.department_rates.dental]
points = 2
per_yuan = 1

[earning.spending.tier_multipliers_pct]
L2 = 110
L3 = 130

[earning.event_attendance]
points = 15
points_by_kind = { member_day = 50, free_clinic = 0 }

[earning.bonuses.spring_festival]
max_points = 888
monthly_cap = 888
vesting_days = 3
"""


def test_a_hand_written_toml_programme_changes_the_spending_rate() -> None:
    spending = load_config_toml(KANGNING_TOML).earning.spending
    assert spending.rate == Rate(points=1, per_yuan=2)
    assert spending.category_rates == {"checkup": Rate(points=3, per_yuan=1)}
    assert spending.department_rates == {"dental": Rate(points=2, per_yuan=1)}
    assert spending.rate_for("dental", "checkup") == Rate(points=3, per_yuan=1)
    assert spending.rate_for("dental", "treatment") == Rate(points=2, per_yuan=1)
    assert spending.rate_for("internal", "drug") == Rate(points=1, per_yuan=2)
    assert spending.vesting_days == 14
    assert spending.multiplier_pct("L3") == 130
    assert spending.multiplier_pct("L5") == 100


def test_a_hand_written_toml_programme_adds_a_bonus() -> None:
    bonuses = load_config_toml(KANGNING_TOML).earning.bonuses
    assert bonuses == {
        "spring_festival": BonusRule(max_points=888, monthly_cap=888, vesting_days=3),
    }
    festival = bonuses["spring_festival"]
    assert festival.qualifying is False
    assert festival.once_per_member is False
    assert festival.enabled is True


def test_a_hand_written_toml_programme_sets_the_ledger_and_top_level_keys() -> None:
    config = load_config_toml(KANGNING_TOML)
    assert config.name == "康宁医院会员计划"
    assert config.version == 3
    assert config.ledger == LedgerConfig(
        clawback="cap", expiry=ExpiryPolicy(mode="month_end", months=12)
    )
    assert config.earning.check_in == ActionRule(points=2, daily_cap=2)
    assert config.earning.event_attendance == EventRule(
        points=15, points_by_kind={"member_day": 50, "free_clinic": 0}
    )


def test_rules_a_toml_programme_leaves_out_keep_their_defaults() -> None:
    earning = load_config_toml(KANGNING_TOML).earning
    defaults = EarningRules()
    assert earning.sharing == defaults.sharing == ActionRule(points=5, daily_cap=15)
    assert earning.referral == ActionRule(points=500)
    assert earning.liking == ActionRule(points=1, daily_cap=5)


def test_a_toml_programme_round_trips_through_plain_data() -> None:
    config = load_config_toml(KANGNING_TOML)
    assert load_config(dump_config(config)) == config


# -- refusals -----------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(*path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(*path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


INVALID = [
    pytest.param(
        _set("earning", "sharing", "points", value=5.0),
        "$.earning.sharing.points",
        "expected a whole number",
        id="float-where-int",
    ),
    pytest.param(
        _set("earning", "sharing", "points", value=True),
        "$.earning.sharing.points",
        "expected a whole number",
        id="bool-where-int",
    ),
    pytest.param(
        _set("earning", "sharing", "points", value="5"),
        "$.earning.sharing.points",
        "expected a whole number",
        id="string-where-int",
    ),
    pytest.param(
        _set("earning", "referral", "enabled", value="yes"),
        "$.earning.referral.enabled",
        "expected true or false",
        id="string-where-bool",
    ),
    pytest.param(
        _set("earning", "liking", "qualifying", value=0),
        "$.earning.liking.qualifying",
        "expected true or false",
        id="int-where-bool",
    ),
    pytest.param(
        _set("name", value=2026),
        "$.name",
        "expected text",
        id="int-where-str",
    ),
    pytest.param(
        _set("earning", "sharing", "points", value=-5),
        "$.earning.sharing.points",
        "-5",
        id="negative-points",
    ),
    pytest.param(
        _set("earning", "spending", "vesting_days", value=-7),
        "$.earning.spending.vesting_days",
        "-7",
        id="negative-vesting-days",
    ),
    pytest.param(
        _set("earning", "spending", "rate", "per_yuan", value=0),
        "$.earning.spending.rate.per_yuan",
        "positive",
        id="zero-default-per-yuan",
    ),
    pytest.param(
        _set("earning", "spending", "category_rates", "drug", "per_yuan", value=0),
        "$.earning.spending.category_rates['drug'].per_yuan",
        "positive",
        id="zero-drug-per-yuan",
    ),
    pytest.param(
        _set("earning", "bonuses", "welcome", "max_points", value=0),
        "$.earning.bonuses['welcome'].max_points",
        "positive",
        id="zero-bonus-max-points",
    ),
    pytest.param(
        _set("earning", "check_in", "daily_cap", value=0),
        "$.earning.check_in.daily_cap",
        "positive",
        id="zero-daily-cap",
    ),
    pytest.param(
        _set("version", value=0),
        "$.version",
        "positive",
        id="zero-version",
    ),
    pytest.param(
        _set("timezone", value="Asia/Beijing"),
        "$.timezone",
        "Asia/Beijing",
        id="unknown-timezone",
    ),
    pytest.param(
        _set("ledger", "clawback", value="forgive"),
        "$.ledger.clawback",
        "forgive",
        id="bad-clawback-literal",
    ),
    pytest.param(
        _set("ledger", "expiry", "mode", value="yearly"),
        "$.ledger.expiry.mode",
        "yearly",
        id="bad-expiry-mode",
    ),
    pytest.param(
        _set("ledger", "expiry", "months", value=0),
        "$.ledger.expiry.months",
        "must be from 1 to 1200",
        id="zero-expiry-months",
    ),
    pytest.param(
        _delete("earning", "referral", "points"),
        "$.earning.referral.points",
        "missing",
        id="missing-required-key",
    ),
    pytest.param(
        _set("earning", "sharing", "daly_cap", value=3),
        "$.earning.sharing.daly_cap",
        "daly_cap",
        id="unknown-key-in-a-rule",
    ),
    pytest.param(
        _set("colour", value="青色"),
        "$.colour",
        "colour",
        id="unknown-top-level-key",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "detail"), INVALID)
def test_an_invalid_programme_is_refused_naming_the_dotted_key(
    mutate: Mutation, key: str, detail: str
) -> None:
    data = copy.deepcopy(dump_config(reference_config()))
    mutate(data)
    with pytest.raises(ConfigError) as excinfo:
        load_config(data)
    assert excinfo.value.key == key
    assert key in str(excinfo.value)
    assert detail in excinfo.value.problem


def test_a_config_error_is_a_membercore_error_and_a_value_error() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config({"timezone": "Mars/Olympus_Mons"})
    assert isinstance(excinfo.value, MembercoreError)
    assert isinstance(excinfo.value, ValueError)


def test_a_negative_tier_multiplier_is_refused_naming_the_tier() -> None:
    data = dump_config(reference_config())
    data["earning"]["spending"]["tier_multipliers_pct"]["L3"] = -150
    with pytest.raises(ConfigError) as excinfo:
        load_config(data)
    assert excinfo.value.key.startswith("$.earning.spending.tier_multipliers_pct")
    assert "L3" in excinfo.value.key
    assert "-150" in excinfo.value.problem


def test_a_negative_points_by_kind_is_refused_naming_the_event_kind() -> None:
    data = dump_config(reference_config())
    data["earning"]["event_attendance"]["points_by_kind"]["member_day"] = -30
    with pytest.raises(ConfigError) as excinfo:
        load_config(data)
    assert excinfo.value.key.startswith("$.earning.event_attendance.points_by_kind")
    assert "member_day" in excinfo.value.key


def test_a_wrong_type_in_toml_text_is_refused_naming_the_dotted_key() -> None:
    text = "[earning.sharing]\npoints = 5.5\n"
    with pytest.raises(ConfigError) as excinfo:
        load_config_toml(text)
    assert excinfo.value.key == "$.earning.sharing.points"
    assert "$.earning.sharing.points" in str(excinfo.value)


def test_a_bad_clawback_in_toml_text_is_refused_naming_the_dotted_key() -> None:
    text = '[ledger]\nclawback = "ignore"\n'
    with pytest.raises(ConfigError) as excinfo:
        load_config_toml(text)
    assert excinfo.value.key == "$.ledger.clawback"
    assert "ignore" in excinfo.value.problem


def test_a_zero_per_yuan_in_toml_text_is_refused_naming_the_category() -> None:
    text = "[earning.spending.category_rates.drug]\npoints = 1\nper_yuan = 0\n"
    with pytest.raises(ConfigError) as excinfo:
        load_config_toml(text)
    assert excinfo.value.key == "$.earning.spending.category_rates['drug'].per_yuan"


@pytest.mark.parametrize(
    "text",
    [
        'name = "仁和医院健康会员\n',
        "[earning.sharing\npoints = 5\n",
        "[ledger]\nclawback = debt\n",
        "[earning.sharing]\npoints = 5\npoints = 6\n",
    ],
    ids=["unclosed-string", "unclosed-table", "bare-word-value", "duplicate-key"],
)
def test_malformed_toml_is_refused_at_the_root_key(text: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config_toml(text)
    assert excinfo.value.key == "$"
    assert "not valid TOML" in excinfo.value.problem
    assert "'$'" in str(excinfo.value)


def test_the_config_classes_refuse_bad_values_when_built_directly() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Rate(points=1, per_yuan=0)
    assert excinfo.value.key == "per_yuan"
    with pytest.raises(ConfigError) as excinfo:
        SpendingRule(tier_multipliers_pct={"L2": -1})
    assert excinfo.value.key == "tier_multipliers_pct['L2']"


# -- configuration that cannot mislead ---------------------------------------------------


def _with_template(
    text: str, channels: list[str], variables: list[str] | None = None
) -> dict[str, Any]:
    data = dump_config(reference_config())
    data["outreach"]["templates"].append(
        {
            "key": "extra",
            "purpose": "care",
            "texts": {"zh-CN": text},
            "channels": channels,
            "variables": variables or [],
        }
    )
    return data


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("您好，您的糖尿病复查已到期", "糖尿病"),
        ("您好，您的E11.9复查已到期", "E11.9"),
        ("Your diabetes check is due", "diabetes"),
        ("您好，您的e11.9复查已到期", "E11.9"),
        ("您好，您的E119复查已到期", "E119"),
        ("您好，您的Ｅ１１．９复查已到期", "E11.9"),
        ("您好，孕期检查已可预约", "孕期"),
        ("您好，冠心病随访已到期", "冠心病"),
    ],
)
def test_a_template_whose_own_text_names_a_condition_may_not_go_out_by_sms(
    text: str, named: str
) -> None:
    with pytest.raises(ConfigError, match="phone task") as raised:
        load_config(_with_template(text, ["sms"]))
    assert named in raised.value.problem
    last = len(reference_config().outreach.templates)
    assert raised.value.key == f"$.outreach.templates[{last}].texts.zh-CN"
    load_config(_with_template(text, ["phone"]))  # a call by staff may carry it


def test_text_where_a_list_is_meant_is_refused_naming_the_key() -> None:
    data = dump_config(reference_config())
    data["outreach"]["sensitive_variables"] = "diagnosis"
    with pytest.raises(ConfigError) as raised:
        load_config(data)
    assert raised.value.key == "$.outreach.sensitive_variables"
    assert "expected a list, got text 'diagnosis'" in raised.value.problem


def test_a_table_where_a_list_is_meant_is_refused_naming_the_key() -> None:
    data = dump_config(reference_config())
    data["outreach"]["channel_order"] = {"wecom": 1, "sms": 2}
    with pytest.raises(ConfigError) as raised:
        load_config(data)
    assert raised.value.key == "$.outreach.channel_order"
    assert "expected a list, got a table" in raised.value.problem


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ({"name": "award_points", "params": {"bonus": "nope", "points": 50}}, "no bonus 'nope'"),
        (
            {"name": "award_points", "params": {"bonus": "campaign", "points": -100}},
            "points must be",
        ),
        ({"name": "make_offer", "params": {"plan": "platinum", "valid_days": 7}}, "no plan"),
        (
            {"name": "create_task", "params": {"kind": "call", "role": "nurse", "due_hours": -24}},
            "due_hours",
        ),
        ({"name": "start_journey", "params": {"journey": "nowhere"}}, "no journey 'nowhere'"),
        (
            {"name": "send_message", "params": {"template": "nope", "purpose": "care"}},
            "no template 'nope'",
        ),
        (
            {
                "name": "create_task",
                "params": {"kind": "visit", "role": "dietitian", "due_hours": 24},
            },
            "step 'entry': create_task: nobody on the staff roster has the role 'dietitian'",
        ),
        ({"name": "add_tag", "params": {"tag": "condition:diabetes"}}, "derived from facts"),
        ({"name": "remove_tag", "params": {"tag": "stage:senior"}}, "derived from facts"),
    ],
)
def test_a_journey_action_naming_what_the_programme_lacks_is_refused(
    action: dict[str, Any], says: str
) -> None:
    data = dump_config(reference_config())
    journey = copy.deepcopy(data["journeys"][0])
    journey["key"] = "extra"
    journey["entry_actions"] = [action]
    data["journeys"].append(journey)
    with pytest.raises(ConfigError, match="journeys") as raised:
        load_config(data)
    assert says in raised.value.problem


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("plausibility", "history_days"), 1_000_000),
        (("plausibility", "ahead_days"), 3_000_000),
        (("plausibility", "max_age_years"), 3_000),
        (("ledger", "expiry", "months"), 100_000),
        (("earning", "spending", "vesting_days"), 10_000_000),
        (("tiers", "grace_days"), 10**9),
    ],
)
def test_a_span_of_time_no_calendar_holds_is_refused_naming_the_key(
    path: tuple[str, ...], value: int
) -> None:
    data = dump_config(reference_config())
    target = data
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    with pytest.raises(ConfigError, match="must be from") as raised:
        load_config(data)
    assert raised.value.key == "$." + ".".join(path)


def test_a_refusal_lists_a_few_problems_and_counts_the_rest() -> None:
    data = dump_config(reference_config())
    data["segments"]["extra_codes"] = [{"first": 1, "last": 2, "bogus": n} for n in range(2_000)]
    with pytest.raises(ConfigError) as raised:
        load_config(data)
    assert len(str(raised.value)) < 2_000
    assert "more)" in raised.value.problem


def _with_extra_journey(data: dict[str, Any], *, guards: list[Any]) -> None:
    journey = copy.deepcopy(data["journeys"][0])
    journey["key"] = "extra"
    journey["entry_guards"] = guards
    data["journeys"].append(journey)


@pytest.mark.parametrize(
    ("guard", "says"),
    [
        ({"name": "has_tag", "params": {"tag": "condition:diabtes"}}, "no tag facts make"),
        ({"name": "lacks_tag", "params": {"tag": "spend:platinum"}}, "no tag facts make"),
        ({"name": "has_plan", "params": {"plan": "platinum"}}, "no plan 'platinum'"),
        ({"name": "tier_at_least", "params": {"tier": "L9"}}, "no tier 'L9'"),
    ],
)
def test_a_journey_guard_naming_what_the_programme_lacks_is_refused(
    guard: dict[str, Any], says: str
) -> None:
    data = dump_config(reference_config())
    _with_extra_journey(data, guards=[guard])
    with pytest.raises(ConfigError, match="journeys") as raised:
        load_config(data)
    assert says in raised.value.problem
    assert "journey 'extra'" in raised.value.problem


def test_a_journey_may_test_a_tag_of_its_own_or_of_staff_since_such_tags_are_open() -> None:
    data = dump_config(reference_config())
    _with_extra_journey(
        data,
        guards=[
            {"name": "has_tag", "params": {"tag": "vip"}},
            {"name": "lacks_tag", "params": {"tag": "condition:diabetes"}},
        ],
    )
    assert load_config(data).journeys[-1].key == "extra"


def test_a_roster_without_a_role_a_journey_needs_is_refused_naming_journey_step_and_role() -> None:
    data = dump_config(reference_config())
    data["staff"]["staff"] = [
        member for member in data["staff"]["staff"] if "health_manager" not in member["roles"]
    ]
    with pytest.raises(ConfigError) as raised:
        load_config(data)
    assert raised.value.key.startswith("$.journeys[")
    problem = raised.value.problem
    assert "journey 'diabetes'" in problem
    assert "step 'second_miss'" in problem
    assert "'health_manager'" in problem
    # Every journey that needs the role is named at once, not one per attempt.
    assert "journey 'annual_onboarding'" in problem
    assert "journey 'checkup_follow_up'" in problem


def test_assigning_a_health_manager_needs_one_on_the_roster() -> None:
    config = reference_config()
    onboarding = next(j for j in config.journeys if j.key == "annual_onboarding")
    roster = attrs.evolve(
        config.staff,
        staff=tuple(s for s in config.staff.staff if "health_manager" not in s.roles),
    )
    with pytest.raises(ConfigError) as raised:
        ProgrammeConfig(journeys=(onboarding,), staff=roster, outreach=config.outreach)
    assert "journey 'annual_onboarding'" in raised.value.problem
    assert "step 'rule_b': assign_health_manager" in raised.value.problem


def test_a_toml_journey_offering_a_plan_the_programme_lacks_is_refused_at_load() -> None:
    text = """
[[plans.plans]]
key = "annual_599"
label = "年度会员"
kind = "individual"
price_fen = 59900
term_months = 12

[[journeys]]
key = "discharge_offer"
label = "出院邀约"
states = ["offered"]
initial = "offered"
final = ["offered"]
entry = { kind = "fact", type = "discharged" }
entry_actions = [{ name = "make_offer", params = { plan = "annual_999", valid_days = 7 } }]
"""
    with pytest.raises(ConfigError) as raised:
        load_config_toml(text)
    assert raised.value.key == "$.journeys[0]"
    assert "step 'entry': make_offer: no plan 'annual_999'" in raised.value.problem


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        (
            {"earning": {"check_in": {"points": 2, "daily_caps": 2}}},
            "$.earning.check_in.daily_caps",
            "unknown key 'daily_caps' (did you mean 'daily_cap'?)",
        ),
        ({"nmae": "康宁医院"}, "$.nmae", "unknown key 'nmae' (did you mean 'name'?)"),
        ({"earning": {"zzz": 1}}, "$.earning.zzz", "unknown key 'zzz'"),
    ],
)
def test_a_misspelt_key_is_named_with_the_nearest_known_one(
    data: dict[str, Any], key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(data)
    assert (refused.value.key, refused.value.problem) == (key, problem)
