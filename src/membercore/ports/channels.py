"""The channel port: how a message leaves the programme, and how its fate comes back.

A :class:`Channel` takes one message at a time (:meth:`Channel.send`) and answers with
its acknowledgment, or says why it failed (:class:`PermanentDeliveryError`,
:class:`TransientDeliveryError`, any other exception). What it is handed is an
:class:`~membercore.ports.OutboxMessage` whose payload :class:`Outgoing` reads.

A channel may do more, each an optional protocol the engine looks for:

- :class:`ReportingChannel`: it reads back what its provider said afterwards — a
  message delivered to the handset or undeliverable (:class:`DeliveryReport`), a
  member's reply (:class:`Reply`, an SMS answered ``TD``).
- :class:`TemplatedChannel`: it says how it carries each of the programme's templates
  (a provider template and its parameters, or free text), so that a programme naming a
  template the channel cannot carry is refused before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from membercore.config.outreach import MessageTemplate
from membercore.dates import as_utc, aware
from membercore.ports.stored import OutboxMessage

__all__ = [
    "Channel",
    "ChannelReport",
    "DeliveryFailedError",
    "DeliveryReport",
    "Outgoing",
    "PermanentDeliveryError",
    "Reply",
    "ReportingChannel",
    "TemplatedChannel",
    "TransientDeliveryError",
    "carriage",
]


class DeliveryFailedError(Exception):
    """A channel's failure that says what is to be done with the message.

    Any other exception a channel raises is a failure to try again, with back-off.
    """


class PermanentDeliveryError(DeliveryFailedError):
    """The message can never be delivered this way: it is given up at once, not retried.

    A number that does not exist, a template the provider refused, a patient who blocked
    the account, no address for the channel on the member's record: sending again would
    fail again. The programme falls back to the member's next channel.
    """


class TransientDeliveryError(DeliveryFailedError):
    """The provider asked to be tried again later (a rate limit, a busy gateway).

    Attributes:
        retry_after: the seconds it asked to wait, at least (None: the back-off's).
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _text_map(value: Any) -> dict[str, str]:
    return {str(name): str(text) for name, text in (value or {}).items()}


@attrs.frozen(kw_only=True)
class Outgoing:
    """What a channel is handed of one message (the payload of its outbox row).

    Attributes:
        message_id: the message's id (``<member>/msg/<n>``): send it as the provider's
            own id for the message where it has one, so a retry never sends twice.
        member_id: the member it goes to.
        channel: the programme's channel (``wecom``, ``sms``, ``email``).
        text: the rendered text, in ``language``.
        language: the text's language (``zh-CN``...).
        variables: the values of the template's declared variables, for a provider
            template's parameters.
        template: the programme's template key, which the channel maps to its
            provider's template (None in messages queued before templates were named).
        purpose: ``care``, ``marketing`` or ``research`` (a marketing SMS carries the
            opt-out text; None as for ``template``).
        to: the member's address on the channel at the hand-over (their mobile number,
            e-mail address, WeCom external contact id); None when their record has none.
        manager: the member's health manager (a staff id), who sends WeCom messages to
            their external contacts; None when they have none.
    """

    message_id: str
    member_id: str
    channel: str
    text: str
    language: str = "zh-CN"
    variables: Mapping[str, str] = attrs.field(factory=dict, converter=_text_map)
    template: str | None = None
    purpose: str | None = None
    to: str | None = None
    manager: str | None = None

    @classmethod
    def of(cls, message: OutboxMessage) -> Outgoing:
        """Read a message's payload.

        Raises:
            ValueError: the payload is not an outgoing message (a channel given it
                should fail the delivery for good: it would never read better).
        """
        try:
            fields = json.loads(message.payload)
            return cls(
                message_id=str(fields.get("message_id") or message.message_id),
                member_id=str(fields["member_id"]),
                channel=str(fields.get("channel") or message.channel),
                text=str(fields["text"]),
                language=str(fields.get("language") or "zh-CN"),
                variables=fields.get("variables") or {},
                template=fields.get("template"),
                purpose=fields.get("purpose"),
                to=fields.get("to"),
                manager=fields.get("manager"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"message {message.message_id}: not an outgoing message") from error


@runtime_checkable
class Channel(Protocol):
    """A way to reach members: WeCom, SMS, e-mail, a console or file for testing."""

    name: str

    def send(self, message: OutboxMessage) -> str:
        """Deliver one message and return the channel's acknowledgment (its id).

        Raises:
            PermanentDeliveryError: it can never be delivered this way (given up at
                once, and the member's next channel tried).
            TransientDeliveryError: the provider asked to wait (retried no sooner).
            Exception: any other failure; the dispatcher records it and retries with
                back-off.
        """
        ...


@attrs.frozen(kw_only=True)
class DeliveryReport:
    """What the provider said, after taking a message, of its delivery.

    Attributes:
        message_id: the message (as the channel was handed it).
        delivered: it reached the member (True), or never will (False: the number is
            out of service, the customer is no longer a WeCom contact...).
        at: when the provider says it happened.
        detail: the provider's own words (a status code and its description).
    """

    message_id: str
    delivered: bool
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    detail: str = ""


@attrs.frozen(kw_only=True)
class Reply:
    """A member answered on a channel (an SMS reply ``TD``).

    Attributes:
        channel: the programme's channel it came on (``sms``).
        address: who replied: the address messages went to (their mobile number).
        text: what they wrote.
        at: when they wrote it.
        reply_id: the provider's id of the reply: the same reply read twice is taken
            once.
    """

    channel: str
    address: str
    text: str
    at: datetime = attrs.field(converter=as_utc, validator=aware)
    reply_id: str


#: What a reporting channel reads back.
ChannelReport = DeliveryReport | Reply


@runtime_checkable
class ReportingChannel(Protocol):
    """A channel that reads back what its provider said of what it took.

    A channel that holds what its provider gives only once (records pulled, replies
    pushed to it) may also have ``settled(reports)``: the engine calls it with what
    :meth:`reports` returned once that is committed; until then the channel gives it
    again (the engine takes the same report twice as once).
    """

    name: str

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> Iterable[ChannelReport]:
        """The provider's reports and the members' replies since it was last asked.

        Args:
            awaiting: the messages it acknowledged that have no report yet, with their
                receipts, addresses and acknowledgment instants (what a provider that
                is asked message by message needs).
            now: the instant of the asking.

        Raises:
            Exception: the provider could not be asked; nothing is recorded and it is
                asked again next time.
        """
        ...


@runtime_checkable
class TemplatedChannel(Protocol):
    """A channel that says how it carries the programme's templates."""

    name: str

    def carries(self, template: MessageTemplate) -> str | None:
        """How it carries the programme's ``template`` (for a person), or None if it cannot.

        ``"SMS_15302 (name, price)"`` for a provider template and its parameters,
        ``"free text"`` for a channel that sends the rendered text.

        Raises:
            ConfigError: the channel's options map the template wrongly (a parameter
                filled by a variable the template does not declare, a marketing
                template without the opt-out text), naming the option.
        """
        ...


def carriage(channel: object, templates: Iterable[MessageTemplate]) -> dict[str, str | None]:
    """How ``channel`` carries each of ``templates``, by key (free text when it does not say).

    Raises:
        ConfigError: as :meth:`TemplatedChannel.carries`.
    """
    if isinstance(channel, TemplatedChannel):
        return {template.key: channel.carries(template) for template in templates}
    return {template.key: "free text" for template in templates}
