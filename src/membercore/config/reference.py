"""The reference programme of a private general hospital, built from the field's practice."""

from __future__ import annotations

from membercore.config.benefits import Benefit, BenefitPackage, Discount, Quota, QuotaPeriod
from membercore.config.ledger import (
    ActionRule,
    BonusRule,
    EarningRules,
    EventRule,
    ExpiryPolicy,
    LedgerConfig,
    Rate,
    SpendingRule,
)
from membercore.config.outreach import reference_outreach
from membercore.config.plans import Plan, PlanRules
from membercore.config.programme import ProgrammeConfig
from membercore.config.reference_journeys import reference_journeys
from membercore.config.rewards import Reward, RewardCatalogue
from membercore.config.staff import reference_staff

__all__ = ["reference_config", "reference_packages", "reference_plans", "reference_rewards"]


def reference_config() -> ProgrammeConfig:
    """The reference programme of a private general hospital.

    One point per yuan paid out of pocket (drugs one per two yuan, check-up packages two
    per yuan), pending for the 7-day refund window and good until the end of the 24th
    month; higher tiers earn more on spending; a daily check-in point; 20 points for a
    health lecture and 30 for a member day; 500 for a referral whose patient completes a
    first visit; 10 for a survey; 100 for joining a rehab plan; capped sharing and likes;
    non-qualifying welcome and birthday bonuses. Five tiers (普通, 银卡, 金卡, 铂金,
    钻石) with a package each, cumulative up the ladder; annual plans at 299, 599 and
    999 元, monthly billing at 99 元, the family health steward at 1,999 元 for up to three
    relatives and the diabetes steward; a catalogue of gifts with a yearly value cap.
    """
    return ProgrammeConfig(
        name="仁和医院健康会员",
        ledger=LedgerConfig(clawback="debt", expiry=ExpiryPolicy(mode="month_end", months=24)),
        earning=EarningRules(
            check_in=ActionRule(points=1, daily_cap=1),
            spending=SpendingRule(
                rate=Rate(points=1, per_yuan=1),
                category_rates={
                    "drug": Rate(points=1, per_yuan=2),
                    "checkup": Rate(points=2, per_yuan=1),
                },
                tier_multipliers_pct={"L1": 100, "L2": 120, "L3": 150, "L4": 175, "L5": 200},
            ),
            event_attendance=EventRule(points=20, points_by_kind={"member_day": 30}),
            sharing=ActionRule(points=5, daily_cap=15, monthly_cap=200),
            referral=ActionRule(points=500),
            survey=ActionRule(points=10),
            rehab_plan=ActionRule(points=100),
            liking=ActionRule(points=1, daily_cap=5, qualifying=False),
            bonuses={
                "welcome": BonusRule(max_points=100, once_per_member=True),
                "birthday": BonusRule(max_points=200, monthly_cap=200),
                "campaign": BonusRule(max_points=1000),
            },
        ),
        packages=reference_packages(),
        plans=reference_plans(),
        rewards=reference_rewards(),
        journeys=reference_journeys(),
        outreach=reference_outreach(),
        staff=reference_staff(),
    )


def _service(key: str, label: str) -> Benefit:
    return Benefit(key=key, category="service", label=label)


def _discount(
    key: str, label: str, percent_off: int, *categories: str, cap_fen: int | None = None
) -> Benefit:
    discount = Discount(categories=categories, percent_off=percent_off, max_off_fen=cap_fen)
    return Benefit(key=key, category="discount", label=label, discount=discount)


def _quota(
    key: str,
    label: str,
    service: str,
    per_period: int | None,
    *,
    shared: bool = False,
    period: QuotaPeriod = "year",
) -> Benefit:
    quota = Quota(service=service, per_period=per_period, period=period, shared_by_household=shared)
    return Benefit(key=key, category="quota", label=label, quota=quota)


def reference_packages() -> tuple[BenefitPackage, ...]:
    """A package per tier (cumulative up the ladder), per plan, and for diabetes."""
    expert_consults = _quota("expert_consults", "专家门诊 4 次/年", "expert_consult", 4)
    online_consults = _quota("online_consults", "在线问诊不限次", "online_consult", None)
    manager = _service("health_manager", "专属健康管家")
    follow_up = _service("follow_up_plan", "定期随访计划")
    medication = _service("medication_guidance", "用药指导")
    doctor_line = Benefit(key="doctor_line_24h", category="emergency", label="24 小时医生热线")
    return (
        BenefitPackage(
            key="tier_l1",
            label="普通会员权益",
            tier="L1",
            benefits=(
                Benefit(key="birthday_gift", category="gift", label="生日礼"),
                _service("health_lectures", "健康讲座"),
            ),
        ),
        BenefitPackage(
            key="tier_l2",
            label="银卡权益",
            tier="L2",
            benefits=(
                Benefit(key="priority_booking", category="priority", label="预约优先"),
                _discount("exam_discount_5", "检查 95 折", 5, "exam"),
            ),
        ),
        BenefitPackage(
            key="tier_l3",
            label="金卡权益",
            tier="L3",
            benefits=(
                manager,
                _service("annual_assessment", "年度健康评估"),
                Benefit(key="personal_checkup", category="checkup", label="个性化体检套餐"),
                _discount("exam_discount_10", "检查 9 折", 10, "exam", cap_fen=50_000),
                expert_consults,
            ),
        ),
        BenefitPackage(
            key="tier_l4",
            label="铂金权益",
            tier="L4",
            benefits=(
                Benefit(key="expert_green_channel", category="priority", label="专家绿色通道"),
                medication,
                _discount("exam_discount_20", "检查 8 折", 20, "exam"),
            ),
        ),
        BenefitPackage(
            key="tier_l5",
            label="钻石权益",
            tier="L5",
            benefits=(
                doctor_line,
                online_consults,
                Benefit(
                    key="partner_pharmacy",
                    category="partner",
                    label="合作药房 95 折",
                    partner="仁和大药房",
                ),
            ),
        ),
        BenefitPackage(
            key="plan_annual_299",
            label="基础年卡权益",
            plan="annual_299",
            benefits=(
                online_consults,
                follow_up,
            ),
        ),
        BenefitPackage(
            key="plan_annual_599",
            label="标准年卡权益",
            plan="annual_599",
            benefits=(
                online_consults,
                follow_up,
                expert_consults,
                _discount("exam_discount_20", "检查 8 折", 20, "exam"),
            ),
        ),
        BenefitPackage(
            key="plan_annual_999",
            label="尊享年卡权益",
            plan="annual_999",
            benefits=(
                online_consults,
                follow_up,
                expert_consults,
                manager,
                Benefit(key="personal_checkup", category="checkup", label="个性化体检套餐"),
                _discount("exam_discount_20", "检查 8 折", 20, "exam"),
            ),
        ),
        BenefitPackage(
            key="plan_monthly_99",
            label="月卡权益",
            plan="monthly_99",
            benefits=(
                online_consults,
                _quota(
                    "expert_consult_monthly",
                    "专家门诊 1 次/月",
                    "expert_consult",
                    1,
                    period="month",
                ),
            ),
        ),
        BenefitPackage(
            key="plan_family_steward",
            label="家庭健康管家权益",
            plan="family_steward",
            benefits=(
                Benefit(key="family_records", category="family", label="家庭健康档案"),
                _quota(
                    "child_consults",
                    "儿科咨询 6 次/年（全家共享）",
                    "pediatric_consult",
                    6,
                    shared=True,
                ),
                _quota(
                    "family_expert_consults",
                    "专家门诊 8 次/年（全家共享）",
                    "expert_consult",
                    8,
                    shared=True,
                ),
                doctor_line,
                manager,
            ),
        ),
        BenefitPackage(
            key="plan_diabetes_steward",
            label="糖尿病管家权益",
            plan="diabetes_steward",
            benefits=(
                manager,
                _quota("hba1c_tests", "糖化血红蛋白检测 4 次/年", "lab_hba1c", 4),
                medication,
                follow_up,
            ),
        ),
        BenefitPackage(
            key="programme_diabetes",
            label="糖尿病管理项目",
            programme="diabetes",
            benefits=(
                follow_up,
                _service("diabetes_course", "糖尿病入门课程"),
            ),
        ),
    )


def reference_plans() -> PlanRules:
    """Annual plans at 299 / 599 / 999 元, 99 元 a month, and the two stewards."""
    return PlanRules(
        plans=(
            Plan(
                key="annual_299",
                label="基础年卡",
                kind="individual",
                price_fen=29_900,
                tier_floor="L2",
            ),
            Plan(
                key="annual_599",
                label="标准年卡",
                kind="individual",
                price_fen=59_900,
                tier_floor="L2",
            ),
            Plan(
                key="annual_999",
                label="尊享年卡",
                kind="individual",
                price_fen=99_900,
                tier_floor="L3",
            ),
            Plan(
                key="monthly_99",
                label="月卡",
                kind="monthly",
                price_fen=9_900,
                term_months=1,
                auto_renew=True,
                grace_days=3,
                tier_floor="L2",
            ),
            Plan(
                key="family_steward",
                label="家庭健康管家",
                kind="family",
                price_fen=199_900,
                max_dependents=3,
                tier_floor="L3",
            ),
            Plan(
                key="diabetes_steward",
                label="糖尿病管家",
                kind="disease",
                price_fen=159_900,
                programme="diabetes",
            ),
        )
    )


def reference_rewards() -> RewardCatalogue:
    """Gifts from a parking voucher to a high-end check-up, capped at 2,000 元 a year."""
    return RewardCatalogue(
        rewards=(
            Reward(key="parking", label="停车券", points=200, value_fen=1_000),
            Reward(key="flu_vaccine", label="流感疫苗", points=3_000, value_fen=12_800, stock=500),
            Reward(
                key="bp_monitor",
                label="电子血压计",
                points=6_000,
                value_fen=25_000,
                stock=100,
                per_member_limit=1,
            ),
            Reward(
                key="checkup_basic",
                label="基础体检套餐",
                points=8_000,
                value_fen=30_000,
                stock=200,
                min_tier="L2",
            ),
            Reward(
                key="checkup_premium",
                label="高端体检",
                points=30_000,
                value_fen=150_000,
                stock=20,
                per_member_limit=1,
                min_tier="L4",
            ),
        ),
        yearly_value_cap_fen=200_000,
    )
