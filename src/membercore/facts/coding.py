"""A code as a source sent it: its code system, the code, and what the code says."""

from __future__ import annotations

from typing import ClassVar

import attrs

from membercore.checks import non_empty

__all__ = ["Coding"]


@attrs.frozen(kw_only=True)
class Coding:
    """A code as the source sent it, kept beside what the programme made of it.

    Attributes:
        system: the code system as the source names it (``I10`` or ``ICD-10`` for
            ICD-10, ``I9``, ``SCT`` for SNOMED CT, ``LN`` for LOINC, a local table's
            name).
        code: the code.
        display: what the source says the code means, when it says.
    """

    TYPE: ClassVar[str] = "coding"

    system: str = attrs.field(validator=non_empty)
    code: str = attrs.field(validator=non_empty)
    display: str | None = None
