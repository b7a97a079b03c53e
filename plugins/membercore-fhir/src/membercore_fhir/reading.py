"""Files of FHIR resources: bundles, single resources, bulk-export NDJSON, folders of them.

- A ``.json`` file holds a Bundle (transaction, batch, collection, searchset, message;
  its entries' ``fullUrl`` kept for the references that use them, a ``DELETE`` request
  passed over) or a single resource.
- An ``.ndjson`` file (FHIR Bulk Data export) holds one resource per line.
- A folder holds such files (a bulk export's output: ``Patient.ndjson``,
  ``Observation.ndjson``...), read in name order.

Each resource comes with its place, ``<file> entry <n>`` (n counts from 1 in each file:
a bundle's entries, an NDJSON file's lines), which is where a reader resumes. What cannot
be read — a file or line that is not JSON, an entry without a resource — comes as an
:class:`Entry` with the reason instead of a resource, to be kept as a dead letter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from membercore_fhir.values import Resource

__all__ = ["Entry", "Read", "read_path"]

_SUFFIXES = (".json", ".ndjson")


def _loads() -> Callable[[str], Any]:
    """Orjson's parser when it is installed (``membercore[fast]``), else the standard one.

    Both raise a :class:`json.JSONDecodeError` for what is not JSON.
    """
    try:
        import orjson  # noqa: PLC0415 - optional: used when installed
    except ImportError:
        return json.loads
    loads: Callable[[str], Any] = orjson.loads
    return loads


_LOADS = _loads()


@attrs.frozen
class Entry:
    """One resource of a file, or what stood in its place and why it could not be read.

    Attributes:
        file: the file's name.
        number: its place in the file (1 for the first entry or line).
        resource: the resource (None when it could not be read).
        full_url: its ``fullUrl`` in a bundle ('' elsewhere).
        raw: the text that could not be read ('' for a resource).
        reason: why it could not be read.
    """

    file: str
    number: int
    resource: Resource | None
    full_url: str = ""
    raw: str = ""
    reason: str = ""

    @property
    def place(self) -> str:
        """Where it was found: ``bundle.json entry 12``."""
        return f"{self.file} entry {self.number}"


@attrs.frozen
class Read:
    """Everything one file (or folder) holds, and when its bundle says it was made."""

    entries: tuple[Entry, ...]
    timestamp: str = ""


def read_path(path: Path, *, encoding: str = "utf-8") -> Read:
    """The entries of a file, or of every ``.json`` and ``.ndjson`` file in a folder.

    Raises:
        OSError: a file cannot be read.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        entries: list[Entry] = []
        for file in files:
            entries += _file(file, encoding).entries
        return Read(tuple(entries))
    return _file(path, encoding)


def _file(path: Path, encoding: str) -> Read:
    data = path.read_bytes()
    try:
        text = data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raw = data.decode(encoding, errors="backslashreplace")
        return Read((Entry(path.name, 1, None, raw=raw, reason=f"not {encoding} text: {error}"),))
    if path.suffix == ".ndjson":
        return Read(tuple(_lines(path.name, text)))
    try:
        parsed = _LOADS(text)
    except json.JSONDecodeError as error:
        return Read((Entry(path.name, 1, None, raw=text, reason=f"not JSON: {error}"),))
    if not isinstance(parsed, dict) or "resourceType" not in parsed:
        return Read(
            (Entry(path.name, 1, None, raw=text, reason="not a FHIR resource (no resourceType)"),)
        )
    if parsed["resourceType"] != "Bundle":
        return Read((Entry(path.name, 1, parsed),))
    return Read(tuple(_bundle(path.name, parsed)), str(parsed.get("timestamp") or ""))


def _lines(name: str, text: str) -> Iterator[Entry]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed = _LOADS(line)
        except json.JSONDecodeError as error:
            yield Entry(name, number, None, raw=line, reason=f"not JSON: {error}")
            continue
        if not isinstance(parsed, dict) or "resourceType" not in parsed:
            yield Entry(
                name, number, None, raw=line, reason="not a FHIR resource (no resourceType)"
            )
            continue
        yield Entry(name, number, parsed)


def _bundle(name: str, bundle: Resource) -> Iterator[Entry]:
    for number, entry in enumerate(bundle.get("entry") or [], start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        method = (
            ((entry.get("request") or {}).get("method") or "") if isinstance(entry, dict) else ""
        )
        if method.upper() == "DELETE":
            continue
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raw = json.dumps(entry, ensure_ascii=False)
            yield Entry(name, number, None, raw=raw, reason="the entry holds no resource")
            continue
        yield Entry(name, number, resource, full_url=str(entry.get("fullUrl") or ""))
