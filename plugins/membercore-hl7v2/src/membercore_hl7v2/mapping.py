"""The hospital's mapping: how its HL7 v2 codes become the programme's words, from TOML.

Every hospital codes departments, charges, laboratory tests and diagnoses its own way.
The mapping says, per table, what each code becomes; a code a table leaves out becomes
the table's ``default`` where it has one, else it is kept as sent. It is read strictly
(:func:`load_mapping`): an unknown key, a value of the wrong type or a time zone that
does not exist is a :class:`~membercore.errors.ConfigError` naming the key.

A mapping file::

    [hl7v2]
    timezone = "Asia/Shanghai"       # instants sent without a UTC offset
    icd10_systems = ["ICD10GJ"]      # more names of ICD-10 than ICD10_SYSTEMS
    currency = "CNY"                 # amounts in yuan (FT1-11 "100.00&CNY")
    charges = "paid"                 # DFT charge lines are "paid" or "posted"
    registrations = "every_message"  # or "adt_only"

    [hl7v2.patient]
    primary = ["MR"]                 # PID-3 identifier types, in order of preference
    qualify = false                  # true: HZ01:000777 (campuses numbering alike)
    authority = "HZ01"               # for identifiers sent without one (a LIS)

    [hl7v2.departments]              # PV1-10, PV1-3.1, FT1-13, AIL-3.1 -> department
    default = "outpatient"
    SUR = "surgery"

    [hl7v2.encounter_classes]        # PV1-2 -> outpatient, inpatient, emergency...
    P = "outpatient"

    [hl7v2.charge_categories]        # FT1-7 (the charge code) -> category
    default = "treatment"

    [hl7v2.systems]                  # identifier systems that name the same thing
    "^ID" = "CHN^NNCHN"

    [hl7v2.lab_tests]                # OBX-3 (the test's code) -> the programme's test
    "4548-4" = "hba1c"

    [hl7v2.diagnoses.I9]             # a code system's codes -> ICD-10
    "71596" = "M17.9"

    [hl7v2.diagnoses.local]          # codes sent without a system (DG1-3.3 empty)
    "GXY01" = "I10"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import attrs

from membercore.errors import ConfigError
from membercore.facts import EncounterClass, icd10
from membercore.facts.icd10 import ICD10_SYSTEMS
from membercore.serialization import mapping_files as keys

__all__ = ["ICD10_SYSTEMS", "Hl7Mapping", "load_mapping", "mapping_from_dict", "mapping_option"]


ChargesAre = Literal["paid", "posted"]
Registrations = Literal["every_message", "adt_only"]

_DEFAULT_CLASSES: dict[str, EncounterClass] = {
    "I": "inpatient",
    "B": "inpatient",
    "O": "outpatient",
    "P": "outpatient",
    "R": "outpatient",
    "E": "emergency",
}


@attrs.frozen(kw_only=True)
class Hl7Mapping:
    """How one hospital's HL7 v2 codes become the programme's words.

    Attributes:
        timezone: the zone of instants sent without a UTC offset.
        currency: the currency amounts are in (an amount in another is refused).
        charges: whether a DFT charge line was ``paid`` (it earns points) or only
            ``posted`` to the account.
        registrations: ``every_message`` registers the patient from the PID of every
            message (as a FHIR converter makes a Patient of each); ``adt_only`` from
            ADT messages alone.
        primary: the PID-3 identifier types (PID-3.5) that name the patient, in order
            of preference; the first identifier when none is listed or found.
        qualify: name the patient by the primary identifier's assigning authority and
            value (``HZ01:000777``), for campuses or HIS that number patients alike.
        authority: the assigning authority of identifiers sent without one (a LIS that
            sends the bare medical record number); '' for none: such an identifier may
            name the patient, but finds no one.
        departments: department codes to the programme's departments.
        encounter_classes: PV1-2 patient classes to encounter classes.
        charge_categories: charge codes to service categories.
        lab_tests: laboratory test codes to the programme's test names.
        diagnoses: per code system, codes to ICD-10 codes.
        icd10_systems: the names senders give ICD-10 (DG1-3.3), whose codes are taken as
            they are; :data:`ICD10_SYSTEMS` and those the hospital adds.
        systems: identifier systems to the system they stand for (``"^ID"`` to
            ``"CHN^NNCHN"``: two HIS that name the resident ID card apart).
    """

    timezone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo("Asia/Shanghai"))
    currency: str = "CNY"
    charges: ChargesAre = "paid"
    registrations: Registrations = "every_message"
    primary: tuple[str, ...] = ("MR",)
    qualify: bool = False
    authority: str = ""
    departments: Mapping[str, str] = attrs.field(factory=dict)
    encounter_classes: Mapping[str, EncounterClass] = attrs.field(
        factory=lambda: dict(_DEFAULT_CLASSES)
    )
    charge_categories: Mapping[str, str] = attrs.field(factory=dict)
    lab_tests: Mapping[str, str] = attrs.field(factory=dict)
    diagnoses: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    icd10_systems: frozenset[str] = ICD10_SYSTEMS
    systems: Mapping[str, str] = attrs.field(factory=dict)

    def department(self, *codes: str) -> str | None:
        """The department the first code given names (mapped, else as sent), or the default."""
        for code in codes:
            if code:
                return self.departments.get(code, code)
        return self.departments.get("default")

    def category(self, code: str) -> str:
        """The service category of a charge code (mapped, else the default, else ``other``)."""
        return self.charge_categories.get(code) or self.charge_categories.get("default", "other")

    def test(self, code: str) -> str:
        """The programme's name of a laboratory test code (mapped, else the code)."""
        return self.lab_tests.get(code, code)

    def icd10(self, system: str, code: str) -> str | None:
        """The ICD-10 code of a diagnosis code: as mapped, else itself in ICD-10, else None."""
        # The table under the system as sent; ICD-10 whatever case it is named in.
        return icd10.mapped(self.diagnoses, (), system, code) or icd10.mapped(
            {}, self.icd10_systems, system.upper(), code
        )


def load_mapping(path: Path) -> Hl7Mapping:
    """Read a mapping file (TOML, UTF-8 with or without a byte-order mark).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not TOML, or a key is unknown or holds a wrong value.
    """
    data = keys.read_toml(path, "the mapping")
    return mapping_from_dict(data)


def mapping_option(options: Mapping[str, str]) -> Hl7Mapping:
    """The mapping a source's or listener's options name (``mapping``: a TOML file).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is invalid, naming the key.
    """
    named = options.get("mapping")
    return load_mapping(Path(named)) if named else Hl7Mapping()


def mapping_from_dict(data: Mapping[str, Any]) -> Hl7Mapping:
    """A mapping from TOML data: the table ``hl7v2`` (other tables are left for others).

    Raises:
        ConfigError: naming the key that is unknown or holds a wrong value.
    """
    table = data.get("hl7v2", {})
    keys.table("hl7v2", table)
    known = {f.name for f in attrs.fields(Hl7Mapping)} - {"primary", "qualify", "authority"}
    known |= {"patient"}
    for key in table:
        if key not in known:
            raise ConfigError(f"hl7v2.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    fields: dict[str, Any] = {}
    if "timezone" in table:
        fields["timezone"] = keys.zone("hl7v2.timezone", table["timezone"])
    for key in ("currency",):
        if key in table:
            fields[key] = keys.text(f"hl7v2.{key}", table[key])
    fields.update(_choices(table))
    if "patient" in table:
        fields["primary"], fields["qualify"], fields["authority"] = _patient(table["patient"])
    for key in ("departments", "charge_categories", "lab_tests", "systems"):
        if key in table:
            fields[key] = keys.codes(f"hl7v2.{key}", table[key])
    if "encounter_classes" in table:
        fields["encounter_classes"] = _classes(table["encounter_classes"])
    if "diagnoses" in table:
        fields["diagnoses"] = keys.icd10_tables("hl7v2.diagnoses", table["diagnoses"])
    if "icd10_systems" in table:
        named = table["icd10_systems"]
        if not isinstance(named, list):
            raise ConfigError("hl7v2.icd10_systems", 'a list of names, e.g. ["ICD10GJ"]')
        added = {keys.text(f"hl7v2.icd10_systems[{n}]", v).upper() for n, v in enumerate(named)}
        fields["icd10_systems"] = ICD10_SYSTEMS | added
    return Hl7Mapping(**fields)


def _choices(table: Mapping[str, Any]) -> dict[str, str]:
    chosen = {}
    for key, allowed in (("charges", ChargesAre), ("registrations", Registrations)):
        if key in table:
            value = table[key]
            if value not in get_args(allowed):
                raise ConfigError(f"hl7v2.{key}", f"{value!r} is not one of {get_args(allowed)}")
            chosen[key] = value
    return chosen


def _patient(value: object) -> tuple[tuple[str, ...], bool, str]:
    keys.table("hl7v2.patient", value)
    assert isinstance(value, Mapping)
    known = ("primary", "qualify", "authority")
    for key in value:
        if key not in known:
            raise ConfigError(f"hl7v2.patient.{key}", f"unknown key (known: {', '.join(known)})")
    types = value.get("primary", ["MR"])
    if not isinstance(types, list) or not types:
        raise ConfigError("hl7v2.patient.primary", 'a list of identifier types, e.g. ["MR"]')
    qualify = value.get("qualify", False)
    if not isinstance(qualify, bool):
        raise ConfigError("hl7v2.patient.qualify", f"true or false, not {qualify!r}")
    authority = value.get("authority", "")
    if authority:
        authority = keys.text("hl7v2.patient.authority", authority)
    primary = tuple(keys.text(f"hl7v2.patient.primary[{n}]", t) for n, t in enumerate(types))
    return primary, qualify, authority


def _classes(value: object) -> dict[str, EncounterClass]:
    codes = keys.codes("hl7v2.encounter_classes", value)
    allowed = get_args(EncounterClass)
    for code, named in codes.items():
        if named not in allowed:
            raise ConfigError(
                f"hl7v2.encounter_classes.{code}", f"{named!r} is not one of {allowed}"
            )
    return {**_DEFAULT_CLASSES, **codes}  # type: ignore[dict-item]
