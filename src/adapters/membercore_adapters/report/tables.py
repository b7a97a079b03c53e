"""The measurement as labelled tables: what the report shows and the BI files carry.

Each :class:`~membercore_adapters.figures.Section` is one table, every cell written as
people read it. :func:`measurement_sections` makes them from a
:class:`~membercore.analytics.Measurement`; :func:`measurement_records` gives the same
figures as plain numbers, a list of rows a table, for CSV and JSON.
"""

from __future__ import annotations

from collections.abc import Mapping

from membercore.analytics import Measurement, Rate
from membercore.config import ProgrammeConfig
from membercore_adapters.figures import Section, number, percent, section, yuan
from membercore_adapters.labels import CONDITIONS, DEPARTMENTS, named
from membercore_adapters.language import Language, Words

__all__ = [
    "DIMENSION_WORDS",
    "GROUP_WORDS",
    "group_name",
    "measurement_records",
    "measurement_sections",
    "per_mille_text",
]

DIMENSION_WORDS: Mapping[str, Words] = {
    "all": Words("全部患者", "all patients"),
    "channel": Words("来源渠道", "acquisition channel"),
    "department": Words("首诊科室", "first department"),
    "condition": Words("首诊病种", "condition at the first visit"),
    "segment": Words("价值分层", "value segment"),
    "tier": Words("会员等级", "tier"),
}

_VALUE = Words("患者终身价值（LTV）", "Lifetime value (LTV)")
_DIMENSION = Words("维度", "dimension")
_GROUP = Words("分组", "group")
_PATIENTS = Words("患者", "patients")
_REALISED = Words("已实现", "realised")
_FIRST_YEAR = Words("首年", "first year")
_LATER = Words("其后每活跃年", "later active year")
_RETENTION = Words("年留存", "yearly retention")
_PROJECTED = Words("预测 LTV", "projected LTV")
_BASIS = Words("留存依据", "retention from")
_BASES = {
    "own": Words("本组", "the group"),
    "hospital": Words("全院", "the hospital"),
    "repeat": Words("首年复诊率", "first-year return"),
}
_RATES = Words("续费、复购、交叉与推荐", "Renewal, repurchase, cross-purchase and referral")
_FIGURE = Words("指标", "figure")
_VALUE_COL = Words("数值", "value")
_COHORTS = Words("月度队列留存", "Monthly cohort retention")
_MONTH = Words("首诊月份", "first month")
_STAFF = Words("员工业绩（开卡与续费）", "Staff sales (enrolments and renewals)")
_WHO = Words("员工", "staff")
_ENROLMENTS = Words("开卡", "enrolments")
_RENEWALS = Words("续费", "renewals")
_SALES = Words("金额", "amount")
_NOBODY = Words("（未归属）", "(nobody)")
_LIABILITY = Words("积分负债", "Points liability")
_PROJECTION = Words("收入预测（会员数 × 活跃率 × 就诊次数 × 客单价 + 会费）", "Revenue projection")
_TIER_MONTHS = Words("各等级会员数（月末）", "Members by tier (month end)")


#: How patients came (a registration's ``source``), and the groups with no value known.
GROUP_WORDS: Mapping[str, Words] = {
    "family": Words("随家人", "with family"),
    "walk_in": Words("自然到院", "walk-in"),
    "online": Words("线上", "online"),
    "checkup": Words("体检", "check-up"),
    "corporate": Words("企业团检", "corporate"),
    "referral": Words("会员推荐", "referral"),
    "unknown": Words("未知", "unknown"),
    "none": Words("无", "none"),
    "all": Words("全部", "all"),
}


def group_name(config: ProgrammeConfig, dimension: str, value: str, language: Language) -> str:
    """A group as people know it: a tier's or segment's label, a channel's name."""
    if dimension == "tier":
        labels = {level.key: level.label for level in config.tiers.levels}
        return labels.get(value, value)
    if dimension == "segment":
        labels = {segment.key: segment.label for segment in config.segments.segments}
        if value in labels:
            return f"{value} {labels[value]}"
    if dimension == "department" and value in DEPARTMENTS:
        return named(DEPARTMENTS, value, language)
    if dimension == "condition" and value in CONDITIONS:
        return named(CONDITIONS, value, language)
    return named(GROUP_WORDS, value, language)


def _money(fen: int | None) -> str:
    return "—" if fen is None else yuan(fen)


def per_mille_text(value: int | None) -> str:
    """A per mille figure as a percentage to a tenth ("—": none, nothing to divide)."""
    return "—" if value is None else f"{value // 10}.{value % 10}%"


def _rate(rate: Rate) -> str:
    """A share with its counts; "—" when there is nothing to divide."""
    if not rate.whole:
        return "—"
    return f"{percent(rate.part, rate.whole)} ({number(rate.part)}/{number(rate.whole)})"


def _average(fen: int, count: int) -> str:
    return yuan(fen) if count else "—"


_MODEL = Words("预测 LTV 的模型与假设", "The projected LTV: its model and assumptions")
_BASIS_SAID = {
    "own": Words("各组观察到的连续两年活跃比例", "the share of active years followed by one"),
    "repeat": Words(
        "尚无第二年结束：以首年内复诊比例代替（偏高）",
        "no second year has ended: the first-year return rate stands in (it overstates)",
    ),
}


def _model(measurement: Measurement, language: Language) -> Section:
    model = measurement.model
    basis = measurement.value[0].basis if measurement.value else "repeat"
    said = [
        (
            Words("模型", "model"),
            Words(
                "首年价值 + Σ 其后每活跃年价值 × 留存ᵏ ÷ (1 + 折现率)ᵏ，自首诊起",
                "first-year value + Σ later-year value × retentionᵏ ÷ (1 + discount)ᵏ, "
                "from the first visit",
            ).say(language),
        ),
        (
            Words("年数", "horizon"),
            Words("{n} 年", "{n} years").say(language, n=model.horizon_years),
        ),
        (Words("年折现率", "yearly discount"), per_mille_text(model.discount_per_mille)),
        (
            Words("分组与全院的融合", "groups and the hospital"),
            Words(
                "各组数值按可信度与全院融合：全院数值计作 {n} 名患者",
                "each group's figures are blended with the hospital's, which counts as "
                "{n} patients",
            ).say(language, n=model.prior_patients),
        ),
        (Words("留存依据", "retention from"), _BASIS_SAID[basis].say(language)),
        (
            Words("注意", "note"),
            Words(
                "按等级、价值分层分组时，分组本身由消费决定，已实现值可高于预测",
                "grouped by tier or segment, which spending decides, the realised value "
                "may exceed the projection",
            ).say(language),
        ),
    ]
    rows = [(words.say(language), text) for words, text in said]
    return section(_MODEL, language, [_FIGURE, Words("说明", "what")], [], rows)


def measurement_sections(
    measurement: Measurement, config: ProgrammeConfig, language: Language
) -> tuple[Section, ...]:
    """The report's tables, in its order."""
    return (
        _value(measurement, config, language),
        _model(measurement, language),
        _rates(measurement, language),
        _cohorts(measurement, language),
        _staff(measurement, language),
        _liability(measurement, language),
        _projection(measurement, language),
        _tier_months(measurement, config, language),
    )


def _value(measurement: Measurement, config: ProgrammeConfig, language: Language) -> Section:
    rows = [
        (
            DIMENSION_WORDS[row.dimension].say(language),
            group_name(config, row.dimension, row.value, language),
            _BASES[row.basis].say(language),
            number(row.patients),
            yuan(row.realised_fen),
            _money(row.first_year_fen),
            _money(row.later_year_fen),
            per_mille_text(row.retention),
            _money(row.projected_fen),
        )
        for row in measurement.value
    ]
    texts = [_DIMENSION, _GROUP, _BASIS]
    numbers = [_PATIENTS, _REALISED, _FIRST_YEAR, _LATER, _RETENTION, _PROJECTED]
    return section(_VALUE, language, texts, numbers, rows)


def _rates(measurement: Measurement, language: Language) -> Section:
    m = measurement
    ladder = m.ladder
    ratio = "—"
    if m.member_spenders and m.other_spenders and m.other_spend_fen:
        ratio = f"{m.spend_ratio_x100 / 100:.2f}×"
    said = [
        (Words("续费率（首期已满的订阅）", "renewal rate"), _rate(m.renewal)),
        (Words("复购率（首年内再次就诊）", "repurchase rate"), _rate(m.repurchase)),
        (
            Words("人均就诊科室数", "departments per patient"),
            f"{m.departments_per_patient_x100 / 100:.2f}",
        ),
        (Words("交叉购买率（两个及以上科室）", "cross-purchase rate"), _rate(m.cross_purchase)),
        (Words("推荐来源患者占比", "referred patients"), _rate(m.referral)),
        (
            Words("推荐患者人均价值", "value of a referred patient"),
            _average(m.referred_fen, m.referral.part),
        ),
        (
            Words("其他患者人均价值", "value of another patient"),
            _average(m.others_fen, m.referral.whole - m.referral.part),
        ),
        (Words("推荐过他人的会员", "members who referred"), _rate(m.referrers)),
        (
            Words("首诊 → 付费会员", "first visit → paid member"),
            _rate(_r(ladder.members, ladder.visited)),
        ),
        (
            Words("付费会员 → 家庭卡", "paid member → family plan"),
            _rate(_r(ladder.family, ladder.members)),
        ),
        (
            Words("其中首张即为家庭卡", "of them, a family plan first"),
            _rate(_r(ladder.family_first, ladder.family)),
        ),
        (
            Words("首诊到开卡（中位天数）", "days to a plan (median)"),
            _days(ladder.median_days_to_member),
        ),
        (
            Words("自有卡升级到家庭卡（中位天数）", "days from a plan to a family plan (median)"),
            _days(ladder.median_days_to_family),
        ),
        (
            Words("会员近一年自付消费（人均）", "member yearly spend"),
            _average(m.member_spend_fen, m.member_spenders),
        ),
        (
            Words("非会员近一年自付消费（人均）", "non-member yearly spend"),
            _average(m.other_spend_fen, m.other_spenders),
        ),
        (Words("会员 / 非会员消费倍数", "member / non-member spend"), ratio),
    ]
    rows = [(words.say(language), text) for words, text in said]
    return section(_RATES, language, [_FIGURE], [_VALUE_COL], rows)


def _r(part: int, whole: int) -> Rate:
    return Rate(part=part, whole=whole)


def _days(days: int | None) -> str:
    return "—" if days is None else number(days)


def _cohorts(measurement: Measurement, language: Language) -> Section:
    longest = max((len(c.retention) for c in measurement.cohorts), default=0)
    shown = min(longest, 24)
    numbers = [_PATIENTS, *(Words(f"+{k} 月", f"+{k} mo") for k in range(1, shown + 1))]
    rows = [
        (
            cohort.month,
            number(cohort.patients),
            *(
                per_mille_text(cohort.retention[k]) if k < len(cohort.retention) else ""
                for k in range(shown)
            ),
        )
        for cohort in measurement.cohorts
    ]
    return section(_COHORTS, language, [_MONTH], numbers, rows)


def _staff(measurement: Measurement, language: Language) -> Section:
    rows = [
        (
            row.staff or _NOBODY.say(language),
            number(row.enrolments),
            number(row.renewals),
            yuan(row.sales_fen),
        )
        for row in measurement.staff
    ]
    return section(_STAFF, language, [_WHO], [_ENROLMENTS, _RENEWALS, _SALES], rows)


_NOTHING_EXPIRED = Words(
    "—（尚无积分到期：负债按全部兑换计）", "— (no points have expired yet: all counted as redeemed)"
)


def _liability(measurement: Measurement, language: Language) -> Section:
    held = measurement.liability
    breakage = per_mille_text(held.breakage)
    if not held.expired:
        breakage = _NOTHING_EXPIRED.say(language)
    said = [
        (Words("未使用积分", "points outstanding"), number(held.outstanding)),
        (Words("累计发放", "points earned"), number(held.earned)),
        (Words("累计兑换", "points redeemed"), number(held.redeemed)),
        (Words("累计过期", "points expired"), number(held.expired)),
        (Words("沉淀率（过期占离开余额的积分）", "breakage"), breakage),
        (Words("每百积分兑换价值", "value of 100 points"), f"¥{held.fen_per_100_points / 100:.2f}"),
        (Words("预计负债", "expected liability"), yuan(held.liability_fen)),
    ]
    rows = [(words.say(language), text) for words, text in said]
    return section(_LIABILITY, language, [_FIGURE], [_VALUE_COL], rows)


def _projection(measurement: Measurement, language: Language) -> Section:
    p = measurement.projection
    said = [
        (Words("付费会员", "members"), number(p.members)),
        (Words("活跃率（近一年就诊）", "active share"), per_mille_text(p.active_share)),
        (
            Words("活跃会员年均就诊", "visits per active member"),
            f"{p.visits_per_active_x100 / 100:.2f}",
        ),
        (Words("客单价（自付/次）", "ticket"), yuan(p.ticket_fen)),
        (Words("会费（人均/年）", "fees per member"), yuan(p.fee_per_member_fen)),
        (Words("预计年收入", "projected yearly revenue"), yuan(p.revenue_fen)),
    ]
    rows = [(words.say(language), text) for words, text in said]
    return section(_PROJECTION, language, [_FIGURE], [_VALUE_COL], rows)


def _tier_months(measurement: Measurement, config: ProgrammeConfig, language: Language) -> Section:
    levels = config.tiers.levels
    numbers = [Words(level.label, level.label) for level in levels]
    rows = [
        (month, *(number(counts.get(level.key, 0)) for level in levels))
        for month, counts in measurement.tiers
    ]
    return section(_TIER_MONTHS, language, [Words("月份", "month")], numbers, rows)


def measurement_records(measurement: Measurement) -> dict[str, list[dict[str, object]]]:
    """The figures as plain numbers (fen, per mille, counts): rows by table name."""
    m = measurement
    return {
        "lifetime_value": [
            {
                "dimension": row.dimension,
                "group": row.value,
                "patients": row.patients,
                "realised_fen": row.realised_fen,
                "first_year_fen": row.first_year_fen,
                "later_year_fen": row.later_year_fen,
                "retention_per_mille": row.retention,
                "projected_fen": row.projected_fen,
                "retention_basis": row.basis,
            }
            for row in m.value
        ],
        "value_by_year": [
            {"year": year, "patients": patients, "cumulative_fen": fen}
            for year, patients, fen in m.value_by_year
        ],
        "rates": [
            {"figure": name, "part": rate.part, "whole": rate.whole, "per_mille": rate.per_mille}
            for name, rate in (
                ("renewal", m.renewal),
                ("repurchase", m.repurchase),
                ("cross_purchase", m.cross_purchase),
                ("referral", m.referral),
                ("referrers", m.referrers),
                ("paid_member", _r(m.ladder.members, m.ladder.visited)),
                ("family_plan", _r(m.ladder.family, m.ladder.members)),
            )
        ],
        "figures": [
            {"figure": name, "value": value}
            for name, value in (
                ("patients", m.patients),
                ("visited", m.visited),
                ("departments_per_patient_x100", m.departments_per_patient_x100),
                ("referrals", m.referrals),
                ("referred_value_fen", m.referred_fen),
                ("other_value_fen", m.others_fen),
                ("median_days_to_member", m.ladder.median_days_to_member),
                ("median_days_to_family", m.ladder.median_days_to_family),
                ("member_spend_fen", m.member_spend_fen),
                ("other_spend_fen", m.other_spend_fen),
                ("spend_ratio_x100", m.spend_ratio_x100),
                ("points_outstanding", m.liability.outstanding),
                ("points_earned", m.liability.earned),
                ("points_redeemed", m.liability.redeemed),
                ("points_expired", m.liability.expired),
                ("breakage_per_mille", m.liability.breakage),
                ("fen_per_100_points", m.liability.fen_per_100_points),
                ("liability_fen", m.liability.liability_fen),
                ("projection_members", m.projection.members),
                ("projection_active", m.projection.active),
                ("projection_visits", m.projection.visits),
                ("projection_spend_fen", m.projection.spend_fen),
                ("projection_fees_fen", m.projection.fees_fen),
                ("projection_revenue_fen", m.projection.revenue_fen),
            )
        ],
        "cohorts": [
            {"month": c.month, "patients": c.patients, "months_later": k + 1, "per_mille": share}
            for c in m.cohorts
            for k, share in enumerate(c.retention)
        ],
        "staff": [
            {
                "staff": row.staff,
                "enrolments": row.enrolments,
                "renewals": row.renewals,
                "sales_fen": row.sales_fen,
            }
            for row in m.staff
        ],
        "tiers_by_month": [
            {"month": month, "tier": tier, "members": count}
            for month, counts in m.tiers
            for tier, count in counts.items()
        ],
    }
