"""The programme as data: frozen attrs classes, and the reference programme.

A hospital describes its programme in TOML (or a dict); :func:`membercore.load_config`
structures and validates it into a :class:`ProgrammeConfig`. Invalid values raise
:class:`~membercore.errors.ConfigError` naming the offending key. One module per part:
``ledger`` (earning, expiry, clawback), ``tiers``, ``benefits``, ``plans``, ``rewards``,
``outreach``, ``segments``.
"""

from __future__ import annotations

from membercore.config.benefits import Benefit, BenefitCategory, BenefitPackage, Discount, Quota
from membercore.config.ledger import (
    ActionRule,
    BonusRule,
    EarningRules,
    EventRule,
    ExpiryPolicy,
    LedgerConfig,
    Rate,
    RuleBase,
    SpendingRule,
)
from membercore.config.outreach import OutreachPolicy
from membercore.config.plans import Plan, PlanRules
from membercore.config.plausibility import Plausibility
from membercore.config.programme import ProgrammeConfig, five_levels
from membercore.config.reference import reference_config
from membercore.config.rewards import Reward, RewardCatalogue
from membercore.config.segments import SegmentRules
from membercore.config.staff import StaffMember, StaffRoster
from membercore.config.tiers import TierLevel, TierRules

__all__ = [
    "ActionRule",
    "Benefit",
    "BenefitCategory",
    "BenefitPackage",
    "BonusRule",
    "Discount",
    "EarningRules",
    "EventRule",
    "ExpiryPolicy",
    "LedgerConfig",
    "OutreachPolicy",
    "Plan",
    "PlanRules",
    "Plausibility",
    "ProgrammeConfig",
    "Quota",
    "Rate",
    "Reward",
    "RewardCatalogue",
    "RuleBase",
    "SegmentRules",
    "SpendingRule",
    "StaffMember",
    "StaffRoster",
    "TierLevel",
    "TierRules",
    "five_levels",
    "reference_config",
]
