"""The conformance suite every channel runs: :class:`ChannelContract` and its two companions.

A channel (:class:`~membercore.ports.Channel`) hands messages to a provider — WeCom, an
SMS gateway, a mail server — and says what the provider said. The suite drives it the
way a hospital does, through the engine on a SQLite store, against a stand-in for the
provider that the channel's own tests run on loopback, and checks what every channel
promises:

- (:class:`HandOverContract`, which a console passes too) a message acknowledged is
  handed to the provider once, however often the outbox is dispatched and by however
  many dispatchers at once, and the acknowledgment is kept with the address it went to;
- (:class:`ChannelContract`, for a channel to a provider) a provider that asks to wait
  is tried again with back-off, and no sooner than it asked;
- a permanent failure is given up at once, noted on the member's record and fallen back
  to the member's next channel (here a staff call);
- a member the record gives no address for on the channel is not sent to, but fallen back;
- no credential or token it holds reaches the logs or a stored row.

:class:`ReportingContract` adds, for a channel that reads back its provider's reports
(:class:`~membercore.ports.ReportingChannel`): a message reported delivered becomes an
event on the member's record once; one reported undeliverable falls back.
:class:`ReplyContract` adds, for a channel that reads members' replies: a reply ``TD`` to a
marketing message withdraws marketing consent on that channel, and nothing else.

A channel's test module subclasses the contracts that apply and overrides one fixture,
``channel_setup``, which gives a :class:`ChannelSetup`: the channel, built by its factory
with options pointing at the stand-in provider, and a :class:`ProviderProbe` on that
provider::

    import pytest
    from membercore.testing.channels import ChannelContract, ChannelSetup

    class TestMyChannel(ChannelContract):
        @pytest.fixture
        def channel_setup(self, my_provider):
            return ChannelSetup(
                channel=my_factory({"endpoint": my_provider.url, ...}),
                provider=my_provider,
                address="+8613800138000",
                secrets=("the-secret",),
            )

The channel must carry the suite's two templates: ``contract_care`` (care; variable
``name``) and ``contract_offer`` (marketing; variables ``name`` and ``price``).
"""

# The suite's test names read as sentences and are their own documentation.
# ruff: noqa: D102

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs
import pytest

from membercore.config.outreach import MessageTemplate
from membercore.config.programme import ProgrammeConfig
from membercore.config.reference import reference_config
from membercore.consent import GrantConsent, Purpose, allows
from membercore.facts import PatientRegistered
from membercore.facts.identity import CONTACT_FIELDS
from membercore.outreach import RequestMessage
from membercore.ports import Channel, OutboxMessage
from membercore.service.dispatch import Backoff
from membercore.service.engine import Engine
from membercore.service.outcomes import address_key
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock

__all__ = [
    "T0",
    "ChannelContract",
    "ChannelSetup",
    "HandOverContract",
    "ProviderProbe",
    "ReplyContract",
    "ReportingContract",
    "contract_programme",
    "contract_template",
]

#: When the suite's members are registered; messages are asked for a minute later.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: outside quiet hours
#: The suite's retry policy: a first wait of ten seconds, then four times longer.
BACKOFF = Backoff(first=timedelta(seconds=10), factor=4, attempts=4)


class ProviderProbe(Protocol):
    """The provider's side, as the suite sees it: a stand-in the channel's tests run."""

    def accepted(self) -> list[str]:
        """The programme message ids of the send requests the provider accepted, in order.

        One entry per request accepted: a message sent twice appears twice.
        """
        ...

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        """Fail the next send request as the provider does.

        ``transient``: rate-limited or busy, asking to wait ``retry_after`` seconds
        when given; ``permanent``: a failure sending again cannot mend (an invalid
        number, a customer who is not a contact).
        """
        ...

    def report(self, message_id: str, *, delivered: bool) -> None:
        """Report that message's fate the next time the provider is asked."""
        ...

    def reply(self, address: str, text: str) -> None:
        """Give a member's reply from ``address`` the next time the provider is asked."""
        ...


@attrs.frozen(kw_only=True)
class ChannelSetup:
    """A channel under test and the provider it talks to.

    Attributes:
        channel: the channel, named ``wecom``, ``sms`` or ``email``.
        provider: the stand-in provider's probe.
        address: an address the provider accepts (a mobile number, an e-mail address,
            a WeCom external contact id); the suite's member is registered with it.
        secrets: every credential the channel holds and every token the provider
            issues it: none may reach a log or a stored row.
        addressed: the channel needs the member's address (a console does not).
        asks_to_wait: the provider may say how long to wait before a retry (an HTTP
            API's rate limit may; SMTP's 4xx replies cannot).
    """

    channel: Channel
    provider: ProviderProbe
    address: str
    secrets: tuple[str, ...] = ()
    addressed: bool = True
    asks_to_wait: bool = True


def contract_programme(channel: str) -> ProgrammeConfig:
    """The suite's programme: the reference one with the suite's two templates.

    It reaches by ``channel`` first and a staff call after, without quiet hours or
    tight caps.
    """
    reference = reference_config()
    templates = (
        MessageTemplate(
            key="contract_care",
            purpose="care",
            texts={"zh-CN": "${name}您好，请按时复诊。"},
            channels=("wecom", "sms", "email", "phone"),
            variables=("name",),
        ),
        MessageTemplate(
            key="contract_offer",
            purpose="marketing",
            texts={"zh-CN": "${name}您好，年度会员限时${price}元。"},
            channels=("wecom", "sms", "email"),
            variables=("name", "price"),
        ),
    )
    policy = attrs.evolve(
        reference.outreach,
        templates=(*reference.outreach.templates, *templates),
        quiet_start="00:00",
        quiet_end="00:00",
        weekly_caps={"care": 100, "marketing": 100, "research": 100},
        channel_order=(channel, "phone"),  # type: ignore[arg-type]
    )
    return attrs.evolve(reference, outreach=policy)


def contract_template(key: str, *variables: str) -> MessageTemplate:
    """The template ``key`` of the suite's programme, or a care template of that key.

    What a channel's own tests hand :meth:`~membercore.ports.TemplatedChannel.carries`:
    the suite's two templates, the reference programme's, or one made up with
    ``variables``.
    """
    known = contract_programme("sms").outreach.template(key)
    return known or MessageTemplate(
        key=key,
        purpose="care",
        texts={"zh-CN": "您好"},
        channels=("wecom", "sms", "email"),
        variables=variables,
    )


class _Hospital:
    """The suite's engine, members and clock around one channel."""

    def __init__(self, setup: ChannelSetup, path: Path) -> None:
        self.setup = setup
        self.name = setup.channel.name
        self.clock = ManualClock(T0)
        self.url = f"sqlite:///{path}"
        self.path = path
        self.engine = Engine.open(self.url, config=contract_programme(self.name), clock=self.clock)
        self.asked = 0
        self.errors: list[Exception] = []

    def member(self, patient: str, *, address: str | None = "") -> str:
        """Register ``patient`` with the setup's address (or ``address``) and consents."""
        given = self.setup.address if address == "" else address
        registered = PatientRegistered(
            fact_id=f"reg-{patient}", patient_id=patient, occurred_at=T0, name="王女士"
        )
        if given:
            contact: dict[str, Any] = {CONTACT_FIELDS[self.name]: given}
            registered = attrs.evolve(registered, **contact)
        self.engine.ingest([registered])
        purposes: tuple[Purpose, ...] = ("care", "marketing")
        for purpose in purposes:
            self.engine.execute(
                GrantConsent(
                    key=f"consent-{patient}-{purpose}",
                    member_id=patient,
                    purpose=purpose,
                    channels=(self.name, "phone"),  # type: ignore[arg-type]
                    given_by=patient,
                    source="contract",
                ),
                now=T0,
            )
        return patient

    def ask(self, patient: str, *, marketing: bool = False) -> str:
        """Ask for a message to ``patient``; its id."""
        self.asked += 1
        template = "contract_offer" if marketing else "contract_care"
        variables = {"name": "王女士", "price": "299"} if marketing else {"name": "王女士"}
        made = self.engine.execute(
            RequestMessage(
                key=f"ask-{self.asked}",
                member_id=patient,
                template_key=template,
                purpose="marketing" if marketing else "care",
                variables=variables,
                reason="the channel contract",
            ),
            now=T0 + timedelta(minutes=1),
        )
        (queued,) = [e for e in made if getattr(e, "TYPE", "") == "message_queued"]
        message_id: str = queued.message_id  # type: ignore[attr-defined]
        return message_id

    def dispatch(self, after: timedelta, engine: Engine | None = None) -> None:
        """Dispatch the outbox ``after`` the messages were asked for."""
        at = T0 + timedelta(minutes=1) + after
        (engine or self.engine).dispatch({self.name: self.setup.channel}, now=at, backoff=BACKOFF)

    def dispatch_apart(self) -> None:
        """Dispatch from an engine of its own, as another worker would (on its thread)."""
        try:
            programme = contract_programme(self.name)
            with Engine.open(self.url, config=programme, clock=self.clock) as engine:
                self.dispatch(timedelta(0), engine)
        except Exception as error:
            self.errors.append(error)

    def row(self, message_id: str) -> OutboxMessage:
        """The message's outbox row."""
        (row,) = [m for m in self.engine.store.outbox() if m.message_id == message_id]
        return row

    def journal(self, patient: str) -> list[str]:
        """The types of the member's events, in order."""
        return [event.type for event in self.engine.store.events(member_key(patient))]

    def stored_bytes(self) -> bytes:
        """Every byte the store wrote: the database file and its journals."""
        files = [self.path, *self.path.parent.glob(self.path.name + "-*")]
        return b"".join(file.read_bytes() for file in files if file.exists())


class HandOverContract:
    """What every channel promises, a console included: each message handed over once."""

    @pytest.fixture
    def channel_setup(self) -> ChannelSetup:
        """The channel under test and its provider: a channel's test module overrides it."""
        raise NotImplementedError("override the channel_setup fixture")

    @pytest.fixture
    def hospital(self, channel_setup: ChannelSetup, tmp_path: Path) -> Iterator[_Hospital]:
        hospital = _Hospital(channel_setup, tmp_path / "contract.db")
        yield hospital
        hospital.engine.close()

    def test_a_message_is_handed_to_the_provider_once(self, hospital: _Hospital) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.dispatch(timedelta(0))
        hospital.dispatch(timedelta(minutes=5))
        hospital.dispatch(timedelta(days=1))
        assert hospital.setup.provider.accepted() == [sent]
        assert hospital.row(sent).status == "delivered"

    def test_the_acknowledgment_is_kept_with_the_address_it_went_to(
        self, hospital: _Hospital
    ) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.dispatch(timedelta(0))
        row = hospital.row(sent)
        assert row.receipt
        if hospital.setup.addressed:  # as the outbox keeps addresses, to match replies
            assert row.address == address_key(hospital.name, hospital.setup.address)

    def test_dispatchers_running_at_once_hand_each_message_over_once(
        self, hospital: _Hospital
    ) -> None:
        asked = [hospital.ask(hospital.member(f"P{n}")) for n in range(12)]
        threads = [threading.Thread(target=hospital.dispatch_apart) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert hospital.errors == []
        accepted = hospital.setup.provider.accepted()
        assert sorted(accepted) == sorted(asked)


class ChannelContract(HandOverContract):
    """What every channel to a provider promises besides: failures handled, secrets kept."""

    def test_a_provider_that_asks_to_wait_is_tried_no_sooner(self, hospital: _Hospital) -> None:
        if not hospital.setup.asks_to_wait:
            pytest.skip("the provider cannot say how long to wait (SMTP's replies cannot)")
        sent = hospital.ask(hospital.member("P1"))
        hospital.setup.provider.fail_next("transient", retry_after=120)
        hospital.dispatch(timedelta(0))
        assert hospital.setup.provider.accepted() == []
        assert hospital.row(sent).status == "pending"
        assert hospital.row(sent).attempts == 1
        hospital.dispatch(timedelta(seconds=60))  # the back-off's 10 s are over; 120 s not
        assert hospital.setup.provider.accepted() == []
        hospital.dispatch(timedelta(hours=1))  # a channel may wait longer than asked
        assert hospital.setup.provider.accepted() == [sent]

    def test_a_transient_failure_is_retried_with_back_off(self, hospital: _Hospital) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.setup.provider.fail_next("transient")
        hospital.dispatch(timedelta(0))
        hospital.dispatch(timedelta(seconds=5))  # before the first wait ends
        assert hospital.setup.provider.accepted() == []
        hospital.dispatch(timedelta(seconds=11))
        assert hospital.setup.provider.accepted() == [sent]
        assert "message_delivery_failed" in hospital.journal("P1")

    def test_a_permanent_failure_is_given_up_at_once_and_falls_back(
        self, hospital: _Hospital
    ) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.setup.provider.fail_next("permanent")
        hospital.dispatch(timedelta(0))
        hospital.dispatch(timedelta(hours=1))
        assert hospital.setup.provider.accepted() == []
        assert hospital.row(sent).status == "failed"
        journal = hospital.journal("P1")
        assert "message_delivery_failed" in journal
        assert "phone_task_requested" in journal[journal.index("message_delivery_failed") :]
        calls = [t for t in hospital.engine.store.tasks() if t.key == member_key("P1")]
        assert [t.kind for t in calls] == ["call"]

    def test_a_member_without_an_address_is_not_sent_to_but_fallen_back(
        self, hospital: _Hospital
    ) -> None:
        if not hospital.setup.addressed:
            pytest.skip("the channel needs no address")
        sent = hospital.ask(hospital.member("P1", address=None))
        hospital.dispatch(timedelta(0))
        assert hospital.setup.provider.accepted() == []
        assert hospital.row(sent).status == "failed"
        assert "phone_task_requested" in hospital.journal("P1")

    def test_no_secret_reaches_a_log_or_a_stored_row(
        self, hospital: _Hospital, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        first = hospital.ask(hospital.member("P1"))
        hospital.setup.provider.fail_next("transient", retry_after=1)
        hospital.dispatch(timedelta(0))
        hospital.dispatch(timedelta(minutes=1))
        hospital.ask(hospital.member("P2"))
        hospital.setup.provider.fail_next("permanent")
        hospital.dispatch(timedelta(minutes=2))
        hospital.engine.read_reports({hospital.name: hospital.setup.channel}, now=T0)
        assert hospital.setup.provider.accepted() == [first]
        stored = hospital.stored_bytes()
        for secret in hospital.setup.secrets:
            assert secret not in caplog.text
            assert secret.encode() not in stored


class ReportingContract(ChannelContract):
    """What a channel that reads back its provider's reports promises besides."""

    def _read(self, hospital: _Hospital, after: timedelta) -> None:
        at = T0 + timedelta(minutes=1) + after
        hospital.engine.read_reports({hospital.name: hospital.setup.channel}, now=at)

    def test_a_message_reported_delivered_is_noted_once(self, hospital: _Hospital) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.dispatch(timedelta(0))
        hospital.setup.provider.report(sent, delivered=True)
        self._read(hospital, timedelta(minutes=5))
        self._read(hospital, timedelta(minutes=10))
        assert hospital.journal("P1").count("message_delivered") == 1
        assert hospital.row(sent).outcome == "delivered"
        state = hospital.engine.member("P1").outreach
        assert [m.delivered for m in state.sent if m.message_id == sent] == [True]

    def test_a_message_reported_undeliverable_falls_back(self, hospital: _Hospital) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.dispatch(timedelta(0))
        hospital.setup.provider.report(sent, delivered=False)
        self._read(hospital, timedelta(minutes=5))
        journal = hospital.journal("P1")
        assert "message_delivered" not in journal
        assert "phone_task_requested" in journal[journal.index("message_delivery_failed") :]
        assert hospital.row(sent).outcome == "undeliverable"

    def test_a_message_not_reported_yet_is_asked_about_again(self, hospital: _Hospital) -> None:
        sent = hospital.ask(hospital.member("P1"))
        hospital.dispatch(timedelta(0))
        self._read(hospital, timedelta(minutes=5))
        assert hospital.row(sent).outcome is None
        hospital.setup.provider.report(sent, delivered=True)
        self._read(hospital, timedelta(minutes=10))
        assert hospital.journal("P1").count("message_delivered") == 1


class ReplyContract(ReportingContract):
    """What a channel that reads members' replies promises besides."""

    def test_a_reply_td_to_a_marketing_message_withdraws_marketing_on_the_channel(
        self, hospital: _Hospital
    ) -> None:
        patient = hospital.member("P1")
        hospital.ask(patient, marketing=True)
        hospital.dispatch(timedelta(0))
        hospital.setup.provider.reply(hospital.setup.address, "TD")
        self._read(hospital, timedelta(hours=1))
        self._read(hospital, timedelta(hours=2))
        consent = hospital.engine.member(patient).consent
        assert not allows(consent, "marketing", hospital.name)  # type: ignore[arg-type]
        assert allows(consent, "marketing", "phone")
        assert allows(consent, "care", hospital.name)  # type: ignore[arg-type]
        assert hospital.journal(patient).count("consent_withdrawn") == 1

    def test_another_reply_withdraws_nothing(self, hospital: _Hospital) -> None:
        patient = hospital.member("P1")
        hospital.ask(patient, marketing=True)
        hospital.dispatch(timedelta(0))
        hospital.setup.provider.reply(hospital.setup.address, "谢谢，已收到")
        self._read(hospital, timedelta(hours=1))
        consent = hospital.engine.member(patient).consent
        assert allows(consent, "marketing", hospital.name)  # type: ignore[arg-type]

    def test_a_reply_to_care_messages_only_withdraws_nothing(self, hospital: _Hospital) -> None:
        patient = hospital.member("P1")
        hospital.ask(patient)
        hospital.dispatch(timedelta(0))
        hospital.setup.provider.reply(hospital.setup.address, "TD")
        self._read(hospital, timedelta(hours=1))
        consent = hospital.engine.member(patient).consent
        assert allows(consent, "marketing", hospital.name)  # type: ignore[arg-type]
