"""The mapping of a table of rows to facts, read strictly from TOML.

A table (a CSV export, a database view) becomes one fact type: each field of the fact
is read from a column (or several, joined by ``-``), or is a constant; a value table may
turn the HIS's codes into the programme's words first. The codes every table shares —
departments, charge categories, laboratory tests, diagnosis code tables to ICD-10, the
hospital's time zone — are :class:`Codes`, read from the tables' parent. Every problem
is a :class:`~membercore.errors.ConfigError` naming the key (``csv.columns.amount``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from membercore.errors import ConfigError
from membercore.facts import icd10
from membercore.facts.icd10 import ICD10_SYSTEMS
from membercore.serialization import mapping_files as keys
from membercore_adapters.his.rows.fields import FACTS

__all__ = ["Codes", "Patient", "RowMapping", "codes_from", "row_mapping"]

#: The keys of a row table; a source may add its own (``view``, ``watermark``...).
ROW_KEYS = frozenset(
    {"fact", "key", "version", "ids", "patient", "columns", "constants", "values", "identifiers"}
)
#: The keys of the codes the tables share.
CODE_KEYS = frozenset(
    {"timezone", "departments", "charge_categories", "lab_tests", "diagnoses", "icd10_systems"}
)
#: GB/T 2261.1 and what exports write for the sexes.
_SEXES = {"男": "male", "女": "female", "1": "male", "2": "female", "M": "male", "F": "female"}


@attrs.frozen(kw_only=True)
class Codes:
    """The hospital's codes, shared by every table of a mapping.

    Attributes:
        timezone: the zone of times written without a UTC offset.
        departments: department codes to the programme's departments (``default``
            when the cell is empty); a code not listed is kept as written.
        charge_categories: charge (item) codes to service categories; ``default``,
            else ``other``.
        lab_tests: laboratory test codes to the programme's tests (``hba1c``).
        diagnoses: per code system, codes to ICD-10.
        icd10_systems: the names of ICD-10 as a code system, whose codes are taken as
            they are.
    """

    timezone: ZoneInfo = attrs.field(factory=lambda: ZoneInfo("Asia/Shanghai"))
    departments: Mapping[str, str] = attrs.field(factory=dict)
    charge_categories: Mapping[str, str] = attrs.field(factory=dict)
    lab_tests: Mapping[str, str] = attrs.field(factory=dict)
    diagnoses: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    icd10_systems: frozenset[str] = ICD10_SYSTEMS

    def department(self, code: str | None) -> str | None:
        """The department a code names (mapped, else as written), or the default."""
        if code:
            return self.departments.get(code, code)
        return self.departments.get("default")

    def category(self, code: str | None) -> str:
        """The category of a charge code (mapped, else the default, else ``other``)."""
        found = self.charge_categories.get(code) if code else None
        return found or self.charge_categories.get("default", "other")

    def icd10(self, system: str, code: str) -> str | None:
        """A diagnosis code's ICD-10 code: as mapped, else itself in ICD-10, else None."""
        # The table under the system as sent; ICD-10 whatever case it is named in.
        return icd10.mapped(self.diagnoses, (), system, code) or icd10.mapped(
            {}, self.icd10_systems, system.upper(), code
        )


@attrs.frozen(kw_only=True)
class Patient:
    """Which column names the row's patient, and how.

    Attributes:
        column: the column.
        system: None when it holds the patient id; else the identifier system it holds
            (``HZ01^CARD`` for a card number), so that the identifier index finds the
            member it names.
    """

    column: str
    system: str | None = None


@attrs.frozen(kw_only=True)
class RowMapping:
    """How one table's rows become facts of one type.

    Attributes:
        key: the mapping's key (``csv``, ``dbview.views.charges``), named in errors.
        fact: the fact type (``charge_paid``).
        ids: the fact ids' prefix: a fact's id is ``<ids>:<key columns>``.
        key_columns: the columns that name a row, stable across reads.
        version: columns whose values join the fact id (``@<version>``): a row changed
            later is then a fact of its own.
        patient: the column naming the patient.
        columns: each field and the columns it is read from.
        constants: each field given one value for every row.
        values: per field, the HIS's codes to the values the field takes.
        identifiers: for registrations, columns holding identifiers, with their system.
        codes: the codes every table shares.
    """

    key: str
    fact: str
    ids: str
    key_columns: tuple[str, ...]
    version: tuple[str, ...] = ()
    patient: Patient
    columns: Mapping[str, tuple[str, ...]]
    constants: Mapping[str, object] = attrs.field(factory=dict)
    values: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    identifiers: Mapping[str, str] = attrs.field(factory=dict)
    codes: Codes = attrs.field(factory=Codes)

    def named_at(self, column: str) -> str:
        """The first key of the mapping that names ``column`` (``csv.columns.amount``)."""
        if column in self.key_columns:
            return f"{self.key}.key"
        if column in self.version:
            return f"{self.key}.version"
        if column == self.patient.column:
            return f"{self.key}.patient"
        for field, columns in self.columns.items():
            if column in columns:
                return f"{self.key}.columns.{field}"
        return f"{self.key}.identifiers.{column}"

    def read_columns(self) -> tuple[str, ...]:
        """Every column a row is read from, once each, in the order the mapping names them."""
        named = [*self.key_columns, *self.version, self.patient.column]
        for columns in self.columns.values():
            named += columns
        named += self.identifiers
        return tuple(dict.fromkeys(named))


def codes_from(table: Mapping[str, Any], key: str) -> Codes:
    """The shared codes of ``table`` (the keys of :data:`CODE_KEYS`; others are left).

    Raises:
        ConfigError: naming the key that holds a wrong value.
    """
    fields: dict[str, Any] = {}
    if "timezone" in table:
        fields["timezone"] = keys.zone(f"{key}.timezone", table["timezone"])
    for name in ("departments", "charge_categories", "lab_tests"):
        if name in table:
            fields[name] = keys.codes(f"{key}.{name}", table[name])
    if "diagnoses" in table:
        fields["diagnoses"] = keys.icd10_tables(f"{key}.diagnoses", table["diagnoses"])
    if "icd10_systems" in table:
        named = keys.texts(f"{key}.icd10_systems", table["icd10_systems"])
        fields["icd10_systems"] = ICD10_SYSTEMS | {name.upper() for name in named}
    return Codes(**fields)


def row_mapping(
    table: object, key: str, codes: Codes, *, ids: str, extra: frozenset[str] = frozenset()
) -> RowMapping:
    """A table's mapping of rows to facts.

    Args:
        table: the TOML table.
        key: its dotted key, for errors (``dbview.views.charges``).
        codes: the shared codes.
        ids: the fact ids' prefix when the table names none (``ids``).
        extra: the keys the source reads itself (``view``, ``watermark``...).

    Raises:
        ConfigError: naming the key that is unknown, missing or holds a wrong value.
    """
    table = keys.table(key, table)
    keys.known(key, table, ROW_KEYS | extra)
    fact = _required(key, table, "fact")
    if fact not in FACTS:
        raise ConfigError(f"{key}.fact", f"{fact!r} is not one of {', '.join(FACTS)}")
    columns = _columns(f"{key}.columns", table.get("columns", {}), fact)
    constants = _constants(f"{key}.constants", table.get("constants", {}), fact, columns)
    missing = set(FACTS[fact].required - set(columns) - set(constants))
    if "occurred_at" not in columns:
        missing.add("occurred_at")
    if missing:
        field = sorted(missing)[0]
        raise ConfigError(f"{key}.columns.{field}", f"a {fact} needs a column for {field}")
    key_columns = _names(f"{key}.key", _required(key, table, "key", object))
    return RowMapping(
        key=key,
        fact=fact,
        ids=keys.text(f"{key}.ids", table["ids"]) if "ids" in table else ids,
        key_columns=key_columns,
        version=_names(f"{key}.version", table["version"]) if "version" in table else (),
        patient=_patient(f"{key}.patient", _required(key, table, "patient", object)),
        columns=columns,
        constants=constants,
        values=_values(f"{key}.values", table.get("values", {}), fact),
        identifiers=_identifiers(key, table.get("identifiers", {}), fact),
        codes=codes,
    )


def _columns(key: str, value: object, fact: str) -> dict[str, tuple[str, ...]]:
    table = keys.table(key, value)
    keys.known(key, table, frozenset(FACTS[fact].fields))
    return {field: _names(f"{key}.{field}", named) for field, named in table.items()}


def _constants(
    key: str, value: object, fact: str, columns: Mapping[str, object]
) -> dict[str, object]:
    table = keys.table(key, value)
    keys.known(key, table, frozenset(FACTS[fact].fields) - {"occurred_at"})
    for field, constant in table.items():
        if field in columns:
            raise ConfigError(f"{key}.{field}", "a field is a column or a constant, not both")
        if not isinstance(constant, str | bool | int) or constant == "":
            raise ConfigError(f"{key}.{field}", f"text, a number or true/false, not {constant!r}")
    return dict(table)


def _values(key: str, value: object, fact: str) -> dict[str, dict[str, str]]:
    table = keys.table(key, value)
    keys.known(key, table, frozenset(FACTS[fact].fields) - {"occurred_at"})
    tables = {field: keys.codes(f"{key}.{field}", codes) for field, codes in table.items()}
    if "sex" in FACTS[fact].fields:
        tables["sex"] = {**_SEXES, **tables.get("sex", {})}
    return tables


def _identifiers(key: str, value: object, fact: str) -> dict[str, str]:
    table = keys.codes(f"{key}.identifiers", value)
    if table and fact != "patient_registered":
        raise ConfigError(f"{key}.identifiers", "only a patient_registered table lists them")
    return table


def _patient(key: str, value: object) -> Patient:
    if isinstance(value, str):
        return Patient(column=keys.text(key, value))
    table = keys.table(key, value)
    keys.known(key, table, frozenset({"id", "identifier", "system"}))
    if ("id" in table) == ("identifier" in table):
        raise ConfigError(key, 'either id = "<column>" or identifier = "<column>" with a system')
    if "id" in table:
        if "system" in table:
            raise ConfigError(f"{key}.system", "a system goes with an identifier, not an id")
        return Patient(column=keys.text(f"{key}.id", table["id"]))
    system = keys.text(f"{key}.system", _required(key, table, "system"))
    return Patient(column=keys.text(f"{key}.identifier", table["identifier"]), system=system)


def _required(key: str, table: Mapping[str, Any], name: str, kind: type = str) -> Any:
    if name not in table:
        raise ConfigError(f"{key}.{name}", "missing")
    value = table[name]
    if kind is str:
        return keys.text(f"{key}.{name}", value)
    return value


def _names(key: str, value: object) -> tuple[str, ...]:
    """One column's name, or a list of them."""
    named: Sequence[object] = [value] if isinstance(value, str) else keys.texts(key, value)
    return tuple(keys.text(key, name) for name in named)
