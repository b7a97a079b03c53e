"""An endpoint for a FHIR server's R4 rest-hook subscription notifications.

The hospital creates a Subscription on its FHIR server (``channel.type`` ``rest-hook``,
``channel.endpoint`` this listener's URL, ``channel.header`` the shared secret if one is
configured). The server then notifies it of every resource that matches the criteria:

- **empty** (no ``channel.payload``): a ``POST`` with no body. The listener fetches what
  changed since the committed position, exactly as a poll does
  (:class:`~membercore_fhir.server.polling.FhirServerSource`, the position kept under
  the same name as ``--poll fhir-server:<settings>``'s), and commits it with the position.
- **full resource** (``channel.payload`` ``application/fhir+json``): the resource, ``PUT``
  to ``<endpoint>/<type>/<id>`` (R4), or ``POST``-ed, alone or in a Bundle (a
  notification bundle of the subscriptions backport, whose entries may also only name
  resources by ``fullUrl``: those are fetched as an empty notification's are). Each
  resource is translated as a file's are.

It answers only once the facts are committed: ``200`` (with an OperationOutcome saying
how many inputs were taken); ``422`` with an OperationOutcome naming each resource that
cannot become facts (kept as a dead letter: sending it again changes nothing); ``400``
for a body that is not FHIR JSON (kept as a dead letter with its raw text); ``401`` when
the shared secret is missing or wrong (nothing kept); ``503`` when the store or the FHIR
server failed (nothing committed: the server sends it again, and polling catches up).

aiohttp serves it: its ``AppRunner`` and ``TCPSite`` start and stop a server on an event
loop someone else runs — the worker's, where the engine lives — without taking over its
signals, as ``uvicorn.Server.serve`` does.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
from aiohttp import web

from membercore.errors import ConfigError, MembercoreError
from membercore.ports import SourceInput, Unreadable
from membercore.serialization.mapping_files import read_toml
from membercore.service.engine import Engine, IngestReport
from membercore_fhir.mapping import FhirMapping, mapping_from_dict
from membercore_fhir.reading import Entry, Read
from membercore_fhir.server.bundles import sort_entries
from membercore_fhir.server.config import (
    ServerConfig,
    SubscriptionConfig,
    settings_from_dict,
)
from membercore_fhir.server.polling import FhirServerSource
from membercore_fhir.translate import Translated, translate

__all__ = ["SubscriptionListener"]

log = logging.getLogger("membercore.fhir")

_FHIR_JSON = "application/fhir+json"
#: Resources a notification bundle carries about itself, not about patients.
_ABOUT_ITSELF = frozenset({"Parameters", "SubscriptionStatus", "Subscription"})
#: The largest notification read (a bundle of many resources).
_LARGEST = 16 << 20


@attrs.frozen
class _Answer:
    status: int
    severity: str
    code: str
    text: str

    def response(self) -> web.Response:
        issue = {"severity": self.severity, "code": self.code, "details": {"text": self.text}}
        body = {"resourceType": "OperationOutcome", "issue": [issue]}
        return web.json_response(body, status=self.status, content_type=_FHIR_JSON)


class SubscriptionListener:
    """Receives rest-hook notifications and commits their facts before answering.

    Args:
        engine: the engine (used on the event loop's thread only).
        mapping: the hospital's mapping.
        subscription: where notifications arrive, and the shared secret's header.
        server: the FHIR server to fetch from on an empty notification (None: such
            notifications are refused).
        name: the name the fetched position is committed under.
        secret: the shared secret's value (None: none is asked for).
        host: the address to listen on.
        port: the port (0: any free one; :attr:`port` says which).
        transport: an httpx transport for fetching (tests).
    """

    def __init__(
        self,
        engine: Engine,
        mapping: FhirMapping,
        subscription: SubscriptionConfig,
        *,
        server: ServerConfig | None = None,
        name: str = "fhir-server",
        secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8089,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.engine = engine
        self.mapping = mapping
        self.subscription = subscription
        self.server = server
        self.name = name
        self.host = host
        self.port = port
        self._secret = secret
        self._transport = transport
        self._runner: web.AppRunner | None = None
        self._received = 0
        self._lock = asyncio.Lock()
        self._asked = 0
        self._fetched = 0

    def __repr__(self) -> str:  # never the secret
        return f"SubscriptionListener({self.host}:{self.port}{self.subscription.path})"

    @classmethod
    def from_options(cls, engine: Engine, options: Mapping[str, str]) -> SubscriptionListener:
        """Build one from ``membercore worker``'s options.

        ``mapping`` names the settings file (``[fhir_subscription]``, ``[fhir_server]``
        and the ``[fhir]`` mapping); ``host`` and ``port`` where to listen.

        Raises:
            ConfigError: no settings file, an invalid one (naming the key), a secret's
                environment variable not set, or a port that is none.
            OSError: the file cannot be read.
        """
        named = options.get("mapping")
        if not named:
            raise ConfigError("mapping", "--mapping names the FHIR settings file (TOML)")
        path = Path(named)
        data = read_toml(path, "the settings file")
        settings = settings_from_dict(data)
        port = options.get("port", "8089")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError("port", f"{port!r} is not a port number (0 to 65535)")
        return cls(
            engine,
            mapping_from_dict(data),
            settings.subscription,
            server=settings.server,
            name=f"fhir-server:{path.resolve()}",
            secret=_secret(settings.subscription),
            host=options.get("host", "127.0.0.1"),
            port=int(port),
        )

    async def start(self) -> None:
        """Listen (the port is known once this returns)."""
        app = web.Application(client_max_size=_LARGEST)
        path = self.subscription.path.rstrip("/")
        app.router.add_post(path or "/", self._notified)
        app.router.add_route("*", f"{path}/{{kind}}/{{ident}}", self._notified)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("listening for FHIR notifications on %s:%s%s", self.host, self.port, path)

    async def stop(self) -> None:
        """Stop: the notifications being committed are answered, then the server closes."""
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("stopped listening on %s:%s", self.host, self.port)

    # -- a notification ----------------------------------------------------------------

    async def _notified(self, request: web.Request) -> web.Response:
        if request.method not in ("POST", "PUT"):
            return _Answer(
                405, "error", "not-supported", f"{request.method} is not taken"
            ).response()
        if not self._authentic(request):
            return _Answer(
                401, "error", "security", "the shared secret is missing or wrong"
            ).response()
        self._received += 1
        where = f"notification {self._received}"
        body = await request.read()
        if not body.strip():
            return (await self._catch_up()).response()
        try:
            sent = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            return self._unreadable(body, f"{where}: not JSON ({error})")
        if not isinstance(sent, dict) or "resourceType" not in sent:
            return self._unreadable(body, f"{where}: not a FHIR resource (no resourceType)")
        return (await self._resources(sent, where)).response()

    def _authentic(self, request: web.Request) -> bool:
        header = self.subscription.secret_header
        if header is None or self._secret is None:
            return True
        sent = request.headers.get(header, "")
        return hmac.compare_digest(sent.encode(), self._secret.encode())

    def _unreadable(self, body: bytes, reason: str) -> web.Response:
        raw = body.decode("utf-8", "backslashreplace")
        try:
            self.engine.ingest([Unreadable(raw=raw, reason=reason)])
        except MembercoreError as error:
            return _Answer(
                503, "error", "transient", f"not kept, send it again: {error}"
            ).response()
        return _Answer(400, "error", "structure", f"{reason} (kept as a dead letter)").response()

    async def _resources(self, sent: dict[str, Any], where: str) -> _Answer:
        if sent["resourceType"] == "Bundle":
            entries = sort_entries(sent, where)
            read, matched = entries.read, list(entries.matched)
            refused, fetch = list(entries.refused), entries.named > 0
        else:
            entry = Entry(where, 1, sent)
            read, matched, refused, fetch = Read((entry,)), [entry], [], False
        about = [e for e in matched if (e.resource or {}).get("resourceType") not in _ABOUT_ITSELF]
        if not about and not refused:
            fetch = fetch or not matched  # a notification that names nothing: what changed
        wanted = {id(e) for e in about}
        made = [t for t in translate(read, self.mapping) if id(t.entry) in wanted]
        made += [Translated(e, refused=f"{e.place}: {e.reason}") for e in refused]
        answer = self._commit(made)
        if fetch and answer.status == 200:
            fetched = await self._catch_up()
            if fetched.status != 200:
                return fetched
        return answer

    def _commit(self, made: list[Translated]) -> _Answer:
        inputs: list[object] = []
        for translated in made:
            if translated.refused:
                raw = translated.entry.raw or json.dumps(
                    translated.entry.resource, ensure_ascii=False
                )
                inputs.append(Unreadable(raw=raw, reason=translated.refused))
            else:
                inputs += translated.inputs
        try:
            report = self.engine.ingest(inputs)  # type: ignore[arg-type]
        except MembercoreError as error:
            log.error("a notification was not committed: %s", error)
            return _Answer(503, "error", "transient", f"not committed, send it again: {error}")
        return _outcome(report, "taken")

    async def _catch_up(self) -> _Answer:
        """Fetch what changed since the committed position, once for all who asked meanwhile."""
        if self.server is None:
            return _Answer(
                422,
                "error",
                "not-supported",
                "no [fhir_server] in the settings: a notification "
                "without its resources cannot be fetched",
            )
        self._asked += 1
        ticket = self._asked
        async with self._lock:
            if self._fetched >= ticket:
                return _Answer(
                    200, "information", "informational", "fetched with another notification"
                )
            covered = self._asked
            answer = await self._fetch()
            if answer.status == 200:
                self._fetched = covered
            return answer

    async def _fetch(self) -> _Answer:
        assert self.server is not None
        for _ in range(3):
            position = self.engine.position(self.name)
            source = FhirServerSource(
                self.server, self.mapping, after=position, transport=self._transport
            )
            try:
                inputs = await asyncio.to_thread(_everything, source)
            except OSError as error:  # FhirServerError: the server could not be read
                log.warning("fetching after a notification failed: %s", error)
                return _Answer(503, "error", "transient", f"could not fetch what changed: {error}")
            if self.engine.position(self.name) != position:
                continue  # a poll committed meanwhile: fetch from where it stopped
            try:
                report = self.engine.ingest(inputs, source=self.name)
            except MembercoreError as error:
                return _Answer(503, "error", "transient", f"not committed, send it again: {error}")
            return _outcome(report, "fetched")
        return _Answer(503, "error", "transient", "the position kept moving: send it again")


def _everything(source: FhirServerSource) -> list[SourceInput]:
    return list(source.read())


def _outcome(report: IngestReport, done: str) -> _Answer:
    if report.rejected:
        reasons = "; ".join(why for _, why in report.refusals)
        return _Answer(
            422,
            "error",
            "processing",
            f"{report.rejected} refused (kept as dead letters; sending them again changes "
            f"nothing): {reasons}",
        )
    text = f"{done}: {report.applied} applied, {report.duplicates} duplicates"
    return _Answer(200, "information", "informational", text)


def _secret(subscription: SubscriptionConfig) -> str | None:
    if subscription.secret_env is None:
        return None
    value = os.environ.get(subscription.secret_env, "")
    if not value:
        raise ConfigError(
            "fhir_subscription.secret_env",
            f"the environment variable {subscription.secret_env} is not set",
        )
    return value
