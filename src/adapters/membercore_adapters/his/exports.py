"""The mapping of a hospital's export (a CSV or Excel file) to facts, from TOML.

A file is one table of rows, one fact type: the table ``[csv]`` of the mapping file holds
the row mapping (:func:`~membercore_adapters.his.rows.row_mapping`: ``fact``, ``key``,
``patient``, ``columns``...), the hospital's codes (``timezone``, ``departments``,
``charge_categories``, ``lab_tests``, ``diagnoses``, ``icd10_systems``) and how the file
is written: ``delimiter`` (``,``; a tab for tab-separated files), ``encoding`` (``utf-8``
with or without a byte-order mark; ``gb18030`` for GBK exports) and, for an Excel
workbook, ``sheet`` (the first one by default). The same mapping reads a CSV export and
the Excel workbook of the same table to the same facts.
"""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from membercore.errors import ConfigError
from membercore_adapters.his.rows import CODE_KEYS, RowMapping, codes_from, row_mapping

__all__ = [
    "ExportMapping",
    "encoding_named",
    "export_mapping",
    "export_options",
    "load_export_mapping",
    "missing_columns",
]

_FILE_KEYS = frozenset({"delimiter", "encoding", "sheet"})
#: GBK and GB 2312 are read as GB 18030, which holds them both.
_WIDER = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf-8": "utf-8-sig"}


@attrs.frozen(kw_only=True)
class ExportMapping:
    """How an export's rows become facts, and how the file is written.

    Attributes:
        rows: the row mapping.
        delimiter: the field separator of a CSV file.
        encoding: the file's character encoding (a Python codec name).
        sheet: the Excel sheet to read, or None for the first.
    """

    rows: RowMapping
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    sheet: str | None = None


def load_export_mapping(path: Path) -> ExportMapping:
    """Read a mapping file (TOML, UTF-8 with or without a byte-order mark).

    Raises:
        OSError: the file cannot be read.
        ConfigError: the file is not TOML, or a key is unknown, missing or wrong.
    """
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError("$", "not UTF-8 text: save the mapping as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("$", f"not TOML: {error}") from None
    return export_mapping(data)


def export_mapping(data: Mapping[str, Any]) -> ExportMapping:
    """The mapping of TOML data's table ``csv`` (other tables are left for others).

    Raises:
        ConfigError: naming the key that is unknown, missing or holds a wrong value.
    """
    table = data.get("csv")
    if not isinstance(table, Mapping):
        raise ConfigError("csv", "missing: the mapping of the file's rows is the table [csv]")
    rows = row_mapping(
        {k: v for k, v in table.items() if k not in CODE_KEYS | _FILE_KEYS},
        "csv",
        codes_from(table, "csv"),
        ids=f"csv:{table.get('fact', '')}",
    )
    fields: dict[str, Any] = {}
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
    return ExportMapping(rows=rows, **fields)


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


def missing_columns(mapping: RowMapping, header: Sequence[str], file: str) -> None:
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
        mapping = ExportMapping(
            rows=mapping.rows,
            delimiter=mapping.delimiter,
            encoding=encoding,
            sheet=mapping.sheet,
        )
    return mapping
