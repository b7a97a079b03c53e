"""Clinical facts, as the HIS reports them: diagnoses, deliveries, results and procedures.

Segments and tags are derived from them: the ICD-10 codes of diagnoses, deliveries (which
start the post-partum stage), laboratory results, discharges, check-ups, surgeries and
assessments, and the outcome of the tasks staff were given.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

import attrs

from membercore.checks import non_empty
from membercore.errors import InvalidFactError
from membercore.facts.base import Fact, one_of
from membercore.facts.icd10 import is_code

__all__ = [
    "AssessmentCompleted",
    "CheckupCompleted",
    "DeliveryMode",
    "DeliveryRecorded",
    "DiagnosisRecorded",
    "Discharged",
    "LabResultRecorded",
    "SurgeryCompleted",
    "TaskCompleted",
]


DeliveryMode = Literal["vaginal", "caesarean"]


def _icd10(instance: Any, attribute: Any, value: str) -> None:
    if not is_code(value):
        raise InvalidFactError(
            instance.TYPE, attribute.name, value, "is not an ICD-10 code (E11, E11.9, E119)"
        )


@attrs.frozen(kw_only=True)
class DiagnosisRecorded(Fact):
    """A diagnosis was recorded at a visit.

    Attributes:
        icd10: the ICD-10 code, dotted or not (``E11.9``, ``E119``, ``E11.900x001``).
        visit_id: the visit it was made at.
    """

    TYPE: ClassVar[str] = "diagnosis_recorded"

    icd10: str = attrs.field(validator=_icd10)
    visit_id: str = attrs.field(validator=non_empty)


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

    Attributes:
        test: the test's code (e.g. ``hba1c``).
        value: the result as reported, when given.
        abnormal: whether the laboratory flagged it.
    """

    TYPE: ClassVar[str] = "lab_result_recorded"

    test: str = attrs.field(validator=non_empty)
    value: str | None = None
    abnormal: bool = False


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
