"""Clinical facts, as the HIS reports them: diagnoses, deliveries, results and procedures.

Segments and tags are derived from them: the ICD-10 codes of diagnoses, deliveries (which
start the post-partum stage), laboratory results, discharges, check-ups, surgeries and
assessments, and the outcome of the tasks staff were given.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty
from membercore.converters import OMIT_AT_DEFAULT
from membercore.errors import InvalidFactError
from membercore.facts.base import Fact, one_of
from membercore.facts.coding import Coding
from membercore.facts.icd10 import is_code

# New fields are written only when they hold something: what earlier releases wrote
# and digested stays as it was.
_OMIT = {OMIT_AT_DEFAULT: True}

__all__ = [
    "AssessmentCompleted",
    "CheckupCompleted",
    "DeliveryMode",
    "DeliveryRecorded",
    "DiagnosisRecorded",
    "DiagnosisStatus",
    "Discharged",
    "LabResultRecorded",
    "ResultStatus",
    "SurgeryCompleted",
    "TaskCompleted",
]


DeliveryMode = Literal["vaginal", "caesarean"]
#: Where a diagnosis stands: ``active`` (the default), ``resolved`` (the condition is
#: over), ``entered_in_error`` (it was never so).
DiagnosisStatus = Literal["active", "resolved", "entered_in_error"]
#: Where a result stands: only ``final`` and ``corrected`` results act on the programme.
ResultStatus = Literal["preliminary", "final", "corrected", "cancelled", "entered_in_error"]


def _icd10(instance: Any, attribute: Any, value: str | None) -> None:
    if value is not None and not is_code(value):
        raise InvalidFactError(
            instance.TYPE, attribute.name, value, "is not an ICD-10 code (E11, E11.9, E119)"
        )


def _coded(instance: DiagnosisRecorded, attribute: Any, value: Coding | None) -> None:
    if value is None and instance.icd10 is None:
        problem = "a diagnosis names an ICD-10 code, or the code it was sent in"
        raise InvalidFactError(instance.TYPE, "icd10", None, problem)


@attrs.frozen(kw_only=True)
class DiagnosisRecorded(Fact):
    """A diagnosis was recorded at a visit.

    ICD-10 is the programme's language: a diagnosis sent in another code system (SNOMED
    CT, ICD-9, a local table) names its ICD-10 code as the hospital's mapping gives it,
    and keeps the code as sent in ``coding``. One that no mapping reaches is taken with
    ``icd10`` left empty: it is recorded on the member's record, without effect, with
    the reason (``fact_set_aside``), never dropped.

    Attributes:
        icd10: the ICD-10 code, dotted or not (``E11.9``, ``E119``, ``E11.900x001``), or
            None when the code sent has none.
        visit_id: the visit it was made at.
        coding: the code as the source sent it, when it was not ICD-10 or to keep its
            text.
        status: ``active``; a ``resolved`` or ``entered_in_error`` diagnosis is recorded
            without effect.
    """

    TYPE: ClassVar[str] = "diagnosis_recorded"

    icd10: str | None = attrs.field(default=None, validator=_icd10)
    visit_id: str = attrs.field(validator=non_empty)
    coding: Coding | None = attrs.field(default=None, validator=_coded, repr=False, metadata=_OMIT)
    status: DiagnosisStatus = attrs.field(
        default="active", validator=one_of(*get_args(DiagnosisStatus)), repr=False, metadata=_OMIT
    )

    @property
    def without_effect(self) -> str | None:
        """Why the diagnosis has no effect on the programme, or None when it acts."""
        if self.status != "active":
            return f"a diagnosis {self.status.replace('_', ' ')}"
        if self.icd10 is None:
            sent = f"{self.coding.system} {self.coding.code}" if self.coding else "its code"
            return f"no ICD-10 code is mapped from {sent}"
        return None


@attrs.frozen(kw_only=True)
class DeliveryRecorded(Fact):
    """The patient gave birth (分娩); ``occurred_at`` is the time of delivery.

    Attributes:
        visit_id: the inpatient stay of the delivery.
        mode: ``vaginal`` or ``caesarean``, when known.
    """

    TYPE: ClassVar[str] = "delivery_recorded"

    visit_id: str = attrs.field(validator=non_empty)
    mode: DeliveryMode | None = attrs.field(default=None, validator=one_of(*get_args(DeliveryMode)))


@attrs.frozen(kw_only=True)
class LabResultRecorded(Fact):
    """A laboratory result was recorded (an HbA1c recheck, lipids...).

    Only a ``final`` or ``corrected`` result acts on the programme; a preliminary,
    cancelled or erroneous one is recorded on the member's record without effect
    (``fact_set_aside``). A connector gives a result one fact id per result and status,
    so the final result sent again is the same fact (taken once), and a correction is
    decided again as the latest word.

    Attributes:
        test: the programme's name of the test (e.g. ``hba1c``), as the hospital's
            mapping gives it, else the code sent.
        value: the result as reported, when given.
        abnormal: whether the laboratory flagged it.
        coding: the test's code as sent (LOINC ``4548-4``, a local code).
        unit: the unit of ``value`` (``%``, ``mmol/L``).
        reference_range: the reference range as reported (``70-105``).
        status: ``final`` (the default), ``preliminary``, ``corrected``, ``cancelled``
            or ``entered_in_error``.
        order_id: the order (the laboratory's accession) the result answers.
    """

    TYPE: ClassVar[str] = "lab_result_recorded"

    test: str = attrs.field(validator=non_empty)
    value: str | None = None
    abnormal: bool = False
    coding: Coding | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    unit: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    reference_range: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)
    status: ResultStatus = attrs.field(
        default="final", validator=one_of(*get_args(ResultStatus)), repr=False, metadata=_OMIT
    )
    order_id: str | None = attrs.field(default=None, repr=False, metadata=_OMIT)

    @property
    def without_effect(self) -> str | None:
        """Why the result has no effect on the programme, or None when it acts."""
        if self.status in ("final", "corrected"):
            return None
        return f"a {self.status.replace('_', ' ')} result"


@attrs.frozen(kw_only=True)
class Discharged(Fact):
    """The patient was discharged from an inpatient stay.

    Attributes:
        visit_id: the stay.
        department: the department that discharged them.
    """

    TYPE: ClassVar[str] = "discharged"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class CheckupCompleted(Fact):
    """A health check-up (体检) was reported.

    Attributes:
        visit_id: the check-up.
        abnormal: whether the report has findings to follow up.
    """

    TYPE: ClassVar[str] = "checkup_completed"

    visit_id: str = attrs.field(validator=non_empty)
    abnormal: bool = False


@attrs.frozen(kw_only=True)
class SurgeryCompleted(Fact):
    """A surgery was completed.

    Attributes:
        visit_id: the stay or visit.
        department: the surgical department (e.g. ``ortho``).
        procedure: the procedure's code or name.
    """

    TYPE: ClassVar[str] = "surgery_completed"

    visit_id: str = attrs.field(validator=non_empty)
    department: str = attrs.field(validator=non_empty)
    procedure: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class AssessmentCompleted(Fact):
    """A clinical assessment was completed (e.g. the post-partum pelvic-floor check).

    Attributes:
        visit_id: the visit.
        assessment: what was assessed (e.g. ``pelvic_floor``).
    """

    TYPE: ClassVar[str] = "assessment_completed"

    visit_id: str = attrs.field(validator=non_empty)
    assessment: str = attrs.field(validator=non_empty)


@attrs.frozen(kw_only=True)
class TaskCompleted(Fact):
    """Staff completed a task a journey created, with its outcome.

    Attributes:
        task_key: the task's key (the journey action's key).
        outcome: what came of it (e.g. ``rebooked``, ``no_answer``).
    """

    TYPE: ClassVar[str] = "task_completed"

    task_key: str = attrs.field(validator=non_empty)
    outcome: str = attrs.field(validator=non_empty)
