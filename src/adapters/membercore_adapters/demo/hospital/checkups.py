"""Check-ups: a yearly one for some adults, and a clinic visit to follow up what some find."""

from __future__ import annotations

import attrs

from membercore.facts import AppointmentBooked, CheckupCompleted
from membercore.households import ADULT_AGE
from membercore_adapters.demo.hospital.care import Care
from membercore_adapters.demo.hospital.outpatient import Outpatient
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Checkups"]

_CLINIC = "checkup_clinic"


@attrs.frozen
class Checkups:
    """The check-up centre and its follow-up clinic."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    care: Care
    outpatient: Outpatient

    def enrol(self, patient: Patient, age: int) -> None:
        """Some adults have their check-ups here, the first within the year."""
        if age >= ADULT_AGE and self.dice.chance(self.spec.checkup_share):
            self.clock.on(1, 330, self.checkup, patient)

    def checkup(self, patient: Patient) -> None:
        """A check-up, abnormal for some; the next one a year later."""
        visit_id = self.care.visit(patient, "checkup")
        abnormal = self.dice.chance(self.spec.abnormal_checkup_share)
        self.records.fact(CheckupCompleted, patient, visit_id=visit_id, abnormal=abnormal)
        self.care.charge(patient, "checkup")
        if abnormal and self.dice.chance(0.5):
            self.clock.within(DAY, 6 * DAY, self.book_clinic, patient)
        self.clock.on(350, 380, self.checkup, patient)

    def book_clinic(self, patient: Patient) -> None:
        """An appointment at the follow-up clinic, kept by most."""
        clock = self.clock
        appointment = self.records.appointment_id()
        when = clock.later(2, 10)
        self.records.fact(
            AppointmentBooked,
            patient,
            appointment_id=appointment,
            department=_CLINIC,
            scheduled_at=clock.instant_at(when),
        )
        if self.dice.chance(0.85):
            clock.push(when, self.outpatient.routine, patient, _CLINIC)
        else:
            clock.push(when + 2 * HOUR, self.care.missed, patient, appointment, _CLINIC)
