"""The reference programme of a private general hospital, shipped as a commented TOML file.

The programme is ``reference.toml``, package data beside this module: what a hospital's
IT team starts from (``membercore config init`` writes it out), every part in the form
the programme loader reads, explained in Chinese and English.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from membercore.config.benefits import BenefitPackage
from membercore.config.journeys import JourneyDefinition
from membercore.config.plans import PlanRules
from membercore.config.programme import ProgrammeConfig
from membercore.config.rewards import RewardCatalogue
from membercore.converters import converter

__all__ = [
    "reference_config",
    "reference_journeys",
    "reference_packages",
    "reference_plans",
    "reference_rewards",
    "reference_toml",
]

#: The package that holds the file, and the file's name in it.
_PACKAGE = "membercore.config"
_FILE = "reference.toml"


@cache
def reference_toml() -> str:
    """The reference programme as the commented TOML file membercore ships.

    The text to write out for a hospital to start from; :func:`reference_config` is
    what it loads to.
    """
    return resources.files(_PACKAGE).joinpath(_FILE).read_text(encoding="utf-8")


@cache
def reference_config() -> ProgrammeConfig:
    """The reference programme of a private general hospital (:func:`reference_toml`, loaded).

    One point per yuan paid out of pocket (drugs one per two yuan, check-up packages two
    per yuan), pending for the 7-day refund window and good until the end of the 24th
    month; higher tiers earn more on spending; a daily check-in point; 20 points for a
    health lecture and 30 for a member day; 500 for a referral whose patient completes a
    first visit; 10 for a survey; 100 for joining a rehab plan; capped sharing and likes;
    non-qualifying welcome and birthday bonuses. Five tiers (普通, 银卡, 金卡, 铂金,
    钻石) with a package each, cumulative up the ladder; annual plans at 299, 599 and
    999 元, monthly billing at 99 元, the family health steward at 1,999 元 for up to three
    relatives and the diabetes steward; a catalogue of gifts with a yearly value cap; the
    patient journeys, the outreach policy with its templates, and a small staff roster.

    Read once, as :func:`membercore.load_config_toml` reads a hospital's file (with the
    same strict converter); the configuration is frozen, so every caller shares it.
    """
    programme: ProgrammeConfig = converter().structure(
        tomllib.loads(reference_toml()), ProgrammeConfig
    )
    return programme


def reference_packages() -> tuple[BenefitPackage, ...]:
    """The reference programme's benefit packages (``reference_config().packages``)."""
    return reference_config().packages


def reference_plans() -> PlanRules:
    """The reference programme's paid plans (``reference_config().plans``)."""
    return reference_config().plans


def reference_rewards() -> RewardCatalogue:
    """The reference programme's rewards catalogue (``reference_config().rewards``)."""
    return reference_config().rewards


def reference_journeys() -> tuple[JourneyDefinition, ...]:
    """The reference programme's patient journeys (``reference_config().journeys``)."""
    return reference_config().journeys
