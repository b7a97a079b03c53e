"""Notifications to staff in WeCom: an app message (应用消息) from the hospital's self-built app.

A health manager is told of a call task assigned to them, or of an escalation, in their
WeCom client: ``POST /cgi-bin/message/send`` with the app's AgentId and a text (or a text
card that opens a link). It needs the app's secret (``app_secret_env``) and AgentId
(``agent_id``) in the channel's options.

:class:`WeComStaffNotifier` sends one (``notify``); :class:`WeComStaffChannel`, the
factory ``wecom-staff``, carries the programme's ``staff`` channel: the notices the
engine puts in the outbox when a task is given to someone.

WeCom drops app messages to one staff member beyond 30 a minute and 1,000 an hour: the
notifier holds to its own limits first (``per_minute``, ``per_hour_per_member``) and
says how long to wait. It asks WeCom to check for duplicates
(``enable_duplicate_check``): the same notification sent again within half an hour (a
retry after a lost answer) reaches the staff member once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from membercore.config.outreach import MessageTemplate
from membercore.errors import ConfigError
from membercore.ports import OutboxMessage, Outgoing, PermanentDeliveryError, TransientDeliveryError
from membercore_wecom.api import Secret, WeComApi
from membercore_wecom.errcodes import WeComError, failure
from membercore_wecom.limits import Throttle
from membercore_wecom.options import WeComOptions, allows, carriage

__all__ = [
    "DUPLICATE_CHECK_SECONDS",
    "WeComStaffChannel",
    "WeComStaffNotifier",
    "staff_notifier",
]

#: WeCom delivers the same message (the same request JSON) once within this many seconds.
DUPLICATE_CHECK_SECONDS = 1800
#: Notices remembered, so that one handed over again is not sent again.
_REMEMBERED = 100_000
#: The longest text of a text message, and of a text card's title and description (bytes).
_MAX_TEXT = 2048
_MAX_TITLE = 128
_MAX_DESCRIPTION = 512


class WeComStaffNotifier:
    """Sends app messages to staff members.

    Build it with :func:`staff_notifier` from the channel's options, or take the
    channel's own (:meth:`~membercore_wecom.WeComChannel.staff_notifier`), which shares
    its access tokens.

    Args:
        api: the WeCom client.
        secret: the self-built app's secret.
        agent_id: the app's AgentId.
        userid: a staff id's WeCom userid.
        throttle: the limits held before sending.
        monotonic: the clock the limits are kept by.
    """

    def __init__(
        self,
        api: WeComApi,
        secret: Secret,
        agent_id: int,
        *,
        userid: Callable[[str], str],
        throttle: Throttle,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent_id = agent_id
        self._api = api
        self._secret = secret
        self._userid = userid
        self._throttle = throttle
        self._monotonic = monotonic

    @classmethod
    def over(
        cls,
        api: WeComApi,
        options: WeComOptions,
        secret: Secret | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> WeComStaffNotifier:
        """The notifier ``options`` describe, over ``api``.

        Raises:
            ConfigError: the options give no ``agent_id`` and ``app_secret_env``.
        """
        if options.agent_id is None or secret is None:
            raise ConfigError(
                "agent_id",
                f"staff notifications need the app's agent_id and app_secret_env in "
                f"[channels.{options.name}]",
            )
        return cls(
            api,
            secret,
            options.agent_id,
            userid=options.userid,
            throttle=Throttle(options.per_minute, options.per_hour_per_member),
            monotonic=monotonic,
        )

    def __repr__(self) -> str:
        return f"WeComStaffNotifier(corp_id={self._api.corp_id!r}, agent_id={self.agent_id})"

    def close(self) -> None:
        """Close the HTTP connections (shared with the channel it came from, if any)."""
        self._api.close()

    def notify(
        self, staff_id: str, text: str, *, title: str | None = None, url: str | None = None
    ) -> str:
        """Send ``text`` to staff member ``staff_id``; WeCom's ``msgid`` of the message.

        Args:
            staff_id: the staff member (mapped to a WeCom userid by the ``staff`` table;
                an id not listed is its own userid).
            text: what to tell them (a text message), or the card's description.
            title: with ``url``, the card's title.
            url: a link the message opens (a text card: ``title`` and ``text`` above it).

        Raises:
            ValueError: ``url`` without ``title``, or the reverse.
            PermanentDeliveryError: the text is too long, or WeCom does not know the
                staff member or may not send to them (outside the app's visible range).
            TransientDeliveryError: the app's or the staff member's rate limit is
                reached (the wait until it is not), or WeCom is busy or over its limits.
            WeComError: WeCom answered with a code the notifier does not know, or says
                the setup is wrong.
            WeComUnreachableError: WeCom could not be reached.
        """
        userid = self._userid(staff_id)
        body: dict[str, Any] = {"touser": userid, "agentid": self.agent_id}
        if title is None and url is None:
            _fits("text", text, _MAX_TEXT)
            body |= {"msgtype": "text", "text": {"content": text}}
        elif title is None or url is None:
            raise ValueError("a text card needs both title and url")
        else:
            _fits("title", title, _MAX_TITLE)
            _fits("text", text, _MAX_DESCRIPTION)
            body |= {
                "msgtype": "textcard",
                "textcard": {"title": title, "description": text, "url": url},
            }
        body |= {"enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}
        wait = self._throttle.admit(userid, self._monotonic())
        if wait > 0:
            raise TransientDeliveryError(
                f"notification to {staff_id}: held back by the rate limits (per_minute "
                f"{self._throttle.per_minute}, per_hour_per_member "
                f"{self._throttle.per_hour_per_member})",
                retry_after=wait,
            )
        try:
            answer: Mapping[str, Any] = self._api.post("message/send", self._secret, body)
        except WeComError as error:
            raise failure(error) from error
        invalid = str(answer.get("invaliduser") or "").split("|")
        # WeCom gives the userids it refused in lower case.
        if userid.lower() in invalid:
            raise PermanentDeliveryError(
                f"notification to {staff_id}: WeCom does not know {userid} or may not send "
                "to them (invaliduser: outside the app's visible range?)"
            )
        msgid = answer.get("msgid")
        if not isinstance(msgid, str) or not msgid:
            raise WeComError("message/send", None, "the answer holds no msgid")
        return msgid


def staff_notifier(
    options: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> WeComStaffNotifier:
    """The staff notifier of a ``[channels.wecom]`` table (without ``use``).

    Args:
        options: the channel's table: ``corp_id``, ``app_secret_env``, ``agent_id``,
            ``staff``, the limits, ``base_url`` and ``timeout`` serve the notifier.
        environ: where the secrets' variables are read (the process environment).
        transport: the HTTP transport (httpx's own).
        monotonic: the clock the limits are kept by.

    Raises:
        ConfigError: a key unknown, missing or wrong, a variable not set, or no
            ``agent_id`` and ``app_secret_env``.
    """
    read = WeComOptions.read(options)
    api = WeComApi(
        read.corp_id,
        base_url=read.base_url,
        timeout=read.timeout,
        transport=transport,
        monotonic=monotonic,
    )
    return WeComStaffNotifier.over(api, read, read.app_secret(environ), monotonic=monotonic)


class WeComStaffChannel:
    """The programme's ``staff`` channel: each notice in the outbox an app message.

    The engine puts a notice to a staff member in the outbox when a task is given them
    (``to``: their staff id); this channel sends it with a :class:`WeComStaffNotifier`.
    Build it with :meth:`from_options` (the factory registered as ``wecom-staff``).

    Args:
        notifier: what sends.
        name: the programme's channel it serves (``staff``).
        templates: the templates it carries (None: every one, as free text).
    """

    def __init__(
        self,
        notifier: WeComStaffNotifier,
        *,
        name: str = "staff",
        templates: tuple[str, ...] | None = None,
    ) -> None:
        self.name = name
        self.notifier = notifier
        self._templates = templates
        self._sent: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> WeComStaffChannel:
        """Build the channel from its ``[channels.staff]`` table (without ``use``).

        The table takes the app's keys: ``corp_id``, ``app_secret_env``, ``agent_id``
        (required), ``staff``, ``per_minute``, ``per_hour_per_member``, ``base_url``,
        ``timeout``, ``templates``.

        Raises:
            ConfigError: a key unknown, missing or wrong, or a variable not set.
        """
        read = WeComOptions.read_staff(options)
        api = WeComApi(
            read.corp_id,
            base_url=read.base_url,
            timeout=read.timeout,
            transport=transport,
            monotonic=monotonic,
        )
        notifier = WeComStaffNotifier.over(api, read, read.app_secret(environ), monotonic=monotonic)
        return cls(notifier, name=read.name, templates=read.templates)

    def __repr__(self) -> str:
        return f"WeComStaffChannel(name={self.name!r}, notifier={self.notifier!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.notifier.close()

    def carries(self, template: MessageTemplate) -> str | None:
        """``"free text"`` for every template, or only those the options list."""
        return carriage(self._templates, template)

    def send(self, message: OutboxMessage) -> str:
        """Send the notice to the staff member it names; WeCom's ``msgid``.

        Raises:
            PermanentDeliveryError: the payload names no staff member, or WeCom cannot
                reach them (see :meth:`WeComStaffNotifier.notify`).
            TransientDeliveryError: a rate limit, or WeCom busy.
            WeComError: a code not known, or the setup is wrong.
            WeComUnreachableError: WeCom could not be reached.
        """
        try:
            outgoing = Outgoing.of(message)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from error
        if outgoing.template is not None and not allows(self._templates, outgoing.template):
            raise PermanentDeliveryError(
                f"notice {outgoing.message_id}: channel {self.name!r} does not carry "
                f"template {outgoing.template!r}"
            )
        if not outgoing.to:
            raise PermanentDeliveryError(f"notice {outgoing.message_id}: it names no staff member")
        sent = self._sent.get(outgoing.message_id)
        if sent is not None:
            return sent
        msgid = self.notifier.notify(outgoing.to, outgoing.text)
        self._sent[outgoing.message_id] = msgid
        if len(self._sent) > _REMEMBERED:
            self._sent.popitem(last=False)
        return msgid


def _fits(what: str, text: str, limit: int) -> None:
    if len(text.encode("utf-8")) > limit:
        raise PermanentDeliveryError(f"the {what} is longer than WeCom's {limit} bytes")
