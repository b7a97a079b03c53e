"""A hospital's Excel export as facts: ``membercore import --source xlsx FILE --mapping MAP.toml``.

The same mapping as a CSV export's (:mod:`~membercore_adapters.his.exports`, the table
``[csv]``; ``sheet`` names the sheet, the first by default). The sheet's first row that
is not empty names the columns; each row after it is named and positioned by its row
number as Excel shows it (``row 12``). Dates and times are the workbook's (naive: in the
mapping's time zone), numbers are read by their shortest decimal form (``12.3``).
Workbooks are read with openpyxl in read-only mode (row by row, never the whole workbook
in memory): install it with ``pip install 'membercore[excel]'``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from membercore.errors import MembercoreError
from membercore.ports import Positioned
from membercore_adapters.his.exports import (
    ExportMapping,
    export_options,
    missing_columns,
    readers,
)
from membercore_adapters.his.logs import logged_read
from membercore_adapters.his.marks import head_mark, resume_row, row_position

__all__ = ["XlsxSource", "row_of"]


class XlsxSource:
    """Reads the rows of a sheet of an Excel workbook (``.xlsx``), from a row on.

    Args:
        path: the workbook.
        mapping: the export's mapping.
        after: the rows to pass over (a position the engine committed, ``row 1204``).
    """

    name = "xlsx"

    def __init__(self, path: Path, mapping: ExportMapping, *, after: int = 0) -> None:
        self.path = path
        self.mapping = mapping
        self.after = after

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> XlsxSource:
        """Build one from options: ``path``, ``mapping`` (a TOML file), ``after`` if given.

        Raises:
            ConfigError: the mapping is missing or invalid, naming the key.
            OSError: the mapping file cannot be read.
        """
        return cls(
            Path(options["path"]),
            export_options(options),
            after=resume_row(options.get("after"), Path(options["path"])),
        )

    def read(self) -> Iterator[Positioned]:
        """Every row after ``after``, positioned by its number, as its inputs.

        What the read did is logged under ``membercore.source.xlsx``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            MembercoreError: openpyxl is not installed, the file is no workbook, or it
                has no sheet of the mapping's name.
            ConfigError: the header lacks a column the mapping reads, naming its key.
            OSError: the file cannot be read.
        """
        after = f"row {self.after}" if self.after else None
        columns = self.mapping.read_columns()
        return logged_read(self.name, self._read(), what=str(self.path), after=after, keep=columns)

    def _read(self) -> Iterator[Positioned]:
        mark = head_mark(self.path, whole=True)
        workbook = _open(self.path)
        try:
            sheet = self._sheet(workbook)
            read = readers(self.mapping)
            header: list[str] | None = None
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                if not any(cell is not None and str(cell).strip() for cell in cells):
                    continue
                if header is None:
                    header = [str(cell).strip() if cell is not None else "" for cell in cells]
                    missing_columns(self.mapping, header, self.path.name)
                    continue
                if number <= self.after:
                    continue
                row = dict(zip(header, cells, strict=False))
                where, before = row_position(number, mark), row_position(number - 1, mark)
                for item in read(row, where, before):
                    yield attrs.evolve(item, place=f"row {number}")
        finally:
            workbook.close()

    def _sheet(self, workbook: Any) -> Any:
        named = self.mapping.sheet
        if named is None:
            return workbook.worksheets[0]
        if named not in workbook.sheetnames:
            sheets = ", ".join(workbook.sheetnames)
            raise MembercoreError(f"{self.path.name} has no sheet {named!r} (it has: {sheets})")
        return workbook[named]


def row_of(position: str | None) -> int:
    """The row number a position names (``row 1204``), 0 for none."""
    return resume_row(position)


def _open(path: Path) -> Any:
    try:
        import openpyxl  # noqa: PLC0415 - optional: membercore[excel]
    except ImportError:
        raise MembercoreError(
            "reading Excel workbooks needs openpyxl: pip install 'membercore[excel]'"
        ) from None
    from zipfile import BadZipFile  # noqa: PLC0415

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError) as error:
        raise MembercoreError(f"{path.name} is not an Excel workbook (.xlsx): {error}") from None
