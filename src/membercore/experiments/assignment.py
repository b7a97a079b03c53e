"""Who sees which variant: a stable hash of the member and the experiment, recorded once.

A member meets an experiment when a message of its exposure's type reaches their record
(a fact or command before it is decided, an event once it is made). The variant is the
one the hash of (experiment, member) falls on by the variants' weights: never Python's
``hash()``, which changes from process to process, so that every worker, every replay and
every report finds the same variant. The assignment is recorded once, as
:class:`ExperimentAssigned` in the member's journal; a member already assigned is never
assigned again, whatever reaches their record later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from membercore.config import Experiment, ProgrammeConfig, Variant
from membercore.dates import as_utc, aware
from membercore.messages import MemberEvent

__all__ = [
    "MESSAGE_TYPES",
    "Assignment",
    "ExperimentAssigned",
    "ExperimentsState",
    "bucket",
    "evolve",
    "exposures",
    "member_config",
    "variant_for",
]


@attrs.frozen(kw_only=True)
class ExperimentAssigned(MemberEvent):
    """A member met an experiment and was assigned a variant.

    Attributes:
        experiment: the experiment's key.
        variant: the variant's key.
        at: when the member was exposed (the decision instant of the exposing message).
        exposed_by: the ``type`` of the message that exposed them.
        programme_version: the programme's version at the assignment.
    """

    TYPE: ClassVar[str] = "experiment_assigned"

    experiment: str
    variant: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    exposed_by: str
    programme_version: int = 1


#: Every experiment message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (ExperimentAssigned,)


@attrs.frozen(kw_only=True)
class Assignment:
    """The variant a member was assigned, and when."""

    variant: str
    at: datetime


@attrs.frozen(kw_only=True)
class ExperimentsState:
    """A member's assignments, by experiment key.

    Assignments stay when an experiment leaves the programme: they are its history.
    """

    assignments: Mapping[str, Assignment] = attrs.field(factory=dict)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (experiment, variant) pairs the member holds."""
        return tuple((key, held.variant) for key, held in self.assignments.items())


def evolve(state: ExperimentsState, event: ExperimentAssigned) -> ExperimentsState:
    """Apply one assignment; a second one for the same experiment changes nothing."""
    if event.experiment in state.assignments:
        return state
    held = Assignment(variant=event.variant, at=event.at)
    return ExperimentsState(assignments={**state.assignments, event.experiment: held})


def bucket(experiment_key: str, member_id: str, total: int) -> int:
    """Where the member falls among ``total`` equal slots of the experiment: 0 to total-1.

    BLAKE2b of the experiment's and the member's keys (separated by a byte neither may
    hold), read as a 64-bit number: the same in every process and on every platform.
    """
    text = f"{experiment_key}\x1f{member_id}".encode()
    digest = hashlib.blake2b(text, digest_size=8, person=b"mc-experiment").digest()
    return int.from_bytes(digest, "big") % total


def variant_for(experiment: Experiment, member_id: str) -> Variant:
    """The variant the member is assigned in the experiment, by the variants' weights."""
    total = sum(variant.weight for variant in experiment.variants)
    slot = bucket(experiment.key, member_id, total)
    for variant in experiment.variants:
        if slot < variant.weight:
            return variant
        slot -= variant.weight
    raise AssertionError("a slot falls within the weights")  # pragma: no cover


def _instant(message: object, now: datetime) -> datetime:
    for name in ("occurred_at", "at"):
        value = getattr(message, name, None)
        if isinstance(value, datetime):
            return value
    return now


def exposures(
    state: ExperimentsState,
    config: ProgrammeConfig,
    messages: Iterable[object],
    member_id: str,
    now: datetime,
) -> list[ExperimentAssigned]:
    """The assignments the messages make: one per experiment the member first meets.

    Args:
        state: the member's assignments.
        config: the programme (its experiments).
        messages: facts, commands or events reaching the member's record.
        member_id: the member.
        now: the decision instant.

    Returns:
        An assignment for each running experiment whose exposure a message matches and
        the member is not yet assigned in. Whether an experiment runs is read at the
        message's own instant (when a fact happened, when an event took effect): a fact
        reported after the experiment ended, about a visit before it ended, exposes the
        member.
    """
    if not config.experiments:
        return []
    made: list[ExperimentAssigned] = []
    taken = set(state.assignments)
    for message in messages:
        tag = getattr(message, "TYPE", None)
        for experiment in config.experiments:
            exposure = experiment.exposure
            if exposure.on != tag or experiment.key in taken:
                continue
            if exposure.plan is not None and getattr(message, "plan_key", None) != exposure.plan:
                continue
            if not experiment.running(_instant(message, now)):
                continue
            taken.add(experiment.key)
            made.append(
                ExperimentAssigned(
                    member_id=member_id,
                    experiment=experiment.key,
                    variant=variant_for(experiment, member_id).key,
                    at=now,
                    exposed_by=str(tag),
                    programme_version=config.version,
                )
            )
    return made


def member_config(state: ExperimentsState, config: ProgrammeConfig) -> ProgrammeConfig:
    """The programme a member's decisions use: the base one, with their variants' overrides.

    An assignment to an experiment (or a variant) the programme no longer has is passed
    over: decisions fall back to the base programme.
    """
    if not state.assignments:
        return config
    return config.variant_config(state.pairs())
