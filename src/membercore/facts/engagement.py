"""Engagement facts, from the member app and the programme's own events.

Events attended, content shared and liked, surveys answered, referrals that qualified and
rehabilitation plans joined.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from membercore.checks import non_empty, non_negative
from membercore.facts.base import Fact

__all__ = [
    "ContentLiked",
    "ContentShared",
    "EventAttended",
    "ReferralQualified",
    "RehabPlanJoined",
    "SurveyAnswered",
]


@attrs.frozen(kw_only=True)
class EventAttended(Fact):
    """The member attended a programme event.

    Attributes:
        event_id: the event.
        event_kind: e.g. ``lecture`` (健康讲座) or ``member_day`` (会员日).
    """

    TYPE: ClassVar[str] = "event_attended"

    event_id: str = attrs.field(validator=non_empty)
    event_kind: str = attrs.field(default="lecture", validator=non_empty)


@attrs.frozen(kw_only=True)
class ContentShared(Fact):
    """The member shared a piece of the hospital's content."""

    TYPE: ClassVar[str] = "content_shared"

    content_id: str = attrs.field(validator=non_empty)
    channel: str = "wechat"


@attrs.frozen(kw_only=True)
class ContentLiked(Fact):
    """The member liked a piece of the hospital's content."""

    TYPE: ClassVar[str] = "content_liked"

    content_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class ReferralQualified(Fact):
    """A patient this member referred completed their first visit.

    ``patient_id`` is the referrer, who earns the reward.

    Attributes:
        referred_patient_id: the new patient.
        visit_id: their first visit.
    """

    TYPE: ClassVar[str] = "referral_qualified"

    referred_patient_id: str = attrs.field(validator=non_empty)
    visit_id: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class SurveyAnswered(Fact):
    """The member answered the satisfaction survey of a visit.

    Attributes:
        visit_id: the visit surveyed.
        score: the score given; it never changes the points earned.
    """

    TYPE: ClassVar[str] = "survey_answered"

    visit_id: str = attrs.field(validator=non_empty)
    score: int = attrs.field(validator=non_negative)


@attrs.frozen(kw_only=True)
class RehabPlanJoined(Fact):
    """The member joined a post-discharge rehabilitation plan."""

    TYPE: ClassVar[str] = "rehab_plan_joined"

    plan_id: str = attrs.field(validator=non_empty)
