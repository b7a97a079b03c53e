"""Life stage: pregnant or post-partum from obstetric facts, else child, adult or senior."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from membercore.config.segments import LifeStage, SegmentRules
from membercore.dates import age_on
from membercore.segments.day import Day, day_of, evidence, order
from membercore.segments.messages import FactNoted, Tag

if TYPE_CHECKING:
    from membercore.segments.state import ProfileState

__all__ = ["BIRTHS", "PREGNANCY", "age_stage", "life_stage", "maternity"]

#: The condition of a diagnosis that a pregnancy is under way.
PREGNANCY = "pregnancy"
#: The conditions of a diagnosis that a birth took place (as a delivery recorded does).
BIRTHS = frozenset({"delivery", "puerperium"})


def age_stage(state: ProfileState, day: Day) -> tuple[LifeStage, Tag] | None:
    """The stage by age on ``day``, from the latest birth date stated, with its tag."""
    stated = [(order(n), n.birth_date, n) for n in state.registrations.values() if n.birth_date]
    if not stated:
        return None
    _, born, latest = max(stated, key=lambda item: item[0])
    age = age_on(born, day.today)
    rules = day.rules
    stage: LifeStage = "adult"
    if age < rules.child_below_age:
        stage = "child"
    elif age >= rules.senior_from_age:
        stage = "senior"
    return stage, Tag(reason=f"born {born}", fact_ids=(latest.fact_id,))


def maternity(state: ProfileState, day: Day) -> tuple[LifeStage, Tag] | None:
    """``pregnant`` or ``postpartum`` on ``day`` from obstetric facts, with its tag."""
    diagnoses = list(state.diagnoses.values())
    pregnancy = [note for note in diagnoses if PREGNANCY in note.conditions]
    losses = [note for note in diagnoses if "pregnancy_loss" in note.conditions]
    births: list[FactNoted] = [*state.deliveries.values()]
    births += [note for note in diagnoses if BIRTHS & set(note.conditions)]
    last_end = max((day.date_of(note) for note in [*births, *losses]), default=None)
    if pregnancy:
        latest = max(pregnancy, key=order)
        started = day.date_of(latest)
        if (last_end is None or last_end < started) and day.within(
            latest, day.rules.pregnancy_days
        ):
            current = [n for n in pregnancy if last_end is None or day.date_of(n) > last_end]
            reason = f"pregnancy recorded on {started} ({latest.icd10}), no delivery since"
            return "pregnant", Tag(reason=reason, fact_ids=evidence(current))
    if births:
        born = max(day.date_of(note) for note in births)
        later = [note for note in [*pregnancy, *losses] if day.date_of(note) > born]
        these = [note for note in births if day.date_of(note) == born]
        if not later and day.within(these[0], day.rules.postpartum_days):
            return "postpartum", Tag(reason=f"delivered on {born}", fact_ids=evidence(these))
    return None


def life_stage(
    state: ProfileState, now: datetime, tz: ZoneInfo, *, rules: SegmentRules | None = None
) -> LifeStage | None:
    """The member's life stage at ``now``: pregnant or post-partum first, else by age.

    Args:
        state: the member's profile.
        now: the instant (ages and windows are reckoned on its local date).
        tz: the programme's timezone.
        rules: the segment rules (the reference rules when not given).

    Returns:
        ``pregnant`` or ``postpartum`` from obstetric facts; else ``child``, ``adult``
        or ``senior`` from the birth date; ``None`` when nothing tells.
    """
    day = day_of(rules or SegmentRules(), now, tz)
    found = maternity(state, day) or age_stage(state, day)
    return None if found is None else found[0]
