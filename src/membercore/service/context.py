"""What a member's decisions see besides their record: the programme and their household."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import attrs

from membercore import journeys, segments
from membercore.config import ProgrammeConfig
from membercore.config.journeys import JourneyDefinition

__all__ = ["Context", "Household", "journey_triggers"]


@attrs.frozen(kw_only=True)
class Household:
    """What a member's household tells the other parts.

    Attributes:
        household_id: the household.
        family: the member's family status (head with dependents, dependent).
        guardians: who may consent for the member (the household's adults).
        relatives: how many other members the household has.
        birth_date: the member's birth date as the household knows it (a dependent's).
        child: the member is a child of the household's head.
        adult: the member is the head's spouse or parent: an adult, whatever their
            birth date says or does not.
    """

    household_id: str
    family: segments.FamilyStatus
    guardians: tuple[str, ...] = ()
    relatives: int = 0
    birth_date: date | None = None
    child: bool = False
    adult: bool = False


@attrs.frozen(kw_only=True)
class Context:
    """What a decision needs besides the member's record.

    Attributes:
        config: the programme.
        registry: the condition functions and actions journeys may name.
        journeys: the journeys that run (the programme's and the plugins'), best as a
            :class:`~membercore.journeys.JourneyIndex` built once.
        triggers: the fact and event tags some journey listens to.
        loads: open staff tasks per member of staff, for balancing tasks.
        cases: members per health manager (case loads), for balancing health-manager
            assignment.
        history: replaying history: each step is learnt of at its own instant, so
            none is stale.
        cutoff: messages and tasks dated before it are recorded, not given to anyone
            (a history import's start).
        imported_at: when a history import runs: what it decides dated from the cutoff
            on is learnt of then, and may be stale.
    """

    config: ProgrammeConfig
    registry: journeys.Registry
    journeys: Sequence[JourneyDefinition]
    triggers: frozenset[str]
    loads: Mapping[str, int] = attrs.field(factory=dict)
    cases: Mapping[str, int] = attrs.field(factory=dict)
    history: bool = False
    cutoff: datetime | None = None
    imported_at: datetime | None = None


def journey_triggers(definitions: Sequence[JourneyDefinition]) -> frozenset[str]:
    """Every fact and event tag that starts, moves or ends one of ``definitions``."""
    tags: set[str] = {"consent_withdrawn", "consent_granted"}
    for definition in definitions:
        triggers = [definition.entry, *definition.also_on]
        triggers += [transition.trigger for transition in definition.transitions]
        tags.update(t.type for t in triggers if t.type is not None and not t.timed)
        tags.update(definition.exit_on)
    return frozenset(tags)
