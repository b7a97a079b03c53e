"""The ICD-10 code table: which diagnoses make which condition tags.

A diagnosis recorded by the HIS carries an ICD-10 code; :func:`conditions_for` turns it
into condition keys (``type2_diabetes``, ``hypertension``, ``pregnancy``...) that
:mod:`membercore.segments` writes as ``condition:<key>`` tags. A code matches a
:class:`CodeRule` when its category (or subcategory) lies between the rule's ``first``
and ``last`` codes, so ``E11``, ``E11.9``, ``E119`` and the national clinical extension
``E11.900x001`` (国家临床版) all match the ``E11`` rule. Codes are compared in their
undotted, upper-case form (:func:`normalise`); ICD-10-CM's letters in the third place
(``O9A``, ``Z3A``) sort after the digits, as in the classification itself.

The shipped table (:data:`CODE_TABLE`) covers what the reference programme acts on:

- diabetes ``E10``–``E14`` (type 1 ``E10``, type 2 ``E11``), hypertension ``I10``–``I15``,
  ischaemic heart disease ``I20``–``I25``, COPD ``J44`` and chronic kidney disease
  ``N18``; each of these is also a ``chronic_disease``.
- pregnancy and delivery: ``O00``–``O08`` pregnancy with abortive outcome
  (``pregnancy_loss``: it ends a pregnancy and never starts a post-partum stage, so no
  baby-care offer follows a miscarriage), ``O09``–``O48`` and ``Z33``–``Z36``, ``Z3A``
  (``pregnancy``), ``O60``–``O84`` and ``Z37`` (``delivery``), ``O85``–``O92`` and ``Z39``
  (``puerperium``), ``O94``–``O9A`` (other obstetric conditions, including obstetric
  deaths: tagged ``obstetric`` only, never a life stage). Every ``O`` code and the
  pregnancy ``Z`` codes are ``obstetric``. ``Z32`` (pregnancy test, positive or not) and
  ``Z38`` (the newborn's own record) are left out on purpose.
- orthopaedics: ``Z96.6`` (orthopaedic joint implants in place, i.e. after an
  arthroplasty) and ``Z47`` (orthopaedic follow-up care) are ``orthopaedic_surgery``;
  ``S72`` is ``femur_fracture`` (hip fractures are nearly always operated);
  ``M16``/``M17`` (hip and knee arthrosis) are ``joint_arthrosis``, the candidates for an
  arthroplasty, not yet operated.
- dentistry: ``Z96.5`` (tooth-root and mandibular implants in place) is
  ``dental_implant``; ``K08.1`` (loss of teeth) and ICD-10-CM's ``K08.4`` (partial loss)
  are ``tooth_loss``, the candidates for an implant.

A hospital adds its own rules with ``SegmentRules.extra_codes``. A code the table does
not know makes no tag; the diagnosis is still recorded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import attrs

from membercore.errors import ConfigError, InvalidCodeError

__all__ = [
    "CODE_TABLE",
    "COMMON_NAMES",
    "CONDITIONS",
    "ICD10_SYSTEMS",
    "CodeRule",
    "conditions_for",
    "is_code",
    "mapped",
    "normalise",
]


# A letter, a digit, a digit or letter (O9A), then an optional subcode of letters and
# digits (E11.9, E11.900x001); the dagger and asterisk of the dual classification allowed.
_CODE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,8})?[†*+]?")
_CONDITION = re.compile(r"[a-z][a-z0-9_]*")

#: The names sources give ICD-10 as a code system (HL7 v2 CWE-3, a view's code table
#: column): codes in it are taken as they are.
ICD10_SYSTEMS = frozenset(
    {"I10", "I10C", "ICD10", "ICD-10", "ICD10CM", "ICD-10-CM", "ICD10CN", "GB/T14396", "BJ"}
)


def is_code(text: str) -> bool:
    """Whether ``text`` is written as an ICD-10 code (``E11``, ``e11.9``, ``E119``)."""
    return _CODE.fullmatch(text.strip().upper()) is not None


def mapped(
    tables: Mapping[str, Mapping[str, str]], icd10: Collection[str], system: str, code: str
) -> str | None:
    """The ICD-10 code a source's diagnosis code stands for, or None when none does.

    As the hospital's table for ``system`` maps it, else the code itself when ``system``
    is one of ``icd10`` (the names the source gives ICD-10) and the code is written as one.
    """
    found = tables.get(system, {}).get(code)
    if found is not None:
        return found
    return code if system in icd10 and is_code(code) else None


def normalise(code: str) -> str:
    """The undotted, upper-case form of a code: ``e11.9`` → ``E119``.

    Raises:
        InvalidCodeError: ``code`` is not written as an ICD-10 code.
    """
    text = code.strip().upper()
    if _CODE.fullmatch(text) is None:
        raise InvalidCodeError(code)
    return text.rstrip("†*+").replace(".", "")


def _code(_instance: Any, attribute: Any, value: str) -> None:
    if not is_code(value):
        raise ConfigError(attribute.name, f"{value!r} is not an ICD-10 code")


def _normalised(value: str) -> str:
    return normalise(value) if is_code(value) else value


def _conditions(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    if not value:
        raise ConfigError(attribute.name, "a code rule makes at least one condition")
    for index, key in enumerate(value):
        if not _CONDITION.fullmatch(key):
            raise ConfigError(
                f"{attribute.name}[{index}]", f"{key!r} is not a condition key (a_snake_case)"
            )


@attrs.frozen(kw_only=True)
class CodeRule:
    """Codes from ``first`` to ``last`` (inclusive, by category) make these conditions.

    Attributes:
        first: the first code of the range (``E10``, ``Z96.5``); stored undotted.
        last: the last code of the range (``E14``, ``Z96.5``); stored undotted.
        conditions: the condition keys the codes make (``diabetes``, ``chronic_disease``).
        label: what the range is, for people (zh-CN).
    """

    first: str = attrs.field(converter=_normalised, validator=_code)
    last: str = attrs.field(converter=_normalised, validator=_code)
    conditions: tuple[str, ...] = attrs.field(validator=_conditions)
    label: str = ""

    def __attrs_post_init__(self) -> None:
        if self.last[: len(self.first)] < self.first:
            raise ConfigError("last", f"{self.last} comes before {self.first}")

    def covers(self, code: str) -> bool:
        """Whether the rule covers ``code`` (normalised): ``E10``–``E14`` covers ``E119``."""
        return code[: len(self.first)] >= self.first and code[: len(self.last)] <= self.last


def _rule(first: str, last: str, label: str, *conditions: str) -> CodeRule:
    return CodeRule(first=first, last=last, conditions=conditions, label=label)


#: The shipped table; see the module's documentation for what it covers and why.
CODE_TABLE: tuple[CodeRule, ...] = (
    _rule("E10", "E10", "1型糖尿病", "type1_diabetes"),
    _rule("E11", "E11", "2型糖尿病", "type2_diabetes"),
    _rule("E10", "E14", "糖尿病", "diabetes", "chronic_disease"),
    _rule("I10", "I15", "高血压", "hypertension", "chronic_disease"),
    _rule("I20", "I25", "缺血性心脏病", "ischaemic_heart_disease", "chronic_disease"),
    _rule("J44", "J44", "慢性阻塞性肺疾病", "copd", "chronic_disease"),
    _rule("N18", "N18", "慢性肾脏病", "chronic_kidney_disease", "chronic_disease"),
    _rule("O00", "O08", "流产及异位妊娠", "pregnancy_loss", "obstetric"),
    _rule("O09", "O48", "妊娠期情况与孕期保健", "pregnancy", "obstetric"),
    _rule("O60", "O84", "分娩", "delivery", "obstetric"),
    _rule("O85", "O92", "产褥期情况", "puerperium", "obstetric"),
    _rule("O94", "O9A", "其他产科情况", "obstetric"),
    _rule("Z33", "Z36", "妊娠状态、孕期监护与产前筛查", "pregnancy", "obstetric"),
    _rule("Z3A", "Z3A", "孕周(ICD-10-CM)", "pregnancy", "obstetric"),
    _rule("Z37", "Z37", "分娩结局", "delivery", "obstetric"),
    _rule("Z39", "Z39", "产后护理与检查", "puerperium", "obstetric"),
    _rule("M16", "M17", "髋、膝关节病", "joint_arthrosis"),
    _rule("S72", "S72", "股骨骨折", "femur_fracture"),
    _rule("Z47", "Z47", "骨科术后随访", "orthopaedic_surgery"),
    _rule("Z96.6", "Z96.6", "骨科关节植入物", "orthopaedic_surgery"),
    _rule("K08.1", "K08.1", "牙齿缺失", "tooth_loss"),
    _rule("K08.4", "K08.4", "部分牙齿缺失(ICD-10-CM)", "tooth_loss"),
    _rule("Z96.5", "Z96.5", "牙根及下颌植入物", "dental_implant"),
)

#: What patients and staff call the table's conditions in everyday Chinese, besides the
#: table's labels: words a message that leaves the hospital must not carry.
COMMON_NAMES: tuple[str, ...] = (
    "糖尿病",
    "高血压",
    "冠心病",
    "心脏病",
    "慢阻肺",
    "肾病",
    "妊娠",
    "怀孕",
    "孕期",
    "孕妇",
    "流产",
    "骨折",
)

#: Every condition key the shipped table makes.
CONDITIONS: frozenset[str] = frozenset(key for rule in CODE_TABLE for key in rule.conditions)


def conditions_for(code: str, rules: Iterable[CodeRule] = CODE_TABLE) -> tuple[str, ...]:
    """The condition keys a code makes, sorted; none for a code the rules do not know.

    Args:
        code: an ICD-10 code, dotted or not (``E11.9``, ``E119``).
        rules: the code rules (the shipped table, with a hospital's additions).

    Raises:
        InvalidCodeError: ``code`` is not written as an ICD-10 code.
    """
    normal = normalise(code)
    return tuple(sorted({key for rule in rules if rule.covers(normal) for key in rule.conditions}))
