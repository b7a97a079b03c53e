"""The hospital's mapping: how its FHIR codes become the programme's words, from TOML.

FHIR resources code what they say in code systems (SNOMED CT, LOINC, ICD-10, the HL7
terminology, the hospital's own). The mapping says, per table, what each code becomes;
a code a table leaves out becomes the table's ``default`` where it has one, else it is
kept as sent. It is read strictly (:func:`load_mapping`): an unknown key, a value of the
wrong type or a time zone that does not exist is a :class:`~membercore.errors.ConfigError`
naming the key.

A mapping file::

    [fhir]
    sender = "his"                  # names the facts' ids: fhir:his:Encounter/e1:...
    timezone = "Asia/Shanghai"      # dates sent without a time or offset
    currency = "CNY"                # amounts in another currency are refused
    charges = "paid"                # ChargeItem: "paid" (earns points) or "posted"
    rounding = "half_up"            # amounts finer than a fen: "half_up" or "refuse"

    [fhir.patient]
    primary = ["MR"]                # identifier types (or systems) naming the patient

    [fhir.systems]                  # identifier systems to the names the index keeps
    "urn:oid:2.16.840.1.113883.2.23.1" = "CHN^NNCHN"

    [fhir.departments]              # serviceType, specialty or type codes -> department
    default = "outpatient"
    "394802001" = "internal"

    [fhir.encounter_classes]        # Encounter.class codes -> outpatient, inpatient...
    "HH" = "virtual"

    [fhir.charge_categories]        # a charge's product or service code -> category
    default = "treatment"

    [fhir.lab_tests]                # Observation codes (LOINC) -> the programme's tests
    "4548-4" = "hba1c"

    [fhir.procedures]               # Procedure codes -> procedures (others: not used)
    "80146002" = "appendectomy"

    [fhir.conditions."http://snomed.info/sct"]   # a code system's codes -> ICD-10
    "44054006" = "E11.9"

    [fhir.consents."hospital-marketing"]          # Consent category or policy codes
    purpose = "marketing"
    channels = ["sms", "wecom"]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import attrs

from membercore.errors import ConfigError
from membercore.facts import EncounterClass, icd10
from membercore.messages import CHANNELS, PURPOSES, Channel, Purpose
from membercore.serialization import mapping_files as keys

__all__ = [
    "ICD10_SYSTEMS",
    "ConsentRule",
    "FhirMapping",
    "load_mapping",
    "mapping_from_dict",
    "mapping_option",
]

#: The code systems that are ICD-10 (their codes are taken as they are).
ICD10_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/icd-10",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://hl7.org/fhir/sid/icd-10-cn",
        "urn:oid:2.16.840.1.113883.6.3",
        "urn:oid:2.16.840.1.113883.6.90",
        "urn:oid:2.16.156.10011.2.3.3.11",
    }
)

ChargesAre = Literal["paid", "posted"]
Rounding = Literal["half_up", "refuse"]

#: Encounter.class codes (v3 ActCode, and the v2 patient classes converters send).
_DEFAULT_CLASSES: dict[str, EncounterClass] = {
    "AMB": "outpatient",
    "PRENC": "outpatient",
    "OBSENC": "outpatient",
    "SS": "outpatient",
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "EMER": "emergency",
    "VR": "virtual",
    "HH": "virtual",
}


@attrs.frozen
class ConsentRule:
    """What a Consent of one category or policy says: its purpose and the channels agreed to.

    Attributes:
        purpose: ``care``, ``marketing`` or ``research``.
        channels: the channels agreed to (withdrawing: those withdrawn; none: every one).
    """

    purpose: Purpose
    channels: tuple[Channel, ...] = ()


@attrs.frozen(kw_only=True)
class FhirMapping:
    """How one hospital's FHIR codes become the programme's words.

    Attributes:
        sender: names the facts' ids (``fhir:<sender>:<Type>/<id>:<part>``): one per
            FHIR server, so that two servers' resource ids never meet.
        timezone: the zone of dates sent without a time or offset.
        currency: the currency amounts are in (an amount in another is refused).
        charges: whether a ChargeItem was ``paid`` (it earns points) or only ``posted``.
        rounding: an amount finer than a fen is rounded ``half_up`` (四舍五入), or
            refused (``refuse``).
        primary: the identifier types (``type.coding.code``) or systems that name the
            patient, in order of preference; the first identifier when none is found,
            the resource's id when the Patient sends none.
        systems: identifier systems to the names the identity index keeps them under.
        departments: service type, specialty or encounter type codes to departments.
        encounter_classes: Encounter.class codes to encounter classes.
        charge_categories: product or service codes to service categories.
        lab_tests: Observation codes to the programme's test names.
        procedures: Procedure codes to the programme's procedures (a procedure no table
            names is not used).
        conditions: per code system (its URI), codes to ICD-10 codes.
        icd10_systems: the code systems whose codes are ICD-10 (:data:`ICD10_SYSTEMS`
            and those the hospital adds).
        consents: Consent category or policy codes (or policy URIs) to the purpose and
            channels they agree to (a Consent none names is not used).
    """

    sender: str = "fhir"
    timezone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo("Asia/Shanghai"))
    currency: str = "CNY"
    charges: ChargesAre = "paid"
    rounding: Rounding = "half_up"
    primary: tuple[str, ...] = ("MR",)
    systems: Mapping[str, str] = attrs.field(factory=dict)
    departments: Mapping[str, str] = attrs.field(factory=dict)
    encounter_classes: Mapping[str, EncounterClass] = attrs.field(
        factory=lambda: dict(_DEFAULT_CLASSES)
    )
    charge_categories: Mapping[str, str] = attrs.field(factory=dict)
    lab_tests: Mapping[str, str] = attrs.field(factory=dict)
    procedures: Mapping[str, str] = attrs.field(factory=dict)
    conditions: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    icd10_systems: frozenset[str] = ICD10_SYSTEMS
    consents: Mapping[str, ConsentRule] = attrs.field(factory=dict)

    def department(self, *codes: str) -> str | None:
        """The department the first mapped code names, else the first code, else the default."""
        for code in codes:
            if code in self.departments:
                return self.departments[code]
        for code in codes:
            if code:
                return code
        return self.departments.get("default")

    def category(self, *codes: str) -> str:
        """The service category of a charge's codes (mapped, else the default, else ``other``)."""
        for code in codes:
            if code in self.charge_categories:
                return self.charge_categories[code]
        return self.charge_categories.get("default", "other")

    def icd10(self, system: str, code: str) -> str | None:
        """The ICD-10 code of a condition code: as mapped, else itself in ICD-10, else None."""
        return icd10.mapped(self.conditions, self.icd10_systems, system, code)


def load_mapping(path: Path) -> FhirMapping:
    """Read a mapping file (TOML, UTF-8 with or without a byte-order mark).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not TOML, or a key is unknown or holds a wrong value.
    """
    data = keys.read_toml(path, "the mapping")
    return mapping_from_dict(data)


def mapping_option(options: Mapping[str, str]) -> FhirMapping:
    """The mapping a source's options name (``mapping``: a TOML file), else the default.

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is invalid, naming the key.
    """
    named = options.get("mapping")
    return load_mapping(Path(named)) if named else FhirMapping()


_TABLES = (
    "systems",
    "departments",
    "charge_categories",
    "lab_tests",
    "procedures",
)


def mapping_from_dict(data: Mapping[str, Any]) -> FhirMapping:
    """A mapping from TOML data: the table ``fhir`` (other tables are left for others).

    Raises:
        ConfigError: naming the key that is unknown or holds a wrong value.
    """
    table = data.get("fhir", {})
    keys.table("fhir", table)
    known = {f.name for f in attrs.fields(FhirMapping)} - {"primary"} | {"patient"}
    for key in table:
        if key not in known:
            raise ConfigError(f"fhir.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    return FhirMapping(**_scalars(table), **_tables(table))


def _scalars(table: Mapping[str, Any]) -> dict[str, Any]:
    """The keys that hold one value: the zone, the sender, the currency, the choices."""
    fields: dict[str, Any] = {}
    if "timezone" in table:
        fields["timezone"] = keys.zone("fhir.timezone", table["timezone"])
    for key in ("sender", "currency"):
        if key in table:
            fields[key] = keys.text(f"fhir.{key}", table[key])
    for key, allowed in (("charges", get_args(ChargesAre)), ("rounding", get_args(Rounding))):
        if key in table:
            if table[key] not in allowed:
                raise ConfigError(f"fhir.{key}", f"{table[key]!r} is not one of {allowed}")
            fields[key] = table[key]
    return fields


def _tables(table: Mapping[str, Any]) -> dict[str, Any]:
    """The keys that hold tables and lists."""
    fields: dict[str, Any] = {}
    if "patient" in table:
        fields["primary"] = _patient(table["patient"])
    for key in _TABLES:
        if key in table:
            fields[key] = keys.codes(f"fhir.{key}", table[key])
    if "encounter_classes" in table:
        fields["encounter_classes"] = _classes(table["encounter_classes"])
    if "conditions" in table:
        fields["conditions"] = keys.icd10_tables("fhir.conditions", table["conditions"])
    if "consents" in table:
        fields["consents"] = _consents(table["consents"])
    if "icd10_systems" in table:
        named = table["icd10_systems"]
        if not isinstance(named, list):
            raise ConfigError("fhir.icd10_systems", 'a list of code system URIs, e.g. ["urn:..."]')
        added = {keys.text(f"fhir.icd10_systems[{n}]", v) for n, v in enumerate(named)}
        fields["icd10_systems"] = ICD10_SYSTEMS | added
    return fields


def _patient(value: object) -> tuple[str, ...]:
    keys.table("fhir.patient", value)
    assert isinstance(value, Mapping)
    for key in value:
        if key != "primary":
            raise ConfigError(f"fhir.patient.{key}", "unknown key (known: primary)")
    types = value.get("primary", ["MR"])
    if not isinstance(types, list) or not types:
        raise ConfigError("fhir.patient.primary", 'a list of identifier types, e.g. ["MR"]')
    return tuple(keys.text(f"fhir.patient.primary[{n}]", t) for n, t in enumerate(types))


def _classes(value: object) -> dict[str, EncounterClass]:
    codes = keys.codes("fhir.encounter_classes", value)
    allowed = get_args(EncounterClass)
    for code, named in codes.items():
        if named not in allowed:
            raise ConfigError(
                f"fhir.encounter_classes.{code}", f"{named!r} is not one of {allowed}"
            )
    return {**_DEFAULT_CLASSES, **codes}  # type: ignore[dict-item]


def _consents(value: object) -> dict[str, ConsentRule]:
    keys.table("fhir.consents", value)
    assert isinstance(value, Mapping)
    rules: dict[str, ConsentRule] = {}
    for code, rule in value.items():
        key = f'fhir.consents."{code}"'
        keys.table(key, rule)
        for unknown in set(rule) - {"purpose", "channels"}:
            raise ConfigError(f"{key}.{unknown}", "unknown key (known: channels, purpose)")
        purpose = rule.get("purpose")
        if purpose not in PURPOSES:
            raise ConfigError(f"{key}.purpose", f"{purpose!r} is not one of {PURPOSES}")
        channels = rule.get("channels", [])
        if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
            raise ConfigError(f"{key}.channels", f"a list of channels among {CHANNELS}")
        rules[str(code)] = ConsentRule(purpose, tuple(channels))
    return rules
