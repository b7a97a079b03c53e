"""DG1 segments as diagnoses: the code as sent, its ICD-10 code as the mapping gives it.

The coding system is DG1-3.3 (or, in v2.3 messages, DG1-2); a code in ICD-10 is taken as
it is, one in another system through the mapping's table for it (``[hl7v2.diagnoses.SCT]``),
and one no table reaches is kept all the same (the member's record says why it has no
effect). DG1-21 ``D`` (the diagnosis deleted) is a diagnosis entered in error.
"""

from __future__ import annotations

from membercore.facts import Coding, DiagnosisRecorded
from membercore_hl7v2.context import Context
from membercore_hl7v2.fields import MissingFieldError

__all__ = ["diagnoses"]


def diagnoses(context: Context, visit_id: str) -> list[object]:
    """A diagnosis per DG1 segment, made at ``visit_id``."""
    made: list[object] = []
    for number, dg1 in enumerate(context.message.segments("DG1"), start=1):
        code = dg1.get(3, 1)
        if not code:
            raise MissingFieldError(f"DG1 {number}: DG1-3 (the diagnosis code) is empty")
        system = dg1.get(3, 3) or dg1.get(2) or "local"
        coding = Coding(system=system, code=code, display=dg1.get(3, 2) or dg1.get(4) or None)
        made.append(
            DiagnosisRecorded(
                fact_id=context.ids.of(f"dg1-{dg1.get(1) or number}"),
                patient_id=context.patient.patient_id,
                occurred_at=dg1.instant(5) or context.event_instant(),
                icd10=context.mapping.icd10(system, code),
                visit_id=visit_id,
                coding=coding,
                status="entered_in_error" if dg1.get(21).upper() == "D" else "active",
            )
        )
    return made
