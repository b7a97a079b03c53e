"""An endpoint for a FHIR server's R4 rest-hook subscription notifications.

The hospital creates a Subscription on its FHIR server (``channel.type`` ``rest-hook``,
``channel.endpoint`` the endpoint's URL, ``channel.header`` the shared secret if one is
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

:class:`SubscriptionWebhook` takes the notifications, wherever they arrive: the HTTP
API serves it (``membercore serve --webhook fhir --mapping fhir.toml``, at
``/webhooks/fhir``), and so does :class:`SubscriptionListener` beside ``membercore
worker --listen fhir``, on an address of its own. aiohttp serves the listener: its
``AppRunner`` and ``TCPSite`` start and stop a server on an event loop someone else runs
— the worker's, where the engine lives — without taking over its signals, as
``uvicorn.Server.serve`` does.
"""

from __future__ import annotations

import asyncio
import functools
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
from membercore.ports import (
    EngineCall,
    SourceInput,
    Unreadable,
    WebhookAnswer,
    WebhookCall,
    directly,
)
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

__all__ = ["SubscriptionListener", "SubscriptionWebhook"]

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

    def answer(self) -> WebhookAnswer:
        issue = {"severity": self.severity, "code": self.code, "details": {"text": self.text}}
        body = {"resourceType": "OperationOutcome", "issue": [issue]}
        return WebhookAnswer.of_json(body, status=self.status, content_type=_FHIR_JSON)


@attrs.frozen(kw_only=True)
class _Settings:
    """What a settings file gives an endpoint: the mapping, where to fetch, the secret."""

    mapping: FhirMapping
    subscription: SubscriptionConfig
    server: ServerConfig | None
    name: str
    secret: str | None = attrs.field(repr=False)


def _settings(options: Mapping[str, str]) -> _Settings:
    """The settings file ``mapping`` names, read.

    Raises:
        ConfigError: no settings file, an invalid one (naming the key), or a secret's
            environment variable not set.
        OSError: the file cannot be read.
    """
    named = options.get("mapping")
    if not named:
        raise ConfigError("mapping", "--mapping names the FHIR settings file (TOML)")
    path = Path(named)
    data = read_toml(path, "the settings file")
    settings = settings_from_dict(data)
    return _Settings(
        mapping=mapping_from_dict(data),
        subscription=settings.subscription,
        server=settings.server,
        name=f"fhir-server:{path.resolve()}",
        secret=_secret(settings.subscription),
    )


class SubscriptionWebhook:
    """Receives rest-hook notifications and commits their facts before answering.

    Args:
        mapping: the hospital's mapping.
        subscription: the shared secret's header.
        server: the FHIR server to fetch from on an empty notification (None: such
            notifications are refused).
        name: the name the fetched position is committed under.
        secret: the shared secret's value (None: none is asked for).
        transport: an httpx transport for fetching (tests).
    """

    def __init__(
        self,
        mapping: FhirMapping,
        subscription: SubscriptionConfig,
        *,
        server: ServerConfig | None = None,
        name: str = "fhir-server",
        secret: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.mapping = mapping
        self.subscription = subscription
        self.server = server
        self.name = name
        self._secret = secret
        self._transport = transport
        self._received = 0
        self._lock = asyncio.Lock()
        self._asked = 0
        self._fetched = 0

    def __repr__(self) -> str:  # never the secret
        return f"SubscriptionWebhook({self.name})"

    @classmethod
    def from_options(cls, engine: Engine, options: Mapping[str, str]) -> SubscriptionWebhook:
        """Build one for ``membercore serve --webhook fhir --mapping fhir.toml``.

        ``mapping`` names the settings file (``[fhir_subscription]``, ``[fhir_server]``
        and the ``[fhir]`` mapping); the subscription's ``path`` is the worker's, not
        the API's (``/webhooks/fhir``).

        Raises:
            ConfigError: no settings file, an invalid one (naming the key), or a
                secret's environment variable not set.
            OSError: the file cannot be read.
        """
        held = _settings(options)
        return cls(
            held.mapping,
            held.subscription,
            server=held.server,
            name=held.name,
            secret=held.secret,
        )

    async def receive(self, call: WebhookCall, engine: EngineCall[Engine]) -> WebhookAnswer:
        """Take one notification; answer once its facts are committed."""
        refused = self._refused(call)
        if refused is not None:
            return refused.answer()
        self._received += 1
        return (await self._notified(engine, call.body)).answer()

    def _refused(self, call: WebhookCall) -> _Answer | None:
        """Why a request is no notification to take: where it went, its method, its secret."""
        parts = [part for part in call.path.split("/") if part]
        if len(parts) not in (0, 2):  # the root, or <Type>/<id> below it
            return _Answer(404, "error", "not-found", f"nothing is served at {call.path}")
        if call.method not in (("POST", "PUT") if parts else ("POST",)):
            return _Answer(405, "error", "not-supported", f"{call.method} is not taken")
        if not self._authentic(call):
            return _Answer(401, "error", "security", "the shared secret is missing or wrong")
        return None

    async def _notified(self, engine: EngineCall[Engine], body: bytes) -> _Answer:
        where = f"notification {self._received}"
        if not body.strip():
            return await self._catch_up(engine)
        try:
            sent = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            return await self._unreadable(engine, body, f"{where}: not JSON ({error})")
        if not isinstance(sent, dict) or "resourceType" not in sent:
            reason = f"{where}: not a FHIR resource (no resourceType)"
            return await self._unreadable(engine, body, reason)
        return await self._resources(engine, sent, where)

    def _authentic(self, call: WebhookCall) -> bool:
        header = self.subscription.secret_header
        if header is None or self._secret is None:
            return True
        sent = call.headers.get(header.lower(), "")
        return hmac.compare_digest(sent.encode(), self._secret.encode())

    async def _unreadable(self, engine: EngineCall[Engine], body: bytes, reason: str) -> _Answer:
        kept = [Unreadable(raw=body.decode("utf-8", "backslashreplace"), reason=reason)]
        try:
            await engine(lambda held: held.ingest(kept))
        except MembercoreError as error:
            return _Answer(503, "error", "transient", f"not kept, send it again: {error}")
        return _Answer(400, "error", "structure", f"{reason} (kept as a dead letter)")

    async def _resources(
        self, engine: EngineCall[Engine], sent: dict[str, Any], where: str
    ) -> _Answer:
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
        answer = await self._commit(engine, made)
        if fetch and answer.status == 200:
            fetched = await self._catch_up(engine)
            if fetched.status != 200:
                return fetched
        return answer

    async def _commit(self, engine: EngineCall[Engine], made: list[Translated]) -> _Answer:
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
            report = await engine(lambda held: held.ingest(inputs))  # type: ignore[arg-type]
        except MembercoreError as error:
            log.error("a notification was not committed: %s", error)
            return _Answer(503, "error", "transient", f"not committed, send it again: {error}")
        return _outcome(report, "taken")

    async def _catch_up(self, engine: EngineCall[Engine]) -> _Answer:
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
            answer = await self._fetch(engine, self.server)
            if answer.status == 200:
                self._fetched = covered
            return answer

    async def _fetch(self, engine: EngineCall[Engine], server: ServerConfig) -> _Answer:
        name = self.name
        for _ in range(3):
            try:
                position = await engine(lambda held: held.position(name))
            except MembercoreError as error:
                return _Answer(503, "error", "transient", f"not fetched, send it again: {error}")
            source = FhirServerSource(
                server, self.mapping, after=position, transport=self._transport
            )
            try:
                inputs = await asyncio.to_thread(_everything, source)
            except OSError as error:  # FhirServerError: the server could not be read
                log.warning("fetching after a notification failed: %s", error)
                return _Answer(503, "error", "transient", f"could not fetch what changed: {error}")
            commit = functools.partial(_ingest_after, inputs=inputs, source=name, position=position)
            try:
                report = await engine(commit)
            except MembercoreError as error:
                return _Answer(503, "error", "transient", f"not committed, send it again: {error}")
            if report is None:
                continue  # a poll committed meanwhile: fetch from where it stopped
            return _outcome(report, "fetched")
        return _Answer(503, "error", "transient", "the position kept moving: send it again")


def _ingest_after(
    engine: Engine, inputs: list[SourceInput], *, source: str, position: str | None
) -> IngestReport | None:
    """Commit what was fetched after ``position``, unless the position moved meanwhile."""
    if engine.position(source) != position:
        return None
    return engine.ingest(inputs, source=source)


class SubscriptionListener:
    """Serves :class:`SubscriptionWebhook` on an address of its own, beside the worker.

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
        self.webhook = SubscriptionWebhook(
            mapping, subscription, server=server, name=name, secret=secret, transport=transport
        )
        self.subscription = subscription
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

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
        held = _settings(options)
        port = options.get("port", "8089")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError("port", f"{port!r} is not a port number (0 to 65535)")
        return cls(
            engine,
            held.mapping,
            held.subscription,
            server=held.server,
            name=held.name,
            secret=held.secret,
            host=options.get("host", "127.0.0.1"),
            port=int(port),
        )

    async def start(self) -> None:
        """Listen (the port is known once this returns)."""
        app = web.Application(client_max_size=_LARGEST)
        path = self.subscription.path.rstrip("/")
        app.router.add_route("*", path or "/", self._notified)
        app.router.add_route("*", f"{path}/{{below:.*}}", self._notified)
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

    async def _notified(self, request: web.Request) -> web.Response:
        below = request.match_info.get("below", "")
        call = WebhookCall(
            method=request.method,
            path=f"/{below}" if below else "",
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
        )
        answer = await self.webhook.receive(call, directly(self.engine))
        return web.Response(
            body=answer.body, status=answer.status, headers={"Content-Type": answer.content_type}
        )


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
