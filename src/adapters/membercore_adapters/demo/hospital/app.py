"""The member app and its community.

Sessions (check-ins, likes, shares and redemptions), health lectures and member days,
and referrals by members who use the app.
"""

from __future__ import annotations

import attrs

from membercore.facts import (
    CheckedIn,
    ContentLiked,
    ContentShared,
    EventAttended,
    ReferralQualified,
)
from membercore.households import ADULT_AGE
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.points import Points
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, MINUTE, WEEK, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["App"]


@attrs.frozen
class App:
    """The patients who use the member app, and what they do there.

    Attributes:
        engaged: the app's users, in the order they registered (the list grows).
    """

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    points: Points
    engaged: list[Patient] = attrs.field(factory=list)

    def join(self, patient: Patient) -> None:
        """A patient who uses the app starts their sessions once registered."""
        if patient.engagement:
            self.engaged.append(patient)
            self.clock.push(self._next_session(patient), self.session, patient)

    def _next_session(self, patient: Patient) -> int:
        mean = self.spec.session_days * (8.0, 3.0, 1.0)[patient.engagement - 1]
        day = self.clock.now // DAY + max(1, round(self.dice.rng.expovariate(1 / mean)))
        return day * DAY + self.dice.uniform(7 * HOUR, 23 * HOUR)

    def session(self, patient: Patient) -> None:
        """A session: a check-in, perhaps likes, a share or a redemption; then the next."""
        # The hottest path (most messages are check-ins and likes): kept lean on purpose.
        random_ = self.dice.rng.random
        self._check_in(patient)
        if random_() < 0.25:
            self._likes(patient)
        if random_() < 0.07:
            article = f"article-{self.clock.now // WEEK:03d}-{int(random_() * 8)}"
            self.records.fact(ContentShared, patient, content_id=article, channel="wechat")
        if random_() < self.spec.redemption_share:
            self.points.redeem(patient, parking_only=False)
        # A few stop using the app for good.
        if random_() > 0.003:
            self.clock.push(self._next_session(patient), self.session, patient)

    def _check_in(self, patient: Patient) -> None:
        random_ = self.dice.rng.random
        today = self.clock.now // DAY
        if patient.last_check_in != today and random_() < 0.85:
            patient.last_check_in = today
            fact_id = self.records.fact_id()
            channel = "app" if random_() < 0.8 else "miniprogram"
            self.records.out.append(
                CheckedIn(
                    fact_id=fact_id,
                    patient_id=patient.pid,
                    occurred_at=self.clock.instant,
                    channel=channel,
                )
            )
            self.points.earn(patient, 1)

    def _likes(self, patient: Patient) -> None:
        random_, records = self.dice.rng.random, self.records
        pid, instant, week = patient.pid, self.clock.instant, self.clock.now // WEEK
        for _ in range(1 + int(random_() * 2.5)):
            fact_id = records.fact_id()
            article = f"article-{week - int(random_() * 4):03d}-{int(random_() * 8)}"
            records.out.append(
                ContentLiked(
                    fact_id=fact_id, patient_id=pid, occurred_at=instant, content_id=article
                )
            )

    def plan_events(self, day: int) -> None:
        """Schedule the day's health lecture (Wednesdays and Saturdays) or member day (15th)."""
        today = self.clock.date_of(day)
        if today.weekday() in (2, 5):
            lecture = f"lecture-{today.isoformat()}"
            at = day * DAY + 14 * HOUR + 30 * MINUTE
            self.clock.push(at, self.event, lecture, "lecture", 0.004)
        if today.day == 15:
            member_day = f"member-day-{today:%Y-%m}"
            self.clock.push(day * DAY + 9 * HOUR, self.event, member_day, "member_day", 0.02)

    def event(self, event_id: str, kind: str, share: float) -> None:
        """About ``share`` of the app's users attend the event, and earn points for it."""
        engaged, rng = self.engaged, self.dice.rng
        count = min(len(engaged), round(len(engaged) * share * (0.5 + rng.random())))
        points = 30 if kind == "member_day" else 20
        for patient in rng.sample(engaged, max(count, 1) if engaged else 0):
            self.records.fact(EventAttended, patient, event_id=event_id, event_kind=kind)
            self.points.earn(patient, points)

    def refer(self, patient: Patient) -> None:
        """Some patients who come alone were referred by an adult who uses the app."""
        if self.engaged and self.dice.chance(self.spec.referral_share):
            referrer = self.dice.rng.choice(self.engaged)
            if referrer.age(self.clock.today()) >= ADULT_AGE:
                patient.referrer = referrer

    def referral(self, patient: Patient, visit_id: str) -> None:
        """The referral qualifies at the referred patient's first visit: the referrer earns."""
        assert patient.referrer is not None
        self.records.fact(
            ReferralQualified, patient.referrer, referred_patient_id=patient.pid, visit_id=visit_id
        )
        self.points.earn(patient.referrer, 500)
