"""Segments and tags: who a patient is to the programme, and how much human service they get.

Every member carries **tags** derived from facts — conditions from ICD-10 codes
(``condition:type2_diabetes``, see :mod:`membercore.facts.icd10`), life stage
(``stage:adult``, ``stage:pregnant``...), spending power (``spend:high``), channel
preference (``channel:wecom``) and family status (``family:has_dependents``) — and tags
journeys set by command (:class:`AddTag`, :class:`RemoveTag`). From them follows a
**value segment**: A (high value, high potential), B (high value, stable), C (general),
which decides the **service level**: a case manager, a follow-up plan or standard
service. Every segment decision records which rule decided and on which facts.

Decider style: :func:`decide` notes a fact (once per fact id) or applies a tag command,
then works the tags and the segment out again from every fact noted, as of the local date
of ``now``; :func:`evolve` applies the events. Run :class:`RefreshProfile` daily so that
stages, bands and time-bound conditions follow the calendar.
"""

from __future__ import annotations

from typing import Any

from membercore.config.segments import LifeStage, ServiceLevel
from membercore.segments.channels import preferred_channel
from membercore.segments.day import MAX_EVIDENCE, window_start
from membercore.segments.decide import decide, is_reserved
from membercore.segments.derive import Evaluation, derived_tags, evaluate, service_level
from membercore.segments.due import next_change
from membercore.segments.messages import (
    AddTag,
    CategoryCharged,
    ChargeNoted,
    DeliveryNoted,
    DiagnosisNoted,
    Explanation,
    FactNoted,
    FamilyStatus,
    FamilyStatusNoted,
    InteractionNoted,
    NotesForgotten,
    ProfileCommand,
    ProfileEvent,
    RefreshProfile,
    RefundNoted,
    RegistrationNoted,
    RehabPlanNoted,
    RemoveTag,
    SegmentAssigned,
    Tag,
    TagAdded,
    TagEvidenceChanged,
    TagRemoved,
    VisitNoted,
)
from membercore.segments.spending import Rfm, out_of_pocket_fen, rfm, spending_band
from membercore.segments.stages import life_stage
from membercore.segments.state import ProfileState, evolve, relatives_seen, replay, segment_of, tags

#: Every profile message type, for serialization.
MESSAGE_TYPES: tuple[type[Any], ...] = (
    AddTag,
    RemoveTag,
    RefreshProfile,
    RegistrationNoted,
    VisitNoted,
    ChargeNoted,
    RefundNoted,
    DiagnosisNoted,
    DeliveryNoted,
    InteractionNoted,
    RehabPlanNoted,
    FamilyStatusNoted,
    TagAdded,
    TagEvidenceChanged,
    TagRemoved,
    SegmentAssigned,
    NotesForgotten,
)

__all__ = [
    "MAX_EVIDENCE",
    "MESSAGE_TYPES",
    "AddTag",
    "CategoryCharged",
    "ChargeNoted",
    "DeliveryNoted",
    "DiagnosisNoted",
    "Evaluation",
    "Explanation",
    "FactNoted",
    "FamilyStatus",
    "FamilyStatusNoted",
    "InteractionNoted",
    "LifeStage",
    "NotesForgotten",
    "ProfileCommand",
    "ProfileEvent",
    "ProfileState",
    "RefreshProfile",
    "RefundNoted",
    "RegistrationNoted",
    "RehabPlanNoted",
    "RemoveTag",
    "Rfm",
    "SegmentAssigned",
    "ServiceLevel",
    "Tag",
    "TagAdded",
    "TagEvidenceChanged",
    "TagRemoved",
    "VisitNoted",
    "decide",
    "derived_tags",
    "evaluate",
    "evolve",
    "is_reserved",
    "life_stage",
    "next_change",
    "out_of_pocket_fen",
    "preferred_channel",
    "relatives_seen",
    "replay",
    "rfm",
    "segment_of",
    "service_level",
    "spending_band",
    "tags",
    "window_start",
]
