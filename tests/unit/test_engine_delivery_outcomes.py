"""What becomes of a message after the hand-over, through the engine on memory and SQLite.

A permanent failure falls back along the member's channels (WeCom, then SMS, then a
staff call for care); retries that run out fall back too; a given-up message leaves the
weekly cap; a provider's report is noted once; a dead member's failures fall back to
nothing; a journey reacts to an undeliverable SMS; staff hear of the tasks given them
on a configured staff channel; the programme's channels are built, and refused, from its
``[channels]`` tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

from membercore import reference_config
from membercore.config.channels import ChannelSettings
from membercore.config.journeys import Call, JourneyDefinition, Trigger
from membercore.config.outreach import MessageTemplate
from membercore.consent import GrantConsent, allows
from membercore.errors import ConfigError, PluginError, StorageError
from membercore.facts import PatientDied, PatientRegistered
from membercore.hookspecs import hookimpl
from membercore.outreach import (
    MessageDelivered,
    MessageDeliveryFailed,
    MessageQueued,
    NoteDelivery,
    PhoneTaskRequested,
    RequestMessage,
)
from membercore.plugins import make_plugin_manager
from membercore.ports import OutboxMessage, Outgoing, PermanentDeliveryError, Reply
from membercore.serialization import message_from_stored
from membercore.service import outcomes
from membercore.service.dispatch import Backoff
from membercore.service.engine import Engine
from membercore.service.outcomes import address_key
from membercore.staff.tasks import AssignHealthManager
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

from .conftest import MONDAY

ME = "p-wang"


class Refusing:
    """A channel whose provider refuses every message for good (a number out of service)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tried: list[Outgoing] = []

    def send(self, message: OutboxMessage) -> str:
        self.tried.append(Outgoing.of(message))
        raise PermanentDeliveryError("isv.MOBILE_NUMBER_ILLEGAL")


class Down:
    """A channel whose provider cannot be reached."""

    name = "wecom"

    def send(self, message: OutboxMessage) -> str:
        raise ConnectionError("provider unreachable")


class Taking:
    """A channel that takes every message."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.taken: list[Outgoing] = []

    def send(self, message: OutboxMessage) -> str:
        self.taken.append(Outgoing.of(message))
        return f"r-{message.message_id}"


def _member(engine: Engine, *channels: str, purpose: str = "care") -> None:
    engine.ingest(
        [
            PatientRegistered(
                fact_id="reg",
                patient_id=ME,
                occurred_at=MONDAY,
                name="王女士",
                phone="13800138000",
                wecom="wmWang",
            )
        ]
    )
    grant = GrantConsent(
        key=f"grant-{purpose}",
        member_id=ME,
        purpose=purpose,  # type: ignore[arg-type]
        channels=channels,  # type: ignore[arg-type]
        given_by=ME,
        source="app",
    )
    engine.execute(grant)


def _ask(engine: Engine, key: str = "ask-1", template: str = "hba1c_recheck") -> str:
    marketing = template == "annual_plan_offer"
    made = engine.execute(
        RequestMessage(
            key=key,
            member_id=ME,
            template_key=template,
            purpose="marketing" if marketing else "care",
            variables={"name": "王女士", "price": "299"} if marketing else {"name": "王女士"},
            reason="test",
        )
    )
    (queued,) = [event for event in made if isinstance(event, MessageQueued)]
    return queued.message_id


def _journal(engine: Engine) -> list[Any]:
    return [message_from_stored(e.payload) for e in engine.store.events(f"member:{ME}")]


def test_a_permanent_failure_falls_back_along_the_members_channels(engine: Engine) -> None:
    _member(engine, "wecom", "sms", "phone")
    first = _ask(engine)
    wecom, sms = Refusing("wecom"), Refusing("sms")
    engine.dispatch({"wecom": wecom, "sms": sms})
    (queued,) = [e for e in _journal(engine) if isinstance(e, MessageQueued) and e.falls_back_from]
    assert (queued.falls_back_from, queued.channel, queued.tried) == (first, "sms", ("wecom",))
    assert queued.template_key == "hba1c_recheck"
    assert queued.text == "王女士您好，您的糖化血红蛋白复查已到期，请预约复查。"
    engine.dispatch({"wecom": wecom, "sms": sms})
    assert [o.to for o in wecom.tried] == ["wmWang"]
    assert [o.to for o in sms.tried] == ["13800138000"]
    (call,) = [e for e in _journal(engine) if isinstance(e, PhoneTaskRequested)]
    assert (call.falls_back_from, call.tried) == (queued.message_id, ("wecom", "sms"))
    assert [task.kind for task in engine.store.tasks()] == ["call"]
    # The given-up messages no longer count against the weekly cap: the call alone does.
    assert [m.message_id for m in engine.member(ME).outreach.sent] == [call.message_id]


def test_retries_that_run_out_fall_back_too(engine: Engine, clock: ManualClock) -> None:
    _member(engine, "wecom", "sms")
    _ask(engine)
    sms = Taking("sms")
    policy = Backoff(first=timedelta(minutes=1), attempts=2)
    engine.dispatch({"wecom": Down(), "sms": sms}, backoff=policy)
    assert sms.taken == []  # the first failure waits for its retry
    clock.advance(timedelta(minutes=2))
    engine.dispatch({"wecom": Down(), "sms": sms}, backoff=policy)  # given up: falls back
    clock.advance(timedelta(minutes=1))
    engine.dispatch({"wecom": Down(), "sms": sms}, backoff=policy)
    assert [o.template for o in sms.taken] == ["hba1c_recheck"]


def test_a_marketing_message_without_another_channel_is_refused_saying_why(
    engine: Engine,
) -> None:
    _member(engine, "wecom", purpose="marketing")
    _ask(engine, template="annual_plan_offer")
    engine.dispatch({"wecom": Refusing("wecom")})
    refused = [e for e in _journal(engine) if type(e).__name__ == "MessageRefused"]
    assert [r.reason for r in refused] == ["no_consent"]
    assert list(engine.store.tasks()) == []


def test_a_report_is_noted_once_and_a_late_failure_after_it_changes_nothing(
    engine: Engine,
) -> None:
    _member(engine, "wecom", "sms")
    sent = _ask(engine)
    engine.dispatch({"wecom": Taking("wecom")})
    delivered = NoteDelivery(member_id=ME, message_id=sent, at=MONDAY, delivered=True)
    assert [type(e) for e in engine.note_deliveries([delivered])] == [MessageDelivered]
    assert engine.note_deliveries([delivered]) == ()
    late = attrs.evolve(delivered, delivered=False, detail="expired")
    assert engine.note_deliveries([late]) == ()


def test_a_dead_members_failure_falls_back_to_nothing(engine: Engine, clock: ManualClock) -> None:
    _member(engine, "wecom", "sms", "phone")
    sent = _ask(engine)
    engine.dispatch({"wecom": Taking("wecom")})
    clock.advance(timedelta(hours=1))
    engine.ingest([PatientDied(fact_id="died", patient_id=ME, occurred_at=clock.now())])
    failed = NoteDelivery(member_id=ME, message_id=sent, at=clock.now(), delivered=False)
    made = engine.note_deliveries([failed])
    assert [type(e) for e in made] == [MessageDeliveryFailed]


def test_a_note_on_a_member_with_no_record_is_passed_over(engine: Engine) -> None:
    note = NoteDelivery(member_id="nobody", message_id="nobody/msg/1", at=MONDAY, delivered=True)
    assert engine.note_deliveries([note]) == ()


def _programme_with(**changes: Any) -> Any:
    """The reference programme with ``changes``, going by the channels they configure."""
    reference = reference_config()
    configured = tuple(c for c in changes.get("channels", {}) if c != "staff")
    policy = attrs.evolve(reference.outreach, channel_order=(*configured, "phone"))
    return attrs.evolve(reference, outreach=policy, **changes)


def _open(url: str, clock: ManualClock, config: Any, *plugins: object) -> Engine:
    manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, *plugins])
    return Engine.open(url, config=config, clock=clock, plugin_manager=manager)


def test_a_journey_reacts_to_an_undeliverable_sms(clock: ManualClock) -> None:
    wrong_number = JourneyDefinition(
        key="wrong_number",
        label="号码失效",
        purpose="care",
        states=("open",),
        initial="open",
        final=("open",),
        entry=Trigger(kind="event", type="message_delivery_failed"),
        entry_guards=(
            Call(name="field_equals", params={"field": "channel", "value": "sms"}),
            Call(name="field_equals", params={"field": "retry_at", "value": "None"}),
        ),
        entry_actions=(
            Call(
                name="create_task",
                params={"kind": "update_contact", "role": "nurse", "due_hours": 24},
            ),
        ),
        re_entry=True,
    )
    config = reference_config()
    config = attrs.evolve(config, journeys=(*config.journeys, wrong_number))
    with _open("memory://", clock, config) as engine:
        _member(engine, "sms")
        _ask(engine)
        engine.dispatch({"sms": Refusing("sms")})
        assert [task.kind for task in engine.store.tasks()] == ["update_contact"]


def test_a_notice_goes_to_the_assignee_and_not_once_the_task_is_closed(
    clock: ManualClock,
) -> None:
    staff = {"staff": ChannelSettings(use="console")}
    with _open("memory://", clock, _programme_with(channels=staff)) as engine:
        _member(engine, "phone")
        engine.execute(AssignHealthManager(key="hm", member_id=ME, reason="test"))
        made = engine.execute(
            RequestMessage(
                key="call-1",
                member_id=ME,
                template_key="hba1c_recheck",
                purpose="care",
                variables={"name": "王女士"},
                reason="test",
            )
        )
        assert any(isinstance(e, PhoneTaskRequested) for e in made)
        (notice,) = [m for m in engine.store.outbox("pending") if m.channel == "staff"]
        told = Outgoing.of(notice)
        (task,) = engine.store.tasks()
        assert told.to == task.assignee
        assert task.task_key in told.text
        assert "致电" in told.text
        assert "糖化" not in told.text  # the reason stays in the work queue
        desk = Taking("staff")
        engine.dispatch({"staff": desk})
        assert [o.to for o in desk.taken] == [task.assignee]


class _Plugin:
    def __init__(self, factory: Callable[[Mapping[str, Any]], Any]) -> None:
        self.factory = factory

    @hookimpl
    def membercore_register_channels(self, register: Callable[..., None]) -> None:
        register("vendor-sms", self.factory)


class _Templated(Taking):
    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options["name"])
        self.codes: dict[str, str] = dict(options.get("templates", {}))
        self.refused = options.get("refuse")

    def carries(self, template: MessageTemplate) -> str | None:
        if template.key == self.refused:
            raise ConfigError(f"templates.{template.key}.opt_out", "must carry the opt-out")
        return self.codes.get(template.key)


def _vendor_factory(options: Mapping[str, Any]) -> _Templated:
    if "sign_name" not in options:
        raise ConfigError("sign_name", "is required")
    return _Templated(options)


def test_the_programmes_channels_are_built_by_the_plugins_factories(clock: ManualClock) -> None:
    codes = {
        t.key: f"SMS_{n}"
        for n, t in enumerate(reference_config().outreach.templates)
        if "sms" in t.channels
    }
    table = {
        "sms": ChannelSettings(use="vendor-sms", options={"sign_name": "医院", "templates": codes})
    }
    with _open(
        "memory://", clock, _programme_with(channels=table), _Plugin(_vendor_factory)
    ) as engine:
        (channel,) = engine.channels().values()
        assert channel.name == "sms"


@pytest.mark.parametrize(
    ("options", "use", "key", "problem"),
    [
        ({"sign_name": "医院"}, "nobody-sms", "channels.sms.use", "no installed plugin"),
        ({}, "vendor-sms", "channels.sms.sign_name", "is required"),
        ({"sign_name": "医院"}, "vendor-sms", "channels.sms", "cannot carry the templates"),
        (
            {"sign_name": "医院", "refuse": "annual_plan_offer"},
            "vendor-sms",
            "channels.sms.templates.annual_plan_offer.opt_out",
            "must carry the opt-out",
        ),
    ],
)
def test_a_channel_table_that_is_wrong_is_refused_naming_the_key(
    clock: ManualClock, options: dict[str, Any], use: str, key: str, problem: str
) -> None:
    table = {"sms": ChannelSettings(use=use, options=options)}
    with (
        _open(
            "memory://", clock, _programme_with(channels=table), _Plugin(_vendor_factory)
        ) as engine,
        pytest.raises(ConfigError) as refused,
    ):
        engine.channels()
    assert refused.value.key == key
    assert problem in refused.value.problem


def test_a_factory_that_fails_or_names_another_channel_names_its_plugin(
    clock: ManualClock,
) -> None:
    table = {"sms": ChannelSettings(use="vendor-sms")}
    for factory in (lambda options: Taking("email"), lambda options: 1 / 0):
        plugin = _Plugin(factory)
        config = _programme_with(channels=table)
        with _open("memory://", clock, config, plugin) as engine, pytest.raises(PluginError):
            engine.channels()


class Replying(Taking):
    """An SMS channel whose provider gives one member's reply, written its own way."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("sms")
        self.reply = reply

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> list[Reply]:
        return [self.reply]


@pytest.mark.parametrize(
    ("written", "replied"),
    [("13800138000", "+8613800138000"), ("+86 138-0013-8000", "8613800138000")],
)
def test_an_opt_out_reply_matches_the_number_however_it_is_written(
    engine: Engine, written: str, replied: str
) -> None:
    engine.ingest(
        [PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=MONDAY, phone=written)]
    )
    engine.execute(
        GrantConsent(
            key="g", member_id=ME, purpose="marketing", channels=("sms",), given_by=ME, source="app"
        )
    )
    _ask(engine, template="annual_plan_offer")
    reply = Reply(channel="sms", address=replied, text=" 退订。", at=MONDAY, reply_id="r1")
    channel = Replying(reply)
    engine.dispatch({"sms": channel})
    read = engine.read_reports({"sms": channel})
    assert (read.replies, read.opted_out) == (1, 1)
    assert not allows(engine.member(ME).consent, "marketing", "sms")
    again = engine.read_reports({"sms": channel})  # the provider gives it again
    assert (again.replies, again.opted_out) == (1, 0)


@pytest.mark.parametrize(
    ("channel", "address", "key"),
    [
        ("sms", "+86 138 0013 8000", "13800138000"),
        ("sms", "0086-13800138000", "13800138000"),
        ("sms", "+85291234567", "+85291234567"),
        ("email", " Wang@Example.CN ", "wang@example.cn"),
        ("wecom", "wmAbC", "wmAbC"),
    ],
)
def test_an_address_is_kept_as_replies_are_matched(channel: str, address: str, key: str) -> None:
    assert address_key(channel, address) == key


class Holding(Replying):
    """A channel that gives its provider's reply until the engine says it took it."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply)
        self.done = False

    def reports(self, awaiting: Sequence[OutboxMessage], now: datetime) -> list[Reply]:
        return [] if self.done else [self.reply]

    def settled(self, reports: Sequence[Reply]) -> None:
        self.done = True


def test_a_reply_the_engine_could_not_commit_is_given_and_taken_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest(
        [PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=MONDAY, phone="13800138000")]
    )
    engine.execute(
        GrantConsent(
            key="g", member_id=ME, purpose="marketing", channels=("sms",), given_by=ME, source="app"
        )
    )
    _ask(engine, template="annual_plan_offer")
    channel = Holding(
        Reply(channel="sms", address="13800138000", text="TD", at=MONDAY, reply_id="r")
    )
    engine.dispatch({"sms": channel})
    real = outcomes.note
    failing = [StorageError("sqlite:///m.db", "database is locked")]

    def note_once_failing(*args: Any) -> tuple[object, ...]:
        if failing:
            raise failing.pop()
        return real(*args)

    monkeypatch.setattr(outcomes, "note", note_once_failing)
    first = engine.read_reports({"sms": channel})
    assert (first.unreadable, first.opted_out, channel.done) == (1, 0, False)
    assert allows(engine.member(ME).consent, "marketing", "sms")
    second = engine.read_reports({"sms": channel})
    assert (second.opted_out, channel.done) == (1, True)
    assert not allows(engine.member(ME).consent, "marketing", "sms")


def test_an_order_going_by_a_channel_no_table_configures_is_refused(clock: ManualClock) -> None:
    table = {"sms": ChannelSettings(use="console")}
    config = attrs.evolve(reference_config(), channels=table)  # the order: WeCom, SMS, phone
    with _open("memory://", clock, config) as engine, pytest.raises(ConfigError) as refused:
        engine.channels()
    assert refused.value.key == "outreach.channel_order"
    assert "['wecom']" in refused.value.problem


def test_a_configured_programme_passes_over_a_channel_the_member_has_no_address_on(
    clock: ManualClock,
) -> None:
    # No WeCom id: the message goes by SMS at once, not first to WeCom to fail there.
    tables = {"wecom": ChannelSettings(use="console"), "sms": ChannelSettings(use="console")}
    with _open("memory://", clock, _programme_with(channels=tables)) as engine:
        engine.ingest(
            [PatientRegistered(fact_id="r", patient_id=ME, occurred_at=MONDAY, phone="138")]
        )
        engine.execute(
            GrantConsent(
                key="g",
                member_id=ME,
                purpose="care",
                channels=("wecom", "sms"),
                given_by=ME,
                source="app",
            )
        )
        _ask(engine)
        (queued,) = [e for e in _journal(engine) if isinstance(e, MessageQueued)]
        assert queued.channel == "sms"
        assert "(no address on wecom)" in queued.explanation


def test_without_configured_channels_no_address_is_needed(engine: Engine) -> None:
    engine.ingest([PatientRegistered(fact_id="r", patient_id=ME, occurred_at=MONDAY)])
    engine.execute(
        GrantConsent(
            key="g", member_id=ME, purpose="care", channels=("wecom",), given_by=ME, source="app"
        )
    )
    _ask(engine)
    (queued,) = [e for e in _journal(engine) if isinstance(e, MessageQueued)]
    assert queued.channel == "wecom"  # the console stands in: it needs no address


def test_a_failure_learnt_too_late_falls_back_to_nothing_saying_so(
    engine: Engine, clock: ManualClock
) -> None:
    # A reminder whose SMS is reported undeliverable two days on: a call then is no use.
    _member(engine, "wecom", "sms", "phone")
    sent = _ask(engine)
    engine.dispatch({"wecom": Taking("wecom")})
    clock.advance(timedelta(hours=30))
    late = NoteDelivery(
        member_id=ME,
        message_id=sent,
        at=clock.now(),
        delivered=False,
        detail="undeliverable",
        template_key="hba1c_recheck",
        variables={"name": "王女士"},
    )
    made = engine.note_deliveries([late])
    failed, refused = made
    assert isinstance(failed, MessageDeliveryFailed)
    assert (refused.reason, refused.key) == ("stale", f"{sent}/fallback")  # type: ignore[attr-defined]
    assert "30 h after it went out, more than 24 h" in refused.explanation  # type: ignore[attr-defined]
    assert list(engine.store.tasks()) == []


def test_the_engine_logs_counts_and_never_a_patients_details(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="membercore")
    engine.ingest(
        [
            PatientRegistered(
                fact_id="reg", patient_id=ME, occurred_at=MONDAY, name="王女士", phone="13800138000"
            ),
            {"type": "visit_completed", "fact_id": "v", "patient_id": ME, "name": "王女士"},
        ]
    )
    _member(engine, "wecom")
    _ask(engine)
    engine.dispatch({"wecom": Taking("wecom")})
    said = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert any("ingested 2 inputs: 1 applied, 0 duplicates, 1 refused" in s for s in said)
    assert any(s.startswith("handed over: 1 delivered") for s in said)
    assert not [s for s in said if "王女士" in s or "13800138000" in s]
