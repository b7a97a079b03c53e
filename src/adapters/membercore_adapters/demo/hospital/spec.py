"""What the synthetic hospital looks like: :class:`HospitalSpec`, and :func:`small` for tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

__all__ = ["HospitalSpec", "small"]


def _default_start() -> datetime:
    return datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


def _share(_instance: Any, attribute: Any, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} is a share between 0 and 1, got {value!r}")


def _positive(_instance: Any, attribute: Any, value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value!r}")


def _aware(_instance: Any, attribute: Any, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be timezone-aware, got {value!r}")


def _above_zero(_instance: Any, attribute: Any, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be above 0, got {value!r}")


def _rate(default: float) -> Any:
    return attrs.field(default=default, validator=_share)


@attrs.frozen(kw_only=True)
class HospitalSpec:
    """What the synthetic hospital looks like.

    Shares are probabilities between 0 and 1, each of the group it names.

    Attributes:
        patients: patients registered over the period (relatives included).
        months: length of the period.
        seed: seeds the one random generator.
        start: the first instant, taken as the start of the first business day.
        first_month_share: patients who register in the first month (the existing base).
        family_share: arrivals who come with relatives (spouse, children, parents).
        engaged_share: patients of 14 and over who use the member app at all.
        marketing_consent: patients who agree to marketing messages.
        research_consent: adults who agree to research use.
        withdrawal_share: of those who agreed to marketing, those who withdraw later.
        insured_share: patients whose 医保 pays part of eligible lines.
        refund_share: charges refunded in part or in full.
        diabetes_share: adults of 50 to 64 with type-2 diabetes (fewer younger, more older).
        recheck_adherence: HbA1c rechecks a diabetic comes to, on average.
        pregnancy_share: women of 22 to 40 who are pregnant when they register.
        checkup_share: adults who have a yearly check-up here.
        abnormal_checkup_share: check-ups with findings to follow up.
        arthrosis_share: patients of 50 and over with hip or knee arthrosis.
        surgery_share: of those, the ones operated (joint replacement).
        implant_share: adults of 25 to 75 who have a dental implant.
        high_satisfaction_share: implant patients who answer the survey with 9 or 10.
        cosmetic_share: women of 20 to 55 who are cosmetic patients.
        inpatient_rate: general inpatient stays per adult under 65 per year (three times
            as many from 65).
        referral_share: new families referred by an existing member.
        annual_plan_share: adults who buy an annual plan after their first visit.
        monthly_plan_share: adult app users who take the monthly plan.
        price_test_lift: how much more often the premium card is bought when quoted at
            99 元 a month than at 999 元 a year (the price test; 0.25: a quarter more).
        family_plan_share: heads of family who buy the family health steward.
        diabetes_plan_share: diabetics who buy the diabetes steward.
        renewal_share: yearly terms renewed.
        cancel_share: terms cancelled before their end.
        monthly_churn: monthly terms not paid for (the plan then expires).
        redemption_share: app sessions and visits at which a member with points redeems.
        visits_per_year: routine outpatient visits a year of an adult under 65 (children
            come 1.6 times as often, patients of 65 and over twice as often).
        session_days: mean days between app sessions of the most engaged users (the
            others come three and eight times as rarely).
    """

    patients: int = attrs.field(default=10_000, validator=_positive)
    months: int = attrs.field(default=18, validator=_positive)
    seed: int = 7
    start: datetime = attrs.field(factory=_default_start, validator=_aware)
    first_month_share: float = _rate(0.25)
    family_share: float = _rate(0.45)
    engaged_share: float = _rate(0.3)
    marketing_consent: float = _rate(0.45)
    research_consent: float = _rate(0.06)
    withdrawal_share: float = _rate(0.05)
    insured_share: float = _rate(0.6)
    refund_share: float = _rate(0.02)
    diabetes_share: float = _rate(0.12)
    recheck_adherence: float = _rate(0.7)
    pregnancy_share: float = _rate(0.3)
    checkup_share: float = _rate(0.35)
    abnormal_checkup_share: float = _rate(0.35)
    arthrosis_share: float = _rate(0.12)
    surgery_share: float = _rate(0.35)
    implant_share: float = _rate(0.05)
    high_satisfaction_share: float = _rate(0.75)
    cosmetic_share: float = _rate(0.06)
    inpatient_rate: float = _rate(0.03)
    referral_share: float = _rate(0.08)
    annual_plan_share: float = _rate(0.06)
    monthly_plan_share: float = _rate(0.05)
    price_test_lift: float = _rate(0.25)
    family_plan_share: float = _rate(0.15)
    diabetes_plan_share: float = _rate(0.25)
    renewal_share: float = _rate(0.7)
    cancel_share: float = _rate(0.04)
    monthly_churn: float = _rate(0.1)
    redemption_share: float = _rate(0.03)
    visits_per_year: float = attrs.field(default=1.2, validator=_above_zero)
    session_days: float = attrs.field(default=10.0, validator=_above_zero)


def small(seed: int = 7) -> HospitalSpec:
    """A small hospital for tests: 300 patients over 6 months.

    The rarer pathways (deliveries, surgery, implants, diabetes, paid plans) are made
    more common so that every kind of message appears in so short a stream.
    """
    return HospitalSpec(
        patients=300,
        months=6,
        seed=seed,
        first_month_share=0.6,
        diabetes_share=0.3,
        recheck_adherence=0.5,
        pregnancy_share=0.7,
        arthrosis_share=0.4,
        surgery_share=0.7,
        implant_share=0.12,
        referral_share=0.2,
        annual_plan_share=0.15,
        monthly_plan_share=0.5,
        family_plan_share=0.4,
        refund_share=0.05,
        withdrawal_share=0.2,
        cancel_share=0.15,
    )
