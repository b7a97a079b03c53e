"""Polling a FHIR server: what changed since the committed position, as facts.

Each type the settings name is searched in turn (Patient first), for what changed at or
after its mark, oldest first, page after page::

    GET [base]/Observation?_lastUpdated=ge2026-03-02T01:55:00Z&_sort=_lastUpdated&_count=100

Each page is a :class:`~membercore_fhir.reading.Read` translated as a file is
(:func:`~membercore_fhir.translate.translate`: the resources it includes are there for
references to find); each resource's facts come positioned (see
:mod:`~membercore_fhir.server.watermark`), so that the engine commits, with each batch,
where the read stands, and a read started after that position takes nothing twice and
misses nothing. A resource that cannot be translated, an OperationOutcome with an error
in a page, and a search the server refuses (a 4xx with its OperationOutcome) are kept as
dead letters with the outcome's issues; the read goes on with the next type. A server
that cannot be read (after the retries) or refuses the credentials stops the read with
:class:`~membercore_fhir.server.outcomes.FhirServerError`: what was committed stays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from membercore.errors import ConfigError
from membercore.ports import REACHED, Positioned, SourceInput, Unreadable
from membercore.serialization.mapping_files import read_toml
from membercore_adapters.his.logs import logged_read
from membercore_fhir.mapping import FhirMapping, load_mapping, mapping_from_dict
from membercore_fhir.reading import Entry, Read
from membercore_fhir.server.bundles import sort_entries
from membercore_fhir.server.client import FhirClient, Page, Refused
from membercore_fhir.server.config import ServerConfig, settings_from_dict
from membercore_fhir.server.outcomes import FhirServerError
from membercore_fhir.server.watermark import Watermark, canonical, horizon, parse_instant
from membercore_fhir.source import positioned
from membercore_fhir.translate import Tally, Translated, translate_one
from membercore_fhir.values import name_of, text

__all__ = ["FhirServerSource"]


class FhirServerSource:
    """Reads what changed on a FHIR server since a committed position.

    Args:
        config: the server's settings.
        mapping: the hospital's mapping.
        after: the position to read after (None: everything the server holds).
        transport: an httpx transport (tests).
        sleep: waits between retries.
        clock: seconds since the epoch (SMART assertions and tokens).

    Raises:
        ConfigError: a credential the settings name is missing or invalid.
        OSError: the SMART key file cannot be read.
    """

    name = "fhir-server"

    def __init__(
        self,
        config: ServerConfig,
        mapping: FhirMapping,
        *,
        after: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.mapping = mapping
        self.after = after
        self.tally = Tally()
        self._client: Callable[[], FhirClient] = lambda: FhirClient(
            config, transport=transport, sleep=sleep, clock=clock
        )
        self._client().close()  # the credentials are there, or say which is missing
        Watermark.parse(after)  # a position of this source, or say so

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> FhirServerSource:
        """Build one from options: ``path`` (the settings file), ``mapping``, ``after``.

        The settings file's ``[fhir]`` table is the mapping unless ``mapping`` names
        another file.

        Raises:
            ConfigError: the settings or mapping are invalid (naming the key), or the
                file has no ``[fhir_server]``.
            OSError: a file cannot be read.
        """
        path = Path(options["path"])
        data = read_toml(path, "the settings file")
        server = settings_from_dict(data).server
        if server is None:
            raise ConfigError(
                "fhir_server", f"{path} has no [fhir_server] table: no server to poll"
            )
        named = options.get("mapping")
        mapping = load_mapping(Path(named)) if named else mapping_from_dict(data)
        return cls(server, mapping, after=options.get("after"))

    def read(self) -> Iterator[SourceInput]:
        """Every type's changes since the position, its facts positioned.

        What the read did is logged under ``membercore.source.fhir-server``
        (:mod:`membercore_adapters.his.logs`): no patient's details.

        Raises:
            FhirServerError: the server could not be read, or refused the credentials.
        """
        what = _address(self.config.base_url)
        return logged_read(self.name, self._read(), what=what, after=self.after)

    def _read(self) -> Iterator[SourceInput]:
        mark = Watermark.parse(self.after)
        reading = _Reading(self.after or mark.text("nothing read yet"))
        with self._client() as client:
            for kind in self.config.types:
                yield from self._search(client, kind, mark, reading)
        yield from reading.finish()

    def report(self) -> list[str]:
        """Per resource type, what became of the resources read so far."""
        return self.tally.lines()

    def _search(
        self, client: FhirClient, kind: str, mark: Watermark, reading: _Reading
    ) -> Iterator[SourceInput]:
        params: dict[str, str | tuple[str, ...]] = {
            "_sort": "_lastUpdated",
            "_count": str(self.config.page_size),
            **self.config.parameters(kind),
        }
        since = mark.since(kind)
        if since is None and self.config.since is not None:
            since = canonical(self.config.since)
        if since is not None:
            params["_lastUpdated"] = f"ge{since}"
        served: datetime | None = None
        previous: datetime | None = None
        for page in client.search(kind, params):
            if isinstance(page, Refused):
                why = f"the server refused the search ({page.status}): {page.reason}"
                yield reading.refuse(page.body or page.url, why, place=f"GET {page.url}")
                return
            if page.number == 1:
                served = parse_instant(page.served_at)
            for made, at in self._page(page, kind, mark):
                if at is not None:
                    if previous is not None and at < previous:
                        raise FhirServerError(
                            page.url,
                            f"{name_of(made.entry.resource or {})} comes after a "
                            f"resource updated later: the server does not sort by "
                            "_lastUpdated (_sort=_lastUpdated is needed to poll it)",
                        )
                    previous = at
                    ident = str((made.entry.resource or {}).get("id"))
                    mark.take(kind, ident, at, horizon(served, at, self.config.overlap))
                yield from reading.take(made, mark, at)

    def _page(
        self, page: Page, kind: str, mark: Watermark
    ) -> Iterator[tuple[Translated, datetime | None]]:
        """The page's resources not taken before, translated, with their lastUpdated.

        Each resource is translated with the resources the page includes, on its own
        (a read of one resource): what it tells then depends on it alone, never on
        which resources shared its page, so that a read resumed anywhere takes the
        same facts. A resource naming its patient by reference registers the name as of
        its own instant, as each HL7 v2 message registers its patient.
        """
        where = f"{kind} page {page.number}"
        entries = sort_entries(page.bundle, where)
        for refused in entries.refused:
            made = Translated(refused, refused=f"{refused.place}: {refused.reason}")
            self.tally.add(made)
            yield made, None
        matched = {id(entry) for entry in entries.matched}
        included = tuple(e for e in entries.read.entries if id(e) not in matched)
        for entry in entries.matched:
            resource = entry.resource or {}
            if resource.get("resourceType") != kind:
                continue  # another type: there for references to find
            at = parse_instant(text(resource, "meta", "lastUpdated"))
            if at is not None and mark.taken(kind, str(resource.get("id")), at):
                continue
            alone = Read((entry, *included), entries.read.timestamp)
            made = translate_one(alone, entry, self.mapping)
            self.tally.add(made)
            yield made, at


class _Reading:
    """The inputs of one read and the position each carries."""

    def __init__(self, start: str) -> None:
        self.position = start
        #: Where the read stands, for a person (the position without its watermarks).
        self.place = ""
        self._carried = start

    def take(self, made: Translated, mark: Watermark, at: datetime | None) -> Iterator[SourceInput]:
        """A resource's inputs: all but the last where a reader reads it again."""
        before = self.position
        if at is not None:
            self.place = f"{made.entry.place}: {_named(made.entry)} {canonical(at)}"
            self.position = mark.text(self.place)
        if made.refused:
            raw = made.entry.raw or json.dumps(made.entry.resource, ensure_ascii=False)
            yield self.refuse(raw, made.refused)
            return
        last = len(made.inputs) - 1
        for number, item in enumerate(made.inputs):
            self._carried = self.position if number == last else before
            yield positioned(item, self._carried, self.place)

    def refuse(self, raw: str, reason: str, *, place: str = "") -> Positioned:
        """What the server could not give, kept as a dead letter where the read stands.

        ``place`` names where it was found (a search the server refused), when it is not
        the last resource read.
        """
        self._carried = self.position
        return Positioned(
            raw=Unreadable(raw=raw, reason=reason),
            position=self.position,
            place=place or self.place,
        )

    def finish(self) -> Iterator[Positioned]:
        """Where the read ended, when it stands further than its last input's position.

        Resources the programme does not use (a vital sign) at the end of a read would
        otherwise be read again each time.
        """
        if self.position != self._carried:
            self._carried = self.position
            yield Positioned(raw=REACHED, position=self.position, place=self.place)


def _named(entry: Entry) -> str:
    return name_of(entry.resource) if entry.resource is not None else "entry"


def _address(url: str) -> str:
    """A server's address as logged: its scheme, host and path (never a user or a query)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the FHIR server"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
