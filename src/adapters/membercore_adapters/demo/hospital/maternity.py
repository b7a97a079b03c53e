"""Maternity: pregnancies, deliveries and what follows them.

Prenatal visits, deliveries (some by caesarean) and the postpartum visit, with
pelvic-floor rehabilitation for some.
"""

from __future__ import annotations

import attrs

from membercore.facts import AssessmentCompleted, DeliveryRecorded
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.inpatient import Inpatient, Rehab
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, WEEK, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Maternity"]


@attrs.frozen
class Maternity:
    """Obstetrics, from a pregnancy's first visit to six weeks after the birth."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    care: Care
    wards: Inpatient
    rehab: Rehab

    def enrol(self, patient: Patient, age: int) -> None:
        """Some women of 22 to 40 are pregnant when they register; a few become so later."""
        if patient.sex == "female" and 22 <= age <= 40:
            if self.dice.chance(self.spec.pregnancy_share):
                self.pregnancy(patient, self.dice.uniform(6, 37))
            elif self.dice.chance(0.05):
                self.clock.on(30, 300, self.pregnancy, patient, 8)

    def pregnancy(self, patient: Patient, week: int) -> None:
        """A pregnancy in its ``week``: prenatal visits from soon, the delivery when due."""
        clock = self.clock
        due = clock.now + (40 - week) * WEEK + int(self.dice.rng.gauss(0, 6) * DAY)
        clock.on(1, 14, self.prenatal, patient, due)
        clock.push(max(clock.now + DAY, due), self.delivery, patient)

    def prenatal(self, patient: Patient, due: int) -> None:
        """A prenatal visit; the next in four weeks, or two in the last twelve."""
        visit_id = self.care.visit(patient, "obstetrics")
        self.care.diagnosis(patient, self.dice.rng.choice(("Z34.0", "Z34.8", "Z34.9")), visit_id)
        self.care.charge(patient, "obstetrics")
        clock = self.clock
        gap = 14 * DAY if due - clock.now < 12 * WEEK else 28 * DAY
        if clock.now + gap < due - 5 * DAY:
            clock.push(clock.business(clock.now + gap), self.prenatal, patient, due)

    def delivery(self, patient: Patient) -> None:
        """The delivery: a stay of two to six days, and the postpartum visit in six weeks."""
        clock = self.clock
        stay = self.records.visit_id()
        caesarean = self.dice.chance(0.4)
        mode = "caesarean" if caesarean else "vaginal"
        self.records.fact(DeliveryRecorded, patient, visit_id=stay, mode=mode)
        self.care.diagnosis(patient, "O82" if caesarean else "O80", stay)
        days = self.dice.uniform(4, 7) if caesarean else self.dice.uniform(2, 4)
        discharge = clock.business(clock.now + days * DAY, 9, 12)
        clock.push(discharge, self.wards.discharge, patient, stay, "obstetrics", "delivery")
        clock.on(42, 42, self.postpartum, patient)

    def postpartum(self, patient: Patient) -> None:
        """The postpartum visit: a pelvic-floor assessment for most, rehabilitation for some."""
        visit_id = self.care.visit(patient, "obstetrics")
        self.care.diagnosis(patient, "Z39.2", visit_id)
        self.care.charge(patient, "obstetrics")
        if self.dice.chance(0.65):
            self.records.fact(
                AssessmentCompleted, patient, visit_id=visit_id, assessment="pelvic_floor"
            )
            if self.dice.chance(0.5):
                plan_id = f"pelvic-floor-{visit_id}"
                self.clock.within(HOUR, 3 * DAY, self.rehab.join, patient, plan_id)
