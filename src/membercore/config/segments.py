"""Segments and tags: how patients are grouped, and how much human service they get.

The defaults are the reference rules of a private general hospital, from the field's
practice (分层运营: A 高价值高潜力, B 高价值稳定, C 基础):

- **A** (case manager, 个案管理): pregnant or post-partum patients, chronic disease
  (diabetes, hypertension, ischaemic heart disease, COPD, chronic kidney disease), and
  obstetrics or cosmetic patients who paid at least 5,000 元 out of pocket in 12 months.
- **B** (follow-up plan, 随访计划): after orthopaedic surgery or a femur fracture, with a
  dental implant, in a rehabilitation plan, or with premium spending power.
- **C** (standard service): everyone else, general outpatients.

A **high-value treatment** (rule D's 高价值治疗, e.g. a dental implant) is a charge whose
lines of the categories ``implant`` or ``dental_implant`` come to at least 5,000 元, net of
refunds of the charge; it makes the tag ``care:high_value_treatment`` for 180 days.

Spending power bands over 12 months of out-of-pocket spend: basic below 2,000 元, medium
from 2,000 元, high from 10,000 元, premium from 50,000 元. RFM breakpoints: recency 30 /
90 / 180 / 365 days, frequency 2 / 4 / 6 / 12 visits, monetary 1,000 / 5,000 / 10,000 /
30,000 元. Children are under 18 (the age of majority), seniors 60 and over (老年人权益
保障法). A pregnancy is assumed over 280 days after its last evidence; the post-partum stage
lasts 365 days, the span of post-partum rehabilitation (产后康复), not only the 42-day
puerperium.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any, Literal, get_args

import attrs

from membercore.config.common import (
    MAX_DAYS,
    MAX_MONTHS,
    non_blank,
    optional_positive,
    positive,
    unique_keys,
    within,
)
from membercore.errors import ConfigError
from membercore.facts.icd10 import CONDITIONS, CodeRule
from membercore.messages import CHANNELS, Channel

__all__ = [
    "CARE_TAGS",
    "DERIVED_NAMESPACES",
    "FAMILY_TAGS",
    "HIGH_VALUE_TAG",
    "LIFE_STAGES",
    "SERVICE_LEVELS",
    "HighValueTreatment",
    "LifeStage",
    "RfmBreakpoints",
    "SegmentCriterion",
    "SegmentDefinition",
    "SegmentRules",
    "ServiceLevel",
    "SpendingBand",
    "is_derived",
    "reference_bands",
    "reference_segment_definitions",
]

LifeStage = Literal["child", "adult", "senior", "pregnant", "postpartum"]
ServiceLevel = Literal["case_manager", "follow_up_plan", "standard"]
LIFE_STAGES: tuple[LifeStage, ...] = get_args(LifeStage)
SERVICE_LEVELS: tuple[ServiceLevel, ...] = get_args(ServiceLevel)
#: Tags in these namespaces are derived from facts; commands may not set them.
DERIVED_NAMESPACES: tuple[str, ...] = ("condition", "stage", "spend", "channel", "family", "care")
#: The family status tags (households live elsewhere; their status is an input).
FAMILY_TAGS: tuple[str, ...] = ("family:has_dependents", "family:dependent")
#: The tag a high-value treatment makes (rule D's referral invitation asks for it).
HIGH_VALUE_TAG = "care:high_value_treatment"
#: The care tags facts make: joining a rehabilitation plan, a high-value treatment.
CARE_TAGS: tuple[str, ...] = ("care:rehab_plan", HIGH_VALUE_TAG)


def is_derived(tag: str) -> bool:
    """Whether ``tag`` is in a namespace only facts may set (``condition:diabetes``).

    Such tags form a closed list (:attr:`SegmentRules.derived_tags`); every other tag is
    open: journeys and staff make their own (``vip``, ``programme:pelvic_floor``).
    """
    namespace, colon, _ = tag.partition(":")
    return bool(colon) and namespace in DERIVED_NAMESPACES


def _non_empty_items(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    for index, item in enumerate(value):
        if not item.strip():
            raise ConfigError(f"{attribute.name}[{index}]", "must not be empty")


def _service_level(_instance: Any, attribute: Any, value: str) -> None:
    if value not in SERVICE_LEVELS:
        raise ConfigError(attribute.name, f"must be one of {SERVICE_LEVELS}, got {value!r}")


def _four_rising(_instance: Any, attribute: Any, value: tuple[int, ...]) -> None:
    if len(value) != 4:
        raise ConfigError(attribute.name, f"needs 4 breakpoints for scores 1 to 5, got {value}")
    if value[0] <= 0 or any(b <= a for a, b in pairwise(value)):
        raise ConfigError(attribute.name, f"must be positive and strictly rising, got {value}")


@attrs.frozen(kw_only=True)
class SegmentCriterion:
    """One way into a segment: every test it sets must hold.

    Attributes:
        key: names the rule in explanations (``maternity`` → ``A.maternity``).
        departments: any of these departments seen (visit or charge) in the window.
        tags: any of these tags held (``condition:chronic_disease``, ``stage:pregnant``,
            ``spend:premium``, or a journey's own tag).
        min_spend_fen: at least this much out-of-pocket spend in the window, in fen.
    """

    key: str = attrs.field(validator=non_blank)
    departments: tuple[str, ...] = attrs.field(default=(), validator=_non_empty_items)
    tags: tuple[str, ...] = attrs.field(default=(), validator=_non_empty_items)
    min_spend_fen: int | None = attrs.field(default=None, validator=optional_positive)

    def __attrs_post_init__(self) -> None:
        if not (self.departments or self.tags or self.min_spend_fen):
            raise ConfigError("key", f"criterion {self.key!r} tests nothing")


@attrs.frozen(kw_only=True)
class SegmentDefinition:
    """A value segment, its service level, and the criteria that put a patient in it.

    Attributes:
        key: ``A``, ``B``, ``C``.
        label: the name shown to people (高价值高潜力...).
        service_level: how much human service the segment gets.
        criteria: any one of them puts a patient in the segment; the last segment of
            the rules is the default and has none.
    """

    key: str = attrs.field(validator=non_blank)
    label: str
    service_level: ServiceLevel = attrs.field(validator=_service_level)
    criteria: tuple[SegmentCriterion, ...] = attrs.field(default=(), validator=unique_keys)


@attrs.frozen(kw_only=True)
class SpendingBand:
    """A spending-power band: from ``min_fen`` of out-of-pocket spend in the window.

    Attributes:
        key: the band's key, the tag ``spend:<key>``.
        label: the name shown to people.
        min_fen: where the band starts, inclusive, in fen.
    """

    key: str = attrs.field(validator=non_blank)
    label: str
    min_fen: int


@attrs.frozen(kw_only=True)
class HighValueTreatment:
    """What makes a treatment high-value: the tag ``care:high_value_treatment``.

    A paid charge whose lines of ``categories`` come to at least ``min_fen``, less what
    was refunded of the charge, is one; the tag holds ``tag_days["care:high_value_treatment"]``
    days after the latest.

    Attributes:
        categories: the charge-line categories of high-value procedures, as the HIS
            (or its connector's code mapping) names them: ``implant``, ``dental_implant``.
        min_fen: the least those lines of one charge come to, in fen, whoever paid.
    """

    categories: tuple[str, ...] = attrs.field(
        default=("implant", "dental_implant"), validator=_non_empty_items
    )
    min_fen: int = attrs.field(default=500_000, validator=positive)


@attrs.frozen(kw_only=True)
class RfmBreakpoints:
    """Where the recency, frequency and monetary scores (1 to 5) change.

    Attributes:
        recency_days: at most this many days since the last visit or charge scores 5,
            4, 3, 2; more (or none) scores 1.
        frequency: at least this many visits in the window scores 2, 3, 4, 5.
        monetary_fen: at least this much out-of-pocket spend in the window, in fen,
            scores 2, 3, 4, 5.
    """

    recency_days: tuple[int, ...] = attrs.field(default=(30, 90, 180, 365), validator=_four_rising)
    frequency: tuple[int, ...] = attrs.field(default=(2, 4, 6, 12), validator=_four_rising)
    monetary_fen: tuple[int, ...] = attrs.field(
        default=(100_000, 500_000, 1_000_000, 3_000_000), validator=_four_rising
    )


def reference_segment_definitions() -> tuple[SegmentDefinition, ...]:
    """The reference segments A, B and C (see the module's documentation)."""
    return (
        SegmentDefinition(
            key="A",
            label="高价值高潜力",
            service_level="case_manager",
            criteria=(
                SegmentCriterion(key="maternity", tags=("stage:pregnant", "stage:postpartum")),
                SegmentCriterion(key="chronic_disease", tags=("condition:chronic_disease",)),
                SegmentCriterion(
                    key="obstetrics_cosmetic",
                    departments=("obstetrics", "cosmetic"),
                    min_spend_fen=500_000,
                ),
            ),
        ),
        SegmentDefinition(
            key="B",
            label="高价值稳定",
            service_level="follow_up_plan",
            criteria=(
                SegmentCriterion(
                    key="post_surgery",
                    tags=(
                        "condition:orthopaedic_surgery",
                        "condition:femur_fracture",
                        "condition:dental_implant",
                    ),
                ),
                SegmentCriterion(key="rehab_plan", tags=("care:rehab_plan",)),
                SegmentCriterion(key="premium_spend", tags=("spend:premium",)),
            ),
        ),
        SegmentDefinition(key="C", label="基础", service_level="standard"),
    )


def reference_bands() -> tuple[SpendingBand, ...]:
    """The reference spending-power bands (see the module's documentation)."""
    return (
        SpendingBand(key="basic", label="基础", min_fen=0),
        SpendingBand(key="medium", label="中等", min_fen=200_000),
        SpendingBand(key="high", label="较高", min_fen=1_000_000),
        SpendingBand(key="premium", label="高端", min_fen=5_000_000),
    )


def _reference_tag_days() -> dict[str, int]:
    return {
        "condition:pregnancy": 280,
        "condition:delivery": 365,
        "condition:puerperium": 365,
        "condition:pregnancy_loss": 365,
        "condition:orthopaedic_surgery": 365,
        "condition:femur_fracture": 365,
        "condition:dental_implant": 365,
        "care:rehab_plan": 180,
        HIGH_VALUE_TAG: 180,
    }


def _reference_interaction_channels() -> dict[str, Channel]:
    # The member app is a WeChat mini-programme: WeCom reaches its users.
    return {
        "app": "wecom",
        "miniprogram": "wecom",
        "wechat": "wecom",
        "wecom": "wecom",
        "sms": "sms",
        "email": "email",
        "phone": "phone",
    }


def _segments(_instance: Any, attribute: Any, value: tuple[SegmentDefinition, ...]) -> None:
    if not value:
        raise ConfigError(attribute.name, "needs at least the default segment")
    for index, segment in enumerate(value[:-1]):
        if not segment.criteria:
            raise ConfigError(
                f"{attribute.name}[{index}].criteria", "only the last segment may have none"
            )
    if value[-1].criteria:
        raise ConfigError(
            f"{attribute.name}[{len(value) - 1}].criteria",
            "the last segment is the default and takes no criteria",
        )


def _bands(_instance: Any, attribute: Any, value: tuple[SpendingBand, ...]) -> None:
    if not value or value[0].min_fen != 0:
        raise ConfigError(attribute.name, "the first band starts at 0 fen")
    for index in range(1, len(value)):
        if value[index].min_fen <= value[index - 1].min_fen:
            raise ConfigError(
                f"{attribute.name}[{index}].min_fen",
                f"must be above the band below ({value[index - 1].min_fen})",
            )


def _channels(_instance: Any, attribute: Any, value: Mapping[str, str]) -> None:
    for name, channel in value.items():
        if channel not in CHANNELS:
            raise ConfigError(f"{attribute.name}[{name!r}]", f"must be one of {CHANNELS}")


@attrs.frozen(kw_only=True)
class SegmentRules:
    """How tags and value segments are derived.

    Attributes:
        version: recorded on every segment decision.
        window_months: the window of spend, visits and channels: from the same local
            date that many months ago.
        segments: evaluated in order (A, B, C); the first whose criterion holds wins; the
            last is the default and has no criteria.
        spending_bands: lowest first, from 0; the tag ``spend:<key>``.
        rfm: the RFM score breakpoints.
        child_below_age: a patient younger than this is a child.
        senior_from_age: a patient this old or older is a senior.
        pregnancy_days: a pregnancy with no delivery is assumed over this many days after
            its last evidence (the day of the evidence is day 1).
        postpartum_days: the post-partum stage lasts this many days from the delivery.
        tag_days: a tag listed here holds this many days after the latest fact that
            makes it (``condition:pregnancy``, ``care:rehab_plan``...); the others (chronic
            conditions) hold for good.
        interaction_channels: the channel a member is seen using (``app``, ``wechat``) by
            the outreach channel it counts for.
        extra_codes: the hospital's own ICD-10 rules, added to the shipped table.
        high_value_treatment: which charges are a high-value treatment (the tag
            ``care:high_value_treatment``).
    """

    version: int = attrs.field(default=1, validator=positive)
    window_months: int = attrs.field(default=12, validator=within(1, MAX_MONTHS))
    segments: tuple[SegmentDefinition, ...] = attrs.field(
        factory=reference_segment_definitions, validator=[_segments, unique_keys]
    )
    spending_bands: tuple[SpendingBand, ...] = attrs.field(
        factory=reference_bands, validator=[_bands, unique_keys]
    )
    rfm: RfmBreakpoints = attrs.field(factory=RfmBreakpoints)
    child_below_age: int = attrs.field(default=18, validator=positive)
    senior_from_age: int = attrs.field(default=60, validator=positive)
    pregnancy_days: int = attrs.field(default=280, validator=within(1, MAX_DAYS))
    postpartum_days: int = attrs.field(default=365, validator=within(1, MAX_DAYS))
    tag_days: Mapping[str, int] = attrs.field(factory=_reference_tag_days)
    interaction_channels: Mapping[str, Channel] = attrs.field(
        factory=_reference_interaction_channels, validator=_channels
    )
    extra_codes: tuple[CodeRule, ...] = ()
    high_value_treatment: HighValueTreatment = attrs.field(factory=HighValueTreatment)

    def __attrs_post_init__(self) -> None:
        if self.senior_from_age <= self.child_below_age:
            raise ConfigError("senior_from_age", "must be above child_below_age")
        known = self.derived_tags
        for key, days in self.tag_days.items():
            if not key.startswith(("condition:", "care:")) or key not in known:
                raise ConfigError(f"tag_days[{key!r}]", "not a condition or care tag facts make")
            if days <= 0:
                raise ConfigError(f"tag_days[{key!r}]", f"must be positive, got {days}")
        for s, segment in enumerate(self.segments):
            for c, criterion in enumerate(segment.criteria):
                for t, tag in enumerate(criterion.tags):
                    namespace = tag.partition(":")[0]
                    if namespace in DERIVED_NAMESPACES and tag not in known:
                        raise ConfigError(
                            f"segments[{s}].criteria[{c}].tags[{t}]",
                            f"{tag!r} is not a tag facts can make",
                        )

    @property
    def conditions(self) -> frozenset[str]:
        """Every condition key: the shipped table's and the hospital's own."""
        return CONDITIONS | {key for rule in self.extra_codes for key in rule.conditions}

    @property
    def derived_tags(self) -> frozenset[str]:
        """Every tag facts can make under these rules."""
        return frozenset(
            {f"condition:{key}" for key in self.conditions}
            | {f"stage:{stage}" for stage in LIFE_STAGES}
            | {f"spend:{band.key}" for band in self.spending_bands}
            | {f"channel:{channel}" for channel in CHANNELS}
            | set(FAMILY_TAGS)
            | set(CARE_TAGS)
        )

    @property
    def default_segment(self) -> str:
        """The key of the default segment (the last)."""
        return self.segments[-1].key

    def segment(self, key: str) -> SegmentDefinition:
        """The segment called ``key``.

        Raises:
            ConfigError: no segment is called ``key``.
        """
        for segment in self.segments:
            if segment.key == key:
                return segment
        raise ConfigError("segments.segments", f"no segment {key!r}")

    def service_level(self, key: str) -> ServiceLevel:
        """How much human service the segment ``key`` gets.

        Raises:
            ConfigError: no segment is called ``key``.
        """
        return self.segment(key).service_level
