"""A file of HL7 v2 messages as a source: ``membercore import --source hl7v2 FILE``.

Each message becomes its facts and commands (or one dead letter with the reason), each
positioned ``byte N of 512:<digest>: message K (ADT^A01 599102)``: N is where a reader
resumes — the message's start for all its inputs but the last, the byte after it for
the last — so that a reader started again after the position the engine committed
(:meth:`~membercore.Engine.position`) reads nothing twice and misses nothing; the digest
of the file's start tells a file replaced under the same name, which is read again from
its start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from membercore.ports import Positioned
from membercore_adapters.his.logs import logged_read
from membercore_adapters.his.marks import HEAD, head_digest
from membercore_hl7v2.files import messages_in
from membercore_hl7v2.intake import receive
from membercore_hl7v2.mapping import Hl7Mapping, mapping_option

__all__ = ["Hl7FileSource", "resume_offset"]

_OFFSET = re.compile(r"^byte (\d+)(?: of (\d+):([0-9a-f]+))?")


def resume_offset(position: str | None, path: Path | None = None) -> int:
    """The byte to resume reading at, from a position a reader committed (0: the start).

    With ``path``, the file's start is checked against the one the position was
    committed in: a file replaced or cut short since (rotated under the same name) is
    read from its start again (what was taken before is a duplicate).
    """
    found = _OFFSET.match(position or "")
    if not found:
        return 0
    offset = int(found.group(1))
    if path is not None:
        size = path.stat().st_size
        length, digest = found.group(2), found.group(3)
        if offset > size or (length is not None and head_digest(path, int(length)) != digest):
            return 0
    return offset


class Hl7FileSource:
    """Reads the messages of a file, from a byte offset on.

    Args:
        path: the file.
        mapping: the hospital's mapping.
        encoding: the file's character encoding.
        after: the byte to start at (a message's start; see :func:`resume_offset`).
        growing: the HIS is still appending to the file: a last segment no separator
            ends yet waits for the next read.
    """

    name = "hl7v2"

    def __init__(
        self,
        path: Path,
        mapping: Hl7Mapping,
        *,
        encoding: str = "utf-8",
        after: int = 0,
        growing: bool = False,
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.encoding = encoding
        self.after = after
        self.growing = growing

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Hl7FileSource:
        """Build one from options.

        ``path``; and when given, ``mapping`` (a TOML file), ``encoding``, ``after`` (a
        position the engine committed) and ``growing`` (``true``: the HIS is still
        appending to the file).

        Raises:
            ConfigError: the mapping file is invalid, naming the key.
            OSError: the mapping file cannot be read.
        """
        mapping = mapping_option(options)
        return cls(
            Path(options["path"]),
            mapping,
            encoding=options.get("encoding", "utf-8"),
            after=resume_offset(options.get("after"), Path(options["path"])),
            growing=options.get("growing") == "true",
        )

    def read(self) -> Iterator[Positioned]:
        """Every message's inputs, positioned.

        What the read did is logged under ``membercore.source.hl7v2``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            OSError: the file cannot be read.
        """
        after = f"byte {self.after}" if self.after else None
        return logged_read(self.name, self._read(), what=str(self.path), after=after)

    def _read(self) -> Iterator[Positioned]:
        length = min(HEAD, self.path.stat().st_size)
        file = f"of {length}:{head_digest(self.path, length)}"
        for raw in messages_in(self.path, after=self.after, growing=self.growing):
            received = receive(
                raw.data,
                self.mapping,
                encoding=self.encoding,
                where=f"byte {raw.start} {file}: message {raw.number}",
                resume=f"byte {raw.end} {file}: message {raw.number}",
            )
            yield from received.inputs
