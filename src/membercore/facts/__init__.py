"""Facts: what happened outside the programme, as reported by the HIS or the member app.

Every fact carries ``fact_id`` (its idempotency key: the same fact twice changes
nothing), ``patient_id`` and ``occurred_at`` (timezone-aware). Each class has a stable
``TYPE`` tag used when facts are stored or exchanged; the tag never changes once shipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

import attrs

from membercore.checks import non_empty, non_negative, positive
from membercore.dates import as_utc, aware
from membercore.errors import InvalidFactError

__all__ = [
    "FACT_TYPES",
    "ChargeLine",
    "ChargePaid",
    "CheckedIn",
    "ContentLiked",
    "ContentShared",
    "EventAttended",
    "Fact",
    "ReferralQualified",
    "RefundIssued",
    "RehabPlanJoined",
    "SurveyAnswered",
    "VisitCompleted",
]


@attrs.frozen(kw_only=True)
class Fact:
    """Fields every fact has.

    Attributes:
        fact_id: unique id of the fact (e.g. the HIS message id); the idempotency key.
        patient_id: the patient (member) the fact is about.
        occurred_at: when it happened (timezone-aware).
    """

    TYPE: ClassVar[str] = "fact"

    fact_id: str = attrs.field(validator=non_empty)
    patient_id: str = attrs.field(validator=non_empty)
    occurred_at: datetime = attrs.field(converter=as_utc, validator=aware)


@attrs.frozen(kw_only=True)
class CheckedIn(Fact):
    """The member checked in (签到) in the app or at a kiosk."""

    TYPE: ClassVar[str] = "checked_in"

    channel: str = "app"


def _insurance_within_amount(instance: ChargeLine, _attribute: object, value: int) -> None:
    if value > instance.amount_fen:
        raise InvalidFactError(
            "charge_line",
            "insurance_fen",
            value,
            f"exceeds the line amount of {instance.amount_fen} fen",
        )


@attrs.frozen(kw_only=True)
class ChargeLine:
    """One line of a charge.

    Attributes:
        department: the department code (e.g. ``dental``).
        category: the service category (e.g. ``exam``, ``drug``, ``treatment``).
        amount_fen: the line total in fen, whoever pays it.
        insurance_fen: the part paid by medical insurance (医保); never earns points.
    """

    TYPE: ClassVar[str] = "charge_line"

    department: str = attrs.field(validator=non_empty)
    category: str = attrs.field(validator=non_empty)
    amount_fen: int = attrs.field(validator=non_negative)
    insurance_fen: int = attrs.field(default=0, validator=[non_negative, _insurance_within_amount])

    @property
    def self_paid_fen(self) -> int:
        """The part of the line the patient paid."""
        return self.amount_fen - self.insurance_fen


def _as_lines(lines: Iterable[ChargeLine]) -> tuple[ChargeLine, ...]:
    return tuple(lines)


def _at_least_one_line(
    instance: ChargePaid, _attribute: object, value: tuple[ChargeLine, ...]
) -> None:
    if not value:
        raise InvalidFactError(instance.TYPE, "lines", value, "a charge needs at least one line")


@attrs.frozen(kw_only=True)
class ChargePaid(Fact):
    """A charge (收费) was paid.

    Attributes:
        charge_id: the HIS charge number; refunds refer to it.
        lines: the charged items.
    """

    TYPE: ClassVar[str] = "charge_paid"

    charge_id: str = attrs.field(validator=non_empty)
    lines: tuple[ChargeLine, ...] = attrs.field(converter=_as_lines, validator=_at_least_one_line)

    @property
    def amount_fen(self) -> int:
        """The charge total in fen."""
        return sum(line.amount_fen for line in self.lines)


@attrs.frozen(kw_only=True)
class RefundIssued(Fact):
    """Part or all of a charge was refunded.

    Attributes:
        charge_id: the charge refunded.
        amount_fen: the amount refunded, in fen, out of the charge total.
    """

    TYPE: ClassVar[str] = "refund_issued"

    charge_id: str = attrs.field(validator=non_empty)
    amount_fen: int = attrs.field(validator=positive)


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


@attrs.frozen(kw_only=True)
class VisitCompleted(Fact):
    """The member completed a visit (outpatient, inpatient discharge, check-up...).

    Attributes:
        visit_id: the HIS visit number.
        department: the department seen.
        first_visit: whether it was the patient's first visit to the hospital.
    """

    TYPE: ClassVar[str] = "visit_completed"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(default="internal", validator=non_empty)
    first_visit: bool = False


FACT_TYPES: tuple[type[Fact], ...] = (
    CheckedIn,
    ChargePaid,
    RefundIssued,
    EventAttended,
    ContentShared,
    ContentLiked,
    ReferralQualified,
    SurveyAnswered,
    RehabPlanJoined,
    VisitCompleted,
)
