"""Consents given at registration, and withdrawn later by a few.

Care for nearly everyone, marketing for some (a few withdraw it later) and research for
a few adults; a guardian gives those of a child.
"""

from __future__ import annotations

import attrs

from membercore.consent import GUARDIAN_AGE, Channel, GrantConsent, Purpose, WithdrawConsent
from membercore.households import ADULT_AGE
from membercore_adapters.demo.hospital.catalogue import CARE_CHANNELS
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Consents"]


@attrs.frozen
class _Form:
    """Who a patient's consents are about, who gives them, and where."""

    member_id: str
    given_by: str
    source: str


@attrs.frozen
class Consents:
    """The consents given at registration, and their withdrawals."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records

    def give(self, patient: Patient, age: int) -> None:
        """The consents the patient (or their guardian) gives when registering."""
        spec, chance = self.spec, self.dice.chance
        form = self._form(patient, age)
        if chance(0.96):
            self._grant(form, "care", CARE_CHANNELS[patient.channel])
        if chance(spec.marketing_consent * (0.4 if age < ADULT_AGE else 1)):
            self._grant(form, "marketing", (patient.channel,))
            if age >= GUARDIAN_AGE and chance(spec.withdrawal_share):
                self.clock.within(7 * DAY, 300 * DAY, self.withdraw, patient)
        if age >= ADULT_AGE and chance(spec.research_consent):
            self._grant(form, "research", (patient.channel,))

    def _form(self, patient: Patient, age: int) -> _Form:
        given_by = patient.head.pid if age < GUARDIAN_AGE and patient.head else patient.pid
        if patient.engagement:
            source = "app"
        else:
            source = "front desk" if self.dice.chance(0.7) else "paper form"
        return _Form(member_id=patient.pid, given_by=given_by, source=source)

    def _grant(self, form: _Form, purpose: Purpose, channels: tuple[Channel, ...]) -> None:
        self.records.command(
            GrantConsent,
            member_id=form.member_id,
            purpose=purpose,
            channels=channels,
            given_by=form.given_by,
            source=form.source,
        )

    def withdraw(self, patient: Patient) -> None:
        """Marketing consent withdrawn, with a reason or none."""
        reason = self.dice.rng.choice(("too many messages", "not interested", None))
        self.records.command(
            WithdrawConsent, member_id=patient.pid, purpose="marketing", reason=reason
        )
