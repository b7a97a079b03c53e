"""The hospital's catalogue.

What a charge holds, the codes of routine visits, the departments patients go to, the
gifts they redeem and the channels they are cared for on.

Everything here is read-only: the generator's state lives in its pieces, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from membercore.consent import Channel

__all__ = [
    "BP",
    "CARE_CHANNELS",
    "CHECKUP",
    "CODES",
    "DEPARTMENTS",
    "FAMILY",
    "FLU",
    "LINES",
    "PARKING",
    "Departments",
    "Gift",
    "Line",
]


@attrs.frozen
class Line:
    """A kind of charge line.

    Its category, lowest and highest amount in yuan, the chance the line is on a charge,
    and whether 医保 may pay part of it.
    """

    category: str
    low: int
    high: int
    chance: float
    insurable: bool


_CONSULT = Line("consult", 40, 250, 1.0, True)

#: The lines of a charge, by department or kind of stay.
LINES: Mapping[str, tuple[Line, ...]] = MappingProxyType(
    {
        "internal": (_CONSULT, Line("drug", 40, 600, 0.8, True), Line("exam", 80, 900, 0.5, True)),
        "pediatrics": (
            _CONSULT,
            Line("drug", 20, 300, 0.8, True),
            Line("exam", 50, 400, 0.3, True),
        ),
        "dental": (
            Line("consult", 50, 200, 1.0, False),
            Line("treatment", 200, 2_500, 0.8, False),
            Line("exam", 80, 300, 0.4, False),
        ),
        "dermatology": (
            _CONSULT,
            Line("drug", 50, 500, 0.8, True),
            Line("treatment", 200, 1_500, 0.2, False),
        ),
        "ent": (_CONSULT, Line("drug", 30, 300, 0.7, True)),
        "gynecology": (
            _CONSULT,
            Line("exam", 100, 800, 0.7, True),
            Line("drug", 50, 400, 0.5, True),
        ),
        "ophthalmology": (
            _CONSULT,
            Line("exam", 80, 600, 0.6, True),
            Line("treatment", 300, 3_000, 0.1, False),
        ),
        "tcm": (
            _CONSULT,
            Line("drug", 100, 800, 0.8, True),
            Line("treatment", 100, 400, 0.5, False),
        ),
        "ortho": (
            _CONSULT,
            Line("exam", 200, 1_500, 0.7, True),
            Line("treatment", 100, 800, 0.4, True),
        ),
        "endocrinology": (
            _CONSULT,
            Line("drug", 100, 800, 0.9, True),
            Line("exam", 80, 300, 0.8, True),
        ),
        "obstetrics": (
            _CONSULT,
            Line("exam", 200, 1_500, 0.8, True),
            Line("drug", 30, 300, 0.3, True),
        ),
        "checkup_clinic": (_CONSULT, Line("exam", 100, 1_500, 0.8, True)),
        "cosmetic": (
            Line("consult", 100, 500, 0.5, False),
            Line("treatment", 3_000, 30_000, 1.0, False),
            Line("drug", 200, 1_500, 0.3, False),
        ),
        "rehab": (Line("treatment", 200, 800, 1.0, True),),
        "checkup": (Line("checkup", 800, 6_000, 1.0, False),),
        "delivery": (
            Line("treatment", 8_000, 40_000, 1.0, True),
            Line("bed", 1_500, 12_000, 1.0, True),
            Line("drug", 300, 3_000, 1.0, True),
        ),
        "joint_replacement": (
            Line("surgery", 40_000, 90_000, 1.0, True),
            Line("implant", 15_000, 40_000, 1.0, True),
            Line("bed", 2_000, 8_000, 1.0, True),
            Line("drug", 1_000, 6_000, 1.0, True),
        ),
        "dental_implant": (
            Line("implant", 8_000, 20_000, 1.0, False),
            Line("exam", 300, 1_000, 1.0, False),
        ),
        "implant_crown": (Line("treatment", 2_000, 6_000, 1.0, False),),
        "inpatient": (
            Line("treatment", 2_000, 15_000, 1.0, True),
            Line("bed", 800, 4_000, 1.0, True),
            Line("drug", 500, 5_000, 1.0, True),
        ),
    }
)

#: Codes recorded at routine visits; the pathways record their own (E11, Z34, O80, M17...).
CODES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "internal": ("J06.9", "K29.7", "I10", "R51", "E78.5", "J20.9"),
        "pediatrics": ("J06.9", "J20.9", "A09", "H66.9"),
        "dental": ("K02.1", "K05.1", "K04.0"),
        "dermatology": ("L30.9", "L70.0", "L20.9"),
        "ent": ("J02.9", "J30.4", "J32.9"),
        "gynecology": ("N76.0", "N92.0", "N95.1"),
        "ophthalmology": ("H52.1", "H10.9", "H25.9"),
        "tcm": ("R53", "M54.5", "G47.0"),
        "ortho": ("M54.5", "M25.5", "M75.1"),
        "endocrinology": ("E03.9", "E78.5", "E66.9"),
    }
)


@attrs.frozen
class Departments:
    """Departments of routine visits with their cumulative weights (for ``Random.choices``)."""

    names: tuple[str, ...]
    cumulative: tuple[int, ...]

    @classmethod
    def weighted(cls, **weights: int) -> Departments:
        """The departments named, each as likely as its weight."""
        total, cumulative = 0, []
        for weight in weights.values():
            total += weight
            cumulative.append(total)
        return cls(tuple(weights), tuple(cumulative))


#: Where routine visits go, for children and for adults of each sex.
DEPARTMENTS: Mapping[str, Departments] = MappingProxyType(
    {
        "child": Departments.weighted(pediatrics=75, dental=12, ent=8, ophthalmology=5),
        "male": Departments.weighted(
            internal=34,
            dental=12,
            dermatology=8,
            ent=7,
            ophthalmology=7,
            tcm=10,
            ortho=10,
            endocrinology=4,
        ),
        "female": Departments.weighted(
            internal=28,
            dental=12,
            dermatology=10,
            ent=6,
            gynecology=12,
            ophthalmology=6,
            tcm=12,
            ortho=8,
            endocrinology=3,
        ),
    }
)


@attrs.frozen
class Gift:
    """A gift of the reference catalogue: its key and its points."""

    key: str
    points: int


PARKING = Gift("parking", 200)
FLU = Gift("flu_vaccine", 3_000)
BP = Gift("bp_monitor", 6_000)
CHECKUP = Gift("checkup_basic", 8_000)

#: The channels a patient agrees to be cared for on, by the channel they prefer.
CARE_CHANNELS: Mapping[Channel, tuple[Channel, ...]] = MappingProxyType(
    {
        "wecom": ("wecom", "sms"),
        "sms": ("sms",),
        "phone": ("phone", "sms"),
        "email": ("email", "sms"),
    }
)

#: The plan of a whole household, which covers relatives.
FAMILY = "family_steward"
