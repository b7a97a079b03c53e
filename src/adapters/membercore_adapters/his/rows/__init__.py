"""Rows of named columns as facts: the mapping CSV/Excel files and database views share.

A hospital's exports and its HIS's database views hand over tables: a row per charge
line, per diagnosis, per visit. A :class:`RowMapping` (read from TOML by
:func:`row_mapping`, with the :class:`Codes` every table shares from :func:`codes_from`)
says which fact type a table's rows are and which column holds each field;
:class:`RowReader` turns each row into the inputs the engine takes, or into a refusal
naming the column, kept as a dead letter with the row as JSON.
"""

from __future__ import annotations

from membercore_adapters.his.rows.fields import FACTS, FactFields
from membercore_adapters.his.rows.mapping import (
    CODE_KEYS,
    ROW_KEYS,
    Codes,
    Patient,
    RowMapping,
    codes_from,
    row_mapping,
)
from membercore_adapters.his.rows.translate import RowError, RowReader, row_text, translate

__all__ = [
    "CODE_KEYS",
    "FACTS",
    "ROW_KEYS",
    "Codes",
    "FactFields",
    "Patient",
    "RowError",
    "RowMapping",
    "RowReader",
    "codes_from",
    "row_mapping",
    "row_text",
    "translate",
]
