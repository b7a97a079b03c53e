"""A seeded synthetic private general hospital: the demo data of the reference programme.

:func:`messages` streams what a hospital's systems and its members would send
membercore over a period: registrations (建档) of whole families, consents, outpatient
visits and their charges (some partly paid by 医保, a few refunded), diabetes care with
HbA1c rechecks (some missed), deliveries, orthopaedic surgery, dental implants,
check-ups, app check-ins and likes, health lectures and member days, referrals, paid
plans with their renewals, lapses and cancellations, and points redemptions.

The stream is generated day by day from a heap of scheduled actions, so memory grows
with the number of patients, never with the number of messages. Everything comes from
one ``random.Random(seed)``: the same spec always yields the same stream.

Commands carry no instant of their own; :func:`timed_messages` gives the instant at
which each message happens (a fact's ``occurred_at``, a payment's ``paid_at``), which is
the ``now`` to decide a command at.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from heapq import heappop, heappush
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import attrs

from membercore.config import Plan, reference_config
from membercore.consent import GUARDIAN_AGE, Channel, GrantConsent, Purpose, WithdrawConsent
from membercore.dates import add_months, local_date
from membercore.facts import (
    AppointmentBooked,
    AppointmentMissed,
    AssessmentCompleted,
    ChargeLine,
    ChargePaid,
    CheckedIn,
    CheckupCompleted,
    ContentLiked,
    ContentShared,
    DeliveryRecorded,
    DiagnosisRecorded,
    Discharged,
    EventAttended,
    Fact,
    LabResultRecorded,
    PatientRegistered,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    Sex,
    SurgeryCompleted,
    SurveyAnswered,
    VisitCompleted,
)
from membercore.households import ADULT_AGE, AddDependent, FormHousehold, Relationship, age_on
from membercore.ledger.commands import Redeem
from membercore.plans import AddCoveredDependent, Cancel, RecordPayment, Renew, Subscribe
from membercore.plans.terms import grace_end
from membercore.service.engine import Message
from membercore.service.use_cases import AnyCommand

__all__ = ["HospitalSpec", "messages", "shard_of", "small", "timed_messages"]

_MINUTE = 60
_HOUR = 3_600
_DAY = 86_400
_WEEK = 7 * _DAY
#: Points count as spendable from the week after they are 8 days old (past the 7-day
#: refund window), and are forgotten 95 weeks on (before the 24 months they live).
_FORGET_WEEKS = 95
#: Patient ids come in blocks of this many; a household never spans two blocks. The
#: largest family (head, spouse, three children, two parents) is seven.
_BLOCK = 8

_F = TypeVar("_F", bound=Fact)
_C = TypeVar("_C", bound=AnyCommand)


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


def messages(spec: HospitalSpec) -> Iterator[Message]:
    """The hospital's facts and member commands, in non-decreasing time order.

    Args:
        spec: the hospital.

    Returns:
        A lazy iterator over membercore facts and commands.
    """
    return _Hospital(spec).run()


def timed_messages(spec: HospitalSpec) -> Iterator[tuple[datetime, Message]]:
    """Each message of :func:`messages` with the instant it happens (aware, in UTC).

    Args:
        spec: the hospital.

    Returns:
        A lazy iterator over ``(instant, message)`` pairs, instants non-decreasing.
    """
    hospital = _Hospital(spec)
    for message in hospital.run():
        yield hospital.instant, message


def shard_of(subject: object) -> int:
    """A number shared by every member of a household, to split the work by household.

    Patient ids (``P000123``) come in blocks of eight and a household (``H000121``, after
    its head) never spans two blocks, so ``shard_of(x) % workers`` keeps a family on one
    worker. A message's number is that of the patient or household it is about.

    Args:
        subject: a patient or household id of the hospital, or one of its messages.

    Raises:
        TypeError: ``subject`` names no patient or household.
    """
    if isinstance(subject, str):
        return (int(subject[1:]) - 1) // _BLOCK
    for field in _SUBJECT_FIELDS:
        value = getattr(subject, field, None)
        if isinstance(value, str):
            return (int(value[1:]) - 1) // _BLOCK
    raise TypeError(f"{type(subject).__name__} names no patient or household")


# The field naming what a message is about: facts, household commands, member commands.
_SUBJECT_FIELDS = ("patient_id", "household_id", "member_id")


# --- the hospital's catalogue ------------------------------------------------------------

# A charge line: category, lowest and highest amount in yuan, the chance the line is on a
# charge, and whether 医保 may pay part of it.
_Line = tuple[str, int, int, float, bool]
_CONSULT: _Line = ("consult", 40, 250, 1.0, True)
_LINES: dict[str, tuple[_Line, ...]] = {
    "internal": (_CONSULT, ("drug", 40, 600, 0.8, True), ("exam", 80, 900, 0.5, True)),
    "pediatrics": (_CONSULT, ("drug", 20, 300, 0.8, True), ("exam", 50, 400, 0.3, True)),
    "dental": (
        ("consult", 50, 200, 1.0, False),
        ("treatment", 200, 2_500, 0.8, False),
        ("exam", 80, 300, 0.4, False),
    ),
    "dermatology": (_CONSULT, ("drug", 50, 500, 0.8, True), ("treatment", 200, 1_500, 0.2, False)),
    "ent": (_CONSULT, ("drug", 30, 300, 0.7, True)),
    "gynecology": (_CONSULT, ("exam", 100, 800, 0.7, True), ("drug", 50, 400, 0.5, True)),
    "ophthalmology": (
        _CONSULT,
        ("exam", 80, 600, 0.6, True),
        ("treatment", 300, 3_000, 0.1, False),
    ),
    "tcm": (_CONSULT, ("drug", 100, 800, 0.8, True), ("treatment", 100, 400, 0.5, False)),
    "ortho": (_CONSULT, ("exam", 200, 1_500, 0.7, True), ("treatment", 100, 800, 0.4, True)),
    "endocrinology": (_CONSULT, ("drug", 100, 800, 0.9, True), ("exam", 80, 300, 0.8, True)),
    "obstetrics": (_CONSULT, ("exam", 200, 1_500, 0.8, True), ("drug", 30, 300, 0.3, True)),
    "checkup_clinic": (_CONSULT, ("exam", 100, 1_500, 0.8, True)),
    "cosmetic": (
        ("consult", 100, 500, 0.5, False),
        ("treatment", 3_000, 30_000, 1.0, False),
        ("drug", 200, 1_500, 0.3, False),
    ),
    "rehab": (("treatment", 200, 800, 1.0, True),),
    "checkup": (("checkup", 800, 6_000, 1.0, False),),
    "delivery": (
        ("treatment", 8_000, 40_000, 1.0, True),
        ("bed", 1_500, 12_000, 1.0, True),
        ("drug", 300, 3_000, 1.0, True),
    ),
    "joint_replacement": (
        ("surgery", 40_000, 90_000, 1.0, True),
        ("implant", 15_000, 40_000, 1.0, True),
        ("bed", 2_000, 8_000, 1.0, True),
        ("drug", 1_000, 6_000, 1.0, True),
    ),
    "dental_implant": (("implant", 8_000, 20_000, 1.0, False), ("exam", 300, 1_000, 1.0, False)),
    "implant_crown": (("treatment", 2_000, 6_000, 1.0, False),),
    "inpatient": (
        ("treatment", 2_000, 15_000, 1.0, True),
        ("bed", 800, 4_000, 1.0, True),
        ("drug", 500, 5_000, 1.0, True),
    ),
}

# Codes recorded at routine visits; the pathways record their own (E11, Z34, O80, M17...).
_CODES: dict[str, tuple[str, ...]] = {
    "internal": ("J06.9", "K29.7", "I10", "R51", "E78.5", "J20.9"),
    "pediatrics": ("J06.9", "J20.9", "A09", "H66.9"),
    "dental": ("K02.1", "K05.1", "K04.0"),
    "dermatology": ("L30.9", "L70.0", "L20.9"),
    "ent": ("J02.9", "J30.4", "J32.9"),
    "gynecology": ("N76.0", "N92.0", "N95.1"),
    "ophthalmology": ("H52.1", "H10.9", "H25.9"),
    "tcm": ("R53", "M54.5", "G47.0"),
    "ortho": ("M54.5", "M25.5", "M75.1"),
    "endocrinology": ("E03.9", "E78.5", "E66.9"),
}


def _weights(**weights: int) -> tuple[tuple[str, ...], list[int]]:
    total, cumulative = 0, []
    for weight in weights.values():
        total += weight
        cumulative.append(total)
    return tuple(weights), cumulative


_DEPARTMENTS = {
    "child": _weights(pediatrics=75, dental=12, ent=8, ophthalmology=5),
    "male": _weights(
        internal=34,
        dental=12,
        dermatology=8,
        ent=7,
        ophthalmology=7,
        tcm=10,
        ortho=10,
        endocrinology=4,
    ),
    "female": _weights(
        internal=28,
        dental=12,
        dermatology=10,
        ent=6,
        gynecology=12,
        ophthalmology=6,
        tcm=12,
        ortho=8,
        endocrinology=3,
    ),
}
# Gifts of the reference catalogue, by key, with their points.
_PARKING = ("parking", 200)
_FLU = ("flu_vaccine", 3_000)
_BP = ("bp_monitor", 6_000)
_CHECKUP = ("checkup_basic", 8_000)
_CARE_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "wecom": ("wecom", "sms"),
    "sms": ("sms",),
    "phone": ("phone", "sms"),
    "email": ("email", "sms"),
}
_FAMILY = "family_steward"


class _Patient:
    """What the generator remembers of one patient: a few fields, never one per message."""

    __slots__ = (
        "birth", "bp_redeemed", "channel", "covered", "engagement", "family_sub", "head",
        "household_formed", "in_household", "insured", "last_check_in", "n", "open_until",
        "pid", "points", "redeemed", "referrer", "registered", "relationship", "relatives", "sex",
        "visited", "wants_family_plan",
    )  # fmt: skip

    def __init__(self, n: int, birth: date, sex: Sex) -> None:
        self.n = n
        self.pid = f"P{n:06d}"
        self.birth = birth
        self.sex: Sex = sex
        self.head: _Patient | None = None
        self.relationship: Relationship | None = None
        self.relatives: list[_Patient] = []
        self.household_formed = self.in_household = False
        self.engagement = 0
        self.insured = False
        self.channel: Channel = "wecom"
        self.registered = self.visited = False
        self.referrer: _Patient | None = None
        self.last_check_in = -1
        # Points earned, by the week they become spendable; and all points redeemed.
        self.points: dict[int, int] = {}
        self.redeemed = 0
        self.bp_redeemed = False
        # By plan key, the instant the member's subscription to it stops being open.
        self.open_until: dict[str, int] = {}
        self.family_sub: str | None = None
        self.covered: list[str] = []
        self.wants_family_plan = False

    @property
    def household_id(self) -> str:
        return f"H{(self.head or self).n:06d}"


_Action = Callable[..., object]


class _Hospital:
    """The generator: a clock, a heap of scheduled actions, and the patients' memory.

    Instants are whole seconds since the start; an action runs at its instant and emits
    messages at that instant only, scheduling anything later on the heap, so the stream
    is in time order by construction.
    """

    def __init__(self, spec: HospitalSpec) -> None:
        self._spec = spec
        self._rng = random.Random(spec.seed)
        config = reference_config()
        self._tz = config.tz
        self._plans: dict[str, Plan] = {plan.key: plan for plan in config.plans.plans}
        self._pay_window = config.plans.payment_window_hours * _HOUR
        self._sellers = tuple(m.key for m in config.staff.with_role("health_manager"))
        self._origin = spec.start.astimezone(UTC)
        self._first_day = spec.start.date()
        end = add_months(spec.start, spec.months, self._tz) - self._origin
        self._end = int(end.total_seconds())
        self._days = -(-self._end // _DAY)
        self._heap: list[tuple[int, int, _Action, tuple[Any, ...]]] = []
        self._seq = 0
        self._now = 0
        self.instant = self._origin
        self._out: list[Message] = []
        self._patients: list[_Patient] = []
        self._engaged: list[_Patient] = []
        self._facts = self._keys = self._visits = self._charges = 0
        self._appointments = self._subscriptions = 0

    # --- the loop and its helpers --------------------------------------------------------

    def run(self) -> Iterator[Message]:
        """The messages; each is emitted at :attr:`instant` as it is yielded."""
        self._push(0, self._day, 0)
        heap, out, origin, end = self._heap, self._out, self._origin, self._end
        while heap:
            at, _, action, args = heappop(heap)
            if at >= end:
                break
            if at != self._now:
                self._now = at
                self.instant = origin + timedelta(seconds=at)
            action(*args)
            if out:
                yield from out
                out.clear()

    def _push(self, at: int, action: _Action, *args: Any) -> None:
        if at < self._end:
            self._seq += 1
            now = self._now
            heappush(self._heap, (at if at > now else now, self._seq, action, args))

    def _in(self, low: int, high: int, action: _Action, *args: Any) -> None:
        """Schedule ``action`` between ``low`` and ``high`` seconds from now."""
        self._push(self._now + self._uniform(low, high), action, *args)

    def _on(self, low_days: float, high_days: float, action: _Action, *args: Any) -> None:
        """Schedule ``action`` in opening hours, between ``low_days`` and ``high_days`` on."""
        self._push(self._later(low_days, high_days), action, *args)

    def _later(self, low_days: float, high_days: float) -> int:
        return self._business(self._now + self._uniform(low_days * _DAY, high_days * _DAY))

    def _business(self, at: int, first_hour: float = 8.0, last_hour: float = 17.5) -> int:
        """A time in opening hours on the day of ``at``; soon after now if that is past."""
        when = at // _DAY * _DAY + self._uniform(first_hour * _HOUR, last_hour * _HOUR)
        return when if when > self._now else self._now + self._uniform(5 * _MINUTE, _HOUR)

    def _fact(self, cls: type[_F], patient: _Patient, **fields: Any) -> _F:
        self._facts += 1
        instant = self.instant
        fact = cls(
            fact_id=f"F{self._facts:08d}", patient_id=patient.pid, occurred_at=instant, **fields
        )
        self._out.append(fact)
        return fact

    def _command(self, cls: Callable[..., _C], **fields: Any) -> _C:
        self._keys += 1
        command = cls(key=f"K{self._keys:08d}", **fields)
        self._out.append(command)
        return command

    def _visit_id(self) -> str:
        self._visits += 1
        return f"V{self._visits:07d}"

    def _uniform(self, low: float, high: float) -> int:
        return int(low + (high - low) * self._rng.random())

    def _chance(self, share: float) -> bool:
        return self._rng.random() < share

    def _age(self, patient: _Patient) -> int:
        return age_on(patient.birth, local_date(self.instant, self._tz))

    # --- days, arrivals and families -----------------------------------------------------

    def _day(self, day: int) -> None:
        spec = self._spec
        first = min(30, self._days)
        share = spec.first_month_share * min(day + 1, first) / first
        if day >= first:
            share += (1 - spec.first_month_share) * (day + 1 - first) / max(1, self._days - first)
        target = (
            spec.patients if day == self._days - 1 else min(spec.patients * share, spec.patients)
        )
        while len(self._patients) < target:
            self._new_family(day)
        today = self._first_day + timedelta(days=day)
        if today.weekday() in (2, 5):
            lecture = f"lecture-{today.isoformat()}"
            self._push(
                day * _DAY + 14 * _HOUR + 30 * _MINUTE, self._event, lecture, "lecture", 0.004
            )
        if today.day == 15:
            member_day = f"member-day-{today:%Y-%m}"
            self._push(day * _DAY + 9 * _HOUR, self._event, member_day, "member_day", 0.02)
        self._push((day + 1) * _DAY, self._day, day + 1)

    def _new_patient(self, day: int, age: int, sex: Sex) -> _Patient:
        rng = self._rng
        today = self._first_day + timedelta(days=day)
        birth = today - timedelta(days=int((age + rng.random()) * 365.25))
        patient = _Patient(len(self._patients) + 1, birth, sex)
        self._patients.append(patient)
        patient.insured = self._chance(self._spec.insured_share)
        if age >= GUARDIAN_AGE and self._chance(
            self._spec.engaged_share * (0.5 if age >= 70 else 1)
        ):
            draw = rng.random()
            patient.engagement = 3 if draw < 0.15 else 2 if draw < 0.45 else 1
        draw = rng.random()
        if age >= 65:
            patient.channel = "phone" if draw < 0.35 else "sms" if draw < 0.7 else "wecom"
        else:
            patient.channel = "wecom" if draw < 0.65 else "sms" if draw < 0.9 else "email"
        return patient

    def _new_family(self, day: int) -> None:
        spec = self._spec
        room = spec.patients - len(self._patients)
        sex: Sex = "female" if self._chance(0.55) else "male"
        other: Sex = "male" if sex == "female" else "female"
        wanted: list[tuple[int, Sex, Relationship]] = []
        if room > 1 and self._chance(spec.family_share):
            age = self._uniform(28, 58)
            spouse: tuple[int, Sex, Relationship] = (
                max(20, age + self._uniform(-4, 5)),
                other,
                "spouse",
            )
            if self._chance(0.85):
                wanted.append(spouse)
            for _ in range(self._uniform(0, 3.4) if age >= 24 else 0):
                child: Sex = "female" if self._chance(0.5) else "male"
                wanted.append((self._uniform(0, min(age - 22, 30) + 1), child, "child"))
            if self._chance(0.35):
                for parent in (other, sex)[: self._uniform(1, 3)]:
                    wanted.append((min(95, age + self._uniform(24, 35)), parent, "parent"))
            wanted = (wanted or [spouse])[: room - 1]
            # A household keeps to one block of ids (see shard_of): the rest of the block
            # goes to patients who come alone, or, at the very end, the family is smaller.
            free = _BLOCK - len(self._patients) % _BLOCK
            if 1 + len(wanted) > free:
                if free + 1 + len(wanted) <= room:
                    for _ in range(free):
                        self._arrive(day, self._new_single(day))
                else:
                    wanted = wanted[: free - 1]
        else:
            draw = self._rng.random()
            low, high = (18, 35) if draw < 0.35 else (35, 60) if draw < 0.75 else (60, 88)
            age = self._uniform(low, high)
        head = self._new_patient(day, age, sex)
        for relative_age, relative_sex, relationship in wanted:
            relative = self._new_patient(day, relative_age, relative_sex)
            relative.head, relative.relationship = head, relationship
            head.relatives.append(relative)
        head.wants_family_plan = bool(wanted) and self._chance(spec.family_plan_share)
        self._arrive(day, head)

    def _new_single(self, day: int) -> _Patient:
        sex: Sex = "female" if self._chance(0.55) else "male"
        return self._new_patient(day, self._uniform(18, 88), sex)

    def _arrive(self, day: int, head: _Patient) -> None:
        # Everyone registers before the period ends, so that every id is in the stream.
        last = self._end - _HOUR
        arrival = min(self._business(day * _DAY, 8.0, 19.0), last - _HOUR)
        self._push(arrival, self._register, head)
        for relative in head.relatives:
            if relative.relationship == "child" and self._chance(0.4):
                when = arrival + self._uniform(5 * _MINUTE, _HOUR)
            else:
                when = self._business(arrival + int(self._rng.expovariate(1 / 40) * _DAY))
            self._push(min(max(when, arrival + 5 * _MINUTE), last), self._register, relative)

    # --- registration, household and consent ---------------------------------------------

    def _register(self, patient: _Patient) -> None:
        spec = self._spec
        age = self._age(patient)
        patient.registered = True
        self._fact(
            PatientRegistered,
            patient,
            birth_date=patient.birth,
            sex=patient.sex,
            preferred_channel=patient.channel if age >= GUARDIAN_AGE else None,
            language="en" if self._chance(0.03) else "zh-CN",
        )
        head = patient.head
        if head is not None:
            self._join_household(patient, head, age)
        elif self._engaged and self._chance(spec.referral_share):
            referrer = self._rng.choice(self._engaged)
            if self._age(referrer) >= ADULT_AGE:
                patient.referrer = referrer
        self._consents(patient, age)
        self._in(10 * _MINUTE, 2 * _HOUR, self._first_visit, patient, age)
        if patient.engagement:
            self._engaged.append(patient)
            self._push(self._next_session(patient), self._session, patient)
        self._pathways(patient, age)

    def _join_household(self, patient: _Patient, head: _Patient, age: int) -> None:
        family_open = head.family_sub is not None and head.open_until[_FAMILY] > self._now
        # Minors join at once: they need the head as guardian, for consent too.
        if age < ADULT_AGE or family_open or self._chance(0.4):
            self._add_to_household(head, patient)
        if family_open and len(head.covered) < self._plans[_FAMILY].max_dependents:
            head.covered.append(patient.pid)
            self._command(
                AddCoveredDependent,
                member_id=head.pid,
                subscription_id=head.family_sub,
                dependent_id=patient.pid,
            )
        if head.wants_family_plan:
            head.wants_family_plan = False
            self._in(_DAY, 60 * _DAY, self._subscribe, head, _FAMILY)

    def _add_to_household(self, head: _Patient, patient: _Patient) -> None:
        if patient.in_household:
            return
        if not head.household_formed:
            head.household_formed = head.in_household = True
            self._command(FormHousehold, household_id=head.household_id, head_id=head.pid)
        patient.in_household = True
        self._command(
            AddDependent,
            household_id=head.household_id,
            member_id=patient.pid,
            relationship=patient.relationship,
            birth_date=patient.birth,
            guardian_id=head.pid if self._age(patient) < ADULT_AGE else None,
        )

    def _consents(self, patient: _Patient, age: int) -> None:
        spec = self._spec
        given_by = patient.head.pid if age < GUARDIAN_AGE and patient.head else patient.pid
        source = (
            "app" if patient.engagement else "front desk" if self._chance(0.7) else "paper form"
        )

        def grant(purpose: Purpose, channels: tuple[Channel, ...]) -> None:
            self._command(
                GrantConsent,
                member_id=patient.pid,
                purpose=purpose,
                channels=channels,
                given_by=given_by,
                source=source,
            )

        if self._chance(0.96):
            grant("care", _CARE_CHANNELS[patient.channel])
        if self._chance(spec.marketing_consent * (0.4 if age < ADULT_AGE else 1)):
            grant("marketing", (patient.channel,))
            if age >= GUARDIAN_AGE and self._chance(spec.withdrawal_share):
                self._in(7 * _DAY, 300 * _DAY, self._withdraw, patient)
        if age >= ADULT_AGE and self._chance(spec.research_consent):
            grant("research", (patient.channel,))

    def _withdraw(self, patient: _Patient) -> None:
        reason = self._rng.choice(("too many messages", "not interested", None))
        self._command(WithdrawConsent, member_id=patient.pid, purpose="marketing", reason=reason)

    # --- visits and charges --------------------------------------------------------------

    def _visit(self, patient: _Patient, department: str, visit_id: str | None = None) -> str:
        visit_id = visit_id or self._visit_id()
        first = not patient.visited
        patient.visited = True
        self._facts += 1
        self._out.append(
            VisitCompleted(
                fact_id=f"F{self._facts:08d}",
                patient_id=patient.pid,
                occurred_at=self.instant,
                visit_id=visit_id,
                department=department,
                first_visit=first,
            )
        )
        if first:
            if patient.referrer is not None:
                self._in(_HOUR, 2 * _DAY, self._referral, patient, visit_id)
            if self._age(patient) >= ADULT_AGE and self._chance(self._spec.annual_plan_share):
                draw = self._rng.random()
                plan = "annual_299" if draw < 0.25 else "annual_599" if draw < 0.8 else "annual_999"
                self._in(2 * _HOUR, 7 * _DAY, self._subscribe, patient, plan)
        return visit_id

    def _diagnosis(self, patient: _Patient, code: str, visit_id: str) -> None:
        self._facts += 1
        self._out.append(
            DiagnosisRecorded(
                fact_id=f"F{self._facts:08d}",
                patient_id=patient.pid,
                occurred_at=self.instant,
                icd10=code,
                visit_id=visit_id,
            )
        )

    def _charge(self, patient: _Patient, department: str, kind: str | None = None) -> None:
        random_, insured, lines = self._rng.random, patient.insured, []
        total = self_paid = 0
        for category, low, high, chance, insurable in _LINES[kind or department]:
            if chance < 1.0 and random_() >= chance:
                continue
            amount = low * 100 + int((high - low) * 10 * random_()) * 10
            insurance = int(amount * (0.3 + 0.4 * random_())) if insurable and insured else 0
            total += amount
            self_paid += amount - insurance
            lines.append(
                ChargeLine(
                    department=department,
                    category=category,
                    amount_fen=amount,
                    insurance_fen=insurance,
                )
            )
        self._charges += 1
        self._facts += 1
        charge_id = f"C{self._charges:07d}"
        self._out.append(
            ChargePaid(
                fact_id=f"F{self._facts:08d}",
                patient_id=patient.pid,
                occurred_at=self.instant,
                charge_id=charge_id,
                lines=lines,
            )
        )
        if random_() < self._spec.refund_share:
            amount = total if self._chance(0.5) else max(1, total // 4)
            if self._chance(0.6):
                self._in(_HOUR, 7 * _DAY, self._refund, patient, charge_id, amount)
            else:
                self._in(8 * _DAY, 60 * _DAY, self._refund, patient, charge_id, amount)
            return
        # At the lowest rate of the reference programme (drugs: 1 point per 2 yuan paid out
        # of pocket), so never more than the ledger credits.
        self._earn(patient, self_paid // 200)

    def _refund(self, patient: _Patient, charge_id: str, amount: int) -> None:
        self._fact(RefundIssued, patient, charge_id=charge_id, amount_fen=amount)

    def _referral(self, patient: _Patient, visit_id: str) -> None:
        assert patient.referrer is not None
        self._fact(
            ReferralQualified, patient.referrer, referred_patient_id=patient.pid, visit_id=visit_id
        )
        self._earn(patient.referrer, 500)

    def _first_visit(self, patient: _Patient, age: int) -> None:
        base = self._spec.visits_per_year
        per_year = base * (1.6 if age < GUARDIAN_AGE else 2.0 if age >= 65 else 1.0)
        group = "child" if age < GUARDIAN_AGE else patient.sex
        self._routine_visit(patient, per_year * self._rng.lognormvariate(0, 0.5), group)

    def _routine_visit(self, patient: _Patient, per_year: float, group: str) -> None:
        if group == "child" and self._age(patient) >= GUARDIAN_AGE:
            group = patient.sex
        names, weights = _DEPARTMENTS[group]
        self._routine(patient, self._rng.choices(names, cum_weights=weights)[0])
        gap = max(_DAY, int(self._rng.expovariate(per_year / 365) * _DAY))
        self._push(self._business(self._now + gap), self._routine_visit, patient, per_year, group)

    def _routine(self, patient: _Patient, department: str) -> None:
        visit_id = self._visit(patient, department)
        codes = _CODES.get(department)
        if codes and self._chance(0.6):
            self._diagnosis(patient, self._rng.choice(codes), visit_id)
        self._charge(patient, department)
        if self._chance(0.1):
            draw = self._rng.random()
            low, high = (9, 11) if draw < 0.6 else (7, 9) if draw < 0.9 else (2, 7)
            self._in(_HOUR, 3 * _DAY, self._survey, patient, visit_id, self._uniform(low, high))
        if self._chance(self._spec.redemption_share):
            self._redeem(patient, parking_only=True)

    def _survey(self, patient: _Patient, visit_id: str, score: int) -> None:
        self._fact(SurveyAnswered, patient, visit_id=visit_id, score=score)
        self._earn(patient, 10)

    # --- the clinical pathways -----------------------------------------------------------

    def _pathways(self, patient: _Patient, age: int) -> None:
        spec = self._spec
        if age >= 35:
            factor = 0.4 if age < 50 else 1.0 if age < 65 else 1.4
            if self._chance(spec.diabetes_share * factor):
                # Most come already diagnosed elsewhere; the others are found here later.
                low, high = (1, 30) if self._chance(0.6) else (30, 400)
                self._on(low, high, self._diabetes, patient)
        if patient.sex == "female" and 22 <= age <= 40:
            if self._chance(spec.pregnancy_share):
                self._pregnancy(patient, self._uniform(6, 37))
            elif self._chance(0.05):
                self._on(30, 300, self._pregnancy, patient, 8)
        if age >= 50 and self._chance(spec.arthrosis_share):
            self._on(1, 200, self._arthrosis, patient)
        if age >= 70 and self._chance(0.02):
            self._on(1, 400, self._fracture, patient)
        if 25 <= age <= 75 and self._chance(spec.implant_share):
            self._on(1, 150, self._implant_consult, patient)
        cosmetic = spec.cosmetic_share if patient.sex == "female" else spec.cosmetic_share / 6
        if 20 <= age <= 55 and self._chance(cosmetic):
            self._on(1, 90, self._cosmetic, patient)
        if age >= ADULT_AGE:
            self._adult_services(patient, age)

    def _adult_services(self, patient: _Patient, age: int) -> None:
        spec = self._spec
        if self._chance(spec.checkup_share):
            self._on(1, 330, self._checkup, patient)
        rate = spec.inpatient_rate * (3 if age >= 65 else 1)
        if rate > 0:
            gap = _DAY + int(self._rng.expovariate(rate / 365) * _DAY)
            self._push(self._business(self._now + gap), self._inpatient, patient)
        if patient.engagement and self._chance(spec.monthly_plan_share):
            self._on(3, 120, self._subscribe, patient, "monthly_99")

    def _diabetes(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "endocrinology")
        code = self._rng.choice(("E11.9", "E11.9", "E11.65", "E11.900x001"))
        self._diagnosis(patient, code, visit_id)
        self._hba1c(patient, controlled=False)
        self._charge(patient, "endocrinology")
        adherence = min(1.0, max(0.05, self._rng.gauss(self._spec.recheck_adherence, 0.25)))
        self._in(76 * _DAY, 86 * _DAY, self._recheck_due, patient, adherence)
        if self._chance(self._spec.diabetes_plan_share):
            self._in(_DAY, 30 * _DAY, self._subscribe, patient, "diabetes_steward")

    def _hba1c(self, patient: _Patient, *, controlled: bool) -> None:
        value = self._rng.uniform(5.8, 7.6) if controlled else self._rng.uniform(6.8, 10.8)
        self._fact(
            LabResultRecorded, patient, test="hba1c", value=f"{value:.1f}%", abnormal=value >= 6.5
        )

    def _recheck_due(self, patient: _Patient, adherence: float) -> None:
        """A week or two before an HbA1c recheck (every three months): booked, or not."""
        due = self._later(7, 14)
        comes = self._chance(adherence)
        if self._chance(0.7):
            self._appointments += 1
            appointment = f"A{self._appointments:07d}"
            scheduled_at = self._origin + timedelta(seconds=due)
            self._fact(
                AppointmentBooked,
                patient,
                appointment_id=appointment,
                department="endocrinology",
                scheduled_at=scheduled_at,
            )
            if not comes:
                self._push(due + 2 * _HOUR, self._missed, patient, appointment, "endocrinology")
        if comes:
            self._push(due, self._recheck, patient)
        self._push(due + self._uniform(76 * _DAY, 86 * _DAY), self._recheck_due, patient, adherence)

    def _recheck(self, patient: _Patient) -> None:
        self._visit(patient, "endocrinology")
        self._hba1c(patient, controlled=self._chance(0.6))
        self._charge(patient, "endocrinology")

    def _missed(self, patient: _Patient, appointment: str, department: str) -> None:
        self._fact(AppointmentMissed, patient, appointment_id=appointment, department=department)

    def _pregnancy(self, patient: _Patient, week: int) -> None:
        due = self._now + (40 - week) * _WEEK + int(self._rng.gauss(0, 6) * _DAY)
        self._on(1, 14, self._prenatal, patient, due)
        self._push(max(self._now + _DAY, due), self._delivery, patient)

    def _prenatal(self, patient: _Patient, due: int) -> None:
        visit_id = self._visit(patient, "obstetrics")
        self._diagnosis(patient, self._rng.choice(("Z34.0", "Z34.8", "Z34.9")), visit_id)
        self._charge(patient, "obstetrics")
        gap = 14 * _DAY if due - self._now < 12 * _WEEK else 28 * _DAY
        if self._now + gap < due - 5 * _DAY:
            self._push(self._business(self._now + gap), self._prenatal, patient, due)

    def _delivery(self, patient: _Patient) -> None:
        stay = self._visit_id()
        caesarean = self._chance(0.4)
        mode = "caesarean" if caesarean else "vaginal"
        self._fact(DeliveryRecorded, patient, visit_id=stay, mode=mode)
        self._diagnosis(patient, "O82" if caesarean else "O80", stay)
        days = self._uniform(4, 7) if caesarean else self._uniform(2, 4)
        discharge = self._business(self._now + days * _DAY, 9, 12)
        self._push(discharge, self._discharge, patient, stay, "obstetrics", "delivery")
        self._on(42, 42, self._postpartum, patient)

    def _discharge(self, patient: _Patient, stay: str, department: str, kind: str) -> None:
        self._fact(Discharged, patient, visit_id=stay, department=department)
        self._visit(patient, department, stay)
        self._charge(patient, department, kind)
        if self._chance(0.1):
            self._in(_HOUR, 7 * _DAY, self._subscribe, patient, "annual_599")
        if kind == "joint_replacement":
            if self._chance(0.55):
                self._in(_HOUR, 2 * _DAY, self._rehab, patient, f"ortho-rehab-{stay}")
            if self._chance(0.2):
                self._in(_HOUR, 14 * _DAY, self._subscribe, patient, "annual_599")
            self._on(42, 42, self._ortho_follow_up, patient, 2)

    def _postpartum(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "obstetrics")
        self._diagnosis(patient, "Z39.2", visit_id)
        self._charge(patient, "obstetrics")
        if self._chance(0.65):
            self._fact(AssessmentCompleted, patient, visit_id=visit_id, assessment="pelvic_floor")
            if self._chance(0.5):
                self._in(_HOUR, 3 * _DAY, self._rehab, patient, f"pelvic-floor-{visit_id}")

    def _rehab(self, patient: _Patient, plan_id: str) -> None:
        self._fact(RehabPlanJoined, patient, plan_id=plan_id)
        self._earn(patient, 100)
        for week in (1, 2, 4):
            self._on(7 * week, 7 * week, self._rehab_session, patient)

    def _rehab_session(self, patient: _Patient) -> None:
        self._visit(patient, "rehab")
        self._charge(patient, "rehab")

    def _arthrosis(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "ortho")
        knee = self._chance(0.7)
        self._diagnosis(patient, "M17.1" if knee else "M16.1", visit_id)
        self._charge(patient, "ortho")
        if self._chance(self._spec.surgery_share):
            procedure = "total_knee_arthroplasty" if knee else "total_hip_arthroplasty"
            self._on(20, 100, self._surgery, patient, procedure)

    def _fracture(self, patient: _Patient) -> None:
        stay = self._visit_id()
        self._diagnosis(patient, "S72.0", stay)
        self._in(12 * _HOUR, 48 * _HOUR, self._surgery, patient, "hip_hemiarthroplasty", stay)

    def _surgery(self, patient: _Patient, procedure: str, stay: str | None = None) -> None:
        stay = stay or self._visit_id()
        self._fact(
            SurgeryCompleted, patient, visit_id=stay, department="ortho", procedure=procedure
        )
        discharge = self._business(self._now + self._uniform(4, 9) * _DAY, 9, 12)
        self._push(discharge, self._discharge, patient, stay, "ortho", "joint_replacement")

    def _ortho_follow_up(self, patient: _Patient, left: int) -> None:
        visit_id = self._visit(patient, "ortho")
        self._diagnosis(patient, "Z47.1" if left > 1 else "Z96.6", visit_id)
        self._charge(patient, "ortho")
        if left > 1:
            self._on(49, 49, self._ortho_follow_up, patient, left - 1)

    def _implant_consult(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "dental")
        self._diagnosis(patient, "K08.1", visit_id)
        self._charge(patient, "dental")
        self._on(7, 30, self._implant, patient)

    def _implant(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "dental")
        self._charge(patient, "dental", "dental_implant")
        if self._chance(0.85):
            high = self._chance(self._spec.high_satisfaction_share)
            score = self._uniform(9, 11) if high else self._uniform(5, 9)
            self._in(_DAY, 3 * _DAY, self._survey, patient, visit_id, score)
        self._on(90, 120, self._implant_crown, patient)

    def _implant_crown(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "dental")
        self._diagnosis(patient, "Z96.5", visit_id)
        self._charge(patient, "dental", "implant_crown")

    def _cosmetic(self, patient: _Patient) -> None:
        self._visit(patient, "cosmetic")
        self._charge(patient, "cosmetic")
        if self._chance(0.8):
            gap = _WEEK + int(self._rng.expovariate(1 / 75) * _DAY)
            self._push(self._business(self._now + gap), self._cosmetic, patient)

    def _checkup(self, patient: _Patient) -> None:
        visit_id = self._visit(patient, "checkup")
        abnormal = self._chance(self._spec.abnormal_checkup_share)
        self._fact(CheckupCompleted, patient, visit_id=visit_id, abnormal=abnormal)
        self._charge(patient, "checkup")
        if abnormal and self._chance(0.5):
            self._in(_DAY, 6 * _DAY, self._book_clinic, patient)
        self._on(350, 380, self._checkup, patient)

    def _book_clinic(self, patient: _Patient) -> None:
        self._appointments += 1
        appointment = f"A{self._appointments:07d}"
        when = self._later(2, 10)
        self._fact(
            AppointmentBooked,
            patient,
            appointment_id=appointment,
            department="checkup_clinic",
            scheduled_at=self._origin + timedelta(seconds=when),
        )
        if self._chance(0.85):
            self._push(when, self._routine, patient, "checkup_clinic")
        else:
            self._push(when + 2 * _HOUR, self._missed, patient, appointment, "checkup_clinic")

    def _inpatient(self, patient: _Patient) -> None:
        stay = self._visit_id()
        self._diagnosis(patient, self._rng.choice(("J18.9", "K35.8", "K80.2", "I63.9")), stay)
        discharge = self._business(self._now + self._uniform(3, 9) * _DAY, 9, 12)
        self._push(discharge, self._discharge, patient, stay, "internal", "inpatient")

    # --- the member app, events and points -----------------------------------------------

    def _next_session(self, patient: _Patient) -> int:
        mean = self._spec.session_days * (8.0, 3.0, 1.0)[patient.engagement - 1]
        day = self._now // _DAY + max(1, round(self._rng.expovariate(1 / mean)))
        return day * _DAY + self._uniform(7 * _HOUR, 23 * _HOUR)

    def _session(self, patient: _Patient) -> None:
        # The hottest path (most messages are check-ins and likes): kept lean on purpose.
        random_, now, instant, out = self._rng.random, self._now, self.instant, self._out
        pid = patient.pid
        today = now // _DAY
        if patient.last_check_in != today and random_() < 0.85:
            patient.last_check_in = today
            self._facts += 1
            channel = "app" if random_() < 0.8 else "miniprogram"
            out.append(
                CheckedIn(
                    fact_id=f"F{self._facts:08d}",
                    patient_id=pid,
                    occurred_at=instant,
                    channel=channel,
                )
            )
            self._earn(patient, 1)
        week = now // _WEEK
        if random_() < 0.25:
            for _ in range(1 + int(random_() * 2.5)):
                self._facts += 1
                article = f"article-{week - int(random_() * 4):03d}-{int(random_() * 8)}"
                out.append(
                    ContentLiked(
                        fact_id=f"F{self._facts:08d}",
                        patient_id=pid,
                        occurred_at=instant,
                        content_id=article,
                    )
                )
        if random_() < 0.07:
            article = f"article-{week:03d}-{int(random_() * 8)}"
            self._fact(ContentShared, patient, content_id=article, channel="wechat")
        if random_() < self._spec.redemption_share:
            self._redeem(patient, parking_only=False)
        # A few stop using the app for good.
        if random_() > 0.003:
            self._push(self._next_session(patient), self._session, patient)

    def _event(self, event_id: str, kind: str, share: float) -> None:
        engaged = self._engaged
        count = min(len(engaged), round(len(engaged) * share * (0.5 + self._rng.random())))
        points = 30 if kind == "member_day" else 20
        for patient in self._rng.sample(engaged, max(count, 1) if engaged else 0):
            self._fact(EventAttended, patient, event_id=event_id, event_kind=kind)
            self._earn(patient, points)

    def _earn(self, patient: _Patient, points: int) -> None:
        if points > 0:
            week = (self._now + 8 * _DAY) // _WEEK + 1
            patient.points[week] = patient.points.get(week, 0) + points

    def _redeem(self, patient: _Patient, *, parking_only: bool) -> None:
        """Redeem a gift worth at most half of the points the member surely has."""
        week, held = self._now // _WEEK, patient.points
        for old in [w for w in held if w < week - _FORGET_WEEKS]:
            del held[old]
        # Every redemption counts against the points still remembered, whichever lots the
        # ledger drew it from: an underestimate whatever expired meanwhile.
        available = sum(points for w, points in held.items() if w <= week) - patient.redeemed
        reward = None
        if not parking_only:
            if available >= 2 * _CHECKUP[1] and self._chance(0.2):
                reward = _CHECKUP
            elif available >= 2 * _BP[1] and not patient.bp_redeemed and self._chance(0.2):
                reward, patient.bp_redeemed = _BP, True
            elif available >= 2 * _FLU[1] and self._chance(0.3):
                reward = _FLU
        if reward is None and available >= 2 * _PARKING[1]:
            reward = _PARKING
        if reward is None:
            return
        gift, points = reward
        self._command(Redeem, member_id=patient.pid, points=points, reference=gift)
        patient.redeemed += points

    # --- paid plans ----------------------------------------------------------------------

    def _is_open(self, patient: _Patient, plan_key: str) -> bool:
        # One annual plan at a time, and one subscription per plan.
        family = "annual" if plan_key.startswith("annual") else plan_key
        return any(
            until > self._now for key, until in patient.open_until.items() if key.startswith(family)
        )

    def _subscribe(self, patient: _Patient, plan_key: str) -> None:
        if self._is_open(patient, plan_key):
            return
        dependents: tuple[str, ...] = ()
        if plan_key == _FAMILY:
            relatives = [relative for relative in patient.relatives if relative.registered]
            for relative in relatives:
                self._add_to_household(patient, relative)
            dependents = tuple(r.pid for r in relatives[: self._plans[_FAMILY].max_dependents])
        self._subscriptions += 1
        subscription = f"S{self._subscriptions:06d}"
        seller = self._rng.choice(self._sellers) if self._chance(0.6) else None
        self._command(
            Subscribe,
            member_id=patient.pid,
            subscription_id=subscription,
            plan_key=plan_key,
            dependents=dependents,
            attributed_to=seller,
        )
        patient.open_until[plan_key] = self._now + self._pay_window
        if plan_key == _FAMILY:
            patient.family_sub, patient.covered = subscription, list(dependents)
        # A few never pay, and the request lapses at the end of the payment window.
        if self._chance(0.93):
            self._in(5 * _MINUTE, 40 * _HOUR, self._pay, patient, subscription, plan_key, -1, 0)

    def _pay(
        self, patient: _Patient, subscription: str, plan_key: str, anchor: int, months: int
    ) -> None:
        plan = self._plans[plan_key]
        self._command(
            RecordPayment,
            member_id=patient.pid,
            subscription_id=subscription,
            amount_fen=plan.price_fen,
            paid_at=self.instant,
        )
        anchor = self._now if anchor < 0 else anchor
        months += plan.term_months
        end_instant = add_months(self._origin + timedelta(seconds=anchor), months, self._tz)
        end = int((end_instant - self._origin).total_seconds())
        grace_instant = grace_end(end_instant, plan.grace_days, self._tz)
        grace = int((grace_instant - self._origin).total_seconds())
        patient.open_until[plan_key] = grace
        term = (patient, subscription, plan_key, anchor, months)
        spec, draw = self._spec, self._rng.random()
        if draw < spec.cancel_share:
            cancel = self._uniform(self._now + _DAY, max(self._now + _DAY, end - 2 * _DAY))
            self._push(cancel, self._cancel, patient, subscription, plan_key)
        elif plan.auto_renew:
            if draw < spec.cancel_share + spec.monthly_churn:
                return
            if self._chance(0.25):
                # Paying the next month ahead, from the app.
                self._push(end - self._uniform(_DAY, 4 * _DAY), self._renew, *term, grace)
            else:
                # Paid once the renewal falls due at the term's end, within grace.
                pay = end + self._uniform(10 * _MINUTE, (plan.grace_days * 24 - 12) * _HOUR)
                self._push(pay, self._pay, *term)
        elif draw < spec.cancel_share + spec.renewal_share:
            if self._chance(0.65):
                self._push(end - self._uniform(12 * _HOUR, 25 * _DAY), self._renew, *term, grace)
            else:
                renew = end + self._uniform(_HOUR, max(2 * _HOUR, grace - end - 3 * _DAY))
                self._push(renew, self._renew, *term, grace)
        elif self._chance(0.12):
            # Won back some weeks after the plan expired.
            self._push(
                grace + self._uniform(7 * _DAY, 40 * _DAY), self._subscribe, patient, plan_key
            )

    def _renew(
        self,
        patient: _Patient,
        subscription: str,
        plan_key: str,
        anchor: int,
        months: int,
        grace: int,
    ) -> None:
        self._command(Renew, member_id=patient.pid, subscription_id=subscription)
        # Paid before grace runs out: a renewal unpaid by then lets the subscription expire.
        pay = min(self._now + self._uniform(10 * _MINUTE, 36 * _HOUR), grace - _HOUR)
        self._push(
            max(pay, self._now + _MINUTE),
            self._pay,
            patient,
            subscription,
            plan_key,
            anchor,
            months,
        )

    def _cancel(self, patient: _Patient, subscription: str, plan_key: str) -> None:
        reason = self._rng.choice(("moved away", "too expensive", "not using it", "unhappy"))
        self._command(Cancel, member_id=patient.pid, subscription_id=subscription, reason=reason)
        patient.open_until[plan_key] = self._now
        if plan_key == _FAMILY:
            patient.family_sub, patient.covered = None, []
