"""The limits held before WeCom is asked: the app's a minute, a member's an hour, a month's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from membercore.ports import PermanentDeliveryError, TransientDeliveryError
from membercore_wecom.limits import MonthlyQuota, SlidingWindow, next_month
from membercore_wecom.testing import WeComServer

from .conftest import ZHANG_CUSTOMERS, Clocks, MakeChannel, outbox

ADD = "/cgi-bin/externalcontact/add_msg_template"


def test_no_request_reaches_wecom_beyond_the_apps_limit_a_minute(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel, clocks: Clocks
) -> None:
    channel = make_channel(server, per_minute=3)
    for number in range(1, 4):
        channel.send(outbox(number, member=f"M{number:04d}", to=ZHANG_CUSTOMERS[number]))
        clocks.advance(10)
    with pytest.raises(TransientDeliveryError, match="rate limits") as raised:
        channel.send(outbox(4, member="M0004", to=ZHANG_CUSTOMERS[0]))
    assert len(server.calls(ADD)) == 3
    # The first of the three went 30 s ago: a place frees up in 30 s.
    assert raised.value.retry_after == pytest.approx(30)
    clocks.advance(30)
    channel.send(outbox(4, member="M0004", to=ZHANG_CUSTOMERS[0]))
    assert len(server.calls(ADD)) == 4


def test_no_request_reaches_wecom_beyond_a_members_limit_an_hour(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel, clocks: Clocks
) -> None:
    channel = make_channel(server, per_hour_per_member=2, monthly_limit_per_customer=10)
    channel.send(outbox(1))
    clocks.advance(600)
    channel.send(outbox(2))
    with pytest.raises(TransientDeliveryError) as raised:
        channel.send(outbox(3))
    assert raised.value.retry_after == pytest.approx(3000)
    assert len(server.calls(ADD)) == 2
    # Another member is not held back.
    channel.send(outbox(1, member="M0002", to=ZHANG_CUSTOMERS[1]))
    clocks.advance(3000)
    channel.send(outbox(3))
    assert len(server.tasks) == 4


def test_a_customer_who_had_the_months_messages_is_fallen_back_from(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel, clocks: Clocks
) -> None:
    channel = make_channel(server, monthly_limit_per_customer=2)
    channel.send(outbox(1))
    channel.send(outbox(2))
    with pytest.raises(PermanentDeliveryError, match="monthly_limit_per_customer"):
        channel.send(outbox(3))
    assert len(server.calls(ADD)) == 2
    # Another customer has their own allowance.
    channel.send(outbox(1, member="M0002", to=ZHANG_CUSTOMERS[1]))


def test_the_allowance_starts_again_at_midnight_of_the_first_in_china(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel, clocks: Clocks
) -> None:
    channel = make_channel(server, monthly_limit_per_customer=1)
    clocks.wall = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 on 31 March in Shanghai
    channel.send(outbox(1))
    with pytest.raises(PermanentDeliveryError):
        channel.send(outbox(2))
    clocks.wall = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 April in Shanghai
    channel.send(outbox(2))
    assert len(server.tasks) == 2


def test_only_messages_wecom_took_count_against_the_allowance(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    channel = make_channel(server, monthly_limit_per_customer=1)
    server.fail_next(-1, "system busy")
    with pytest.raises(TransientDeliveryError):
        channel.send(outbox(1))
    channel.send(outbox(1))
    assert len(server.tasks) == 1


def test_a_sliding_window_frees_places_as_requests_age() -> None:
    window = SlidingWindow(2, 60.0)
    window.record("a", 0.0)
    window.record("a", 20.0)
    assert window.wait("a", 30.0) == pytest.approx(30.0)
    assert window.wait("b", 30.0) == 0.0
    assert window.wait("a", 60.0) == 0.0
    window.record("a", 60.0)
    assert window.wait("a", 61.0) == pytest.approx(19.0)


def test_a_sliding_window_forgets_members_idle_for_a_window() -> None:
    window = SlidingWindow(5, 60.0)
    for number in range(2048):
        window.record(f"m{number}", float(number))
    assert len(window._sent) < 2048


def test_the_next_month_begins_in_china_time() -> None:
    december = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert next_month(december) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    quota = MonthlyQuota(1)
    assert quota.until_next_month(december).total_seconds() == 3600


def test_a_message_held_back_by_the_rate_does_not_use_the_allowance(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel, clocks: Clocks
) -> None:
    channel = make_channel(server, per_minute=1, monthly_limit_per_customer=2)
    channel.send(outbox(1))
    with pytest.raises(TransientDeliveryError):
        channel.send(outbox(2))
    clocks.advance(60)
    channel.send(outbox(2))
    clocks.advance(60)
    with pytest.raises(PermanentDeliveryError, match="monthly_limit_per_customer"):
        channel.send(outbox(3))
    assert len(server.tasks) == 2
