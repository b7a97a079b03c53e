"""Facts from a file of JSON lines, one tagged message per line.

Each line is a JSON object with a ``type`` tag (``charge_paid``, ``checked_in``...), as
:func:`membercore.message_to_dict` writes it. Every line is passed on as its text: the
engine reads it within its limits and refuses what it cannot take into the dead
letters with the reason, keeping the line as it was received. A line that is not UTF-8
text is passed on as :class:`~membercore.ports.Unreadable`, naming its line number and
the byte, so that it too becomes a dead letter while every other line is taken. Files
exported with a UTF-8 byte-order mark (as some Windows HIS exports are) read the same
as files without.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from membercore.hookspecs import SourceFactory, hookimpl
from membercore.ports import Positioned, Unreadable
from membercore_adapters.his.logs import logged_read
from membercore_adapters.his.marks import head_mark, line_position, resume_line

__all__ = ["JsonLinesSource", "line_of", "membercore_register_his_sources"]

_BOM = b"\xef\xbb\xbf"
# A carriage return that no newline follows ends a line too.
_CR_ALONE = re.compile(rb"(?<=\r)(?!\n)")


class JsonLinesSource:
    """Reads tagged messages from a JSON-lines file, streaming, each with its line number.

    Args:
        path: the file.
        max_line: the longest line taken, in bytes; a longer one is passed on as
            :class:`~membercore.ports.Unreadable` without being read whole.
        after: the lines to pass over (a position the engine committed, ``line 1204``,
            says how many were taken).
    """

    name = "jsonl"

    def __init__(self, path: Path, *, max_line: int = 4_000_000, after: int = 0) -> None:
        self.path = path
        self.max_line = max_line
        self.after = after

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> JsonLinesSource:
        """Build one from options: ``path``, and ``after`` (a committed position) if given."""
        path = Path(options["path"])
        return cls(path, after=resume_line(options.get("after"), path))

    def read(self) -> Iterator[Positioned]:
        """Each non-blank line, positioned by its number: its text, or :class:`Unreadable`.

        Lines end with a newline, a carriage return and a newline, or a carriage return
        alone (as old exports do). A line that is not UTF-8, or longer than
        ``max_line``, is :class:`Unreadable` with the reason.

        What the read did is logged under ``membercore.source.jsonl``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            OSError: the file cannot be read.
        """
        after = f"line {self.after}" if self.after else None
        return logged_read(self.name, self._read(), what=str(self.path), after=after)

    def _read(self) -> Iterator[Positioned]:
        number = 0
        mark = head_mark(self.path)
        with self.path.open("rb") as lines:
            while read := lines.readline(self.max_line + 1):
                if len(read) > self.max_line and not read.endswith(b"\n"):
                    number += 1
                    if number <= self.after:
                        _too_long(read, lines, self.max_line)
                        continue
                    yield Positioned(
                        raw=_too_long(read, lines, self.max_line),
                        position=line_position(number, mark),
                        place=f"line {number}",
                    )
                    continue
                for line in _CR_ALONE.split(read):
                    number += 1
                    if number <= self.after:
                        continue
                    text = _text(
                        line[len(_BOM) :] if number == 1 and line.startswith(_BOM) else line
                    )
                    if isinstance(text, Unreadable) or text.strip():
                        yield Positioned(
                            raw=text, position=line_position(number, mark), place=f"line {number}"
                        )


def line_of(position: str | None) -> int:
    """The line number a position names (``line 1204``), 0 for none."""
    return resume_line(position)


def _text(line: bytes) -> str | Unreadable:
    """A line's text without its end, or why it is not text."""
    try:
        return line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte 0x{line[error.start]:02x} at position {error.start})"
        raw = line.decode("utf-8", "backslashreplace").rstrip("\r\n")
        return Unreadable(raw=raw, reason=reason)


def _too_long(start: bytes, lines: BinaryIO, limit: int) -> Unreadable:
    """A line past ``limit`` bytes, read through to its end in pieces and kept cut."""
    size = len(start)
    while not start.endswith(b"\n") and (piece := lines.readline(limit)):
        size += len(piece)
        start = piece
    head = start[:200].decode("utf-8", "backslashreplace")
    return Unreadable(raw=f"{head}…", reason=f"a line of {size} bytes, longer than {limit}")


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the JSON-lines source."""
    register("jsonl", JsonLinesSource.from_options)
