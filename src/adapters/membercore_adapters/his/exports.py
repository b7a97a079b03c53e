"""The mapping of a hospital's export (a CSV or Excel file) to facts, from TOML.

A file is one table of rows, one fact type: the table ``[csv]`` of the mapping file holds
the row mapping (:func:`~membercore_adapters.his.rows.row_mapping`: ``fact``, ``key``,
``patient``, ``columns``...), the hospital's codes (``timezone``, ``departments``,
``charge_categories``, ``lab_tests``, ``diagnoses``, ``icd10_systems``) and how the file
is written: ``delimiter`` (``,``; a tab for tab-separated files), ``encoding`` (``utf-8``
with or without a byte-order mark; ``gb18030`` for GBK exports) and, for an Excel
workbook, ``sheet`` (the first one by default). The same mapping reads a CSV export and
the Excel workbook of the same table to the same facts.

A file whose rows are of several kinds (an export of registrations and visits, one row
each) names the column that says which (``type_column``) and a row table per kind
(``[csv.tables.<kind>]``, each a row mapping): a row of a kind no table names is refused.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from membercore.errors import ConfigError
from membercore.ports import Positioned, Unreadable
from membercore.serialization import mapping_files as keys
from membercore_adapters.his.rows import (
    CODE_KEYS,
    ROW_KEYS,
    Codes,
    RowMapping,
    RowReader,
    codes_from,
    row_mapping,
    row_text,
)

__all__ = [
    "ExportMapping",
    "encoding_named",
    "export_mapping",
    "export_options",
    "load_export_mapping",
    "missing_columns",
    "readers",
]

_FILE_KEYS = frozenset({"delimiter", "encoding", "sheet", "type_column", "tables"})
#: GBK and GB 2312 are read as GB 18030, which holds them both.
_WIDER = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf-8": "utf-8-sig"}


@attrs.frozen(kw_only=True)
class ExportMapping:
    """How an export's rows become facts, and how the file is written.

    Attributes:
        tables: the row mappings, by the kind of row they read ("" when the file has
            one kind).
        type_column: the column naming each row's kind, or None for one kind.
        delimiter: the field separator of a CSV file.
        encoding: the file's character encoding (a Python codec name).
        sheet: the Excel sheet to read, or None for the first.
    """

    tables: Mapping[str, RowMapping]
    type_column: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    sheet: str | None = None

    def read_columns(self) -> tuple[str, ...]:
        """Every column a row of any kind is read from."""
        named = [self.type_column] if self.type_column else []
        for rows in self.tables.values():
            named += rows.read_columns()
        return tuple(dict.fromkeys(named))

    def named_at(self, column: str) -> str:
        """The first key of the mapping that names ``column``."""
        if column == self.type_column:
            return "csv.type_column"
        reading = [rows for rows in self.tables.values() if column in rows.read_columns()]
        return reading[0].named_at(column) if reading else "csv"


def load_export_mapping(path: Path) -> ExportMapping:
    """Read a mapping file (TOML, UTF-8 with or without a byte-order mark).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not TOML, or a key is unknown, missing or wrong.
    """
    data = keys.read_toml(path, "the mapping")
    return export_mapping(data)


def export_mapping(data: Mapping[str, Any]) -> ExportMapping:
    """The mapping of TOML data's table ``csv`` (other tables are left for others).

    Raises:
        ConfigError: naming the key that is unknown, missing or holds a wrong value.
    """
    table = data.get("csv")
    if not isinstance(table, Mapping):
        found = ", ".join(f"[{name}]" for name in data) or "nothing"
        raise ConfigError(
            "csv", f"missing: the mapping of the file's rows is the table [csv] (found {found})"
        )
    keys.known("csv", table, ROW_KEYS | CODE_KEYS | _FILE_KEYS)
    codes = codes_from(table, "csv")
    rows = {k: v for k, v in table.items() if k not in CODE_KEYS | _FILE_KEYS}
    fields: dict[str, Any] = {}
    if "type_column" in table:
        fields["type_column"] = _column(table["type_column"])
        fields["tables"] = _tables(table.get("tables"), rows, codes)
    else:
        if "tables" in table:
            raise ConfigError("csv.tables", "row tables by kind need type_column")
        fields["tables"] = {"": row_mapping(rows, "csv", codes, ids=f"csv:{rows.get('fact', '')}")}
    if "delimiter" in table:
        delimiter = table["delimiter"]
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigError("csv.delimiter", f"one character, not {delimiter!r}")
        fields["delimiter"] = delimiter
    if "encoding" in table:
        fields["encoding"] = encoding_named(table["encoding"], "csv.encoding")
    if "sheet" in table:
        sheet = table["sheet"]
        if not isinstance(sheet, str) or not sheet:
            raise ConfigError("csv.sheet", f"a sheet's name, not {sheet!r}")
        fields["sheet"] = sheet
    return ExportMapping(**fields)


def _column(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("csv.type_column", f"a column's name, not {value!r}")
    return value


def _tables(value: object, rest: Mapping[str, Any], codes: Codes) -> dict[str, RowMapping]:
    if rest:
        key = sorted(rest)[0]
        raise ConfigError(f"csv.{key}", "with type_column, each kind's table says it")
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("csv.tables", "a table per kind of row: [csv.tables.<kind>]")
    return {
        str(kind): row_mapping(table, f"csv.tables.{kind}", codes, ids=f"csv:{kind}")
        for kind, table in value.items()
    }


def encoding_named(name: object, key: str) -> str:
    """The codec that reads an encoding named ``name`` (``gbk`` is read as GB 18030).

    Raises:
        ConfigError: no codec has that name.
    """
    if not isinstance(name, str):
        raise ConfigError(key, f"an encoding's name, not {name!r}")
    try:
        found = codecs.lookup(name).name
    except LookupError:
        raise ConfigError(key, f"no character encoding is named {name!r}") from None
    return _WIDER.get(found, found)


def missing_columns(mapping: ExportMapping, header: Sequence[str], file: str) -> None:
    """Check that a file's header has every column the mapping reads.

    Raises:
        ConfigError: naming the key of the first column the header lacks.
    """
    present = set(header)
    for column in mapping.read_columns():
        if column not in present:
            raise ConfigError(
                mapping.named_at(column),
                f"{file} has no column {column!r} (its columns: {', '.join(header)})",
            )


def readers(mapping: ExportMapping) -> Callable[[Mapping[str, object], str, str], list[Positioned]]:
    """What reads each row: ``read(row, where, before)`` gives its positioned inputs.

    A row of a kind no table names is refused naming its kind.
    """
    tables = {kind: RowReader(rows) for kind, rows in mapping.tables.items()}
    column = mapping.type_column
    known = ", ".join(tables)

    def read(row: Mapping[str, object], where: str, before: str) -> list[Positioned]:
        kind = "" if column is None else str(row.get(column) or "").strip()
        found = tables.get(kind)
        if found is None:
            why = f"column {column!r} (the kind of row): {kind!r} is none of {known}"
            return [Positioned(raw=Unreadable(raw=row_text(row), reason=why), position=where)]
        return found.inputs(row, where=where, before=before)

    return read


def export_options(options: Mapping[str, str]) -> ExportMapping:
    """The export mapping a source's options name, its encoding as ``encoding`` says.

    Raises:
        ConfigError: no mapping is named, or it is invalid, naming the key.
        OSError: the mapping file cannot be read.
    """
    named = options.get("mapping")
    if not named:
        raise ConfigError("csv", "a file of rows needs its mapping: --mapping MAP.toml")
    mapping = load_export_mapping(Path(named))
    if options.get("encoding"):
        encoding = encoding_named(options["encoding"], "--encoding")
        mapping = attrs.evolve(mapping, encoding=encoding)
    return mapping
