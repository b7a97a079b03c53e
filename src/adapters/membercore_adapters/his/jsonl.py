"""Facts from a file of JSON lines, one tagged message per line.

Each line is a JSON object with a ``type`` tag (``charge_paid``, ``checked_in``...), as
:func:`membercore.message_to_dict` writes it. A line that is not a JSON object is
passed on as its text, so that the engine refuses it into the dead letters with the
reason, keeping the line as it was received. Files exported with a UTF-8 byte-order
mark (as some Windows HIS exports are) read the same as files without.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from membercore.hookspecs import SourceFactory, hookimpl

__all__ = ["JsonLinesSource", "membercore_register_his_sources"]


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

    def read(self) -> Iterator[Mapping[str, Any] | str]:
        """Each non-blank line as a dict, or as its text when it is not a JSON object."""
        # utf-8-sig: a byte-order mark would otherwise make the first line unreadable.
        with self.path.open(encoding="utf-8-sig") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    data = None
                yield data if isinstance(data, dict) else line.rstrip("\n")


@hookimpl
def membercore_register_his_sources(register: Callable[[str, SourceFactory], None]) -> None:
    """Provide the JSON-lines source."""
    register("jsonl", JsonLinesSource.from_options)
