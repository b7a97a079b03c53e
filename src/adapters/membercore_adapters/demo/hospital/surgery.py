"""Orthopaedic surgery: joint replacements.

Hip and knee arthrosis, some of it operated, and hip fractures of the elderly; each
operation followed by a stay, rehabilitation for some and follow-up visits.
"""

from __future__ import annotations

import attrs

from membercore.facts import SurgeryCompleted
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.inpatient import Inpatient, Rehab
from membercore_adapters.demo.hospital.paid_plans import PaidPlans
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Surgery"]


@attrs.frozen
class Surgery:
    """Joint replacements, from the first orthopaedic visit to the last follow-up."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    care: Care
    wards: Inpatient
    rehab: Rehab
    plans: PaidPlans

    def enrol(self, patient: Patient, age: int) -> None:
        """Some patients of 50 and over have arthrosis; a few of 70 and over, a fracture."""
        if age >= 50 and self.dice.chance(self.spec.arthrosis_share):
            self.clock.on(1, 200, self.arthrosis, patient)
        if age >= 70 and self.dice.chance(0.02):
            self.clock.on(1, 400, self.fracture, patient)

    def arthrosis(self, patient: Patient) -> None:
        """Knee or hip arthrosis diagnosed; some are operated weeks later."""
        visit_id = self.care.visit(patient, "ortho")
        knee = self.dice.chance(0.7)
        self.care.diagnosis(patient, "M17.1" if knee else "M16.1", visit_id)
        self.care.charge(patient, "ortho")
        if self.dice.chance(self.spec.surgery_share):
            procedure = "total_knee_arthroplasty" if knee else "total_hip_arthroplasty"
            self.clock.on(20, 100, self.operate, patient, procedure)

    def fracture(self, patient: Patient) -> None:
        """A hip fracture: admitted, and operated within two days."""
        stay = self.records.visit_id()
        self.care.diagnosis(patient, "S72.0", stay)
        self.clock.within(12 * HOUR, 48 * HOUR, self.operate, patient, "hip_hemiarthroplasty", stay)

    def operate(self, patient: Patient, procedure: str, stay: str | None = None) -> None:
        """The operation (in the stay ``stay``, or a new one); the discharge days later."""
        clock = self.clock
        stay = stay or self.records.visit_id()
        self.records.fact(
            SurgeryCompleted, patient, visit_id=stay, department="ortho", procedure=procedure
        )
        discharge = clock.business(clock.now + self.dice.uniform(4, 9) * DAY, 9, 12)
        clock.push(discharge, self.discharge, patient, stay)

    def discharge(self, patient: Patient, stay: str) -> None:
        """The discharge; then rehabilitation for some, and follow-up visits for all."""
        self.wards.discharge(patient, stay, "ortho", "joint_replacement")
        if self.dice.chance(0.55):
            self.clock.within(HOUR, 2 * DAY, self.rehab.join, patient, f"ortho-rehab-{stay}")
        if self.dice.chance(0.2):
            self.clock.within(HOUR, 14 * DAY, self.plans.subscribe, patient, "annual_599")
        self.clock.on(42, 42, self.follow_up, patient, 2)

    def follow_up(self, patient: Patient, left: int) -> None:
        """A follow-up visit after the operation; ``left`` of them to come, this one included."""
        visit_id = self.care.visit(patient, "ortho")
        self.care.diagnosis(patient, "Z47.1" if left > 1 else "Z96.6", visit_id)
        self.care.charge(patient, "ortho")
        if left > 1:
            self.clock.on(49, 49, self.follow_up, patient, left - 1)
