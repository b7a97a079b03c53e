"""A message given up falls back once, along the member's channels, never twice to one.

For any consents over WeCom, SMS, e-mail and calls, care and marketing requests, and
dispatches through channels each of which takes a message, fails it for now or refuses
it for good, with reports that may say a message taken was undeliverable, noted once or
twice, on memory and SQLite:

- a message is given up once, however often its failure is reported;
- every message given up is followed by at most one decision taking its place (a
  message, a call or a refusal saying why), and by exactly one while the policy's order
  leaves a channel the template may use that was not tried;
- a chain of fallbacks never uses a channel twice, and each message of it was queued on
  a channel the member consented to for its purpose when it was decided;
- only care falls back to a call.

Mutation check (each run with the ``ci`` profile): with ``tried`` left out of the
fallback's decision (``membercore.outreach.delivery.fall_back``), a chain uses a channel
twice; with a message given up kept in the record's outreach state
(``membercore.outreach.state``), a report noted twice gives it up twice (its fallback,
a request of one key, is still decided once).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import reference_config
from membercore.consent import GrantConsent
from membercore.facts import PatientRegistered
from membercore.outreach import (
    MessageDeliveryFailed,
    MessageQueued,
    MessageRefused,
    NoteDelivery,
    PhoneTaskRequested,
    RequestMessage,
)
from membercore.plugins import make_plugin_manager
from membercore.ports import (
    DeliveryReport,
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from membercore.serialization import message_from_stored
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

START = datetime.fromisoformat("2026-03-02T02:00:00+00:00")  # 10:00 in Shanghai
ME = "p-fall"
CHANNELS = ("wecom", "sms", "email")
CONFIG = reference_config()
TEMPLATES = {"care": "appointment_reminder", "marketing": "annual_plan_offer"}
VARIABLES = {
    "care": {"name": "林女士", "date": "3月9日", "department": "内科"},
    "marketing": {"name": "林女士", "price": "599"},
}

fates = st.sampled_from(("take", "take", "later", "refuse"))
steps = st.one_of(
    st.tuples(st.just("ask"), st.sampled_from(("care", "marketing"))),
    st.tuples(st.just("dispatch"), st.fixed_dictionaries(dict.fromkeys(CHANNELS, fates))),
    st.tuples(st.just("report"), st.booleans()),
    st.tuples(st.just("wait"), st.integers(1, 24 * 60)),
)
consents = st.fixed_dictionaries(
    {
        "care": st.sets(st.sampled_from((*CHANNELS, "phone")), min_size=1),
        "marketing": st.sets(st.sampled_from(CHANNELS), min_size=1),
    }
)


class Provider:
    """A channel whose provider takes, delays or refuses each message as told."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fate = "take"
        self.taken: list[str] = []

    def send(self, message: OutboxMessage) -> str:
        if self.fate == "refuse":
            raise PermanentDeliveryError("refused for good")
        if self.fate == "later":
            raise TransientDeliveryError("busy", retry_after=60)
        self.taken.append(message.message_id)
        return f"r-{message.message_id}"


@pytest.fixture(scope="module")
def manager() -> pluggy.PluginManager:
    return make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fallback")


def _journal(engine: Engine) -> list[Any]:
    return [message_from_stored(e.payload) for e in engine.store.events(f"member:{ME}")]


def _report(engine: Engine, providers: dict[str, Provider], twice: bool, now: datetime) -> None:
    """The providers report the last message each took undeliverable (once, or twice)."""
    taken = [p.taken[-1] for p in providers.values() if p.taken]
    outbox = {m.message_id: m for m in engine.store.outbox() if m.message_id in taken}
    notes = [
        NoteDelivery(
            member_id=ME,
            message_id=message_id,
            at=now,
            delivered=False,
            detail="undeliverable",
            template_key=Outgoing.of(outbox[message_id]).template or "",
            variables=Outgoing.of(outbox[message_id]).variables,
        )
        for message_id in taken
    ]
    for _ in range(2 if twice else 1):
        engine.note_deliveries(notes, now)
    _ = DeliveryReport  # the shape a reporting channel gives; noted the same way


def _run(engine: Engine, clock: ManualClock, script: Sequence[Any]) -> None:
    providers = {name: Provider(name) for name in CHANNELS}
    for index, (kind, arg) in enumerate(script):
        now = clock.now()
        if kind == "ask":
            request = RequestMessage(
                key=f"a-{index}",
                member_id=ME,
                template_key=TEMPLATES[arg],
                purpose=arg,
                variables=VARIABLES[arg],
                reason="property",
            )
            engine.execute(request, now=now)
        elif kind == "dispatch":
            for name, fate in arg.items():
                providers[name].fate = fate
            engine.dispatch(dict(providers), now=now)
        elif kind == "report":
            _report(engine, providers, arg, now)
        else:
            clock.advance(timedelta(minutes=arg))


def _chains(journal: Iterable[Any]) -> dict[str, list[Any]]:
    """Each decision that took the place of a given-up message, by the message it replaced."""
    after: dict[str, list[Any]] = {}
    for event in journal:
        if isinstance(event, (MessageQueued, PhoneTaskRequested)) and event.falls_back_from:
            after.setdefault(event.falls_back_from, []).append(event)
        elif isinstance(event, MessageRefused) and event.key.endswith("/fallback"):
            after.setdefault(event.key.removesuffix("/fallback"), []).append(event)
    return after


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@given(consented=consents, script=st.lists(steps, min_size=1, max_size=20))
@settings(max_examples=max(25, settings.default.max_examples // 5))
def test_a_message_given_up_falls_back_once_and_never_to_a_channel_tried(
    manager: pluggy.PluginManager,
    folder: Path,
    kind: str,
    consented: dict[str, set[str]],
    script: list[Any],
) -> None:
    url = "memory://" if kind == "memory" else f"sqlite:///{folder}/{uuid.uuid4().hex}.db"
    clock = ManualClock(START)
    with Engine.open(url, config=CONFIG, clock=clock, plugin_manager=manager) as engine:
        engine.ingest(
            [
                PatientRegistered(
                    fact_id="reg",
                    patient_id=ME,
                    occurred_at=START,
                    birth_date=date(1980, 5, 1),
                    phone="13800138000",
                    email="lin@example.cn",
                    wecom="wmLin",
                )
            ]
        )
        for purpose, channels in consented.items():
            engine.execute(
                GrantConsent(
                    key=f"g-{purpose}",
                    member_id=ME,
                    purpose=purpose,  # type: ignore[arg-type]
                    channels=tuple(sorted(channels)),  # type: ignore[arg-type]
                    given_by=ME,
                    source="app",
                ),
                now=START,
            )
        _run(engine, clock, script)
        journal = _journal(engine)
    given_up = [e for e in journal if isinstance(e, MessageDeliveryFailed) and e.retry_at is None]
    ids = [e.message_id for e in given_up]
    assert len(ids) == len(set(ids)), "a message was given up twice"
    after = _chains(journal)
    queued = {e.message_id: e for e in journal if isinstance(e, MessageQueued)}
    for failed in given_up:
        following = after.get(failed.message_id, [])
        assert len(following) <= 1, f"{failed.message_id} fell back {len(following)} times"
        message = queued[failed.message_id]
        tried = {*message.tried, message.channel}
        template = CONFIG.outreach.template(message.template_key)
        assert template is not None
        left = [
            c for c in CONFIG.outreach.channel_order if c in template.channels and c not in tried
        ]
        if left:
            # Something was decided in its place: a message, a call, or a refusal saying why.
            assert len(following) == 1, f"{failed.message_id} fell back to nothing"
    for followers in after.values():
        for event in followers:
            if isinstance(event, MessageRefused):
                continue
            channel = event.channel if isinstance(event, MessageQueued) else "phone"
            used = [channel, *_ancestors(event.falls_back_from, queued)]
            assert len(set(used)) == len(used), f"a chain used a channel twice: {used}"
            assert channel in consented[event.purpose]
            assert channel != "phone" or event.purpose == "care"


def _ancestors(message_id: str, queued: dict[str, MessageQueued]) -> list[str]:
    """The channels of the messages a fallback takes the place of, latest first."""
    channels = []
    while message_id:
        message = queued[message_id]
        channels.append(message.channel)
        message_id = message.falls_back_from
    return channels
