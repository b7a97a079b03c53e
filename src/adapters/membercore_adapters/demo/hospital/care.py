"""What every pathway shares: the visit, its diagnoses and its charge.

Also the refunds and surveys that follow a visit, and appointments not kept.
"""

from __future__ import annotations

import attrs

from membercore.facts import (
    AppointmentMissed,
    ChargeLine,
    ChargePaid,
    DiagnosisRecorded,
    RefundIssued,
    SurveyAnswered,
    VisitCompleted,
)
from membercore_adapters.demo.hospital.app import App
from membercore_adapters.demo.hospital.catalogue import LINES
from membercore_adapters.demo.hospital.paid_plans import PaidPlans
from membercore_adapters.demo.hospital.patient import Patient
from membercore_adapters.demo.hospital.points import Points
from membercore_adapters.demo.hospital.records import Records
from membercore_adapters.demo.hospital.schedule import DAY, HOUR, Dice, Schedule
from membercore_adapters.demo.hospital.spec import HospitalSpec

__all__ = ["Care"]


@attrs.frozen
class Care:
    """The front desk and the cashier, for every department and pathway."""

    spec: HospitalSpec
    dice: Dice
    clock: Schedule
    records: Records
    points: Points
    app: App
    plans: PaidPlans

    def visit(self, patient: Patient, department: str, visit_id: str | None = None) -> str:
        """A completed visit (a new one, or the stay ``visit_id``); returns its id."""
        records = self.records
        visit_id = visit_id or records.visit_id()
        first = not patient.visited
        patient.visited = True
        records.out.append(
            VisitCompleted(
                fact_id=records.fact_id(),
                patient_id=patient.pid,
                occurred_at=self.clock.instant,
                visit_id=visit_id,
                department=department,
                first_visit=first,
            )
        )
        if first:
            if patient.referrer is not None:
                self.clock.within(HOUR, 2 * DAY, self.app.referral, patient, visit_id)
            self.plans.after_first_visit(patient)
        return visit_id

    def diagnosis(self, patient: Patient, code: str, visit_id: str) -> None:
        """A diagnosis recorded at the visit."""
        records = self.records
        records.out.append(
            DiagnosisRecorded(
                fact_id=records.fact_id(),
                patient_id=patient.pid,
                occurred_at=self.clock.instant,
                icd10=code,
                visit_id=visit_id,
            )
        )

    def charge(self, patient: Patient, department: str, kind: str | None = None) -> None:
        """The charge of a visit (of the lines of ``kind``, or of the department's).

        A few are refunded later; the others earn the patient points.
        """
        lines, total, self_paid = self._lines(patient, department, kind or department)
        records = self.records
        charge_id = records.charge_id()
        records.out.append(
            ChargePaid(
                fact_id=records.fact_id(),
                patient_id=patient.pid,
                occurred_at=self.clock.instant,
                charge_id=charge_id,
                lines=lines,
            )
        )
        if self.dice.rng.random() < self.spec.refund_share:
            self._will_refund(patient, charge_id, total)
            return
        # At the lowest rate of the reference programme (drugs: 1 point per 2 yuan paid out
        # of pocket), so never more than the ledger credits.
        self.points.earn(patient, self_paid // 200)

    def _lines(
        self, patient: Patient, department: str, kind: str
    ) -> tuple[list[ChargeLine], int, int]:
        random_, insured, lines = self.dice.rng.random, patient.insured, []
        total = self_paid = 0
        for line in LINES[kind]:
            if line.chance < 1.0 and random_() >= line.chance:
                continue
            amount = line.low * 100 + int((line.high - line.low) * 10 * random_()) * 10
            insured_line = line.insurable and insured
            insurance = int(amount * (0.3 + 0.4 * random_())) if insured_line else 0
            total += amount
            self_paid += amount - insurance
            lines.append(
                ChargeLine(
                    department=department,
                    category=line.category,
                    amount_fen=amount,
                    insurance_fen=insurance,
                )
            )
        return lines, total, self_paid

    def _will_refund(self, patient: Patient, charge_id: str, total: int) -> None:
        amount = total if self.dice.chance(0.5) else max(1, total // 4)
        if self.dice.chance(0.6):
            self.clock.within(HOUR, 7 * DAY, self.refund, patient, charge_id, amount)
        else:
            self.clock.within(8 * DAY, 60 * DAY, self.refund, patient, charge_id, amount)

    def refund(self, patient: Patient, charge_id: str, amount: int) -> None:
        """A charge refunded, in part or in full."""
        self.records.fact(RefundIssued, patient, charge_id=charge_id, amount_fen=amount)

    def survey(self, patient: Patient, visit_id: str, score: int) -> None:
        """The satisfaction survey of a visit, answered: it earns a few points."""
        self.records.fact(SurveyAnswered, patient, visit_id=visit_id, score=score)
        self.points.earn(patient, 10)

    def missed(self, patient: Patient, appointment: str, department: str) -> None:
        """An appointment the patient did not come to."""
        self.records.fact(
            AppointmentMissed, patient, appointment_id=appointment, department=department
        )
