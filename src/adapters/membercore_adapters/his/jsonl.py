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

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from membercore.hookspecs import SourceFactory, hookimpl
from membercore.ports import Unreadable

__all__ = ["JsonLinesSource", "membercore_register_his_sources"]

_BOM = b"\xef\xbb\xbf"


class JsonLinesSource:
    """Reads tagged messages from a JSON-lines file, streaming.

    Args:
        path: the file.
    """

    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> JsonLinesSource:
        """Build one from options: ``path``."""
        return cls(Path(options["path"]))

    def read(self) -> Iterator[str | Unreadable]:
        """Each non-blank line as its text, or as :class:`Unreadable` when it is not UTF-8."""
        with self.path.open("rb") as lines:
            for number, read in enumerate(lines, start=1):
                line = read[len(_BOM) :] if number == 1 and read.startswith(_BOM) else read
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as error:
                    reason = (
                        f"line {number}: not UTF-8 text "
                        f"(byte 0x{line[error.start]:02x} at position {error.start})"
                    )
                    raw = line.decode("utf-8", "backslashreplace").rstrip("\r\n")
                    yield Unreadable(raw=raw, reason=reason)
                    continue
                if text.strip():
                    yield text.rstrip("\r\n")


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the JSON-lines source."""
    register("jsonl", JsonLinesSource.from_options)
