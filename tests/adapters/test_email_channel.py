"""The e-mail channel against a real SMTP server on loopback (aiosmtpd).

The server takes STARTTLS or implicit TLS with a certificate from a test CA (trustme),
checks the login (only over TLS), parses every message it takes with :mod:`email`, and
can be told to refuse the next recipient or message with 451 or 550.
"""

from __future__ import annotations

import email
import json
import logging
import re
import socket
import ssl
import threading
import tomllib
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from membercore import reference_config
from membercore.config.channels import ChannelSettings
from membercore.errors import ConfigError
from membercore.plugins import collect, make_plugin_manager
from membercore.ports import (
    Channel,
    Commit,
    Delivery,
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    TemplatedChannel,
    TransientDeliveryError,
)
from membercore.service.dispatch import DispatchReport, dispatch
from membercore.service.engine import Engine
from membercore.testing.channels import ChannelContract, ChannelSetup
from membercore.testing.channels import contract_template as _t
from membercore.testing.clock import ManualClock
from membercore_adapters.channels import email as email_channel
from membercore_adapters.channels.email import (
    DEFAULT_OPT_OUT_TEXT,
    MailServerError,
    SmtpChannel,
    message_id_header,
)
from membercore_adapters.stores.memory import MemoryStore

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
USER = "care@hospital.example"
PASSWORD = "s3cret-Pa55word-2026"
SENDER = "某某医院健康管理中心 <care@hospital.example>"
MEMBER = "wang@patient.example"
SUBJECTS = {"contract_care": "复诊提醒", "contract_offer": "年度会员优惠"}
ROOT = Path(__file__).resolve().parents[2]

Step = Literal["rcpt", "data"]


@attrs.frozen(kw_only=True)
class Received:
    """One message the server took, as it saw it."""

    mail: EmailMessage
    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str | None
    tls: bool


class MailServer:
    """The stand-in mail server's handler, and the probe the conformance suite asks."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.logins: list[tuple[str, bool]] = []
        self.sessions: list[SMTP] = []
        self._failures: list[tuple[Step, str]] = []
        self._lock = threading.Lock()

    # -- aiosmtpd's handler hooks (run on the server's thread)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self._failing("rcpt")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        refusal = self._failing("data")
        if refusal is not None:
            return refusal
        content = envelope.original_content or b""
        transport = server.transport
        assert transport is not None
        mail = email.message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        auth = session.auth_data
        login = auth.login.decode() if session.authenticated and auth is not None else None
        with self._lock:
            self.received.append(
                Received(
                    mail=mail,
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    login=login,
                    # STARTTLS sets session.ssl; implicit TLS is the transport's own.
                    tls=session.ssl is not None
                    or transport.get_extra_info("ssl_object") is not None,
                )
            )
        return "250 2.0.0 OK queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        )
        with self._lock:
            self.logins.append((mechanism, ok))
            self.sessions.append(server)
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def _failing(self, step: Step) -> str | None:
        with self._lock:
            if self._failures and self._failures[0][0] == step:
                return self._failures.pop(0)[1]
        return None

    # -- what the tests tell it

    def refuse_next(self, step: Step, reply: str) -> None:
        with self._lock:
            self._failures.append((step, reply))

    # -- the conformance suite's probe

    def accepted(self) -> list[str]:
        with self._lock:
            return [str(r.mail["X-Membercore-Message"]) for r in self.received]

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        if kind == "transient":
            self.refuse_next("rcpt", "451 4.3.0 Mailbox temporarily unavailable, try later")
        else:
            self.refuse_next("rcpt", "550 5.1.1 No such user here")

    def report(self, message_id: str, *, delivered: bool) -> None:
        """SMTP reads back no reports."""

    def reply(self, address: str, text: str) -> None:
        """The channel reads no replies."""


@attrs.define
class Running:
    """A server listening on 127.0.0.1."""

    server: MailServer
    port: int
    controller: Controller

    def drop_sessions(self) -> None:
        """Close every logged-in session from the server's side, as an idle timeout does."""
        done = threading.Event()

        def close() -> None:
            for session in self.server.sessions:
                if session.transport is not None:
                    session.transport.close()
            done.set()

        self.controller.loop.call_soon_threadsafe(close)
        assert done.wait(5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(server: MailServer, port: int, settings: dict[str, Any]) -> Controller:
    controller = Controller(server, hostname="127.0.0.1", port=port, **settings)
    controller.start()
    return controller


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "hospital-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def _serve(*, login: bool, **settings: Any) -> Iterator[Running]:
    server = MailServer()
    if login:
        settings["authenticator"] = server.authenticate
    port = _free_port()
    running = Running(server, port, _start(server, port, settings))
    yield running
    running.controller.stop()


@pytest.fixture
def starttls_server(server_tls: ssl.SSLContext) -> Iterator[Running]:
    """A submission server: STARTTLS required, and a login over TLS for every message."""
    yield from _serve(
        login=True,
        tls_context=server_tls,
        require_starttls=True,
        auth_require_tls=True,
        auth_required=True,
    )


@pytest.fixture
def tls_server(server_tls: ssl.SSLContext) -> Iterator[Running]:
    """An implicit-TLS server (port 465's kind) taking a login.

    aiosmtpd's auth_require_tls looks for STARTTLS only: the whole session is TLS here.
    """
    yield from _serve(login=True, ssl_context=server_tls, auth_require_tls=False)


@pytest.fixture
def relay() -> Iterator[Running]:
    """A relay on this machine: no TLS, no login."""
    yield from _serve(login=False)


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MC_SMTP_USER", USER)
    monkeypatch.setenv("MC_SMTP_PASSWORD", PASSWORD)
    return {"username_env": "MC_SMTP_USER", "password_env": "MC_SMTP_PASSWORD"}


def _options(running: Running, **more: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": running.port,
        "sender": SENDER,
        "subjects": SUBJECTS,
        **more,
    }


def _message(
    n: int = 1,
    *,
    to: str | None = MEMBER,
    template: str | None = "contract_care",
    purpose: str | None = "care",
    text: str = "王女士您好，请按时复诊。",
    member: str = "p-wang",
) -> OutboxMessage:
    payload = {
        "message_id": f"{member}/msg/{n}",
        "member_id": member,
        "channel": "email",
        "text": text,
        "language": "zh-CN",
        "variables": {"name": "王女士"},
        "template": template,
        "purpose": purpose,
        "to": to,
    }
    return OutboxMessage(
        message_id=f"{member}/msg/{n}",
        key=f"member:{member}",
        channel="email",
        payload=json.dumps(payload, ensure_ascii=False),
        send_at=T0,
    )


def _text(mail: EmailMessage) -> str:
    """The text of a mail, its lines ended by newlines (MIME's canonical CRLF undone)."""
    content: str = mail.get_content()
    return content.replace("\r\n", "\n")


class Deliveries(MemoryStore):
    """A memory store that keeps every delivery recorded, errors included."""

    def __init__(self) -> None:
        super().__init__("memory://")
        self.deliveries: list[Delivery] = []

    def record_delivery(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        super().record_delivery(delivery)


@pytest.fixture
def submission(
    starttls_server: Running, ca_file: Path, login: dict[str, str]
) -> Iterator[SmtpChannel]:
    """The channel as a hospital sets it up: STARTTLS to port 587's kind, with a login."""
    channel = SmtpChannel.from_options(_options(starttls_server, ca_file=str(ca_file), **login))
    yield channel
    channel.close()


# -- sending -----------------------------------------------------------------------------


def test_starttls_and_a_login_hand_the_message_to_the_server(
    submission: SmtpChannel, starttls_server: Running
) -> None:
    receipt = submission.send(_message())
    (got,) = starttls_server.server.received
    assert got.tls
    assert got.login == USER
    assert got.mail_from == "care@hospital.example"
    assert got.rcpt_tos == (MEMBER,)
    assert receipt == got.mail["Message-ID"] == "<p-wang/msg/1@hospital.example>"
    assert starttls_server.server.logins == [("PLAIN", True)]


def test_implicit_tls_hands_the_message_to_the_server(
    tls_server: Running, ca_file: Path, login: dict[str, str]
) -> None:
    channel = SmtpChannel.from_options(
        _options(tls_server, security="tls", ca_file=str(ca_file), **login)
    )
    try:
        channel.send(_message())
    finally:
        channel.close()
    (got,) = tls_server.server.received
    assert got.tls
    assert got.login == USER


def test_a_relay_on_this_machine_takes_messages_without_tls_or_login(relay: Running) -> None:
    channel = SmtpChannel.from_options(_options(relay, security="none"))
    try:
        channel.send(_message())
    finally:
        channel.close()
    (got,) = relay.server.received
    assert not got.tls
    assert got.login is None
    assert relay.server.logins == []


def test_one_session_carries_message_after_message(
    submission: SmtpChannel, starttls_server: Running
) -> None:
    for n in range(1, 4):
        submission.send(_message(n))
    assert starttls_server.server.accepted() == ["p-wang/msg/1", "p-wang/msg/2", "p-wang/msg/3"]
    assert len(starttls_server.server.logins) == 1


def test_a_session_the_server_dropped_is_opened_again(
    submission: SmtpChannel, starttls_server: Running
) -> None:
    submission.send(_message(1))
    starttls_server.drop_sessions()  # the server ended the kept session
    submission.send(_message(2))
    assert starttls_server.server.accepted() == ["p-wang/msg/1", "p-wang/msg/2"]
    assert len(starttls_server.server.logins) == 2


# -- the e-mail ----------------------------------------------------------------------------


def test_the_email_carries_the_sender_recipient_ids_and_text(
    starttls_server: Running, ca_file: Path, login: dict[str, str]
) -> None:
    channel = SmtpChannel.from_options(
        _options(
            starttls_server,
            ca_file=str(ca_file),
            reply_to="健康管理中心 <desk@hospital.example>",
            **login,
        )
    )
    try:
        channel.send(_message(7, text="王女士您好，请按时复诊。"))
    finally:
        channel.close()
    (got,) = starttls_server.server.received
    mail = got.mail
    assert str(mail["From"]) == SENDER
    assert mail["From"].addresses[0].display_name == "某某医院健康管理中心"
    assert str(mail["To"]) == MEMBER
    assert str(mail["Reply-To"]) == "健康管理中心 <desk@hospital.example>"
    assert str(mail["Subject"]) == "复诊提醒"
    assert str(mail["X-Membercore-Message"]) == "p-wang/msg/7"
    assert mail["Message-ID"].defects == ()
    assert str(mail["Message-ID"]) == "<p-wang/msg/7@hospital.example>"
    assert mail["Date"].datetime.tzinfo is not None
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert _text(mail) == "王女士您好，请按时复诊。\n"
    assert "List-Unsubscribe" not in mail


def test_each_template_has_its_subject_and_the_others_the_default(
    relay: Running,
) -> None:
    channel = SmtpChannel.from_options(
        _options(relay, security="none", default_subject="某某医院健康管理中心通知")
    )
    try:
        channel.send(_message(1, template="contract_care"))
        channel.send(_message(2, template="contract_offer", purpose="marketing"))
        channel.send(_message(3, template="birthday_greeting"))
        channel.send(_message(4, template=None))
    finally:
        channel.close()
    assert [str(r.mail["Subject"]) for r in relay.server.received] == [
        "复诊提醒",
        "年度会员优惠",
        "某某医院健康管理中心通知",
        "某某医院健康管理中心通知",
    ]


def test_a_template_without_a_subject_is_not_carried_nor_sent(relay: Running) -> None:
    channel = SmtpChannel.from_options(_options(relay, security="none"))
    assert isinstance(channel, TemplatedChannel)
    assert channel.carries(_t("contract_care")) == "free text, subject '复诊提醒'"
    assert channel.carries(_t("birthday_greeting")) is None
    with pytest.raises(PermanentDeliveryError, match="no subject for template 'birthday"):
        channel.send(_message(template="birthday_greeting"))
    assert relay.server.received == []


def test_a_marketing_email_carries_list_unsubscribe_and_the_opt_out_line(
    relay: Running,
) -> None:
    channel = SmtpChannel.from_options(
        _options(
            relay,
            security="none",
            unsubscribe="mailto:unsubscribe@hospital.example?subject=TD",
            opt_out_text="回复“退订”即可不再收到此类邮件。",
        )
    )
    try:
        channel.send(_message(1, template="contract_offer", purpose="marketing", text="限时299元"))
        channel.send(_message(2))
    finally:
        channel.close()
    offer, care = (r.mail for r in relay.server.received)
    assert str(offer["List-Unsubscribe"]) == "<mailto:unsubscribe@hospital.example?subject=TD>"
    assert _text(offer) == "限时299元\n\n回复“退订”即可不再收到此类邮件。\n"
    assert "List-Unsubscribe" not in care
    assert "退订" not in _text(care)


def test_a_marketing_email_says_how_to_opt_out_even_without_an_unsubscribe_address(
    relay: Running,
) -> None:
    channel = SmtpChannel.from_options(_options(relay, security="none"))
    try:
        channel.send(_message(template="contract_offer", purpose="marketing", text="限时299元"))
    finally:
        channel.close()
    (got,) = relay.server.received
    assert "List-Unsubscribe" not in got.mail
    assert _text(got.mail) == f"限时299元\n\n{DEFAULT_OPT_OUT_TEXT}\n"
    assert DEFAULT_OPT_OUT_TEXT == "如不希望再收到此类邮件，请致电客服或在会员中心退订。"


def test_the_message_id_is_valid_and_different_for_every_programme_id() -> None:
    ids = ["p-chen/msg/3", "p.chen/msg/3", "p=2Echen/msg/3", "陈 <x>@y/msg/1", "a..b/msg/1"]
    made = [message_id_header(i, "care@hospital.example") for i in ids]
    assert len(set(made)) == len(made)
    assert made[0] == "<p-chen/msg/3@hospital.example>"
    for header in made:
        parsed = policy.default.header_factory("Message-ID", header)
        assert parsed.defects == (), header
        assert re.fullmatch(r"<[A-Za-z0-9=/_-]+@hospital\.example>", header)


# -- what the server says, and what becomes of the message ---------------------------------


@pytest.mark.parametrize(
    ("step", "reply", "error"),
    [
        ("rcpt", "451 4.2.1 Mailbox busy, try later", TransientDeliveryError),
        ("rcpt", "550 5.1.1 No such user here", PermanentDeliveryError),
        ("data", "452 4.3.1 Insufficient system storage", TransientDeliveryError),
        ("data", "554 5.6.0 Message content rejected", PermanentDeliveryError),
    ],
)
def test_a_refusal_is_transient_for_4xx_and_permanent_for_5xx(
    submission: SmtpChannel,
    starttls_server: Running,
    step: Step,
    reply: str,
    error: type[Exception],
) -> None:
    starttls_server.server.refuse_next(step, reply)
    with pytest.raises(error, match=reply.split(maxsplit=1)[0]) as raised:
        submission.send(_message(1))
    if isinstance(raised.value, TransientDeliveryError):
        assert raised.value.retry_after is None  # SMTP cannot say how long
    assert starttls_server.server.received == []
    submission.send(_message(2))  # the session goes on after a refusal
    assert starttls_server.server.accepted() == ["p-wang/msg/2"]
    assert len(starttls_server.server.logins) == 1


def test_an_address_the_server_echoes_is_masked_in_what_the_failure_says(
    submission: SmtpChannel, starttls_server: Running
) -> None:
    # What a failure says is kept in the outbox and on the member's record.
    starttls_server.server.refuse_next("rcpt", "550 5.1.1 <wang@patient.example>: no such user")
    with pytest.raises(PermanentDeliveryError) as refused:
        submission.send(_message(1, to="wang@patient.example"))
    assert "w***@patient.example" in str(refused.value)
    assert "wang@patient.example" not in str(refused.value)


def test_a_member_without_an_address_is_refused_for_good(relay: Running) -> None:
    channel = SmtpChannel.from_options(_options(relay, security="none"))
    with pytest.raises(PermanentDeliveryError, match="no e-mail address"):
        channel.send(_message(to=None))
    with pytest.raises(PermanentDeliveryError, match="not an e-mail address"):
        channel.send(_message(to="wang at patient.example"))
    with pytest.raises(PermanentDeliveryError, match="not an e-mail address"):
        channel.send(_message(to="a@x.example, b@y.example"))
    assert relay.server.received == []


def test_a_domain_in_chinese_goes_out_in_its_ascii_form(relay: Running) -> None:
    channel = SmtpChannel.from_options(_options(relay, security="none"))
    try:
        channel.send(_message(to="wang@例子.中国"))
    finally:
        channel.close()
    (got,) = relay.server.received
    assert got.rcpt_tos == ("wang@xn--fsqu00a.xn--fiqs8s",)
    assert str(got.mail["To"]) == "wang@xn--fsqu00a.xn--fiqs8s"
    with pytest.raises(PermanentDeliveryError, match="not an e-mail address"):
        channel.send(_message(to="王@例子.中国"))


def test_an_unreadable_payload_is_refused_for_good(relay: Running) -> None:
    channel = SmtpChannel.from_options(_options(relay, security="none"))
    broken = attrs.evolve(_message(), payload="not json")
    with pytest.raises(PermanentDeliveryError, match="not an outgoing message"):
        channel.send(broken)


def test_a_wrong_password_is_retried_and_never_told(
    starttls_server: Running,
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + PASSWORD
    monkeypatch.setenv("MC_SMTP_USER", USER)
    monkeypatch.setenv("MC_SMTP_PASSWORD", wrong)
    channel = SmtpChannel.from_options(
        _options(
            starttls_server,
            ca_file=str(ca_file),
            username_env="MC_SMTP_USER",
            password_env="MC_SMTP_PASSWORD",
        )
    )
    with pytest.raises(MailServerError, match="refused the login") as raised:
        channel.send(_message())
    assert not isinstance(raised.value, PermanentDeliveryError | TransientDeliveryError)
    told = "".join(traceback.format_exception(raised.value))
    for secret in (wrong, PASSWORD):
        assert secret not in told
        assert secret not in caplog.text
        assert secret not in repr(channel)
        assert secret not in repr(channel.settings)
    # Through the dispatcher: tried again later, and the error it records holds no password.
    store = Deliveries()
    try:
        store.commit(Commit(outbox=[_message(2)]))
        report = dispatch(store, {"email": channel}, T0)
    finally:
        store.close()
    assert report == DispatchReport(retrying=1)
    (delivery,) = store.deliveries
    assert delivery.error is not None
    assert delivery.error.startswith("MailServerError: the mail server 127.0.0.1:")
    assert wrong not in delivery.error
    assert starttls_server.server.received == []
    # smtplib tried each mechanism the server offers, every time in vain.
    assert {ok for _, ok in starttls_server.server.logins} == {False}


def test_a_server_that_cannot_be_reached_is_retried() -> None:
    channel = SmtpChannel.from_options(
        {"host": "127.0.0.1", "port": _free_port(), "sender": SENDER, "subjects": SUBJECTS}
    )
    with pytest.raises(MailServerError, match=r"cannot reach the mail server 127\.0\.0\.1"):
        channel.send(_message())


def test_a_server_that_says_nothing_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        channel = SmtpChannel.from_options(
            {
                "host": "127.0.0.1",
                "port": port,
                "sender": SENDER,
                "subjects": SUBJECTS,
                "timeout": 0.3,
            }
        )
        with pytest.raises(MailServerError, match="timed out"):
            channel.send(_message())


def test_a_sender_the_server_refuses_is_retried_not_fallen_back(
    starttls_server: Running, ca_file: Path
) -> None:
    # No login given to a server that wants one: it refuses the sender (530).
    channel = SmtpChannel.from_options(_options(starttls_server, ca_file=str(ca_file)))
    try:
        with pytest.raises(MailServerError, match=r"refused the sender \S+ \(530 "):
            channel.send(_message())
    finally:
        channel.close()
    assert starttls_server.server.received == []


def test_a_certificate_the_trust_store_does_not_know_is_refused(
    starttls_server: Running, login: dict[str, str]
) -> None:
    channel = SmtpChannel.from_options(_options(starttls_server, **login))  # no ca_file
    with pytest.raises(MailServerError, match="CERTIFICATE_VERIFY_FAILED"):
        channel.send(_message())
    assert starttls_server.server.logins == []


def test_a_certificate_another_ca_signed_is_refused(
    starttls_server: Running, login: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    channel = SmtpChannel.from_options(_options(starttls_server, ca_file=str(other), **login))
    with pytest.raises(MailServerError, match="CERTIFICATE_VERIFY_FAILED"):
        channel.send(_message())
    assert starttls_server.server.logins == []


def test_starttls_asked_of_a_server_without_it_sends_nothing(relay: Running) -> None:
    channel = SmtpChannel.from_options(_options(relay))  # starttls by default
    with pytest.raises(MailServerError, match="STARTTLS"):
        channel.send(_message())
    assert relay.server.received == []


# -- options ---------------------------------------------------------------------------------

BASE = {"host": "smtp.hospital.example", "sender": SENDER, "default_subject": "健康管理中心通知"}


def test_the_defaults_are_starttls_on_587_as_email_with_a_30_second_timeout() -> None:
    settings = SmtpChannel.from_options(BASE).settings
    assert (settings.name, settings.security, settings.port, settings.timeout) == (
        "email",
        "starttls",
        587,
        30.0,
    )
    assert settings.username is None
    assert settings.opt_out_text == DEFAULT_OPT_OUT_TEXT
    assert SmtpChannel.from_options({**BASE, "security": "tls"}).settings.port == 465
    assert SmtpChannel.from_options({**BASE, "name": "mail"}).name == "mail"


@pytest.mark.parametrize(
    ("options", "key", "problem"),
    [
        ({"hots": "smtp.hospital.example"}, "hots", "not an option"),
        ({"host": None}, "host", "is required"),
        ({"host": ""}, "host", "non-empty text"),
        ({"sender": None}, "sender", "is required"),
        ({"sender": "健康管理中心"}, "sender", "one e-mail address"),
        ({"sender": "a@x.example, b@x.example"}, "sender", "one e-mail address"),
        ({"reply_to": "desk"}, "reply_to", "one e-mail address"),
        ({"security": "ssl"}, "security", "starttls, tls or none"),
        ({"port": "587"}, "port", "port number"),
        ({"port": True}, "port", "port number"),
        ({"port": 70000}, "port", "port number"),
        ({"timeout": 0}, "timeout", "above 0"),
        ({"timeout": "30"}, "timeout", "above 0"),
        ({"default_subject": None}, "subjects", "default_subject"),
        ({"default_subject": "通知\nBcc: x@evil.example"}, "default_subject", "one line"),
        ({"subjects": "复诊提醒"}, "subjects", "table"),
        ({"subjects": {"contract_care": ""}}, "subjects.contract_care", "non-empty"),
        ({"subjects": {"contract_care": "a\r\nb"}}, "subjects.contract_care", "one line"),
        ({"unsubscribe": "http://hospital.example/td"}, "unsubscribe", "mailto: or https://"),
        ({"unsubscribe": "https://a.example/td, mailto:b"}, "unsubscribe", "mailto: or https://"),
        ({"opt_out_text": " "}, "opt_out_text", "how to opt out"),
        ({"ca_file": "/nonexistent/hospital-ca.pem"}, "ca_file", "cannot read"),
        ({"username_env": "MC_SMTP_USER"}, "password_env", "required with username_env"),
        ({"password_env": "MC_SMTP_PASSWORD"}, "username_env", "required with password_env"),
        (
            {"username_env": "MC_NOT_SET_USER", "password_env": "MC_SMTP_PASSWORD"},
            "username_env",
            "MC_NOT_SET_USER is not set",
        ),
        (
            {"username_env": "MC_SMTP_USER", "password_env": "MC_NOT_SET_PASSWORD"},
            "password_env",
            "MC_NOT_SET_PASSWORD is not set",
        ),
        (
            {"username_env": "MC_SMTP_USER", "password_env": "MC_SMTP_PASSWORD_CJK"},
            "password_env",
            "MC_SMTP_PASSWORD_CJK must hold ASCII only",
        ),
        (
            {
                "host": "localhost",
                "security": "none",
                "username_env": "MC_SMTP_USER",
                "password_env": "MC_SMTP_PASSWORD",
            },
            "security",
            "in clear",
        ),
        ({"security": "none"}, "security", "only for a relay on this machine"),
        ({"host": "::1", "security": "none", "ca_file": "ca.pem"}, "ca_file", "without TLS"),
    ],
)
def test_an_option_that_is_wrong_is_refused_by_name(
    options: dict[str, Any],
    key: str,
    problem: str,
    login: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MC_SMTP_PASSWORD_CJK", "口令")
    monkeypatch.delenv("MC_NOT_SET_USER", raising=False)
    monkeypatch.delenv("MC_NOT_SET_PASSWORD", raising=False)
    given = {k: v for k, v in {**BASE, **options}.items() if v is not None}
    with pytest.raises(ConfigError) as raised:
        SmtpChannel.from_options(given)
    assert raised.value.key == key
    assert problem in raised.value.problem
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.53", "::1"])
def test_none_is_taken_for_a_relay_on_this_machine(host: str) -> None:
    assert SmtpChannel.from_options({**BASE, "host": host, "security": "none"}).settings.port == 25


# -- the plugin ------------------------------------------------------------------------------


def test_the_smtp_factory_is_found_by_entry_point() -> None:
    plugins = collect(make_plugin_manager(), reference_config())
    found = plugins.channels["smtp"]
    assert found.plugin == "email"
    channel = found.value(BASE)
    assert isinstance(channel, SmtpChannel)
    assert isinstance(channel, Channel)
    assert channel.name == "email"


def test_the_plugin_module_registers_smtp() -> None:
    plugins = collect(
        make_plugin_manager(load_entrypoints=False, plugins=[email_channel]), reference_config()
    )
    assert set(plugins.channels) >= {"smtp"}


def _docs_examples() -> list[dict[str, Any]]:
    """The [channels.email] tables of the docs' examples that use smtp, wherever they are."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for block in re.findall(r"^```toml\n(.*?)^```$", page.read_text("utf-8"), re.S | re.M):
            table = tomllib.loads(block).get("channels", {}).get("email", {})
            if table.get("use") == "smtp":
                found.append(table)
    return found


def test_the_docs_examples_configure_a_channel_for_the_reference_programme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = _docs_examples()
    assert examples, "no docs page shows a [channels.email] table using smtp"
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    # The CA file an example names is the hospital's: the system's trust store stands in.
    monkeypatch.setattr(email_channel, "_tls_context", lambda _: ssl.create_default_context())
    for table in examples:
        settings = ChannelSettings.from_table(table)
        reference = reference_config()
        by_email = attrs.evolve(reference.outreach, channel_order=("email", "phone"))
        programme = attrs.evolve(reference, outreach=by_email, channels={"email": settings})
        with Engine.open("memory://", config=programme, clock=ManualClock(T0)) as engine:
            channel = engine.channels()["email"]
        assert isinstance(channel, SmtpChannel)
        mail, recipient = channel.compose(
            Outgoing(
                message_id="p-wang/msg/1",
                member_id="p-wang",
                channel="email",
                text="王女士您好，年度会员限时299元。",
                template="annual_plan_offer",
                purpose="marketing",
                to=MEMBER,
            )
        )
        assert recipient == MEMBER
        assert parseaddr(str(mail["From"]))[1] == channel.settings.sender_address
        assert channel.settings.opt_out_text in _text(mail)


# -- the conformance suite -------------------------------------------------------------------


class TestSmtpContract(ChannelContract):
    @pytest.fixture
    def channel_setup(
        self, starttls_server: Running, ca_file: Path, login: dict[str, str]
    ) -> Iterator[ChannelSetup]:
        channel = SmtpChannel.from_options(_options(starttls_server, ca_file=str(ca_file), **login))
        yield ChannelSetup(
            channel=channel,
            provider=starttls_server.server,
            address=MEMBER,
            secrets=(PASSWORD,),
            asks_to_wait=False,
        )
        channel.close()
