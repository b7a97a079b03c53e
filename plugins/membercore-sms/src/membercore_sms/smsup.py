"""Aliyun's SmsUp push endpoint: members' replies taken before Aliyun is answered.

Aliyun gives members' SMS replies (上行短信) only by pushing them to an HTTP address the
hospital names in its console. :class:`SmsUpWebhook` takes those pushes: each is read
with the programme's ``[channels.sms]`` channel (its sign name), and its replies are
taken by the engine — an opt-out word withdraws marketing by SMS — before Aliyun is
answered :data:`~membercore_sms.aliyun.SMSUP_ANSWER`. Whatever fails is answered 500,
and Aliyun pushes again: a reply is never kept only in memory.

It is served two ways, the same webhook each time: by the HTTP API, ``membercore serve
--webhook aliyun-smsup`` (at ``/webhooks/aliyun-smsup``), and by ``membercore worker
--listen aliyun-smsup --port 8090`` (:class:`SmsUpListener`, at ``/aliyun/smsup``),
whose aiohttp ``AppRunner`` and ``TCPSite`` start and stop with the worker on its event
loop, as the FHIR subscription endpoint's do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from aiohttp import web

from membercore.errors import ConfigError, MembercoreError
from membercore.ports import (
    ChannelReport,
    EngineCall,
    OutboxMessage,
    Reply,
    WebhookAnswer,
    WebhookCall,
    directly,
)
from membercore.service.engine import Engine
from membercore.service.outcomes import ReportsRead
from membercore_sms.aliyun import SMSUP_ANSWER, AliyunSmsChannel

__all__ = ["DEFAULT_PATH", "SmsUpListener", "SmsUpWebhook"]

log = logging.getLogger(__name__)

#: Where the worker's endpoint takes pushes, unless told otherwise.
DEFAULT_PATH = "/aliyun/smsup"
#: The largest push the worker's endpoint takes (Aliyun pushes up to a hundred replies).
_LARGEST = 1024 * 1024


class _Pushed:
    """The replies of one push, as a reporting channel the engine reads once."""

    def __init__(self, name: str, replies: Sequence[Reply]) -> None:
        self.name = name
        self._replies = list(replies)

    def send(self, message: OutboxMessage) -> str:
        raise NotImplementedError("a push's replies are read, never sent to")

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> Iterable[ChannelReport]:
        return list(self._replies)


def _refused(status: int, why: str) -> WebhookAnswer:
    return WebhookAnswer.of_json({"code": 1, "msg": why}, status=status)


def _aliyun(engine: Engine) -> AliyunSmsChannel:
    """The programme's SMS channel, which must be Aliyun's.

    Raises:
        ConfigError: the programme's ``[channels.sms]`` is not Aliyun's.
    """
    channel = engine.channels().get("sms")
    if not isinstance(channel, AliyunSmsChannel):
        raise ConfigError(
            "channels.sms.use", 'the SmsUp endpoint takes replies for use = "aliyun-sms"'
        )
    return channel


class SmsUpWebhook:
    """Takes Aliyun's SmsUp pushes and has the engine take their replies.

    Args:
        channel: the programme's Aliyun SMS channel, which reads a push.
    """

    def __init__(self, channel: AliyunSmsChannel) -> None:
        self.channel = channel

    @classmethod
    def from_options(cls, engine: Engine, options: Mapping[str, str]) -> SmsUpWebhook:
        """Build it for ``membercore serve --webhook aliyun-smsup`` (it takes no options).

        Raises:
            ConfigError: the programme's ``[channels.sms]`` is not Aliyun's.
        """
        return cls(_aliyun(engine))

    async def receive(self, call: WebhookCall, engine: EngineCall[Engine]) -> WebhookAnswer:
        """Take one push: Aliyun's answer once its replies are committed, else 400 or 500."""
        if call.path.strip("/"):
            return _refused(404, f"nothing is served at {call.path}")
        if call.method != "POST":
            return _refused(405, f"{call.method} is not taken: Aliyun pushes by POST")
        try:
            replies = self.channel.parse_pushed(call.body)
        except ValueError as error:
            log.warning("SmsUp push refused: %s", error)
            return _refused(400, str(error))
        pushed = {self.channel.name: _Pushed(self.channel.name, replies)}
        read: ReportsRead | None
        try:
            read = await engine(lambda held: held.read_reports(pushed))
        except MembercoreError as error:
            read = None
            log.warning("SmsUp push not taken: %s", error)
        if read is None or read.unreadable:
            return _refused(500, "not taken; push again")
        if read.opted_out:
            log.info("SmsUp push: %d replies, %d consents withdrawn", read.replies, read.opted_out)
        return WebhookAnswer.of_json(dict(SMSUP_ANSWER))


class SmsUpListener:
    """Serves :class:`SmsUpWebhook` on an address of its own, beside ``membercore worker``.

    Args:
        engine: the engine (used on the event loop's thread only).
        channel: the programme's Aliyun SMS channel, which reads a push.
        host: the address to listen on.
        port: the port (0: any free one; :attr:`port` says which).
        path: the path Aliyun's console names.
    """

    def __init__(
        self,
        engine: Engine,
        channel: AliyunSmsChannel,
        *,
        host: str = "127.0.0.1",
        port: int = 8090,
        path: str = DEFAULT_PATH,
    ) -> None:
        self.engine = engine
        self.webhook = SmsUpWebhook(channel)
        self.host = host
        self.port = port
        self.path = path
        self._runner: web.AppRunner | None = None

    @property
    def channel(self) -> AliyunSmsChannel:
        """The channel that reads a push."""
        return self.webhook.channel

    @classmethod
    def from_options(cls, engine: Engine, options: Mapping[str, str]) -> SmsUpListener:
        """Build it from ``membercore worker``'s options (``host``, ``port``).

        Raises:
            ConfigError: the programme's ``[channels.sms]`` is not Aliyun's, or the port
                is none.
        """
        channel = _aliyun(engine)
        port = options.get("port", "8090")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError("port", f"{port!r} is not a port number (0 to 65535)")
        return cls(engine, channel, host=options.get("host", "127.0.0.1"), port=int(port))

    async def start(self) -> None:
        """Listen (the port is known once this returns)."""
        app = web.Application(client_max_size=_LARGEST)
        app.router.add_route("*", self.path, self._pushed)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("listening for Aliyun SmsUp pushes on %s:%s%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        """Stop: the push being taken is answered, then the server closes."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _pushed(self, request: web.Request) -> web.Response:
        call = WebhookCall(
            method=request.method,
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
        )
        answer = await self.webhook.receive(call, directly(self.engine))
        return web.Response(
            body=answer.body, status=answer.status, headers={"Content-Type": answer.content_type}
        )
