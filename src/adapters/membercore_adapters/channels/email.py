"""The e-mail channel: messages sent through the hospital's mail server over SMTP.

The factory ``smtp`` builds an :class:`SmtpChannel` from a programme's
``[channels.email]`` table. Each message goes out as one plain-text UTF-8 e-mail: to the
member's address, from the hospital's sender, under the subject the table gives the
programme's template, with a ``Message-ID`` made from the programme's message id (which is
the acknowledgment) and that id again in ``X-Membercore-Message``. A marketing e-mail
carries the opt-out line and, when the table gives one, a ``List-Unsubscribe`` header.

It speaks SMTP with the standard library's :mod:`smtplib`: the dispatcher hands messages
over one at a time and waits for each answer, and ``smtplib`` does STARTTLS, implicit TLS
and AUTH completely, so an asynchronous client would add a dependency and an event loop
for nothing. The server's certificate is verified against the system's trust store, or
against the hospital's own CA (``ca_file``).

What the mail server answers decides what becomes of a message: a 5xx reply to the
recipient or the content fails it for good (:class:`~membercore.ports.PermanentDeliveryError`:
the member's next channel is tried); a 4xx reply asks for a retry
(:class:`~membercore.ports.TransientDeliveryError`, with no wait of its own: SMTP does not
say how long); a server that cannot be reached, refuses the login or times out raises
:class:`MailServerError`, retried with back-off. SMTP reads back no delivery reports: a
message the server took is delivered as far as membercore knows.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal

import attrs

from membercore.config.outreach import MessageTemplate
from membercore.errors import ConfigError
from membercore.hookspecs import ChannelFactory, hookimpl
from membercore.ports import (
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = [
    "DEFAULT_OPT_OUT_TEXT",
    "MailServerError",
    "SmtpChannel",
    "SmtpSettings",
    "membercore_register_channels",
    "message_id_header",
]

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]

#: The line a marketing e-mail ends with unless the table gives its own.
DEFAULT_OPT_OUT_TEXT = "如不希望再收到此类邮件，请致电客服或在会员中心退订。"

_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}
_OPTIONS = frozenset(
    {
        "host",
        "port",
        "security",
        "username_env",
        "password_env",
        "sender",
        "subjects",
        "default_subject",
        "reply_to",
        "unsubscribe",
        "opt_out_text",
        "ca_file",
        "timeout",
        "name",
    }
)
# Characters kept as they are in a Message-ID's left part: every one is atext (RFC 5322
# section 3.2.3), "/" included. The rest are written =XX per UTF-8 byte, so that two
# message ids never make the same Message-ID and no dot can end up misplaced.
_ID_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/")


class MailServerError(Exception):
    """The mail server could not be reached, or refused the session: tried again later.

    Unreachable, timed out, a certificate that does not verify, STARTTLS or AUTH not
    offered, the login refused, the sender refused. The message never holds the password.
    """


@attrs.frozen(kw_only=True)
class SmtpSettings:
    """The e-mail channel's settings, read from its options (see :meth:`from_options`).

    Attributes:
        name: the programme's channel it serves (``email``).
        host: the mail server.
        port: its port (587 for STARTTLS, 465 for implicit TLS, 25 for a local relay).
        security: ``starttls``, ``tls`` (implicit) or ``none`` (a relay on this machine).
        username: the login, when the server wants one.
        password: its password (never shown: not in the repr).
        sender: the ``From`` header, a display name and an address.
        sender_address: the sender's address alone (the envelope's sender).
        subjects: the subject of each programme template's e-mails, by template key.
        default_subject: the subject of the other templates' (None: they are not carried).
        reply_to: the ``Reply-To`` header, when replies go elsewhere than the sender.
        unsubscribe: the ``List-Unsubscribe`` target of marketing e-mails (``mailto:`` or
            ``https:``), when the hospital has one.
        opt_out_text: the line a marketing e-mail ends with.
        ca_file: the CA certificates the server's certificate must chain to (None: the
            system's trust store).
        timeout: seconds to wait for the server at each step.
    """

    name: str = "email"
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    sender: str
    sender_address: str
    subjects: Mapping[str, str] = attrs.field(factory=dict)
    default_subject: str | None = None
    reply_to: str | None = None
    unsubscribe: str | None = None
    opt_out_text: str = DEFAULT_OPT_OUT_TEXT
    ca_file: Path | None = None
    timeout: float = 30.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SmtpSettings:
        """Read and check a ``[channels.email]`` table (less its ``use``).

        Raises:
            ConfigError: a key is unknown, a required one is missing, a value is of the
                wrong kind, an environment variable named is not set, or the security
                would send a login in clear or leave this machine without TLS.
        """
        for key in options:
            if key not in _OPTIONS:
                raise ConfigError(key, f"not an option of the smtp channel ({_known()})")
        name = _text(options, "name") or "email"
        host = _required(options, "host")
        security = _text(options, "security") or "starttls"
        if security not in _PORTS:
            raise ConfigError("security", f"must be starttls, tls or none, got {security!r}")
        port = _port(options.get("port", _PORTS[security]))
        username, password = _login(options)
        sender = _required(options, "sender")
        sender_address = _one_address("sender", sender)
        reply_to = _text(options, "reply_to")
        if reply_to is not None:
            _one_address("reply_to", reply_to)
        subjects = _subjects(options.get("subjects", {}))
        default_subject = _header_text(options, "default_subject")
        if not subjects and default_subject is None:
            raise ConfigError(
                "subjects", "give the subject of each template's e-mails, or a default_subject"
            )
        ca_file = _text(options, "ca_file")
        if security == "none":
            if username is not None:
                raise ConfigError(
                    "security", "none would send the login in clear: use starttls or tls"
                )
            if not _is_loopback(host):
                raise ConfigError(
                    "security",
                    f"none is only for a relay on this machine (localhost), not {host!r}: "
                    "use starttls or tls",
                )
            if ca_file is not None:
                raise ConfigError("ca_file", "means nothing without TLS (security is none)")
        opt_out_text = options.get("opt_out_text", DEFAULT_OPT_OUT_TEXT)
        if not isinstance(opt_out_text, str) or not opt_out_text.strip():
            raise ConfigError("opt_out_text", "a marketing e-mail must say how to opt out")
        return cls(
            name=name,
            host=host,
            port=port,
            security=security,  # type: ignore[arg-type]
            username=username,
            password=password,
            sender=sender,
            sender_address=sender_address,
            subjects=subjects,
            default_subject=default_subject,
            reply_to=reply_to,
            unsubscribe=_unsubscribe(options.get("unsubscribe")),
            opt_out_text=opt_out_text.strip(),
            ca_file=None if ca_file is None else Path(ca_file),
            timeout=_timeout(options.get("timeout", 30)),
        )

    def subject(self, template: str | None) -> str | None:
        """The subject of ``template``'s e-mails (None: the channel does not carry it)."""
        if template is not None and template in self.subjects:
            return self.subjects[template]
        return self.default_subject

    @property
    def where(self) -> str:
        """The server, as errors name it."""
        return f"{self.host}:{self.port}"


class SmtpChannel:
    """Sends each message as one e-mail through a mail server.

    One SMTP session is kept between messages while the server keeps it (checked with
    NOOP before each; opened again when the server has dropped it); sends from several
    threads take turns on it.

    Args:
        settings: what to connect to and how to write the e-mails.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self._context = None if settings.security == "none" else _tls_context(settings.ca_file)
        self._session: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SmtpChannel:
        """Build one from a ``[channels.email]`` table (see :meth:`SmtpSettings.from_options`).

        Raises:
            ConfigError: an option is wrong.
        """
        return cls(SmtpSettings.from_options(options))

    def __repr__(self) -> str:
        return f"SmtpChannel(name={self.name!r}, server={self.settings.where!r})"

    def carries(self, template: MessageTemplate) -> str | None:
        """The rendered text under the template's subject; None when it has none."""
        subject = self.settings.subject(template.key)
        return None if subject is None else f"free text, subject {subject!r}"

    def send(self, message: OutboxMessage) -> str:
        """Send the message as an e-mail; its ``Message-ID`` is the acknowledgment.

        Raises:
            PermanentDeliveryError: the member has no usable address, the template has no
                subject, or the server refused the recipient or the message (5xx).
            TransientDeliveryError: the server deferred the recipient or the message (4xx).
            MailServerError: the server could not be reached or refused the session.
        """
        try:
            outgoing = Outgoing.of(message)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from error
        mail, recipient = self.compose(outgoing)
        with self._lock:
            self._deliver(mail, recipient, outgoing.message_id)
        return str(mail["Message-ID"])

    def compose(self, outgoing: Outgoing) -> tuple[EmailMessage, str]:
        """The e-mail for ``outgoing`` and the address it goes to.

        Raises:
            PermanentDeliveryError: no address, not an address, no subject for the
                template, or text that cannot be written in an e-mail.
        """
        settings = self.settings
        if not outgoing.to:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: the member has no e-mail address"
            )
        try:
            address = Address(addr_spec=outgoing.to.strip())
            # A domain in Chinese (例子.中国) goes out as its ASCII (IDNA) form, which every
            # server takes; a part before the @ that is not ASCII is refused by Address.
            recipient = f"{address.username}@{address.domain.encode('idna').decode('ascii')}"
        except (ValueError, IndexError) as error:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: {_masked(outgoing.to)!r} is not an e-mail address "
                "this channel can send to"
            ) from error
        subject = settings.subject(outgoing.template)
        if subject is None:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: no subject for template {outgoing.template!r} "
                "(give it one in subjects, or a default_subject)"
            )
        text = outgoing.text
        mail = EmailMessage(policy=policy.SMTP)
        try:
            mail["From"] = settings.sender
            mail["To"] = recipient
            if settings.reply_to is not None:
                mail["Reply-To"] = settings.reply_to
            mail["Subject"] = subject
            mail["Date"] = format_datetime(datetime.now(UTC))
            mail["Message-ID"] = message_id_header(outgoing.message_id, settings.sender_address)
            mail["X-Membercore-Message"] = outgoing.message_id
            if outgoing.purpose == "marketing":
                if settings.unsubscribe is not None:
                    mail["List-Unsubscribe"] = f"<{settings.unsubscribe}>"
                text = f"{text.rstrip()}\n\n{settings.opt_out_text}\n"
            # base64: every server takes it, 8BITMIME or not.
            mail.set_content(text, charset="utf-8", cte="base64")
        except ValueError as error:
            raise PermanentDeliveryError(
                f"message {outgoing.message_id}: cannot be written as an e-mail ({error})"
            ) from error
        return mail, recipient

    def close(self) -> None:
        """End the SMTP session, if one is open."""
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                try:
                    session.quit()
                except (smtplib.SMTPException, OSError):
                    session.close()

    def _deliver(self, mail: EmailMessage, recipient: str, message_id: str) -> None:
        session = self._open()
        try:
            session.send_message(mail, from_addr=self.settings.sender_address, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _refusal(message_id, "the recipient", code, reply) from error
        except smtplib.SMTPDataError as error:
            raise _refusal(message_id, "the message", error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPSenderRefused as error:
            said = _said(error.smtp_code, error.smtp_error)
            if 400 <= error.smtp_code < 500:
                raise TransientDeliveryError(
                    f"message {message_id}: the mail server deferred the sender ({said})"
                ) from error
            # The hospital's own sender refused is no fault of the member's address:
            # tried again (and noticed) rather than fallen back.
            raise MailServerError(
                f"the mail server {self.settings.where} refused the sender "
                f"{self.settings.sender_address} ({said})"
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentDeliveryError(
                f"message {message_id}: the mail server cannot take this address ({error})"
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            # Whether the server took the message is unknown: the session is dropped and
            # the dispatcher tries again later.
            self._drop()
            raise MailServerError(
                f"message {message_id}: the mail server {self.settings.where} failed "
                f"mid-transaction ({type(error).__name__}: {error})"
            ) from error
        log.debug("message %s taken by %s", message_id, self.settings.where)

    def _open(self) -> smtplib.SMTP:
        """The session kept from before if the server still answers; a new one otherwise."""
        if self._session is not None:
            try:
                alive = self._session.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if alive:
                return self._session
            log.debug("%s dropped the SMTP session: opening another", self.settings.where)
            self._drop()
        self._session = self._connect()
        return self._session

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            session = (
                smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout, context=self._context
                )
                if settings.security == "tls"
                else smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            )
        except (smtplib.SMTPException, OSError) as error:
            raise MailServerError(
                f"cannot reach the mail server {settings.where} ({type(error).__name__}: {error})"
            ) from error
        try:
            session.ehlo()
            if settings.security == "starttls":
                session.starttls(context=self._context)
                session.ehlo()
            if settings.username is not None and settings.password is not None:
                session.login(settings.username, settings.password)
        except smtplib.SMTPAuthenticationError as error:
            session.close()
            said = self._redacted(_said(error.smtp_code, error.smtp_error))
            # Not chained: nothing of the exchange that carried the password is kept.
            raise MailServerError(
                f"the mail server {settings.where} refused the login of "
                f"{settings.username!r} ({said})"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            session.close()
            said = self._redacted(f"{type(error).__name__}: {error}")
            raise MailServerError(
                f"cannot open a session with the mail server {settings.where} ({said})"
            ) from error
        log.debug("SMTP session opened with %s (%s)", settings.where, settings.security)
        return session

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def _redacted(self, text: str) -> str:
        password = self.settings.password
        return text.replace(password, "***") if password else text


def message_id_header(message_id: str, sender: str) -> str:
    """The ``Message-ID`` of the e-mail carrying programme message ``message_id``.

    Args:
        message_id: the programme's message id (``p-chen/msg/3``).
        sender: the sender's address, whose domain the Message-ID takes.

    Returns:
        ``<p-chen/msg/3@hospital.example>``: letters, digits, ``-``, ``_`` and ``/`` kept,
        every other character written ``=XX`` per UTF-8 byte.
    """
    local = "".join(
        char if char in _ID_KEPT else "".join(f"={byte:02X}" for byte in char.encode())
        for char in message_id
    )
    domain = sender.rpartition("@")[2]
    return f"<{local}@{domain}>"


def _refusal(
    message_id: str, what: str, code: int, reply: bytes | str
) -> PermanentDeliveryError | TransientDeliveryError | MailServerError:
    said = _said(code, reply)
    if 500 <= code < 600:
        return PermanentDeliveryError(
            f"message {message_id}: the mail server refused {what} ({said})"
        )
    if 400 <= code < 500:
        # SMTP says nothing of how long to wait: the dispatcher's back-off decides.
        return TransientDeliveryError(
            f"message {message_id}: the mail server deferred {what} ({said})"
        )
    return MailServerError(f"message {message_id}: the mail server answered {what} with {said}")


def _said(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return _masked(f"{code} {' '.join(text.split())}".strip())


#: An e-mail address in a text, its local part apart.
_ADDRESS = re.compile(r"([^\s<>@\"']+)@([^\s<>@\"']+)")


def _masked(text: str) -> str:
    """``text`` with each e-mail address in it masked (``w***@example.cn``).

    What a failure says is kept in the outbox and on the member's record: an address
    there would outlive the member's asking it to be forgotten.
    """
    return _ADDRESS.sub(lambda found: f"{found.group(1)[:1]}***@{found.group(2)}", text)


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            "ca_file", f"cannot read CA certificates from {ca_file}: {error}"
        ) from error


def _known() -> str:
    return "known: " + ", ".join(sorted(_OPTIONS))


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"must be non-empty text, got {value!r}")
    return value.strip()


def _required(options: Mapping[str, Any], key: str) -> str:
    value = _text(options, key)
    if value is None:
        raise ConfigError(key, "is required")
    return value


def _header_text(options: Mapping[str, Any], key: str) -> str | None:
    value = _text(options, key)
    if value is not None and ("\r" in value or "\n" in value):
        raise ConfigError(key, "must be one line")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigError("port", f"must be a port number (1-65535), got {value!r}")
    return value


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError("timeout", f"must be a number of seconds above 0, got {value!r}")
    return float(value)


def _login(options: Mapping[str, Any]) -> tuple[str | None, str | None]:
    user_key, password_key = _text(options, "username_env"), _text(options, "password_env")
    if user_key is None and password_key is None:
        return None, None
    if user_key is None:
        raise ConfigError("username_env", "is required with password_env")
    if password_key is None:
        raise ConfigError("password_env", "is required with username_env")
    return _environ("username_env", user_key), _environ("password_env", password_key)


def _environ(key: str, variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(key, f"the environment variable {variable} is not set")
    if not value.isascii():
        # smtplib writes AUTH's credentials as ASCII; the value itself is never shown.
        raise ConfigError(key, f"the environment variable {variable} must hold ASCII only")
    return value


def _one_address(key: str, value: str) -> str:
    header = policy.default.header_factory("From", value)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if header.defects or len(addresses) != 1 or not addresses[0].domain:
        raise ConfigError(key, f"must be one e-mail address, with a name or not, got {value!r}")
    address: str = addresses[0].addr_spec
    return address


def _subjects(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError("subjects", f"must be a table of template key = subject, got {value!r}")
    subjects = {}
    for template, subject in value.items():
        key = f"subjects.{template}"
        if not isinstance(subject, str) or not subject.strip():
            raise ConfigError(key, f"must be non-empty text, got {subject!r}")
        if "\r" in subject or "\n" in subject:
            raise ConfigError(key, "must be one line")
        subjects[str(template)] = subject.strip()
    return subjects


def _unsubscribe(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.startswith(("mailto:", "https://"))
        or any(char.isspace() or char in "<>," for char in value)
    ):
        raise ConfigError("unsubscribe", f"must be one mailto: or https:// address, got {value!r}")
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@hookimpl
def membercore_register_channels(register: Callable[[str, ChannelFactory], None]) -> None:
    """Provide the e-mail channel over SMTP, as ``smtp``."""
    register("smtp", SmtpChannel.from_options)
