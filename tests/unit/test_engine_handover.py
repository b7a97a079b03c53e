"""A message is checked again when it is handed to its channel, and withdrawals act at once.

Through the engine on memory and SQLite, with a manual clock, as a hospital's week runs:
consent withdrawn after a message was queued, a delivery waiting for its retry, a call
task of a withdrawn purpose, the journeys of the purposes left alone, quiet hours met by
a retry, and what a provider is handed.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from membercore import journeys
from membercore.consent import Channel, GrantConsent, Purpose, WithdrawConsent
from membercore.facts import PatientRegistered
from membercore.outreach import (
    MessageCancelled,
    MessageQueued,
    PhoneTaskRequested,
    RequestMessage,
)
from membercore.ports import OutboxMessage
from membercore.service import delivery
from membercore.service.dispatch import Backoff
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)  # a Monday morning, outside quiet hours
ME = "p-lin"
BORN = date(1980, 5, 1)


class Provider:
    """A channel that keeps what it was handed; it fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.handed: list[OutboxMessage] = []
        self.failing = False

    def send(self, message: OutboxMessage) -> str:
        if self.failing:
            raise ConnectionError("provider unreachable")
        self.handed.append(message)
        return f"receipt-{message.message_id}"


def _start(engine: Engine, *grants: tuple[Purpose, tuple[Channel, ...]]) -> None:
    engine.ingest(
        [
            PatientRegistered(
                fact_id="reg", patient_id=ME, occurred_at=T0, name="林女士", birth_date=BORN
            )
        ],
        now=T0,
    )
    for purpose, channels in grants:
        grant = GrantConsent(
            key=f"grant-{purpose}",
            member_id=ME,
            purpose=purpose,
            channels=channels,
            given_by=ME,
            source="app",
        )
        engine.execute(grant, now=T0)


def _ask(engine: Engine, key: str, template: str, purpose: Purpose, at: datetime) -> str:
    request = RequestMessage(
        key=key,
        member_id=ME,
        template_key=template,
        purpose=purpose,
        variables={"name": "林女士"},
        reason="staff",
    )
    made = engine.execute(request, now=at)
    (queued,) = [event for event in made if isinstance(event, MessageQueued | PhoneTaskRequested)]
    return queued.message_id


def _status(engine: Engine, message_id: str) -> str:
    return next(m.status for m in engine.store.outbox() if m.message_id == message_id)


def test_a_message_queued_before_a_withdrawal_is_never_handed_over(engine: Engine) -> None:
    _start(engine, ("marketing", ("wecom",)))
    sent = _ask(engine, "ask-1", "family_offer", "marketing", T0)
    withdrawal = WithdrawConsent(key="w-1", member_id=ME, purpose="marketing")
    made = engine.execute(withdrawal, now=T0 + timedelta(minutes=1))
    provider = Provider()
    report = engine.dispatch({"wecom": provider}, now=T0 + timedelta(minutes=5))
    assert provider.handed == []
    assert report.delivered == 0
    assert _status(engine, sent) == "cancelled"
    (cancelled,) = [event for event in made if isinstance(event, MessageCancelled)]
    assert cancelled.message_id == sent
    assert "withdrawn" in cancelled.explanation


def test_a_message_waiting_for_its_retry_is_cancelled_by_a_withdrawal(engine: Engine) -> None:
    _start(engine, ("marketing", ("wecom",)))
    sent = _ask(engine, "ask-1", "family_offer", "marketing", T0)
    provider = Provider()
    provider.failing = True
    first = engine.dispatch({"wecom": provider}, now=T0 + timedelta(minutes=1))
    assert first.retrying == 1
    engine.execute(
        WithdrawConsent(key="w-1", member_id=ME, purpose="marketing"),
        now=T0 + timedelta(minutes=2),
    )
    provider.failing = False
    engine.dispatch({"wecom": provider}, now=T0 + timedelta(hours=1))
    assert provider.handed == []
    assert _status(engine, sent) == "cancelled"


def test_withdrawing_care_closes_the_call_task_of_a_care_message(engine: Engine) -> None:
    _start(engine, ("care", ("phone",)))
    task_key = _ask(engine, "ask-1", "hba1c_recheck", "care", T0)
    assert [task.status for task in engine.store.tasks(None) if task.task_key == task_key] == [
        "open"
    ]
    engine.execute(
        WithdrawConsent(key="w-1", member_id=ME, purpose="care"), now=T0 + timedelta(minutes=1)
    )
    assert [task.status for task in engine.store.tasks(None) if task.task_key == task_key] == [
        "closed"
    ]


def test_withdrawing_one_purpose_ends_only_the_journeys_of_that_purpose(engine: Engine) -> None:
    _start(engine, ("care", ("wecom",)))
    running = {i.journey for i in journeys.active(engine.member(ME).journeys)}
    assert "birthday" in running
    engine.execute(
        WithdrawConsent(key="w-1", member_id=ME, purpose="care"), now=T0 + timedelta(minutes=1)
    )
    still = {i.journey for i in journeys.active(engine.member(ME).journeys)}
    assert "birthday" in still  # a marketing journey: care's withdrawal is not its business


def test_a_retry_that_falls_in_quiet_hours_waits_for_their_end(engine: Engine) -> None:
    _start(engine, ("care", ("wecom",)))
    evening = T0.replace(hour=20, minute=58)
    sent = _ask(engine, "ask-1", "annual_welcome", "care", evening)
    provider = Provider()
    provider.failing = True
    policy = Backoff(first=timedelta(minutes=5))
    engine.dispatch({"wecom": provider}, now=evening, backoff=policy)
    provider.failing = False
    engine.dispatch({"wecom": provider}, now=evening + timedelta(minutes=10), backoff=policy)
    assert provider.handed == []  # 21:08 is within quiet hours (21:00–08:00)
    assert _status(engine, sent) == "pending"
    morning = T0.replace(hour=8) + timedelta(days=1)
    engine.dispatch({"wecom": provider}, now=morning, backoff=policy)
    assert [m.message_id for m in provider.handed] == [sent]


def test_a_provider_is_handed_the_text_the_template_and_its_variables_only(engine: Engine) -> None:
    _start(engine, ("care", ("wecom",)))
    _ask(engine, "ask-1", "annual_welcome", "care", T0)
    provider = Provider()
    engine.dispatch({"wecom": provider}, now=T0 + timedelta(minutes=1))
    (handed,) = provider.handed
    payload = json.loads(handed.payload)
    assert payload["text"] == "林女士您好，欢迎成为年度会员，您的专属权益已生效。"
    assert payload["variables"] == {"name": "林女士"}
    assert payload["template"] == "annual_welcome"
    assert payload["purpose"] == "care"
    # Never the explanation: why the message was sent stays in the journal.
    assert set(payload) == {
        "channel",
        "language",
        "member_id",
        "message_id",
        "purpose",
        "template",
        "text",
        "variables",
    }


def test_the_hand_over_is_recorded_on_the_members_record(engine: Engine) -> None:
    _start(engine, ("care", ("wecom",)))
    sent = _ask(engine, "ask-1", "annual_welcome", "care", T0)
    engine.dispatch({"wecom": Provider()}, now=T0 + timedelta(minutes=1))
    assert sent in engine.member(ME).outreach.handed_over
    # A withdrawal after the hand-over cancels nothing that has gone.
    made = engine.execute(
        WithdrawConsent(key="w-1", member_id=ME, purpose="care"), now=T0 + timedelta(minutes=2)
    )
    assert not [event for event in made if isinstance(event, MessageCancelled)]
    assert _status(engine, sent) == "delivered"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_a_message_left_unsent_past_a_week_is_checked_against_the_cap_when_handed_over(
    engine: Engine,
) -> None:
    # Research: one message a week. The first waits eight days for a dispatcher; the
    # second, asked then, no longer shares a week with the first's plan; both fall due.
    _start(engine, ("research", ("wecom",)))
    first = _ask(engine, "ask-1", "research_invitation", "research", T0)
    later = T0 + timedelta(days=8)
    second = _ask(engine, "ask-2", "research_invitation", "research", later)
    provider = Provider()
    engine.dispatch({"wecom": provider}, now=later)
    assert [m.message_id for m in provider.handed] == [second]
    assert _status(engine, first) == "cancelled"  # going out now, it would be a second one


def test_waiting_out_quiet_hours_does_not_use_up_a_retry(engine: Engine) -> None:
    _start(engine, ("care", ("wecom",)))
    evening = T0.replace(hour=20, minute=58)
    sent = _ask(engine, "ask-1", "annual_welcome", "care", evening)
    provider = Provider()
    provider.failing = True
    policy = Backoff(first=timedelta(minutes=5))
    engine.dispatch({"wecom": provider}, now=evening, backoff=policy)  # a failure: 1
    engine.dispatch({"wecom": provider}, now=evening + timedelta(minutes=10), backoff=policy)
    (held,) = [m for m in engine.store.outbox() if m.message_id == sent]
    assert held.attempts == 1  # held back for quiet hours: not a failure


def test_a_message_handed_over_by_a_dispatcher_that_stopped_is_checked_again(
    engine: Engine,
) -> None:
    _start(engine, ("marketing", ("wecom",)))
    sent = _ask(engine, "ask-1", "family_offer", "marketing", T0)
    now = T0 + timedelta(minutes=1)
    claimed = engine.store.claim_outbox(now, 10, worker="w-1", lease=timedelta(minutes=5))
    delivery._check(engine, claimed, now)  # the hand-over is committed; then it stops
    assert sent in engine.member(ME).outreach.handed_over
    engine.execute(
        WithdrawConsent(key="w-1", member_id=ME, purpose="marketing"),
        now=now + timedelta(minutes=1),
    )
    provider = Provider()
    report = engine.dispatch({"wecom": provider}, now=now + timedelta(minutes=10))
    assert provider.handed == []  # its claim ran out: checked again, no consent now
    assert report.cancelled == 1
    assert _status(engine, sent) == "cancelled"


def test_a_message_left_unsent_past_two_weeks_of_decisions_is_given_up_and_counted(
    engine: Engine,
) -> None:
    # The dispatcher was down: a care message waited while the record decided another
    # three weeks later, which let the first go from what the record keeps.
    _start(engine, ("care", ("wecom",)))
    first = _ask(engine, "ask-1", "annual_welcome", "care", T0)
    later = T0 + timedelta(days=21)
    second = _ask(engine, "ask-2", "annual_welcome", "care", later)
    provider = Provider()
    report = engine.dispatch({"wecom": provider}, now=later)
    assert [m.message_id for m in provider.handed] == [second]
    assert (report.delivered, report.failed) == (1, 1)
    (given_up,) = engine.store.outbox("failed")
    assert given_up.message_id == first
    assert _status(engine, first) == "failed"
