"""Entitlements and quotes, against the reference programme and small custom ones."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from membercore import ConfigError, InvalidFactError, NaiveInstantError, reference_config
from membercore.benefits import (
    AppliedDiscount,
    BillItem,
    QuotaState,
    QuotaUse,
    ReserveQuota,
    Source,
    Standing,
    UseQuota,
    decide,
    entitlements,
    evolve,
    find_entitlement,
    holder_of,
    quote,
)
from membercore.config import Benefit, BenefitPackage, Discount, ProgrammeConfig, Quota

SH = ZoneInfo("Asia/Shanghai")
CONFIG = reference_config()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SH)


def standing(tier: str = "L1", *plans: str, **changes: object) -> Standing:
    fields: dict[str, object] = {"member_id": "p-1", "tier": tier, "plans": plans}
    fields.update(changes)
    return Standing(**fields)  # type: ignore[arg-type]


def keys(held: Standing, config: ProgrammeConfig = CONFIG) -> list[str]:
    return [entitlement.key for entitlement in entitlements(held, config)]


def sources(held: Standing, benefit_key: str, config: ProgrammeConfig = CONFIG) -> list[Source]:
    found = find_entitlement(held, config, benefit_key)
    assert found is not None
    return list(found.sources)


def discount(
    key: str,
    *categories: str,
    percent: int | None = None,
    fixed: int | None = None,
    cap: int | None = None,
    stackable: bool = False,
) -> Benefit:
    return Benefit(
        key=key,
        category="discount",
        label=key,
        discount=Discount(
            categories=categories,
            percent_off=percent,
            fixed_off_fen=fixed,
            max_off_fen=cap,
            stackable=stackable,
        ),
    )


def quota(key: str, service: str, per_period: int | None, **changes: object) -> Benefit:
    return Benefit(
        key=key,
        category="quota",
        label=key,
        quota=Quota(service=service, per_period=per_period, **changes),  # type: ignore[arg-type]
    )


def programme(*packages: BenefitPackage) -> ProgrammeConfig:
    return ProgrammeConfig(packages=packages, plans=reference_config().plans)


def at_l1(key: str, *benefits: Benefit, cumulative: bool = True) -> BenefitPackage:
    return BenefitPackage(key=key, label=key, tier="L1", benefits=benefits, cumulative=cumulative)


def item(category: str, price: int, quantity: int = 1, code: str | None = None) -> BillItem:
    return BillItem(
        item_code=code or category.upper(),
        category=category,
        list_price_fen=price,
        quantity=quantity,
    )


# --- entitlements -------------------------------------------------------------------------


def test_an_ordinary_member_holds_only_the_first_tier_package() -> None:
    assert keys(standing("L1")) == ["birthday_gift", "health_lectures"]
    assert sources(standing("L1"), "birthday_gift") == [Source("tier_l1", "tier:L1")]


def test_a_gold_member_holds_the_packages_of_every_tier_up_to_gold() -> None:
    assert keys(standing("L3")) == [
        "birthday_gift",
        "health_lectures",
        "priority_booking",
        "exam_discount_5",
        "health_manager",
        "annual_assessment",
        "personal_checkup",
        "exam_discount_10",
        "expert_consults",
    ]
    gold = standing("L3")
    assert sources(gold, "birthday_gift") == [Source("tier_l1", "tier:L1")]
    assert sources(gold, "priority_booking") == [Source("tier_l2", "tier:L2")]
    assert sources(gold, "expert_consults") == [Source("tier_l3", "tier:L3")]
    assert find_entitlement(gold, CONFIG, "expert_green_channel") is None  # an L4 benefit


def test_a_diamond_member_holds_every_tier_package() -> None:
    held = keys(standing("L5"))
    assert {"birthday_gift", "exam_discount_10", "expert_green_channel", "partner_pharmacy"} <= set(
        held
    )
    assert len(held) == 2 + 2 + 5 + 3 + 3


def test_a_paid_plan_grants_its_package_with_the_plan_as_the_source() -> None:
    member = standing("L1", "annual_599")
    assert keys(member) == [
        "birthday_gift",
        "health_lectures",
        "online_consults",
        "follow_up_plan",
        "expert_consults",
        "exam_discount_20",
    ]
    assert sources(member, "online_consults") == [Source("plan_annual_599", "plan:annual_599")]


def test_a_disease_programme_grants_its_package() -> None:
    member = standing("L1", programmes=("diabetes",))
    assert sources(member, "diabetes_course") == [
        Source("programme_diabetes", "programme:diabetes")
    ]
    assert find_entitlement(member, CONFIG, "hba1c_tests") is None  # the paid plan's, not held


def test_a_benefit_granted_by_several_packages_is_one_entitlement_listing_every_source() -> None:
    member = standing("L5", "annual_999", "family_steward", household_id="h-1")
    assert keys(member).count("health_manager") == 1
    assert sources(member, "health_manager") == [
        Source("tier_l3", "tier:L3"),
        Source("plan_annual_999", "plan:annual_999"),
        Source("plan_family_steward", "plan:family_steward"),
    ]
    found = find_entitlement(member, CONFIG, "health_manager")
    assert found is not None
    assert found.plans == ("annual_999", "family_steward")


def test_a_gold_member_on_the_599_plan_gets_four_expert_consults_not_eight() -> None:
    member = standing("L3", "annual_599")
    found = find_entitlement(member, CONFIG, "expert_consults")
    assert found is not None
    assert found.benefit.quota is not None
    assert found.benefit.quota.per_period == 4
    assert [source.grant for source in found.sources] == ["tier:L3", "plan:annual_599"]


def test_a_non_cumulative_tier_package_is_granted_to_its_own_tier_only() -> None:
    config = programme(
        BenefitPackage(
            key="silver_welcome",
            label="银卡欢迎礼",
            tier="L2",
            cumulative=False,
            benefits=(Benefit(key="welcome_gift", category="gift", label="欢迎礼"),),
        )
    )
    assert keys(standing("L1"), config) == []
    assert keys(standing("L2"), config) == ["welcome_gift"]
    assert keys(standing("L3"), config) == []


def test_the_most_generous_quota_wins_and_keeps_every_source() -> None:
    config = programme(
        at_l1("base", quota("consults", "consult", 4)),
        BenefitPackage(
            key="plus", label="plus", plan="annual_299", benefits=(quota("consults", "consult", 6),)
        ),
        BenefitPackage(
            key="care",
            label="care",
            programme="diabetes",
            benefits=(quota("consults", "consult", None),),
        ),
    )

    def per_period(member: Standing) -> int | None:
        found = find_entitlement(member, config, "consults")
        assert found is not None
        assert found.benefit.quota is not None
        return found.benefit.quota.per_period

    assert per_period(standing("L1")) == 4
    assert per_period(standing("L1", "annual_299")) == 6  # more uses beat fewer
    assert (
        per_period(standing("L1", "annual_299", programmes=("diabetes",))) is None
    )  # unlimited wins
    assert [
        source.package for source in sources(standing("L1", "annual_299"), "consults", config)
    ] == [
        "base",
        "plus",
    ]


def test_a_shorter_period_and_a_personal_quota_are_the_more_generous() -> None:
    config = programme(
        at_l1("a", quota("consults", "consult", 2, shared_by_household=True)),
        at_l1("b", quota("consults", "consult", 2)),
        at_l1("c", quota("consults", "consult", 2, period="month")),
    )
    found = find_entitlement(standing("L1"), config, "consults")
    assert found is not None
    assert found.benefit.quota == Quota(service="consult", per_period=2, period="month")


def test_the_larger_discount_wins_a_percentage_beats_a_fixed_amount_and_no_cap_beats_a_cap() -> (
    None
):
    config = programme(
        at_l1("a", discount("exam_off", "exam", fixed=10_000)),
        at_l1("b", discount("exam_off", "exam", percent=10, cap=5_000)),
        at_l1("c", discount("exam_off", "exam", percent=10)),
        at_l1("d", discount("exam_off", "exam", percent=5)),
    )
    found = find_entitlement(standing("L1"), config, "exam_off")
    assert found is not None
    assert found.benefit.discount == Discount(categories=("exam",), percent_off=10)
    assert len(found.sources) == 4


def test_equal_versions_keep_the_first_package_s_benefit() -> None:
    config = programme(
        at_l1("a", Benefit(key="gift", category="gift", label="first")),
        at_l1("b", Benefit(key="gift", category="gift", label="second")),
    )
    found = find_entitlement(standing("L1"), config, "gift")
    assert found is not None
    assert found.benefit.label == "first"


def test_a_tier_off_the_ladder_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="L9"):
        entitlements(standing("L9"), CONFIG)


def test_a_household_quota_is_held_by_the_household_and_a_personal_one_by_the_member() -> None:
    member = standing("L3", "family_steward", household_id="h-1")
    shared = find_entitlement(member, CONFIG, "family_expert_consults")
    personal = find_entitlement(member, CONFIG, "expert_consults")
    assert shared is not None
    assert personal is not None
    assert holder_of(shared, member) == "h-1"
    assert holder_of(personal, member) == "p-1"
    # A shared quota of a member with no household is theirs alone.
    alone = standing("L3", "family_steward")
    assert holder_of(shared, alone) == "p-1"


def test_a_standing_keeps_plan_terms_in_utc_and_refuses_naive_or_empty_terms() -> None:
    start, end = datetime(2026, 3, 1, tzinfo=SH), datetime(2027, 3, 1, tzinfo=SH)
    member = standing("L1", "annual_599", plan_terms={"annual_599": (start, end)})
    assert member.plan_terms["annual_599"][0].utcoffset() is not None
    assert member.plan_terms["annual_599"][0] == start
    assert str(member.plan_terms["annual_599"][0].tzinfo) == "UTC"
    with pytest.raises(NaiveInstantError, match="plan_terms"):
        standing("L1", plan_terms={"p": (datetime(2026, 1, 1), end)})  # noqa: DTZ001
    with pytest.raises(InvalidFactError, match="end after it starts"):
        standing("L1", plan_terms={"p": (end, start)})


# --- quotes: discounts --------------------------------------------------------------------


def test_a_silver_member_gets_five_percent_off_an_exam() -> None:
    result = quote([item("exam", 100_000)], standing("L2"), CONFIG, NOW)
    (line,) = result.lines
    # 1,000 元 x 5 % = 50 元 off.
    assert line.discounts == (
        AppliedDiscount(benefit_key="exam_discount_5", label="检查 95 折", off_fen=5_000),
    )
    assert line.member_price_fen == 95_000
    assert line.saving_fen == 5_000


def test_the_gold_exam_discount_is_capped_at_500_yuan() -> None:
    # 8,000 元: 10 % is 800 元, capped at 500 元; silver's 5 % is 400 元. The capped 500 wins.
    (line,) = quote([item("exam", 800_000)], standing("L3"), CONFIG, NOW).lines
    assert [(d.benefit_key, d.off_fen) for d in line.discounts] == [("exam_discount_10", 50_000)]
    assert line.member_price_fen == 750_000


def test_a_cap_can_make_a_smaller_percentage_the_better_discount() -> None:
    # 12,000 元: 10 % capped at 500 元, but 5 % is 600 元.
    (line,) = quote([item("exam", 1_200_000)], standing("L3"), CONFIG, NOW).lines
    assert [(d.benefit_key, d.off_fen) for d in line.discounts] == [("exam_discount_5", 60_000)]
    assert line.member_price_fen == 1_140_000


def test_discounts_do_not_stack_the_best_single_one_applies() -> None:
    # L4: 5 %, 10 % (capped) and 20 % on exams; 20 % of 1,000 元 = 200 元.
    (line,) = quote([item("exam", 100_000)], standing("L4"), CONFIG, NOW).lines
    assert [(d.benefit_key, d.off_fen) for d in line.discounts] == [("exam_discount_20", 20_000)]
    assert line.member_price_fen == 80_000


def test_a_percentage_is_rounded_down_to_the_fen() -> None:
    # 5 % of 999 fen = 49.95 fen: 49 off, 950 to pay.
    (line,) = quote([item("exam", 999)], standing("L2"), CONFIG, NOW).lines
    assert line.discount_fen == 49
    assert line.member_price_fen == 950


def test_a_fixed_discount_is_per_unit_and_never_more_than_the_unit_price() -> None:
    config = programme(
        at_l1("drugs", discount("drug_off", "drug", fixed=2_000)),
        at_l1("vaccines", discount("vaccine_off", "vaccine", fixed=8_000)),
    )
    member = standing("L1")
    drugs, vaccines = quote(
        [item("drug", 5_000, 3), item("vaccine", 5_000, 2)], member, config, NOW
    ).lines
    # 3 units x 20 元 off = 60 元 off 150 元: 90 元.
    assert drugs.discount_fen == 6_000
    assert drugs.member_price_fen == 9_000
    # 80 元 off a 50 元 unit takes the unit to nothing, never below.
    assert vaccines.discount_fen == 10_000
    assert vaccines.member_price_fen == 0


def test_max_off_caps_what_a_fixed_discount_takes_off_the_whole_line() -> None:
    config = programme(at_l1("drugs", discount("drug_off", "drug", fixed=2_000, cap=5_000)))
    (line,) = quote([item("drug", 5_000, 3)], standing("L1"), config, NOW).lines
    # 3 x 20 元 = 60 元, capped at 50 元 for the line: 150 - 50 = 100 元.
    assert line.discount_fen == 5_000
    assert line.member_price_fen == 10_000


def test_a_stackable_discount_applies_after_the_best_one_on_what_is_left() -> None:
    config = programme(
        at_l1(
            "offers",
            discount("exam_10", "exam", percent=10),
            discount("exam_20", "exam", percent=20),
            discount("app_5", "exam", percent=5, stackable=True),
        )
    )
    (line,) = quote([item("exam", 10_000)], standing("L1"), config, NOW).lines
    # Best single: 20 % of 100 元 = 20 元; then 5 % of the 80 元 left = 4 元. Pays 76 元.
    assert [(d.benefit_key, d.off_fen) for d in line.discounts] == [
        ("exam_20", 2_000),
        ("app_5", 400),
    ]
    assert line.member_price_fen == 7_600


def test_an_item_no_benefit_covers_is_at_list_price() -> None:
    (line,) = quote([item("drug", 12_345, 2)], standing("L5"), CONFIG, NOW).lines
    assert line.free_units == 0
    assert line.discounts == ()
    assert line.quota_uses == ()
    assert line.member_price_fen == line.list_total_fen == 24_690


# --- quotes: quotas -----------------------------------------------------------------------


def test_a_quota_covers_units_free_while_uses_are_left() -> None:
    gold = standing("L3")
    (two,) = quote([item("expert_consult", 30_000, 2)], gold, CONFIG, NOW).lines
    assert two.free_units == 2
    assert two.member_price_fen == 0
    (six,) = quote([item("expert_consult", 30_000, 6)], gold, CONFIG, NOW).lines
    # 4 a year: 4 free, 2 x 300 元 to pay.
    assert six.free_units == 4
    assert six.quota_uses == (
        QuotaUse(benefit_key="expert_consults", holder_id="p-1", period_key="year:2026", units=4),
    )
    assert six.member_price_fen == 60_000


def test_a_quota_matches_an_item_code_as_well_as_a_category() -> None:
    config = programme(at_l1("labs", quota("hba1c", "LAB-HBA1C", 2)))
    (line,) = quote([item("lab", 8_000, 3, code="LAB-HBA1C")], standing("L1"), config, NOW).lines
    assert line.free_units == 2
    assert line.member_price_fen == 8_000


def test_uses_taken_by_one_line_are_not_available_to_the_next() -> None:
    lines = quote(
        [item("expert_consult", 30_000, 3), item("expert_consult", 30_000, 3)],
        standing("L3"),
        CONFIG,
        NOW,
    ).lines
    assert [line.free_units for line in lines] == [3, 1]  # 4 uses: 3, then the last one


def test_a_quote_counts_uses_already_reserved_or_consumed() -> None:
    gold = standing("L3")
    state = QuotaState(holder_id="p-1")
    for number, command in enumerate(
        [
            UseQuota(key="u-1", member_id="p-1", benefit_key="expert_consults", units=2),
            ReserveQuota(
                key="r-1", member_id="p-1", benefit_key="expert_consults", appointment_id="a-1"
            ),
        ]
    ):
        for event in decide(command, state, CONFIG, NOW, standing=gold):
            state = evolve(state, event)
        assert state.seq == number + 1
    # 4 - 2 consumed - 1 reserved = 1 left for any other bill.
    (line,) = quote([item("expert_consult", 30_000, 3)], gold, CONFIG, NOW, quotas=[state]).lines
    assert line.free_units == 1
    # Billing appointment a-1, its own reservation counts as available: 1 + 1 = 2.
    (billed,) = quote(
        [item("expert_consult", 30_000, 3)],
        gold,
        CONFIG,
        NOW,
        quotas=[state],
        appointment_id="a-1",
    ).lines
    assert billed.free_units == 2


def test_unlimited_quotas_are_used_first_then_the_soonest_ending_then_personal_ones() -> None:
    config = programme(
        at_l1(
            "mix",
            quota("yearly", "consult", 2),
            quota("family", "consult", 2, shared_by_household=True),
            quota("monthly", "consult", 1, period="month"),
        ),
        BenefitPackage(
            key="online",
            label="online",
            programme="tele",
            benefits=(quota("any", "consult", None),),
        ),
    )
    member = standing("L1", household_id="h-1")
    (line,) = quote([item("consult", 10_000, 4)], member, config, NOW).lines
    assert [(use.benefit_key, use.units) for use in line.quota_uses] == [
        ("monthly", 1),
        ("yearly", 2),
        ("family", 1),
    ]
    assert line.quota_uses[2].holder_id == "h-1"
    tele = standing("L1", household_id="h-1", programmes=("tele",))
    (line,) = quote([item("consult", 10_000, 4)], tele, config, NOW).lines
    assert [(use.benefit_key, use.units) for use in line.quota_uses] == [("any", 4)]


def test_free_units_come_off_before_the_discount_applies_to_the_rest() -> None:
    config = programme(
        at_l1("mix", quota("scans", "exam", 1), discount("exam_off", "exam", percent=10))
    )
    (line,) = quote([item("exam", 20_000, 3)], standing("L1"), config, NOW).lines
    # 1 free; 10 % off the 2 x 200 元 left = 40 元 off; pays 360 元 of 600 元.
    assert line.free_units == 1
    assert line.discount_fen == 4_000
    assert line.member_price_fen == 36_000
    assert line.saving_fen == 24_000


def test_a_mixed_bill_adds_up() -> None:
    member = standing("L3", "annual_599")
    result = quote(
        [
            item("exam", 80_000, 2),  # 20 % (plan) beats 10 % capped: 1,600 - 320 = 1,280 元
            item("expert_consult", 30_000, 5),  # 4 free, 1 x 300 元
            item("online_consult", 5_000, 3),  # unlimited: free
            item("drug", 12_000),  # nothing covers it: 120 元
        ],
        member,
        CONFIG,
        NOW,
    )
    assert [line.member_price_fen for line in result.lines] == [128_000, 30_000, 0, 12_000]
    # List: 1,600 + 1,500 + 150 + 120 = 3,370 元; pays 1,280 + 300 + 0 + 120 = 1,700 元.
    assert result.list_total_fen == 337_000
    assert result.member_total_fen == 170_000
    assert result.saving_fen == 167_000
    assert result.member_id == "p-1"


def test_a_household_shared_quota_is_quoted_from_the_household_s_uses() -> None:
    member = standing("L1", "family_steward", household_id="h-1", member_id="p-2")
    household = QuotaState(holder_id="h-1")
    spouse = standing("L1", "family_steward", household_id="h-1", member_id="p-3")
    use = UseQuota(key="u-1", member_id="p-3", benefit_key="family_expert_consults", units=7)
    for event in decide(use, household, CONFIG, NOW, standing=spouse):
        household = evolve(household, event)
    (line,) = quote(
        [item("expert_consult", 30_000, 2)], member, CONFIG, NOW, quotas=[household]
    ).lines
    # 8 a year for the household, 7 used by the spouse: 1 left.
    assert line.free_units == 1
    assert line.quota_uses[0].holder_id == "h-1"


def test_bill_items_refuse_a_zero_quantity_and_a_negative_price() -> None:
    with pytest.raises(InvalidFactError, match="quantity"):
        item("exam", 100, 0)
    with pytest.raises(InvalidFactError, match="list_price_fen"):
        item("exam", -1)


def test_a_quote_needs_an_aware_instant() -> None:
    with pytest.raises(NaiveInstantError):
        quote([item("exam", 100)], standing("L1"), CONFIG, datetime(2026, 1, 1))  # noqa: DTZ001
