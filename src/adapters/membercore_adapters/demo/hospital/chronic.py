"""Chronic disease: type-2 diabetes.

An HbA1c recheck every three months (booked or not, kept or missed as the patient's
adherence has it), and the diabetes steward plan for some.
"""

from __future__ import annotations

import attrs

from membercore.facts import AppointmentBooked, LabResultRecorded
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.paid_plans import PaidPlans
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Chronic"]

_DEPARTMENT = "endocrinology"


@attrs.frozen
class Chronic:
    """Diabetes care in endocrinology, for life."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    care: Care
    plans: PaidPlans

    def enrol(self, patient: Patient, age: int) -> None:
        """Some patients of 35 and over are diabetic, more of them the older they are."""
        if age >= 35:
            factor = 0.4 if age < 50 else 1.0 if age < 65 else 1.4
            if self.dice.chance(self.spec.diabetes_share * factor):
                # Most come already diagnosed elsewhere; the others are found here later.
                low, high = (1, 30) if self.dice.chance(0.6) else (30, 400)
                self.clock.on(low, high, self.diabetes, patient)

    def diabetes(self, patient: Patient) -> None:
        """The first endocrinology visit: the diagnosis, an HbA1c, the rechecks to come."""
        dice = self.dice
        visit_id = self.care.visit(patient, _DEPARTMENT)
        code = dice.rng.choice(("E11.9", "E11.9", "E11.65", "E11.900x001"))
        self.care.diagnosis(patient, code, visit_id)
        self._hba1c(patient, controlled=False)
        self.care.charge(patient, _DEPARTMENT)
        adherence = min(1.0, max(0.05, dice.rng.gauss(self.spec.recheck_adherence, 0.25)))
        self.clock.within(76 * DAY, 86 * DAY, self.recheck_due, patient, adherence)
        if dice.chance(self.spec.diabetes_plan_share):
            self.clock.within(DAY, 30 * DAY, self.plans.subscribe, patient, "diabetes_steward")

    def _hba1c(self, patient: Patient, *, controlled: bool) -> None:
        uniform = self.dice.rng.uniform
        value = uniform(5.8, 7.6) if controlled else uniform(6.8, 10.8)
        self.records.fact(
            LabResultRecorded, patient, test="hba1c", value=f"{value:.1f}%", abnormal=value >= 6.5
        )

    def recheck_due(self, patient: Patient, adherence: float) -> None:
        """A week or two before an HbA1c recheck (every three months): booked, or not."""
        clock = self.clock
        due = clock.later(7, 14)
        comes = self.dice.chance(adherence)
        if self.dice.chance(0.7):
            appointment = self.records.appointment_id()
            self.records.fact(
                AppointmentBooked,
                patient,
                appointment_id=appointment,
                department=_DEPARTMENT,
                scheduled_at=clock.instant_at(due),
            )
            if not comes:
                clock.push(due + 2 * HOUR, self.care.missed, patient, appointment, _DEPARTMENT)
        if comes:
            clock.push(due, self.recheck, patient)
        next_due = due + self.dice.uniform(76 * DAY, 86 * DAY)
        clock.push(next_due, self.recheck_due, patient, adherence)

    def recheck(self, patient: Patient) -> None:
        """An HbA1c recheck: under control more often than at diagnosis."""
        self.care.visit(patient, _DEPARTMENT)
        self._hba1c(patient, controlled=self.dice.chance(0.6))
        self.care.charge(patient, _DEPARTMENT)
