"""Identity facts: a patient registered (建档) or updated their record, and a patient's death."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal, get_args

import attrs

from membercore.facts.base import Fact, one_of
from membercore.messages import CHANNELS, Channel

__all__ = ["PatientDied", "PatientRegistered", "Sex"]


Sex = Literal["female", "male"]


@attrs.frozen(kw_only=True)
class PatientRegistered(Fact):
    """The patient registered (建档) or updated their record.

    A later registration updates what it states; what it leaves out (``None``) is kept
    from earlier ones.

    Attributes:
        birth_date: the date of birth, when known.
        sex: ``female`` or ``male``, when known.
        preferred_channel: the channel the patient asked to be reached by (it wins over
            the channels they are seen using).
        language: the patient's language (``zh-CN``...), when known.
        name: how messages address the patient (``王女士``), when known.
    """

    TYPE: ClassVar[str] = "patient_registered"

    birth_date: date | None = None
    sex: Sex | None = attrs.field(default=None, validator=one_of(*get_args(Sex)))
    preferred_channel: Channel | None = attrs.field(default=None, validator=one_of(*CHANNELS))
    language: str | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class PatientDied(Fact):
    """The HIS recorded the patient's death: every journey ends, nothing more is sent."""

    TYPE: ClassVar[str] = "patient_died"
