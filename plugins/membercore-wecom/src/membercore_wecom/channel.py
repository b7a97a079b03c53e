"""The WeCom channel: messages to patients through their health managers' external contacts.

A patient who added a staff member (usually their health manager) as a WeCom contact
(客户联系) is reached by a mass-message task (企业群发, ``externalcontact/add_msg_template``)
for that one customer: WeCom puts it in the staff member's client, who confirms the
sending. The task's ``msgid`` is the acknowledgment; whether the staff member sent it,
and whether it reached the customer, is read back later
(``externalcontact/get_groupmsg_send_result``) as a
:class:`~membercore.ports.DeliveryReport`.

WeCom sends free text: every programme template is carried as its rendered text, unless
the options list the templates the channel may carry.

Before a request goes out the channel holds to the limits it keeps itself (the app's
requests a minute, each member's an hour: a
:class:`~membercore.ports.TransientDeliveryError` with the wait) and to the customer's
monthly allowance of mass messages (a :class:`~membercore.ports.PermanentDeliveryError`,
so that the message falls back to the member's next channel now rather than weeks late).
WeCom's error codes are acted on by one table (:mod:`membercore_wecom.errcodes`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from membercore.config.outreach import MessageTemplate
from membercore.ports import (
    ChannelReport,
    DeliveryReport,
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from membercore_wecom.api import Secret, WeComApi, WeComUnreachableError
from membercore_wecom.errcodes import Action, WeComError, failure
from membercore_wecom.limits import MonthlyQuota, Throttle, next_month
from membercore_wecom.options import WeComOptions, allows, carriage
from membercore_wecom.staff import WeComStaffNotifier

__all__ = ["MAX_TEXT_BYTES", "SEND_STATUS", "WeComChannel"]

logger = logging.getLogger(__name__)

#: The longest text a mass message may carry (text.content, UTF-8 bytes).
MAX_TEXT_BYTES = 4000
#: The send statuses of ``get_groupmsg_send_result``: (delivered, WeCom's words); 0 (not
#: sent yet) has no report.
SEND_STATUS: Mapping[int, tuple[bool, str]] = {
    1: (True, "已发送"),
    2: (False, "因客户不是好友导致发送失败"),
    3: (False, "因客户已经收到其他群发消息导致发送失败"),
}
#: WeCom's code for a task still being handed out to its staff member (41063).
_DISPATCHING = 41063
#: Results asked for a page (WeCom's most).
_PAGE = 1000
#: Acknowledgments remembered, so that a message handed over again is not sent again.
_REMEMBERED = 100_000


class WeComChannel:
    """Messages to patients as mass-message tasks their health managers confirm.

    Build it with :meth:`from_options` (the factory registered as ``wecom``).

    Args:
        options: the channel's options.
        contact_secret: the customer contact secret.
        api: the WeCom client (its tokens shared with the staff notifier).
        app_secret: the self-built app's secret, for :meth:`staff_notifier`.
        clock: the wall clock months are counted by.
        monotonic: the clock rate limits are kept by.
    """

    def __init__(
        self,
        options: WeComOptions,
        *,
        contact_secret: Secret,
        api: WeComApi,
        app_secret: Secret | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = options.name
        self.options = options
        self._secret = contact_secret
        self._app_secret = app_secret
        self._api = api
        self._clock = clock or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self._throttle = Throttle(options.per_minute, options.per_hour_per_member)
        self._quota = MonthlyQuota(options.monthly_limit_per_customer)
        self._receipts: OrderedDict[str, str] = OrderedDict()
        self._tasks: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._notifier: WeComStaffNotifier | None = None

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> WeComChannel:
        """Build the channel from its ``[channels.wecom]`` table (without ``use``).

        Args:
            options: the table.
            environ: where the secrets' variables are read (the process environment).
            transport: the HTTP transport (httpx's own).
            clock: the wall clock (the system's).
            monotonic: the clock rate limits are kept by.

        Raises:
            ConfigError: a key unknown, missing or wrong, or a variable not set.
        """
        read = WeComOptions.read(options)
        contact = read.contact_secret(environ)
        app = read.app_secret(environ)
        api = WeComApi(
            read.corp_id,
            base_url=read.base_url,
            timeout=read.timeout,
            transport=transport,
            monotonic=monotonic,
        )
        return cls(
            read,
            contact_secret=contact,
            api=api,
            app_secret=app,
            clock=clock,
            monotonic=monotonic,
        )

    def __repr__(self) -> str:
        return f"WeComChannel(name={self.name!r}, corp_id={self.options.corp_id!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self._api.close()

    def carries(self, template: MessageTemplate) -> str | None:
        """``"free text"`` for every template, or only those the options list."""
        return carriage(self.options.templates, template)

    def sender(self, manager: str | None) -> str | None:
        """The WeCom userid who sends to a member with health manager ``manager``.

        The manager's staff id through the ``staff`` table (a staff id not listed is its
        own userid), or ``default_sender`` for a member without one.
        """
        if manager:
            return self.options.userid(manager)
        return self.options.default_sender

    def send(self, message: OutboxMessage) -> str:
        """Create the mass-message task for the member; its ``msgid``.

        Raises:
            PermanentDeliveryError: no external contact id, no sender, a template not
                carried, a text too long, the month's messages to the customer used up,
                or WeCom says the customer cannot be sent to (not the sender's contact,
                an unknown staff member...).
            TransientDeliveryError: the app's or the member's rate limit is reached (the
                wait until it is not), or WeCom is busy or over its frequency limits.
            WeComError: WeCom answered with a code the channel does not know, or says
                the setup is wrong (retried with back-off).
            WeComUnreachableError: WeCom could not be reached.
        """
        try:
            outgoing = Outgoing.of(message)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from error
        what = f"message {outgoing.message_id}"
        if outgoing.template is not None and not allows(self.options.templates, outgoing.template):
            raise PermanentDeliveryError(
                f"{what}: channel {self.name!r} does not carry template {outgoing.template!r}"
            )
        if not outgoing.to:
            raise PermanentDeliveryError(f"{what}: the member has no WeCom external contact id")
        sender = self.sender(outgoing.manager)
        if sender is None:
            raise PermanentDeliveryError(
                f"{what}: the member has no health manager and {self.name}.default_sender "
                "is not set: nobody to send it"
            )
        if len(outgoing.text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise PermanentDeliveryError(
                f"{what}: the text is longer than WeCom's {MAX_TEXT_BYTES} bytes"
            )
        sent = self._receipts.get(outgoing.message_id)
        if sent is not None:
            # Taken already (the acknowledgment was lost on the way to the store).
            return sent
        at = self._clock()
        if not self._quota.take(outgoing.to, at):
            raise PermanentDeliveryError(
                f"{what}: the customer was sent {self._quota.limit} mass messages this "
                f"month (monthly_limit_per_customer): WeCom takes no more before "
                f"{next_month(at):%Y-%m-%d}"
            )
        try:
            msgid = self._create_task(outgoing, outgoing.to, sender, what)
        except BaseException:
            # Not taken by WeCom: the customer's allowance is as it was.
            self._quota.give_back(outgoing.to, at)
            raise
        _remember(self._receipts, outgoing.message_id, msgid)
        _remember(self._tasks, msgid, (outgoing.message_id, sender))
        return msgid

    def _create_task(self, outgoing: Outgoing, to: str, sender: str, what: str) -> str:
        """Ask WeCom for the task for customer ``to``, within the rate limits; its ``msgid``."""
        wait = self._throttle.admit(outgoing.member_id, self._monotonic())
        if wait > 0:
            raise TransientDeliveryError(
                f"{what}: held back by the channel's rate limits (per_minute "
                f"{self._throttle.per_minute}, per_hour_per_member "
                f"{self._throttle.per_hour_per_member})",
                retry_after=wait,
            )
        body = {
            "chat_type": "single",
            "external_userid": [to],
            "sender": sender,
            "text": {"content": outgoing.text},
        }
        answer = self._post("externalcontact/add_msg_template", body)
        fail_list = answer.get("fail_list") or []
        if to in fail_list:
            raise PermanentDeliveryError(
                f"{what}: WeCom cannot send to the customer (fail_list): not an external "
                f"contact of {sender}, or not able to receive mass messages"
            )
        msgid = answer.get("msgid")
        if not isinstance(msgid, str) or not msgid:
            raise WeComError("externalcontact/add_msg_template", None, "the answer holds no msgid")
        return msgid

    def message_of(self, msgid: str) -> str | None:
        """The programme message a task (``msgid``) was created for, while remembered.

        WeCom's mass-message task takes no id of the caller's: the channel remembers,
        in this process, which message each task it created carries (the last
        100,000), and hands over a message it already created a task for by that
        task's ``msgid`` rather than creating another.
        """
        task = self._tasks.get(msgid)
        return None if task is None else task[0]

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> list[ChannelReport]:
        """What WeCom says of each awaiting task: sent to the customer, or failed.

        A task its staff member has not sent yet has no report. When WeCom is busy or
        over its limits part-way, the reports read so far are returned and the rest
        asked for next time.

        Raises:
            WeComUnreachableError: WeCom could not be reached for the first message.
            WeComError: WeCom refused the first question (busy, or the setup).
        """
        found: list[ChannelReport] = []
        for message in awaiting:
            try:
                report = self._report(message, now)
            except WeComError as error:
                if error.errcode == _DISPATCHING or error.action in {Action.GIVE_UP, None}:
                    # This task's answer only: the others' may be read.
                    logger.warning("WeCom send result of %s: %s", message.message_id, error)
                    continue
                stop: Exception = error
            except WeComUnreachableError as error:
                stop = error
            else:
                if report is not None:
                    found.append(report)
                continue
            if not found:
                raise stop
            logger.warning("WeCom send results: the rest asked for next time: %s", stop)
            break
        return found

    def staff_notifier(self) -> WeComStaffNotifier:
        """The notifier for staff, sharing this channel's client and tokens.

        Raises:
            ConfigError: the options give no ``agent_id`` and ``app_secret_env``.
        """
        if self._notifier is None:
            self._notifier = WeComStaffNotifier.over(
                self._api, self.options, self._app_secret, monotonic=self._monotonic
            )
        return self._notifier

    def _report(self, message: OutboxMessage, now: datetime) -> DeliveryReport | None:
        receipt, address = message.receipt, message.address
        if not receipt:
            return None
        task = self._tasks.get(receipt)
        sender = None if task is None else task[1]
        if sender is None or address is None:
            try:
                outgoing = Outgoing.of(message)
            except ValueError:
                return None
            sender = sender or self.sender(outgoing.manager)
            address = address or outgoing.to
        if sender is None or address is None:
            return None
        item = self._send_result(receipt, sender, address)
        status = None if item is None else item.get("status")
        if item is None or not isinstance(status, int) or status not in SEND_STATUS:
            return self._unconfirmed(message, now)
        delivered, words = SEND_STATUS[status]
        at = now
        send_time = item.get("send_time")
        if delivered and isinstance(send_time, int) and send_time > 0:
            at = datetime.fromtimestamp(send_time, UTC)
        return DeliveryReport(
            message_id=message.message_id,
            delivered=delivered,
            at=at,
            detail=f"WeCom status {status} {words}",
        )

    def _unconfirmed(self, message: OutboxMessage, now: datetime) -> DeliveryReport | None:
        """A task its staff member left unsent past ``confirm_within_hours``: undeliverable."""
        handed = message.delivered_at
        limit = timedelta(hours=self.options.confirm_within_hours)
        if handed is None or now - handed < limit:
            return None  # still the staff member's to confirm
        return DeliveryReport(
            message_id=message.message_id,
            delivered=False,
            at=now,
            detail=(
                f"WeCom status 0 未发送: not confirmed by its staff member within "
                f"{self.options.confirm_within_hours} h"
            ),
        )

    def _send_result(self, msgid: str, sender: str, customer: str) -> Mapping[str, Any] | None:
        """The customer's entry in the task's results (None: not there yet)."""
        cursor = ""
        while True:
            body: dict[str, Any] = {"msgid": msgid, "userid": sender, "limit": _PAGE}
            if cursor:
                body["cursor"] = cursor
            answer = self._post("externalcontact/get_groupmsg_send_result", body, translate=False)
            for item in answer.get("send_list") or []:
                if isinstance(item, Mapping) and item.get("external_userid") == customer:
                    return item
            cursor = answer.get("next_cursor") or ""
            if not isinstance(cursor, str) or not cursor:
                return None

    def _post(
        self, api: str, body: Mapping[str, Any], *, translate: bool = True
    ) -> Mapping[str, Any]:
        """WeCom's answer; its error codes as delivery failures if ``translate``."""
        try:
            answer: Mapping[str, Any] = self._api.post(api, self._secret, body)
        except WeComError as error:
            if translate:
                raise failure(error) from error
            raise
        return answer


def _remember(memory: OrderedDict[str, Any], key: str, value: object) -> None:
    memory[key] = value
    if len(memory) > _REMEMBERED:
        memory.popitem(last=False)
