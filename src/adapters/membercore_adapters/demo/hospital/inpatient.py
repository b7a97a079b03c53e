"""Inpatient stays, and rehabilitation after some of them.

General admissions, the discharge every stay ends with (deliveries and operations too),
and rehabilitation plans.
"""

from __future__ import annotations

import attrs

from membercore.facts import Discharged, RehabPlanJoined
from membercore.households import ADULT_AGE
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.paid_plans import PaidPlans
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.points import Points
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Inpatient", "Rehab"]


@attrs.frozen
class Inpatient:
    """The wards: admissions of adults (more of them from 65), and every discharge."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    care: Care
    plans: PaidPlans

    def enrol(self, patient: Patient, age: int) -> None:
        """Schedule an adult's next general admission, at the rate of their age."""
        if age < ADULT_AGE:
            return
        rate = self.spec.inpatient_rate * (3 if age >= 65 else 1)
        if rate > 0:
            clock = self.clock
            gap = DAY + int(self.dice.rng.expovariate(rate / 365) * DAY)
            clock.push(clock.business(clock.now + gap), self.admit, patient)

    def admit(self, patient: Patient) -> None:
        """A general admission: its diagnosis now, its discharge some days later."""
        clock = self.clock
        stay = self.records.visit_id()
        code = self.dice.rng.choice(("J18.9", "K35.8", "K80.2", "I63.9"))
        self.care.diagnosis(patient, code, stay)
        discharge = clock.business(clock.now + self.dice.uniform(3, 9) * DAY, 9, 12)
        clock.push(discharge, self.discharge, patient, stay, "internal", "inpatient")

    def discharge(self, patient: Patient, stay: str, department: str, kind: str) -> None:
        """The end of a stay: its visit and its charge (the lines of ``kind``)."""
        self.records.fact(Discharged, patient, visit_id=stay, department=department)
        self.care.visit(patient, department, stay)
        self.care.charge(patient, department, kind)
        if self.dice.chance(0.1):
            self.clock.within(HOUR, 7 * DAY, self.plans.subscribe, patient, "annual_599")


@attrs.frozen
class Rehab:
    """Rehabilitation plans, after a joint replacement or a delivery: three sessions."""

    clock: Schedule
    records: Records
    care: Care
    points: Points

    def join(self, patient: Patient, plan_id: str) -> None:
        """Join a rehabilitation plan (which earns points): sessions after 1, 2 and 4 weeks."""
        self.records.fact(RehabPlanJoined, patient, plan_id=plan_id)
        self.points.earn(patient, 100)
        for week in (1, 2, 4):
            self.clock.on(7 * week, 7 * week, self.session, patient)

    def session(self, patient: Patient) -> None:
        """A rehabilitation session and its charge."""
        self.care.visit(patient, "rehab")
        self.care.charge(patient, "rehab")
