"""Reading back what became of each task: sent, not a friend, over the customer's allowance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from membercore.ports import OutboxMessage
from membercore_wecom import WeComChannel, WeComUnreachableError
from membercore_wecom.testing import WeComServer

from .conftest import NOW, ZHANG_CUSTOMERS, MakeChannel, awaiting, outbox

RESULT = "/cgi-bin/externalcontact/get_groupmsg_send_result"
SENT_AT = datetime(2026, 3, 4, 3, 15, tzinfo=UTC)


def sent(channel: WeComChannel, count: int) -> list[tuple[str, OutboxMessage]]:
    """``count`` messages to zhanghua's customers, each with its receipt."""
    made = []
    for number in range(count):
        message = outbox(number + 1, member=f"M{number:04d}", to=ZHANG_CUSTOMERS[number])
        made.append((channel.send(message), message))
    return made


def test_each_status_of_the_task_is_reported_as_wecom_words_it(
    channel: WeComChannel, server: WeComServer
) -> None:
    made = sent(channel, 4)
    for status, (msgid, _) in enumerate(made):
        server.set_status(msgid, ZHANG_CUSTOMERS[status], status, int(SENT_AT.timestamp()))
    reports = channel.reports([awaiting(m, r) for r, m in made], NOW)
    assert [(r.message_id, r.delivered) for r in reports] == [
        ("M0001/msg/2", True),
        ("M0002/msg/3", False),
        ("M0003/msg/4", False),
    ]
    delivered, not_friend, over = reports
    assert delivered.at == SENT_AT
    assert delivered.detail == "WeCom status 1 已发送"
    assert not_friend.detail == "WeCom status 2 因客户不是好友导致发送失败"
    assert over.detail == "WeCom status 3 因客户已经收到其他群发消息导致发送失败"
    assert not_friend.at == NOW


def test_the_results_are_asked_for_as_wecom_documents_them(
    channel: WeComChannel, server: WeComServer
) -> None:
    ((msgid, message),) = sent(channel, 1)
    channel.reports([awaiting(message, msgid)], NOW)
    (asked,) = server.calls(RESULT)
    assert asked.method == "POST"
    assert asked.body == {"msgid": msgid, "userid": "zhanghua", "limit": 1000}


def test_the_results_are_read_page_by_page(channel: WeComChannel, server: WeComServer) -> None:
    ((msgid, message),) = sent(channel, 1)
    server.crowd = 5
    server.page_size = 2
    server.set_status(msgid, ZHANG_CUSTOMERS[0], 1)
    (report,) = channel.reports([awaiting(message, msgid)], NOW)
    assert report.delivered
    cursors = [call.body.get("cursor") for call in server.calls(RESULT)]
    assert cursors == [None, "2", "4"]


def test_a_task_still_to_be_sent_has_no_report(channel: WeComChannel, server: WeComServer) -> None:
    ((msgid, message),) = sent(channel, 1)
    assert channel.reports([awaiting(message, msgid)], NOW) == []


def test_the_sender_is_found_again_from_the_payload_after_a_restart(
    server: WeComServer, environ: dict[str, str], make_channel: MakeChannel
) -> None:
    before = make_channel(server)
    ((msgid, message),) = sent(before, 1)
    server.set_status(msgid, ZHANG_CUSTOMERS[0], 1)
    after = make_channel(server)
    (report,) = after.reports([awaiting(message, msgid)], NOW)
    assert report.delivered
    assert server.calls(RESULT)[0].body["userid"] == "zhanghua"


def test_an_unknown_task_is_passed_over_and_the_others_read(
    channel: WeComChannel, server: WeComServer
) -> None:
    made = sent(channel, 2)
    server.set_status(made[1][0], ZHANG_CUSTOMERS[1], 1)
    lost = awaiting(made[0][1], "msgNoSuchTask")
    found = awaiting(made[1][1], made[1][0])
    (report,) = channel.reports([lost, found], NOW)
    assert report.message_id == "M0001/msg/2"


def test_wecom_over_its_limits_part_way_gives_what_was_read(
    channel: WeComChannel, server: WeComServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = sent(channel, 2)
    server.set_status(made[0][0], ZHANG_CUSTOMERS[0], 1)
    answer = server.answer
    calls = {"n": 0}

    def limited(*args: object) -> dict[str, object]:
        if "get_groupmsg_send_result" in str(args[1]):
            calls["n"] += 1
            if calls["n"] == 2:
                return {"errcode": 45009, "errmsg": "api freq out of limit"}
        return answer(*args)

    monkeypatch.setattr(server, "answer", limited)
    reports = channel.reports([awaiting(m, r) for r, m in made], NOW)
    assert [r.message_id for r in reports] == ["M0000/msg/1"]


def test_wecom_unreachable_at_the_first_question_is_an_error(
    environ: dict[str, str], make_channel: MakeChannel
) -> None:
    with WeComServer({"zhanghua": ZHANG_CUSTOMERS}) as gone:
        channel = make_channel(gone)
        ((msgid, message),) = sent(channel, 1)
    with pytest.raises(WeComUnreachableError):
        channel.reports([awaiting(message, msgid)], NOW)


def test_a_task_left_unsent_past_its_hours_is_reported_undeliverable(
    channel: WeComChannel, server: WeComServer
) -> None:
    # A care reminder the health manager never confirms must not vanish: after
    # confirm_within_hours (24 by default) it falls back to the member's next channel.
    ((msgid, message),) = sent(channel, 1)
    waiting = awaiting(message, msgid)
    assert channel.reports([waiting], NOW + timedelta(hours=23)) == []
    (late,) = channel.reports([waiting], NOW + timedelta(hours=25))
    assert (late.message_id, late.delivered) == (message.message_id, False)
    assert "not confirmed" in late.detail
    server.set_status(msgid, ZHANG_CUSTOMERS[0], 1, int(SENT_AT.timestamp()))
    (sent_late,) = channel.reports([waiting], NOW + timedelta(hours=25))
    assert sent_late.delivered  # what WeCom says of a task it sent wins
