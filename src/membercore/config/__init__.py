"""The programme as data: frozen attrs classes, and the reference programme.

A hospital describes its programme in TOML (or a dict); :func:`membercore.load_config`
structures and validates it into a :class:`ProgrammeConfig`. Invalid values raise
:class:`~membercore.errors.ConfigError` naming the offending key. One module per part:
``ledger`` (earning, expiry, clawback), ``tiers``, ``benefits``, ``plans``, ``rewards``,
``outreach``, ``segments``. The reference programme is a commented TOML file shipped with
the package (:func:`reference_toml`), loaded by :func:`reference_config`.
"""

from __future__ import annotations

from types import ModuleType

from membercore.config.benefits import Benefit, BenefitCategory, BenefitPackage, Discount, Quota
from membercore.config.experiments import Conversion, Experiment, Exposure, Variant
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
from membercore.config.reference import reference_config, reference_toml
from membercore.config.retention import Retention
from membercore.config.rewards import Reward, RewardCatalogue
from membercore.config.segments import SegmentRules
from membercore.config.staff import StaffMember, StaffRoster
from membercore.config.tiers import TierLevel, TierRules
from membercore.moved import child

__all__ = [
    "ActionRule",
    "Benefit",
    "BenefitCategory",
    "BenefitPackage",
    "BonusRule",
    "Conversion",
    "Discount",
    "EarningRules",
    "EventRule",
    "Experiment",
    "ExpiryPolicy",
    "Exposure",
    "LedgerConfig",
    "OutreachPolicy",
    "Plan",
    "PlanRules",
    "Plausibility",
    "ProgrammeConfig",
    "Quota",
    "Rate",
    "Retention",
    "Reward",
    "RewardCatalogue",
    "RuleBase",
    "SegmentRules",
    "SpendingRule",
    "StaffMember",
    "StaffRoster",
    "TierLevel",
    "TierRules",
    "Variant",
    "five_levels",
    "reference_config",
    "reference_toml",
]


def __getattr__(name: str) -> ModuleType:
    """A moved module named as an attribute (``reference_journeys``) is imported by its old path."""
    return child(__name__, name)
