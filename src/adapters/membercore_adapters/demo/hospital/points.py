"""Points: what a patient surely holds, and the gifts they redeem with them."""

from __future__ import annotations

import attrs

from membercore.ledger.commands import Redeem
from membercore_adapters.demo.hospital.catalogue import BP, CHECKUP, FLU, PARKING, Gift
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, WEEK, Dice, Schedule

__all__ = ["FORGET_WEEKS", "Points"]

#: Points count as spendable from the week after they are 8 days old (past the 7-day
#: refund window), and are forgotten 95 weeks on (before the 24 months they live).
FORGET_WEEKS = 95


@attrs.frozen
class Points:
    """Keeps an underestimate of each patient's points, and redeems within it."""

    dice: Dice
    clock: Schedule
    records: Records

    def earn(self, patient: Patient, points: int) -> None:
        """Note ``points`` earned now, spendable once past the refund window."""
        if points > 0:
            week = (self.clock.now + 8 * DAY) // WEEK + 1
            patient.points[week] = patient.points.get(week, 0) + points

    def redeem(self, patient: Patient, *, parking_only: bool) -> None:
        """Redeem a gift worth at most half of the points the member surely has."""
        available = self._available(patient)
        reward = None if parking_only else self._gift(patient, available)
        if reward is None and available >= 2 * PARKING.points:
            reward = PARKING
        if reward is None:
            return
        self.records.command(
            Redeem, member_id=patient.pid, points=reward.points, reference=reward.key
        )
        patient.redeemed += reward.points

    def _available(self, patient: Patient) -> int:
        week, held = self.clock.now // WEEK, patient.points
        for old in [w for w in held if w < week - FORGET_WEEKS]:
            del held[old]
        # Every redemption counts against the points still remembered, whichever lots the
        # ledger drew it from: an underestimate whatever expired meanwhile.
        return sum(points for w, points in held.items() if w <= week) - patient.redeemed

    def _gift(self, patient: Patient, available: int) -> Gift | None:
        chance = self.dice.chance
        if available >= 2 * CHECKUP.points and chance(0.2):
            return CHECKUP
        if available >= 2 * BP.points and not patient.bp_redeemed and chance(0.2):
            patient.bp_redeemed = True
            return BP
        if available >= 2 * FLU.points and chance(0.3):
            return FLU
        return None
