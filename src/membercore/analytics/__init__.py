"""The programme's figures and measures: what the hospital's management looks at.

:mod:`.counting` reads each member once for all three (the measures, the dashboard, the
experiments). :mod:`.figures` gives the dashboard's figures from every member's record, and the
outreach and staff counts as the engine decides them. :mod:`.measurement` measures the
programme from every patient's whole history (:mod:`.stories`, summed in
:mod:`.tallies`): lifetime value, renewal, repurchase and cross-purchase, referrals, the
loyalty ladder, monthly cohorts, member against non-member spend, staff sales, the
points liability and the revenue projection. docs/analytics.md defines every figure.
"""

from __future__ import annotations

from membercore.analytics.counting import Counted, counted
from membercore.analytics.figures import FigureCounter, Figures, Tally, figures, per_mille
from membercore.analytics.measurement import (
    Cohort,
    Ladder,
    Liability,
    Measurement,
    Projection,
    Rate,
    StaffRow,
    ValueModel,
    ValueRow,
    measure,
    measurement_of,
)
from membercore.analytics.stories import Story, story_of
from membercore.analytics.tallies import Tallies

__all__ = [
    "Cohort",
    "Counted",
    "FigureCounter",
    "Figures",
    "Ladder",
    "Liability",
    "Measurement",
    "Projection",
    "Rate",
    "StaffRow",
    "Story",
    "Tallies",
    "Tally",
    "ValueModel",
    "ValueRow",
    "counted",
    "figures",
    "measure",
    "measurement_of",
    "per_mille",
    "story_of",
]
