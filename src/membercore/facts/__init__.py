"""Facts: what happened outside the programme, as reported by the HIS or the member app.

Every fact carries ``fact_id`` (its idempotency key: the same fact twice changes
nothing), ``patient_id`` and ``occurred_at`` (timezone-aware). Each class has a stable
``TYPE`` tag used when facts are stored or exchanged; the tag never changes once shipped.

By kind: :mod:`~membercore.facts.identity` (registration, death),
:mod:`~membercore.facts.billing` (charges, refunds), :mod:`~membercore.facts.visits`
(check-ins, appointments, visits), :mod:`~membercore.facts` (diagnoses,
deliveries, results, procedures, task outcomes) and :mod:`~membercore.facts.engagement`
(events, content, surveys, referrals).
"""

from __future__ import annotations

from membercore.facts.base import Fact
from membercore.facts.billing import ChargeLine, ChargePaid, ChargePosted, RefundIssued
from membercore.facts.clinical import (
    AssessmentCompleted,
    CheckupCompleted,
    DeliveryMode,
    DeliveryRecorded,
    DiagnosisRecorded,
    DiagnosisStatus,
    Discharged,
    LabResultRecorded,
    ResultStatus,
    SurgeryCompleted,
    TaskCompleted,
)
from membercore.facts.coding import Coding
from membercore.facts.engagement import (
    ContentLiked,
    ContentShared,
    EventAttended,
    ReferralQualified,
    RehabPlanJoined,
    SurveyAnswered,
)
from membercore.facts.identity import Identifier, PatientDied, PatientRegistered, Sex
from membercore.facts.visits import (
    AdmissionCancelled,
    Admitted,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    CheckedIn,
    DischargeCancelled,
    EncounterClass,
    Transferred,
    VisitCompleted,
)

__all__ = [
    "CLINICAL_FACT_TYPES",
    "FACT_TYPES",
    "AdmissionCancelled",
    "Admitted",
    "AppointmentBooked",
    "AppointmentCancelled",
    "AppointmentCompleted",
    "AppointmentMissed",
    "AppointmentRescheduled",
    "AssessmentCompleted",
    "ChargeLine",
    "ChargePaid",
    "ChargePosted",
    "CheckedIn",
    "CheckupCompleted",
    "Coding",
    "ContentLiked",
    "ContentShared",
    "DeliveryMode",
    "DeliveryRecorded",
    "DiagnosisRecorded",
    "DiagnosisStatus",
    "DischargeCancelled",
    "Discharged",
    "EncounterClass",
    "EventAttended",
    "Fact",
    "Identifier",
    "LabResultRecorded",
    "PatientDied",
    "PatientRegistered",
    "ReferralQualified",
    "RefundIssued",
    "RehabPlanJoined",
    "ResultStatus",
    "Sex",
    "SurgeryCompleted",
    "SurveyAnswered",
    "TaskCompleted",
    "Transferred",
    "VisitCompleted",
]


FACT_TYPES: tuple[type[Fact], ...] = (
    CheckedIn,
    ChargePaid,
    ChargePosted,
    RefundIssued,
    EventAttended,
    ContentShared,
    ContentLiked,
    ReferralQualified,
    SurveyAnswered,
    RehabPlanJoined,
    VisitCompleted,
)


#: The clinical fact types, to register with the other facts.
CLINICAL_FACT_TYPES: tuple[type[Fact], ...] = (
    PatientRegistered,
    DiagnosisRecorded,
    DeliveryRecorded,
    LabResultRecorded,
    Discharged,
    Admitted,
    Transferred,
    AdmissionCancelled,
    DischargeCancelled,
    CheckupCompleted,
    SurgeryCompleted,
    AssessmentCompleted,
    AppointmentBooked,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentCancelled,
    AppointmentCompleted,
    PatientDied,
    TaskCompleted,
)
