"""A hospital's CSV export as facts: ``membercore import --source csv FILE --mapping MAP.toml``.

The first row names the columns; every row after it becomes its fact through the
mapping (:mod:`~membercore_adapters.his.exports`), or a dead letter keeping the row as
JSON with the reason, naming its line and column (``line 12: column '金额' (amount):
'12.345' yuan is finer than a fen``). Quoted fields may hold newlines: a row is named by
the line it starts on and positioned at the line it ends on (``line 13``), so that
``ingest --resume`` starts after the last row committed. Files in UTF-8 (with or without
a byte-order mark) or in GB 18030 / GBK (``--encoding gbk``) are read; a line in
another encoding makes its row a dead letter, naming the byte, while every other row is
taken.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import attrs

from membercore.errors import MembercoreError
from membercore.hookspecs import SourceFactory, hookimpl
from membercore.ports import Positioned, Unreadable
from membercore_adapters.his.excel import XlsxSource
from membercore_adapters.his.exports import (
    ExportMapping,
    export_options,
    missing_columns,
    readers,
)
from membercore_adapters.his.logs import logged_read
from membercore_adapters.his.marks import head_mark, line_position, resume_line

__all__ = ["CsvSource", "membercore_register_his_sources"]


class CsvSource:
    """Reads the rows of a CSV export, from a line on.

    Args:
        path: the file.
        mapping: the export's mapping.
        after: the lines to pass over (a position the engine committed, ``line 1204``).
        growing: the HIS is still writing the file: a last row no newline ends yet
            waits for the next read.
    """

    name = "csv"

    def __init__(
        self, path: Path, mapping: ExportMapping, *, after: int = 0, growing: bool = False
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.after = after
        self.growing = growing

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> CsvSource:
        """Build one from options.

        ``path``, ``mapping`` (a TOML file), and when given ``encoding`` (over the
        mapping's), ``after`` (a committed position) and ``growing`` (``true``).

        Raises:
            ConfigError: the mapping is missing or invalid, naming the key.
            OSError: the mapping file cannot be read.
        """
        return cls(
            Path(options["path"]),
            export_options(options),
            after=resume_line(options.get("after"), Path(options["path"])),
            growing=options.get("growing") == "true",
        )

    def read(self) -> Iterator[Positioned]:
        """Every row after ``after``, positioned by its last line, as its inputs.

        What the read did is logged under ``membercore.source.csv``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            OSError: the file cannot be read.
            ConfigError: the header lacks a column the mapping reads, naming its key.
        """
        after = f"line {self.after}" if self.after else None
        columns = self.mapping.read_columns()
        return logged_read(self.name, self._read(), what=str(self.path), after=after, keep=columns)

    def _read(self) -> Iterator[Positioned]:
        lines = _Lines(self.mapping.encoding)
        read = readers(self.mapping)
        mark = head_mark(self.path)
        with self.path.open("rb") as file:
            records = csv.reader(lines.decoded(file), delimiter=self.mapping.delimiter)
            header = [name.strip() for name in next(records, [])]
            end = records.line_num
            problem = lines.problem(1, end)
            if problem is not None:
                raise MembercoreError(f"{self.path.name}: the header's {problem}")
            missing_columns(self.mapping, header, self.path.name)
            for record in records:
                start, end = end + 1, records.line_num
                if end <= self.after or not any(field.strip() for field in record):
                    continue
                if self.growing and lines.unfinished and end == lines.count:
                    return  # the HIS is still writing it: the next read takes it
                where, before = line_position(end, mark), line_position(start - 1, mark)
                problem = lines.problem(start, end) or _shape(record, header)
                if problem is not None:
                    refused = Unreadable(raw=json.dumps(record, ensure_ascii=False), reason=problem)
                    yield Positioned(raw=refused, position=where, place=f"line {end}")
                    continue
                row = dict(zip(header, record, strict=True))
                for item in read(row, where, before):
                    yield attrs.evolve(item, place=f"line {end}")


def _shape(record: list[str], header: list[str]) -> str | None:
    if len(record) != len(header):
        return f"{len(record)} fields where the header names {len(header)}"
    return None


_NAMES = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GB 18030"}


class _Lines:
    """A file's lines decoded one by one, noting those that are not in the encoding."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.count = 0
        self.unfinished = False
        self._bad: dict[int, str] = {}

    def decoded(self, file: BinaryIO) -> Iterator[str]:
        """Each line as text (bytes not in the encoding escaped, and noted)."""
        while line := file.readline():
            self.count += 1
            self.unfinished = not line.endswith(b"\n")
            if self.count == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            try:
                yield line.decode(self.encoding)
            except UnicodeDecodeError as error:
                byte = line[error.start]
                named = _NAMES.get(self.encoding, self.encoding)
                self._bad[self.count] = (
                    f"line {self.count} is not {named} text (byte 0x{byte:02x} at "
                    f"position {error.start}); --encoding names the file's encoding"
                )
                yield line.decode(self.encoding, "backslashreplace")

    def problem(self, start: int, end: int) -> str | None:
        """Why lines ``start`` to ``end`` cannot be read, if they cannot."""
        return next((self._bad[n] for n in range(start, end + 1) if n in self._bad), None)


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the CSV source, ``csv``, and the Excel one, ``xlsx``."""
    register("csv", CsvSource.from_options)
    register("xlsx", XlsxSource.from_options)
