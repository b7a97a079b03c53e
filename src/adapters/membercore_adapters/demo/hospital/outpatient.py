"""Outpatient visits: the first one after registering, then routine visits for life."""

from __future__ import annotations

import attrs

from membercore.consent import GUARDIAN_AGE
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.catalogue import CODES, DEPARTMENTS
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.points import Points
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Outpatient"]


@attrs.frozen
class Outpatient:
    """Routine visits by department: children mostly to paediatrics, adults all over."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    care: Care
    points: Points

    def first_visit(self, patient: Patient, age: int) -> None:
        """The visit after registering, which sets how often the patient comes back."""
        base = self.spec.visits_per_year
        per_year = base * (1.6 if age < GUARDIAN_AGE else 2.0 if age >= 65 else 1.0)
        group = "child" if age < GUARDIAN_AGE else patient.sex
        self.routine_visit(patient, per_year * self.dice.rng.lognormvariate(0, 0.5), group)

    def routine_visit(self, patient: Patient, per_year: float, group: str) -> None:
        """A visit to a department of the patient's group; the next comes some time later."""
        if group == "child" and patient.age(self.clock.today()) >= GUARDIAN_AGE:
            group = patient.sex
        departments, rng = DEPARTMENTS[group], self.dice.rng
        self.routine(patient, rng.choices(departments.names, cum_weights=departments.cumulative)[0])
        gap = max(DAY, int(rng.expovariate(per_year / 365) * DAY))
        clock = self.clock
        clock.push(clock.business(clock.now + gap), self.routine_visit, patient, per_year, group)

    def routine(self, patient: Patient, department: str) -> None:
        """A visit, perhaps a diagnosis, its charge, sometimes a survey and a redemption."""
        care, dice = self.care, self.dice
        visit_id = care.visit(patient, department)
        codes = CODES.get(department)
        if codes and dice.chance(0.6):
            care.diagnosis(patient, dice.rng.choice(codes), visit_id)
        care.charge(patient, department)
        if dice.chance(0.1):
            draw = dice.rng.random()
            low, high = (9, 11) if draw < 0.6 else (7, 9) if draw < 0.9 else (2, 7)
            self.clock.within(
                HOUR, 3 * DAY, care.survey, patient, visit_id, dice.uniform(low, high)
            )
        if dice.chance(self.spec.redemption_share):
            self.points.redeem(patient, parking_only=True)
