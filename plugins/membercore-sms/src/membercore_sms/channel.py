"""What the Aliyun and Tencent Cloud channels share.

Reading a message, choosing and filling its provider template, refusing what can never
be sent, and keeping what the provider said until it is asked for. A message goes by SMS
only as a provider template approved in advance: the channel's ``templates`` map each
programme template to one (:class:`~membercore_sms.options.ProviderTemplate`).

What the message cannot be sent as — no mobile number, a number that is not one, no
template or one the options do not map, a variable the template needs and the message
lacks, a marketing message through a template not marked as carrying the opt-out text —
is a :class:`~membercore.ports.PermanentDeliveryError`, before the provider is asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import attrs
import httpx

from membercore.config.outreach import MessageTemplate
from membercore.errors import ConfigError
from membercore.ports import (
    ChannelReport,
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    Reply,
)
from membercore_sms.options import CommonSettings, MissingVariableError, ProviderTemplate, Secret
from membercore_sms.phones import AddressBook, canonical, masked

__all__ = ["SmsChannel", "SmsProviderError", "same_signature", "sent_record"]

log = logging.getLogger("membercore_sms")

Clock = Callable[[], datetime]


class SmsProviderError(Exception):
    """The provider could not be asked, or refused for another reason: tried again later.

    Neither the message's fault for good nor a limit with a known end: credentials
    refused, a balance spent, a service suspended, an answer not understood. The engine
    tries again after its back-off, and gives up after its attempts.

    Attributes:
        code: the provider's error code, when it gave one.
    """

    def __init__(self, text: str, *, code: str | None = None) -> None:
        super().__init__(text)
        self.code = code


def same_signature(given: object, ours: str) -> bool:
    """Whether a reply's signature (签名) is the channel's, brackets aside.

    A reply that names none is taken as the channel's.
    """
    bare = str(given or "").strip().strip("【】[]")
    return not bare or bare == ours.strip().strip("【】[]")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def sent_record(message: OutboxMessage) -> tuple[str | None, str | None, datetime | None]:
    """A message's receipt, the address it went to, and when it was acknowledged."""
    return message.receipt, message.address, message.delivered_at


class _QueryOutOfRequestLog(logging.Filter):
    """Keeps the query string of requests to the SMS APIs out of httpx's request log.

    httpx logs each request's URL at INFO; Aliyun's API takes its parameters in the
    query, and with them the member's number and the template's values (a name, a
    price): personal information that has no place in the logs. Only requests to the
    endpoints registered here lose their query, and only in that log line.
    """

    def __init__(self) -> None:
        super().__init__()
        self.endpoints: set[tuple[str, str, int | None]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], httpx.URL):
            url = args[1]
            if url.query and (url.scheme, url.host, url.port) in self.endpoints:
                hidden = f"{url.copy_with(query=None)}?<parameters not logged>"
                record.args = (args[0], hidden, *args[2:])
        return True


_request_log = _QueryOutOfRequestLog()
_request_log_lock = threading.Lock()


def _keep_query_out_of_request_log(endpoint: str) -> None:
    url = httpx.URL(endpoint)
    with _request_log_lock:
        httpx_log = logging.getLogger("httpx")
        if _request_log not in httpx_log.filters:
            httpx_log.addFilter(_request_log)
        _request_log.endpoints.add((url.scheme, url.host, url.port))


class SmsChannel:
    """An SMS channel: the parts that do not depend on the provider.

    Args:
        settings: the channel's common options.
        templates: the provider template for each programme template it carries.
        credentials: every credential it holds (kept out of what it raises).
        clock: the current instant, for the date-bound limits (UTC now by default).
        transport: an httpx transport (tests give a mock one; by default the network).
    """

    #: The provider's name, for errors and logs.
    provider: ClassVar[str] = "SMS"

    def __init__(
        self,
        settings: CommonSettings,
        templates: Mapping[str, ProviderTemplate],
        credentials: Sequence[Secret],
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = settings.name
        self.sign_name = settings.sign_name
        self.endpoint = settings.endpoint
        self.extend_code = settings.extend_code
        self.timeout = settings.timeout
        self._templates = dict(templates)
        self._credentials = tuple(credentials)
        self._clock: Clock = clock or _utc_now
        self._client = httpx.Client(timeout=settings.timeout, transport=transport)
        self._book = AddressBook()
        self._pending: list[ChannelReport] = []
        self._given: list[ChannelReport] = []
        self._lock = threading.Lock()
        _keep_query_out_of_request_log(settings.endpoint)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, endpoint={self.endpoint!r})"

    def close(self) -> None:
        """Close the connections to the provider."""
        self._client.close()

    def __enter__(self) -> SmsChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- templates ---------------------------------------------------------------------

    def carries(self, template: MessageTemplate) -> str | None:
        """The provider template ``template`` goes as, or None when none is mapped to it.

        ``SMS_15302 (name, price)``: the template and the variables that fill it.

        Raises:
            ConfigError: the mapping fills a parameter with a variable the template does
                not declare, or maps a marketing template to one without the opt-out text.
        """
        found = self._templates.get(template.key)
        if found is None:
            return None
        unknown = sorted({v for _, v in found.params} - set(template.variables))
        if unknown:
            raise ConfigError(
                f"templates.{template.key}.params",
                f"fills parameters with {unknown}, which template {template.key!r} does not "
                f"declare (it declares {list(template.variables)})",
            )
        if template.purpose == "marketing" and not found.opt_out:
            raise ConfigError(
                f"templates.{template.key}.opt_out",
                f"{template.key!r} is a marketing template: its approved SMS template must "
                "carry the opt-out text (回T退订), marked opt_out = true",
            )
        return found.describe()

    def _template_for(self, outgoing: Outgoing) -> ProviderTemplate:
        key = outgoing.template
        if key is None:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: names no template, and SMS sends only "
                "the provider's approved templates"
            )
        template = self._templates.get(key)
        if template is None:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: template {key!r} is not mapped to a "
                f"{self.provider} template (channels.{self.name}.templates.{key})"
            )
        if outgoing.purpose == "marketing" and not template.opt_out:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: template {key!r} is marketing, and "
                f"{template.template_id} is not marked as carrying the opt-out text "
                f"(opt_out = true in channels.{self.name}.templates.{key})"
            )
        return template

    # -- sending -----------------------------------------------------------------------

    def send(self, message: OutboxMessage) -> str:
        """Send the message as its provider template; the provider's id for it.

        Raises:
            PermanentDeliveryError: it can never go this way (see the module's doc), or
                the provider refused it for good (an invalid number, a template or
                signature not approved, a member who blocked the signature).
            TransientDeliveryError: a limit of the provider's, with how long it lasts
                when that is known.
            SmsProviderError: anything else (retried with back-off).
        """
        try:
            outgoing = Outgoing.of(message)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        if not outgoing.to:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: the member's record gives no mobile number"
            )
        number = canonical(outgoing.to)
        if number is None:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: {masked(outgoing.to)} is not a mobile number"
            )
        template = self._template_for(outgoing)
        try:
            values = template.fill(outgoing.variables)
        except MissingVariableError as error:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: template {outgoing.template!r} needs the "
                f"variable {error.variable!r}, which the message does not give"
            ) from None
        self._book.learn([outgoing.to])
        return self._submit(message, outgoing, number, template, values)

    def _submit(
        self,
        message: OutboxMessage,
        outgoing: Outgoing,
        number: str,
        template: ProviderTemplate,
        values: list[tuple[str, str]],
    ) -> str:
        """Ask the provider to send; its id for the message."""
        raise NotImplementedError

    # -- reports and replies -----------------------------------------------------------

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> list[ChannelReport]:
        """The delivery reports and members' replies since the last call.

        What the provider said is kept until the engine has taken it (:meth:`settled`):
        when asking fails half-way, or the engine could not commit what it was given,
        what was read already (a pulled report the provider will not give again) comes
        again with the next call's.

        Raises:
            SmsProviderError: the provider could not be asked (asked again next time).
        """
        mine = [message for message in awaiting if message.channel == self.name]
        self._book.learn(address for _, address, _ in map(sent_record, mine) if address)
        self._collect(mine, now)
        with self._lock:
            said = list(self._pending)
            self._given = said
        # A reply is kept from its number; it is given from the number as the records
        # wrote it, which the messages awaiting a report may have just told.
        return [
            attrs.evolve(item, address=self._book.address(item.address))
            if isinstance(item, Reply)
            else item
            for item in said
        ]

    def settled(self, reports: Sequence[ChannelReport]) -> None:
        """The engine took what the last :meth:`reports` gave: let it go."""
        with self._lock:
            given = {id(item) for item in self._given}
            self._pending = [item for item in self._pending if id(item) not in given]
            self._given = []

    def _collect(self, awaiting: Sequence[OutboxMessage], now: datetime) -> None:
        """Ask the provider; :meth:`_keep` each report and reply."""
        raise NotImplementedError

    def _keep(self, found: Iterable[ChannelReport]) -> None:
        with self._lock:
            self._pending.extend(found)

    # -- what is safe to say -----------------------------------------------------------

    def _scrub(self, said: object) -> str:
        """``said`` as text with every credential the channel holds blotted out."""
        shown = str(said)
        for credential in self._credentials:
            value = credential.reveal()
            if value:
                shown = shown.replace(value, "********")
        return shown

    def _unreachable(self, action: str, error: httpx.HTTPError) -> SmsProviderError:
        if isinstance(error, httpx.TimeoutException):
            reason = f"no answer within {self.timeout:g} s"
        else:
            reason = f"{type(error).__name__}: {self._scrub(error)}"
        return SmsProviderError(f"{self.provider} {action}: {reason}")

    def _answer(self, action: str, response: httpx.Response) -> dict[str, Any]:
        """The response's JSON object.

        Raises:
            SmsProviderError: it is not one.
        """
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SmsProviderError(
                f"{self.provider} {action}: HTTP {response.status_code}, not a JSON object"
            )
        return body
