"""membercore: the membership programme (会员制) of a private hospital.

The public API: :class:`Engine` (the programme over a store), the programme
configuration, the messages (every fact in, the commands, the events out), the domain
parts (``ledger``, ``tiers``, ``benefits``, ``plans``, ``households``, ``rewards``...),
``hookimpl`` for plugins and the error hierarchy. Everything else is an implementation
detail of its module.
"""

from __future__ import annotations

from types import ModuleType

from membercore import (
    benefits,
    consent,
    facts,
    households,
    identity,
    journeys,
    ledger,
    outreach,
    plans,
    rewards,
    segments,
    staff,
    tiers,
)
from membercore.config import ProgrammeConfig, reference_config
from membercore.errors import (
    ConfigError,
    EarningTooOldError,
    EngineError,
    GaveUpError,
    IdempotencyConflictError,
    ImplausibleError,
    InsufficientPointsError,
    InvalidAmountError,
    InvalidFactError,
    LedgerError,
    MembercoreError,
    MemberMismatchError,
    NaiveInstantError,
    NotReversibleError,
    StorageError,
    TransferNotAllowedError,
    UnknownMemberError,
    UnknownPostingError,
    UnknownRuleError,
)
from membercore.facts import (
    AppointmentBooked,
    AppointmentMissed,
    AssessmentCompleted,
    ChargeLine,
    ChargePaid,
    CheckedIn,
    CheckupCompleted,
    ContentLiked,
    ContentShared,
    DeliveryRecorded,
    DiagnosisRecorded,
    Discharged,
    EventAttended,
    Fact,
    LabResultRecorded,
    PatientDied,
    PatientRegistered,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    SurgeryCompleted,
    SurveyAnswered,
    TaskCompleted,
    VisitCompleted,
)
from membercore.hookspecs import hookimpl
from membercore.identity import MergeMembers, ReverseDeath
from membercore.ledger.commands import (
    AdjustPoints,
    AwardBonus,
    ExpireDue,
    Redeem,
    ReversePosting,
    TransferPoints,
)
from membercore.ledger.events import Draw, Lot, Posting, PostingKind, Provenance
from membercore.moved import child, relocate
from membercore.serialization import (
    dump_config,
    load_config,
    load_config_toml,
    message_from_dict,
    message_to_dict,
)
from membercore.service.engine import Engine, IngestReport, TickReport

__all__ = [
    "AdjustPoints",
    "AppointmentBooked",
    "AppointmentMissed",
    "AssessmentCompleted",
    "AwardBonus",
    "ChargeLine",
    "ChargePaid",
    "CheckedIn",
    "CheckupCompleted",
    "ConfigError",
    "ContentLiked",
    "ContentShared",
    "DeliveryRecorded",
    "DiagnosisRecorded",
    "Discharged",
    "Draw",
    "EarningTooOldError",
    "Engine",
    "EngineError",
    "EventAttended",
    "ExpireDue",
    "Fact",
    "GaveUpError",
    "IdempotencyConflictError",
    "ImplausibleError",
    "IngestReport",
    "InsufficientPointsError",
    "InvalidAmountError",
    "InvalidFactError",
    "LabResultRecorded",
    "LedgerError",
    "Lot",
    "MemberMismatchError",
    "MembercoreError",
    "MergeMembers",
    "NaiveInstantError",
    "NotReversibleError",
    "PatientDied",
    "PatientRegistered",
    "Posting",
    "PostingKind",
    "ProgrammeConfig",
    "Provenance",
    "Redeem",
    "ReferralQualified",
    "RefundIssued",
    "RehabPlanJoined",
    "ReverseDeath",
    "ReversePosting",
    "StorageError",
    "SurgeryCompleted",
    "SurveyAnswered",
    "TaskCompleted",
    "TickReport",
    "TransferNotAllowedError",
    "TransferPoints",
    "UnknownMemberError",
    "UnknownPostingError",
    "UnknownRuleError",
    "VisitCompleted",
    "benefits",
    "consent",
    "dump_config",
    "facts",
    "hookimpl",
    "households",
    "identity",
    "journeys",
    "ledger",
    "load_config",
    "load_config_toml",
    "message_from_dict",
    "message_to_dict",
    "outreach",
    "plans",
    "reference_config",
    "rewards",
    "segments",
    "staff",
    "tiers",
]

# Modules that moved: their old paths work until membercore 0.3.0, with a warning.
relocate(
    {
        "membercore.actions": "membercore.service.actions",
        "membercore.calls": "membercore.service.calls",
        "membercore.clinical": "membercore.facts",
        "membercore.commands": "membercore.ledger.commands",
        "membercore.dispatch": "membercore.service.dispatch",
        "membercore.engine": "membercore.service.engine",
        "membercore.events": "membercore.ledger.events",
        "membercore.icd10": "membercore.facts.icd10",
        "membercore.journeys.runtime": "membercore.journeys",
        "membercore.limits": "membercore.service.limits",
        "membercore.member": "membercore.service.member",
        "membercore.merges": "membercore.service.merges",
        "membercore.offers": "membercore.staff.offers",
        "membercore.pipeline": "membercore.service.pipeline",
        "membercore.plausibility": "membercore.service.plausibility",
        "membercore.programmes": "membercore.staff.programmes",
        "membercore.recording": "membercore.service.recording",
        "membercore.tasks": "membercore.staff.tasks",
        "membercore.unit_of_work": "membercore.service.unit_of_work",
        "membercore.use_cases": "membercore.service.use_cases",
    }
)


def __getattr__(name: str) -> ModuleType:
    """A moved module named as an attribute (``membercore.tasks``) is imported by its old path."""
    return child(__name__, name)
