"""Households: a family's head forms one, and adds relatives to it."""

from __future__ import annotations

import attrs

from membercore.households import ADULT_AGE, AddDependent, FormHousehold
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import Schedule

__all__ = ["Households"]


@attrs.frozen
class Households:
    """Forms each head's household when its first relative joins."""

    clock: Schedule
    records: Records

    def add(self, head: Patient, patient: Patient) -> None:
        """Add ``patient`` to ``head``'s household (formed first if need be), once."""
        if patient.in_household:
            return
        if not head.household_formed:
            head.household_formed = head.in_household = True
            self.records.command(FormHousehold, household_id=head.household_id, head_id=head.pid)
        patient.in_household = True
        self.records.command(
            AddDependent,
            household_id=head.household_id,
            member_id=patient.pid,
            relationship=patient.relationship,
            birth_date=patient.birth,
            guardian_id=head.pid if patient.age(self.clock.today()) < ADULT_AGE else None,
        )
