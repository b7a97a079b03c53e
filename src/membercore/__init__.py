"""membercore: the membership programme (会员制) of a private hospital.

The public API: the programme configuration, the messages (facts in, commands, events
out), the domain parts (``ledger``, ``tiers``, ``benefits``, ``plans``, ``households``,
``rewards``) and the error hierarchy. Everything else is an implementation
detail of its module.
"""

from __future__ import annotations

from membercore import (
    benefits,
    consent,
    households,
    journeys,
    ledger,
    merges,
    outreach,
    plans,
    rewards,
    tiers,
)
from membercore.commands import (
    AdjustPoints,
    AwardBonus,
    ExpireDue,
    MergeMembers,
    Redeem,
    ReversePosting,
    TransferPoints,
)
from membercore.config import ProgrammeConfig, reference_config
from membercore.errors import (
    ConfigError,
    IdempotencyConflictError,
    InsufficientPointsError,
    InvalidAmountError,
    InvalidFactError,
    LedgerError,
    MembercoreError,
    MemberMismatchError,
    NaiveInstantError,
    NotReversibleError,
    TransferNotAllowedError,
    UnknownPostingError,
    UnknownRuleError,
)
from membercore.events import Draw, Lot, Posting, PostingKind, Provenance
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    EventAttended,
    Fact,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    SurveyAnswered,
)
from membercore.serialization import (
    dump_config,
    load_config,
    load_config_toml,
    message_from_dict,
    message_to_dict,
)

__all__ = [
    "AdjustPoints",
    "AwardBonus",
    "ChargeLine",
    "ChargePaid",
    "CheckedIn",
    "ConfigError",
    "ContentLiked",
    "ContentShared",
    "Draw",
    "EventAttended",
    "ExpireDue",
    "Fact",
    "IdempotencyConflictError",
    "InsufficientPointsError",
    "InvalidAmountError",
    "InvalidFactError",
    "LedgerError",
    "Lot",
    "MemberMismatchError",
    "MembercoreError",
    "MergeMembers",
    "NaiveInstantError",
    "NotReversibleError",
    "Posting",
    "PostingKind",
    "ProgrammeConfig",
    "Provenance",
    "Redeem",
    "ReferralQualified",
    "RefundIssued",
    "RehabPlanJoined",
    "ReversePosting",
    "SurveyAnswered",
    "TransferNotAllowedError",
    "TransferPoints",
    "UnknownPostingError",
    "UnknownRuleError",
    "benefits",
    "consent",
    "dump_config",
    "households",
    "journeys",
    "ledger",
    "load_config",
    "load_config_toml",
    "merges",
    "message_from_dict",
    "message_to_dict",
    "outreach",
    "plans",
    "reference_config",
    "rewards",
    "tiers",
]
