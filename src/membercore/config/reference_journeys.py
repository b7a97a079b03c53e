"""The reference programme's patient journeys (患者旅程), built from the field's practice.

Each is data: its steps name the built-in condition functions and actions of
:func:`membercore.journeys.builtin_registry`, the templates of the reference outreach
policy, and the plans, bonuses and programmes of the reference programme. They are
written by family, with the shorthand of :mod:`.journey_builders`: care journeys
(:mod:`.reference_journeys_care`), membership journeys
(:mod:`.reference_journeys_membership`) and calendar journeys
(:mod:`.reference_journeys_calendar`).
"""

from __future__ import annotations

from membercore.config.journeys import JourneyDefinition
from membercore.config.reference_journeys_calendar import birthdays, member_days
from membercore.config.reference_journeys_care import (
    checkup_follow_up,
    diabetes,
    ortho_rehab,
    post_discharge,
    postpartum_rehab,
)
from membercore.config.reference_journeys_membership import (
    annual_onboarding,
    family_steward_offer,
    loyalty_ladder,
    referral_invitation,
    renewal_reminders,
    win_back,
)

__all__ = ["reference_journeys"]


def reference_journeys() -> tuple[JourneyDefinition, ...]:
    """Every reference journey."""
    return (
        loyalty_ladder(),
        diabetes(),
        annual_onboarding(),
        family_steward_offer(),
        referral_invitation(),
        post_discharge(),
        postpartum_rehab(),
        checkup_follow_up(),
        ortho_rehab(),
        renewal_reminders(),
        win_back(),
        birthdays(),
        member_days(),
    )
