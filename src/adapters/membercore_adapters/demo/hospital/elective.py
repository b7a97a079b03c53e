"""Elective care paid out of pocket: dental implants and cosmetic treatment.

An implant takes a consultation, the implant and its crown; cosmetic patients mostly
keep coming back.
"""

from __future__ import annotations

import attrs

from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.schedule import DAY, WEEK, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Elective"]


@attrs.frozen
class Elective:
    """Dental implants and cosmetic treatment."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    care: Care

    def enrol(self, patient: Patient, age: int) -> None:
        """Some adults of 25 to 75 need an implant; some of 20 to 55 (mostly women) cosmetics."""
        spec, chance = self.spec, self.dice.chance
        if 25 <= age <= 75 and chance(spec.implant_share):
            self.clock.on(1, 150, self.implant_consult, patient)
        cosmetic = spec.cosmetic_share if patient.sex == "female" else spec.cosmetic_share / 6
        if 20 <= age <= 55 and chance(cosmetic):
            self.clock.on(1, 90, self.cosmetic, patient)

    def implant_consult(self, patient: Patient) -> None:
        """The consultation for a missing tooth; the implant follows within a month."""
        visit_id = self.care.visit(patient, "dental")
        self.care.diagnosis(patient, "K08.1", visit_id)
        self.care.charge(patient, "dental")
        self.clock.on(7, 30, self.implant, patient)

    def implant(self, patient: Patient) -> None:
        """The implant, surveyed (mostly highly rated); the crown three or four months on."""
        dice = self.dice
        visit_id = self.care.visit(patient, "dental")
        self.care.charge(patient, "dental", "dental_implant")
        if dice.chance(0.85):
            high = dice.chance(self.spec.high_satisfaction_share)
            score = dice.uniform(9, 11) if high else dice.uniform(5, 9)
            self.clock.within(DAY, 3 * DAY, self.care.survey, patient, visit_id, score)
        self.clock.on(90, 120, self.implant_crown, patient)

    def implant_crown(self, patient: Patient) -> None:
        """The crown on the implant."""
        visit_id = self.care.visit(patient, "dental")
        self.care.diagnosis(patient, "Z96.5", visit_id)
        self.care.charge(patient, "dental", "implant_crown")

    def cosmetic(self, patient: Patient) -> None:
        """A cosmetic treatment; most come back some weeks later."""
        self.care.visit(patient, "cosmetic")
        self.care.charge(patient, "cosmetic")
        if self.dice.chance(0.8):
            clock = self.clock
            gap = WEEK + int(self.dice.rng.expovariate(1 / 75) * DAY)
            clock.push(clock.business(clock.now + gap), self.cosmetic, patient)
