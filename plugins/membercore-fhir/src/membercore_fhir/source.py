"""Files of FHIR resources as a source: ``membercore import --source fhir FILE``.

The file (a bundle, a resource, an NDJSON export) or folder is read whole and
translated (:func:`~membercore_fhir.translate.translate`); each entry's facts come
positioned ``<file> entry <n>``: a reader built with that position (``after``) reads
only the entries after it, so that a restart reads nothing twice and misses nothing
(an entry whose facts were partly committed is read again: the rest are duplicates).
The Patients come first, positioned where the read began, so that their facts find
them. An entry that cannot be read or translated is refused with the reason, its JSON
kept as a dead letter. :meth:`FhirFileSource.report` says, per resource type, how many
resources became facts, were not used by the programme, or were refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from membercore.ports import Positioned, SourceInput, Unreadable
from membercore_adapters.his.logs import logged_read
from membercore_fhir.mapping import FhirMapping, mapping_option
from membercore_fhir.reading import Entry, read_path
from membercore_fhir.translate import Tally, Translated, translate

__all__ = ["FhirFileSource", "positioned", "resume_after"]

_POSITION = re.compile(r"^(?P<file>.+) entry (?P<number>\d+)$")


def resume_after(position: str | None) -> tuple[str, int] | None:
    """The file and entry a committed position names (None: read from the start)."""
    found = _POSITION.match(position or "")
    return (found["file"], int(found["number"])) if found else None


class FhirFileSource:
    """Reads a file or folder of FHIR resources, after a committed position.

    Args:
        path: a bundle, a resource, an NDJSON file, or a folder of them.
        mapping: the hospital's mapping.
        after: the position to read after (``Observation.ndjson entry 120``).
        encoding: the files' character encoding (FHIR's is UTF-8).
    """

    name = "fhir"

    def __init__(
        self,
        path: Path,
        mapping: FhirMapping,
        *,
        after: str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.after = after
        self.encoding = encoding
        self.tally = Tally()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> FhirFileSource:
        """Build one from options: ``path``, and ``mapping``, ``after``, ``encoding`` if given.

        Raises:
            ConfigError: the mapping file is invalid, naming the key.
            OSError: the mapping file cannot be read.
        """
        return cls(
            Path(options["path"]),
            mapping_option(options),
            after=options.get("after"),
            encoding=options.get("encoding", "utf-8"),
        )

    def read(self) -> Iterator[SourceInput]:
        """Every entry's facts, positioned, the Patients' first.

        What the read did is logged under ``membercore.source.fhir``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            OSError: the file cannot be read.
        """
        return logged_read(self.name, self._read(), what=str(self.path), after=self.after)

    def _read(self) -> Iterator[SourceInput]:
        read = read_path(self.path, encoding=self.encoding)
        order = {name: n for n, name in enumerate(dict.fromkeys(e.file for e in read.entries))}
        resumed = resume_after(self.after)
        first = next(iter(order), "")
        start = self.after if resumed else f"{first} entry 0"
        done = (order[resumed[0]], resumed[1]) if resumed and resumed[0] in order else None

        def taken(entry: Entry) -> bool:
            return done is not None and (order[entry.file], entry.number) <= done

        for translated in translate(read, self.mapping):
            entry = translated.entry
            if taken(entry):
                continue
            self.tally.add(translated)
            patient = entry.resource is not None and entry.resource.get("resourceType") == "Patient"
            yield from _positioned(translated, start if patient else None)

    def report(self) -> list[str]:
        """Per resource type, what became of the resources read so far."""
        return self.tally.lines()


def _positioned(translated: Translated, start: str | None) -> Iterator[SourceInput]:
    """An entry's inputs, all but the last where a reader reads it again."""
    entry = translated.entry
    done = start or entry.place
    again = start or f"{entry.file} entry {entry.number - 1}"
    if translated.refused:
        raw = entry.raw or json.dumps(entry.resource, ensure_ascii=False)
        yield Positioned(raw=Unreadable(raw=raw, reason=translated.refused), position=done)
        return
    last = len(translated.inputs) - 1
    for number, made in enumerate(translated.inputs):
        yield positioned(made, done if number == last else again)


def positioned(made: object, position: str, place: str = "") -> SourceInput:
    """One input a translator made, at ``position``: a command paired with its instant."""
    if isinstance(made, tuple):  # a command, with the instant it was given at
        return made[0], Positioned(raw=made[1], position=position, place=place)
    return Positioned(raw=made, position=position, place=place)
