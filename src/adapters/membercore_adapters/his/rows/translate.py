"""A row of named columns as the facts it tells of, or as a refusal naming the column.

:class:`RowReader` turns each row a source reads into positioned inputs: the fact the
mapping makes of it — preceded, when the row names its patient by an identifier (a card
number), by a registration listing that identifier, so that the identifier index routes
the fact to the member it names — or, when a cell cannot be read, the row as JSON text
in :class:`~membercore.ports.Unreadable` with the reason, which the engine keeps as a
dead letter. Fact ids are ``<ids>:<key columns>`` (``@<version columns>`` when the
mapping names them): the same row read again is the same fact, taken once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from membercore.errors import InvalidFactError
from membercore.facts import (
    Admitted,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    ChargeLine,
    ChargePaid,
    ChargePosted,
    Coding,
    DiagnosisRecorded,
    Discharged,
    Fact,
    Identifier,
    LabResultRecorded,
    PatientRegistered,
    RefundIssued,
    Transferred,
    VisitCompleted,
)
from membercore.facts.contacts import written_email, written_phone
from membercore.ports import Positioned, Unreadable
from membercore_adapters.his.rows.fields import FACTS
from membercore_adapters.his.rows.mapping import RowMapping
from membercore_adapters.his.rows.values import (
    CellError,
    as_count,
    as_date,
    as_fen,
    as_flag,
    as_instant,
    as_price_fen,
    as_text,
)

__all__ = ["RowError", "RowReader", "row_text", "translate"]

Row = Mapping[str, object]
Values = dict[str, Any]

#: The fact classes made of their fields as they are, by tag.
_CLASSES: dict[str, type[Fact]] = {
    cls.TYPE: cls
    for cls in (
        Admitted,
        AppointmentBooked,
        AppointmentCancelled,
        AppointmentCompleted,
        AppointmentMissed,
        AppointmentRescheduled,
        Discharged,
        PatientRegistered,
        RefundIssued,
        Transferred,
        VisitCompleted,
    )
}
#: A fact's attribute to the mapping's field it is read from, where they differ.
_FIELD_OF = {
    "amount_fen": "amount",
    "insurance_fen": "insurance",
    "unit_price_fen": "unit_price",
    "service_code": "code",
    "icd10": "code",
    "test": "code",
    "coding": "code",
}


class RowError(ValueError):
    """A row that cannot be translated: the column (or field) and what is wrong."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class RowReader:
    """Translates the rows of one table into positioned inputs.

    A row naming its patient by an identifier gives a registration before its fact,
    every time (its id is the row's own): a read resumed anywhere gives the same facts
    as one read straight through.

    Args:
        mapping: the table's mapping.
    """

    def __init__(self, mapping: RowMapping) -> None:
        self.mapping = mapping

    def inputs(self, row: Row, *, where: str, before: str) -> list[Positioned]:
        """What the engine is given for ``row``.

        Args:
            row: the row, by column name.
            where: its position (a reader resuming there reads what follows it).
            before: the position before it, for the inputs but the last (a reader
                resuming there reads the row again).
        """
        try:
            facts = translate(row, self.mapping)
        except RowError as error:
            refused = Unreadable(raw=row_text(row), reason=error.problem)
            return [Positioned(raw=refused, position=where)]
        return [
            Positioned(raw=fact, position=where if n == len(facts) - 1 else before)
            for n, fact in enumerate(facts)
        ]


def translate(row: Row, mapping: RowMapping) -> list[Fact]:
    """The fact ``row`` tells of; first a registration when it names an identifier.

    Raises:
        RowError: a cell cannot be read, or the fact cannot be made of the row, naming
            the column.
    """
    patient = _cell(row, mapping.patient.column, "the patient", as_text)
    if patient is None:
        raise RowError(f"column {mapping.patient.column!r} (the patient) is empty")
    fact_id = _fact_id(row, mapping)
    values = _values(row, mapping)
    if mapping.identifiers:
        values["identifiers"] = _listed(row, mapping)
    at = values["occurred_at"]
    system = mapping.patient.system
    if system is None or mapping.fact == PatientRegistered.TYPE:
        return [_made(mapping, fact_id=fact_id, patient_id=patient, occurred_at=at, values=values)]
    # Named by an identifier: a name of its own (never a patient id), which the index
    # routes to the patient the identifier belongs to.
    named = Identifier(system=system, value=patient)
    fact = _made(mapping, fact_id=fact_id, patient_id=named.name, occurred_at=at, values=values)
    registration = PatientRegistered(
        fact_id=f"{fact_id}:patient",
        patient_id=named.name,
        occurred_at=at,
        identifiers=(named,),
        known_only=True,
    )
    return [registration, fact]


def _listed(row: Row, mapping: RowMapping) -> tuple[Identifier, ...]:
    """The identifiers a registration's row lists (its empty cells list none)."""
    listed = []
    for column, system in mapping.identifiers.items():
        value = _cell(row, column, f"an identifier of {system}", as_text)
        if value is not None:
            listed.append(Identifier(system=system, value=value))
    return tuple(listed)


def row_text(row: Row) -> str:
    """The row as JSON text, its values as written: what a dead letter keeps."""
    return json.dumps({name: _plain(value) for name, value in row.items()}, ensure_ascii=False)


def _plain(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _fact_id(row: Row, mapping: RowMapping) -> str:
    key = "/".join(_key_part(row, column, "the key") for column in mapping.key_columns)
    fact_id = f"{mapping.ids}:{key}"
    if mapping.version:
        version = "/".join(_key_part(row, column, "the version") for column in mapping.version)
        fact_id = f"{fact_id}@{version}"
    return fact_id


def _key_part(row: Row, column: str, what: str) -> str:
    text: str | None = _cell(row, column, what, as_text)
    if text is None:
        raise RowError(f"column {column!r} ({what}) is empty")
    return text


def _cell(row: Row, column: str, what: str, read: Callable[[object], Any]) -> Any:
    try:
        return read(row.get(column))
    except CellError as error:
        raise RowError(f"column {column!r} ({what}): {error.problem}") from None


def _values(row: Row, mapping: RowMapping) -> Values:
    """Each field's value, read by its kind: from its columns, or its constant."""
    kinds = FACTS[mapping.fact].fields
    values: Values = {}
    for field, kind in kinds.items():
        if field in mapping.columns:
            columns = mapping.columns[field]
            cells = [row.get(column) for column in columns]
            raw: object = cells[0] if len(cells) == 1 else _joined(cells)
            where = _where(columns, field)
        elif field in mapping.constants:
            raw, where = mapping.constants[field], f"the constant {field}"
        else:
            continue
        try:
            values[field] = _read(mapping, field, kind, raw)
        except CellError as error:
            raise RowError(f"{where}: {error.problem}") from None
        if values[field] is None and field in FACTS[mapping.fact].required:
            raise RowError(f"{where} is empty")
    return values


def _where(columns: tuple[str, ...], field: str) -> str:
    if len(columns) == 1:
        return f"column {columns[0]!r} ({field})"
    return f"columns {' + '.join(repr(column) for column in columns)} ({field})"


def _joined(cells: list[object]) -> str | None:
    parts = [as_text(cell) for cell in cells]
    return "-".join(part for part in parts if part) or None


def _read(mapping: RowMapping, field: str, kind: str, raw: object) -> Any:
    table = mapping.values.get(field)
    if table is not None and not isinstance(raw, bool):
        text = as_text(raw)
        raw = table.get(text, table.get("default", text)) if text else table.get("default")
    if kind == "department":
        return mapping.codes.department(as_text(raw))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    readers: dict[str, Callable[[object], Any]] = {
        "text": as_text,
        "date": as_date,
        "yuan": as_fen,
        "price": as_price_fen,
        "count": as_count,
        "flag": as_flag,
        "phone": lambda value: written_phone(as_text(value)),
        "email": lambda value: written_email(as_text(value)),
        "instant": lambda value: as_instant(value, mapping.codes.timezone),
    }
    return readers[kind](raw)


def _made(mapping: RowMapping, *, values: Values, **common: Any) -> Fact:
    """The fact of ``values``; a value the fact refuses is refused naming its column."""
    make = _MAKERS.get(mapping.fact, _plain_fact)
    try:
        return make(mapping, values, common)
    except InvalidFactError as error:
        field = _FIELD_OF.get(error.field, error.field)
        columns = mapping.columns.get(field)
        where = _where(columns, field) if columns else field
        raise RowError(f"{where}: {error.problem} ({error.value!r})") from None


def _plain_fact(mapping: RowMapping, values: Values, common: dict[str, Any]) -> Fact:
    fields = {k: v for k, v in values.items() if k != "occurred_at" and v is not None}
    return _CLASSES[mapping.fact](**common, **fields)


def _charge(mapping: RowMapping, values: Values, common: dict[str, Any]) -> Fact:
    code = values.get("code")
    line = ChargeLine(
        department=values.get("department") or "outpatient",
        category=values.get("category") or mapping.codes.category(code),
        amount_fen=values["amount"],
        insurance_fen=values.get("insurance") or 0,
        service_code=code,
        quantity=values.get("quantity"),
        unit_price_fen=values.get("unit_price"),
    )
    charged = ChargePaid if mapping.fact == "charge_paid" else ChargePosted
    return charged(**common, charge_id=values["charge_id"], lines=(line,))


def _refund(mapping: RowMapping, values: Values, common: dict[str, Any]) -> Fact:
    return RefundIssued(**common, charge_id=values["charge_id"], amount_fen=values["amount"])


def _diagnosis(mapping: RowMapping, values: Values, common: dict[str, Any]) -> Fact:
    code, system = values["code"], values.get("system") or "local"
    return DiagnosisRecorded(
        **common,
        icd10=mapping.codes.icd10(system, code),
        visit_id=values["visit_id"],
        coding=Coding(system=system, code=code, display=values.get("display")),
        status=values.get("status") or "active",
    )


def _lab(mapping: RowMapping, values: Values, common: dict[str, Any]) -> Fact:
    code, system = values["code"], values.get("system") or "local"
    return LabResultRecorded(
        **common,
        test=mapping.codes.lab_tests.get(code, code),
        value=values.get("value"),
        abnormal=bool(values.get("abnormal")),
        coding=Coding(system=system, code=code, display=values.get("display")),
        unit=values.get("unit"),
        reference_range=values.get("reference_range"),
        status=values.get("status") or "final",
        order_id=values.get("order_id"),
    )


def _registration(mapping: RowMapping, values: Values, common: dict[str, Any]) -> Fact:
    listed = list(values.pop("identifiers", ()))
    fact = _plain_fact(mapping, values, common)
    assert isinstance(fact, PatientRegistered)
    if mapping.patient.system is not None:
        listed.insert(0, Identifier(system=mapping.patient.system, value=fact.patient_id))
    return attrs.evolve(fact, identifiers=tuple(dict.fromkeys(listed)))


_MAKERS: dict[str, Callable[[RowMapping, Values, dict[str, Any]], Fact]] = {
    "charge_paid": _charge,
    "charge_posted": _charge,
    "refund_issued": _refund,
    "diagnosis_recorded": _diagnosis,
    "lab_result_recorded": _lab,
    "patient_registered": _registration,
}
