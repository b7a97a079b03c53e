"""The outbox dispatcher: delivered once, retried with growing waits, given up at last."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore.errors import NaiveInstantError
from membercore.ports import (
    Commit,
    Delivery,
    OutboxMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from membercore.service.dispatch import Backoff, DispatchReport, dispatch
from membercore_adapters.stores.memory import MemoryStore

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class SpyStore(MemoryStore):
    """The memory store, keeping every delivery it is told of (the port reads none back)."""

    def __init__(self) -> None:
        super().__init__("memory://dispatch")
        self.deliveries: list[Delivery] = []

    def record_delivery(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        super().record_delivery(delivery)


class Recorder:
    """A channel that acknowledges every message with an id of its own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[str] = []

    def send(self, message: OutboxMessage) -> str:
        self.sent.append(message.message_id)
        return f"{self.name}-ack-{len(self.sent)}"


class Flaky:
    """A channel whose first ``failures`` sends fail."""

    def __init__(self, name: str, failures: int = 1_000) -> None:
        self.name = name
        self.failures = failures
        self.tries: list[str] = []

    def send(self, message: OutboxMessage) -> str:
        self.tries.append(message.message_id)
        if len(self.tries) <= self.failures:
            raise ConnectionError("gateway timed out")
        return "ok"


class Silent:
    """A channel that breaks the port: it returns no acknowledgment."""

    name = "wecom"

    def send(self, message: OutboxMessage) -> str:
        return None  # type: ignore[return-value]


@pytest.fixture
def store() -> Iterator[SpyStore]:
    store = SpyStore()
    yield store
    store.close()


def _queue(store: MemoryStore, *channels: str, send_at: datetime = T0) -> list[str]:
    messages = [
        OutboxMessage(
            message_id=f"p-1/msg/{n}",
            key="member:p-1",
            channel=channel,
            payload='{"text": "您好"}',
            send_at=send_at,
        )
        for n, channel in enumerate(channels, start=1)
    ]
    store.commit(Commit(outbox=messages))
    return [message.message_id for message in messages]


def _status(store: MemoryStore) -> dict[str, tuple[str, int]]:
    return {m.message_id: (m.status, m.attempts) for m in store.outbox()}


def test_an_acknowledged_message_is_delivered_once(store: SpyStore) -> None:
    (sent,) = _queue(store, "wecom")
    wecom = Recorder("wecom")
    assert dispatch(store, {"wecom": wecom}, T0) == DispatchReport(delivered=1)
    assert dispatch(store, {"wecom": wecom}, T0 + timedelta(days=1)) == DispatchReport()
    assert wecom.sent == [sent]
    assert _status(store) == {sent: ("delivered", 0)}
    assert [delivery.receipt for delivery in store.deliveries] == ["wecom-ack-1"]


def test_a_message_waits_for_its_send_at(store: SpyStore) -> None:
    _queue(store, "wecom", send_at=T0 + timedelta(hours=10))
    wecom = Recorder("wecom")
    assert dispatch(store, {"wecom": wecom}, T0) == DispatchReport()
    assert dispatch(store, {"wecom": wecom}, T0 + timedelta(hours=10)).delivered == 1


def test_messages_go_out_in_commit_order_up_to_the_limit(store: SpyStore) -> None:
    queued = _queue(store, "wecom", "wecom", "wecom")
    wecom = Recorder("wecom")
    assert dispatch(store, {"wecom": wecom}, T0, limit=2).delivered == 2
    assert wecom.sent == queued[:2]
    dispatch(store, {"wecom": wecom}, T0, limit=2)
    assert wecom.sent == queued


def test_a_failed_delivery_is_retried_after_a_wait_that_grows(store: SpyStore) -> None:
    (sent,) = _queue(store, "sms")
    sms = Flaky("sms")
    policy = Backoff(first=MINUTE, factor=4, longest=timedelta(hours=6), attempts=6)
    now = T0
    waits = []
    for _ in range(4):
        assert dispatch(store, {"sms": sms}, now, backoff=policy) == DispatchReport(retrying=1)
        retry_at = store.deliveries[-1].retry_at
        assert retry_at is not None
        # Not a moment before its retry instant...
        assert dispatch(store, {"sms": sms}, retry_at - timedelta(seconds=1), backoff=policy) == (
            DispatchReport()
        )
        waits.append(retry_at - now)
        now = retry_at  # ...and again at it.
    assert waits == [MINUTE, 4 * MINUTE, 16 * MINUTE, 64 * MINUTE]
    assert len(sms.tries) == 4
    assert _status(store) == {sent: ("pending", 4)}


def test_a_delivery_that_succeeds_on_retry_is_delivered(store: SpyStore) -> None:
    (sent,) = _queue(store, "sms")
    sms = Flaky("sms", failures=1)
    assert dispatch(store, {"sms": sms}, T0).retrying == 1
    assert dispatch(store, {"sms": sms}, T0 + MINUTE).delivered == 1
    assert _status(store) == {sent: ("delivered", 1)}
    assert dispatch(store, {"sms": sms}, T0 + timedelta(days=1)) == DispatchReport()
    assert len(sms.tries) == 2


def test_a_delivery_is_given_up_after_the_configured_attempts(store: SpyStore) -> None:
    (sent,) = _queue(store, "sms")
    sms = Flaky("sms")
    policy = Backoff(first=MINUTE, factor=2, attempts=3)
    reports = []
    now = T0
    for _ in range(5):
        reports.append(dispatch(store, {"sms": sms}, now, backoff=policy))
        now += timedelta(days=1)
    assert reports == [
        DispatchReport(retrying=1),
        DispatchReport(retrying=1),
        DispatchReport(failed=1),
        DispatchReport(),
        DispatchReport(),
    ]
    assert len(sms.tries) == 3
    assert _status(store) == {sent: ("failed", 3)}
    assert store.deliveries[-1].retry_at is None


def test_a_channel_the_dispatcher_lacks_gives_the_message_up_saying_so(store: SpyStore) -> None:
    # Waiting would not bring the channel: the message is given up (and, through the
    # engine, falls back to the member's next channel).
    (sent,) = _queue(store, "email")
    assert dispatch(store, {"wecom": Recorder("wecom")}, T0) == DispatchReport(failed=1)
    (delivery,) = store.deliveries
    assert delivery.message_id == sent
    assert delivery.receipt is None
    assert delivery.error == "PermanentDeliveryError: no channel 'email' is configured"
    assert delivery.retry_at is None


def test_a_channel_error_is_recorded_with_its_type_and_message(store: SpyStore) -> None:
    _queue(store, "sms")
    dispatch(store, {"sms": Flaky("sms")}, T0)
    assert store.deliveries[0].error == "ConnectionError: gateway timed out"


def test_a_failing_channel_does_not_stop_the_others(store: SpyStore) -> None:
    first, second, third, fourth = _queue(store, "sms", "wecom", "sms", "wecom")
    wecom, sms = Recorder("wecom"), Flaky("sms")
    report = dispatch(store, {"wecom": wecom, "sms": sms}, T0)
    assert report == DispatchReport(delivered=2, retrying=2)
    assert wecom.sent == [second, fourth]
    assert sms.tries == [first, third]
    assert _status(store) == {
        first: ("pending", 1),
        second: ("delivered", 0),
        third: ("pending", 1),
        fourth: ("delivered", 0),
    }


def test_a_channel_that_returns_no_acknowledgment_has_not_delivered(store: SpyStore) -> None:
    (sent,) = _queue(store, "wecom")
    assert dispatch(store, {"wecom": Silent()}, T0) == DispatchReport(retrying=1)
    assert _status(store) == {sent: ("pending", 1)}
    assert "no acknowledgment" in str(store.deliveries[0].error)


def test_a_message_another_dispatcher_claimed_waits_for_its_lease_to_end(
    store: SpyStore,
) -> None:
    (sent,) = _queue(store, "wecom")
    lease = timedelta(minutes=5)
    # A dispatcher claims the message and dies before sending it.
    assert len(store.claim_outbox(T0, 10, worker="crashed", lease=lease)) == 1
    wecom = Recorder("wecom")
    assert dispatch(store, {"wecom": wecom}, T0 + MINUTE, worker="live") == DispatchReport()
    assert dispatch(store, {"wecom": wecom}, T0 + lease, worker="live").delivered == 1
    assert wecom.sent == [sent]


def test_a_dispatcher_running_while_another_sends_skips_the_claimed_messages(
    store: SpyStore,
) -> None:
    queued = _queue(store, "wecom", "wecom", "wecom")
    other = Recorder("wecom")

    class Interleaved(Recorder):
        """Runs a second dispatcher while it sends its first message."""

        def send(self, message: OutboxMessage) -> str:
            if not self.sent:
                dispatch(store, {"wecom": other}, T0, worker="b")
            return super().send(message)

    first = Interleaved("wecom")
    assert dispatch(store, {"wecom": first}, T0, limit=2, worker="a").delivered == 2
    assert (first.sent, other.sent) == (queued[:2], queued[2:])
    assert _status(store) == dict.fromkeys(queued, ("delivered", 0))


def test_dispatch_refuses_a_naive_instant(store: SpyStore) -> None:
    _queue(store, "wecom")
    with pytest.raises(NaiveInstantError):
        dispatch(store, {}, datetime(2026, 3, 2, 10, 0))  # noqa: DTZ001 - naive on purpose
    assert store.deliveries == []


def test_the_default_policy_waits_a_minute_then_four_times_longer_up_to_six_hours() -> None:
    policy = Backoff()
    waits = [policy.retry_at(failures, T0) for failures in range(1, 7)]
    assert [None if at is None else at - T0 for at in waits] == [
        MINUTE,
        4 * MINUTE,
        16 * MINUTE,
        64 * MINUTE,
        256 * MINUTE,
        None,  # the sixth failure gives up
    ]


def test_no_wait_is_longer_than_the_longest() -> None:
    policy = Backoff(first=timedelta(hours=1), factor=10, longest=timedelta(hours=6), attempts=9)
    assert policy.retry_at(3, T0) == T0 + timedelta(hours=6)
    assert policy.retry_at(8, T0) == T0 + timedelta(hours=6)
    assert policy.retry_at(9, T0) is None


@given(
    first=st.integers(1, 600).map(lambda s: timedelta(seconds=s)),
    factor=st.integers(1, 10),
    longest=st.integers(1, 48).map(lambda h: timedelta(hours=h)),
    attempts=st.integers(1, 12),
)
def test_waits_never_shrink_never_pass_the_longest_and_stop_at_the_attempts(
    first: timedelta, factor: int, longest: timedelta, attempts: int
) -> None:
    policy = Backoff(first=first, factor=factor, longest=longest, attempts=attempts)
    waits = []
    for failures in range(1, attempts + 3):
        at = policy.retry_at(failures, T0)
        assert (at is None) is (failures >= attempts)
        if at is not None:
            waits.append(at - T0)
    assert waits == sorted(waits)
    assert all(timedelta(0) < wait <= longest for wait in waits)


class Refusing:
    """A channel whose provider answers with what is to be done."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.error = error
        self.tries = 0

    def send(self, message: OutboxMessage) -> str:
        self.tries += 1
        raise self.error


def test_a_permanent_failure_is_given_up_at_once(store: SpyStore) -> None:
    (sent,) = _queue(store, "sms")
    sms = Refusing("sms", PermanentDeliveryError("isv.MOBILE_NUMBER_ILLEGAL: no such number"))
    assert dispatch(store, {"sms": sms}, T0) == DispatchReport(failed=1)
    assert store.deliveries[-1].retry_at is None
    assert "MOBILE_NUMBER_ILLEGAL" in (store.deliveries[-1].error or "")
    assert dispatch(store, {"sms": sms}, T0 + timedelta(days=1)) == DispatchReport()
    assert sms.tries == 1
    assert _status(store)[sent][0] == "failed"


def test_a_provider_asking_to_wait_is_tried_no_sooner(store: SpyStore) -> None:
    _queue(store, "wecom")
    wecom = Refusing(
        "wecom", TransientDeliveryError("45009: api freq out of limit", retry_after=3600)
    )
    assert dispatch(store, {"wecom": wecom}, T0) == DispatchReport(retrying=1)
    assert store.deliveries[-1].retry_at == T0 + timedelta(hours=1)  # not the minute's back-off
    policy = Backoff(attempts=1)
    assert dispatch(store, {"wecom": wecom}, T0 + timedelta(hours=1), backoff=policy) == (
        DispatchReport(failed=1)  # the policy's attempts still end it
    )
