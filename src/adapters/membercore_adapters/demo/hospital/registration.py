"""Registration (建档), and everything it sets in motion.

The patient's record, their household and consents, the first visit, the member app,
and the care pathways they enter.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from membercore.consent import GUARDIAN_AGE
from membercore.facts import PatientRegistered
from membercore.households import ADULT_AGE
from membercore_adapters.demo.hospital.app import App
from membercore_adapters.demo.hospital.consents import Consents
from membercore_adapters.demo.hospital.households import Households
from membercore_adapters.demo.hospital.outpatient import Outpatient
from membercore_adapters.demo.hospital.paid_plans import PaidPlans
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import HOUR, MINUTE, Dice, Schedule

__all__ = ["SOURCES", "Pathway", "Registration"]

#: How patients who come neither with family nor referred find the hospital, with shares.
SOURCES: tuple[tuple[str, float], ...] = (
    ("walk_in", 0.45),
    ("online", 0.30),
    ("checkup", 0.15),
    ("corporate", 0.10),
)


class Pathway(Protocol):
    """A pathway of care, which decides at registration whether the patient enters it."""

    def enrol(self, patient: Patient, age: int) -> None:
        """Schedule what the patient, of ``age`` on registering, will come for (if anything)."""


@attrs.frozen
class Registration:
    """The front desk's registrations.

    Attributes:
        pathways: asked in this order whether the patient enters them (each draws).
    """

    dice: Dice
    clock: Schedule
    records: Records
    households: Households
    consents: Consents
    plans: PaidPlans
    app: App
    outpatient: Outpatient
    pathways: tuple[Pathway, ...]

    def register(self, patient: Patient) -> None:
        """Register the patient, and set everything that follows in motion."""
        age = patient.age(self.clock.today())
        patient.registered = True
        head = patient.head
        if head is None:
            self.app.refer(patient)
        self.records.fact(
            PatientRegistered,
            patient,
            birth_date=patient.birth,
            sex=patient.sex,
            preferred_channel=patient.channel if age >= GUARDIAN_AGE else None,
            language="en" if self.dice.chance(0.03) else "zh-CN",
            source=self._source(patient),
        )
        if head is not None:
            self._join_household(patient, head, age)
        self.consents.give(patient, age)
        self.clock.within(10 * MINUTE, 2 * HOUR, self.outpatient.first_visit, patient, age)
        self.app.join(patient)
        for pathway in self.pathways:
            pathway.enrol(patient, age)

    def _source(self, patient: Patient) -> str:
        """How the patient came: with their family, referred, or by one of the usual ways."""
        if patient.head is not None:
            return "family"
        if patient.referrer is not None:
            return "referral"
        return self.dice.weighted(SOURCES)

    def _join_household(self, patient: Patient, head: Patient, age: int) -> None:
        # Minors join at once: they need the head as guardian, for consent too.
        if age < ADULT_AGE or self.plans.family_open(head) or self.dice.chance(0.4):
            self.households.add(head, patient)
        self.plans.cover(head, patient)
        self.plans.offer_family(head)
