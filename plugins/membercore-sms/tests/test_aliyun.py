from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from membercore.ports import (
    DeliveryReport,
    PermanentDeliveryError,
    Reply,
    TransientDeliveryError,
)
from membercore.testing.channels import contract_template as _t
from membercore_sms import SMSUP_ANSWER, AliyunSmsChannel, SmsProviderError
from membercore_sms.testing.aliyun import AliyunServer
from membercore_sms.waits import SHANGHAI

from .conftest import (
    ALIYUN_KEY_ID,
    ALIYUN_KEY_SECRET,
    SIGN,
    aliyun_options,
    message,
    sent,
)

OFFER = {"name": "王女士", "price": "299"}


def test_a_message_goes_as_sendsms_signed_so_that_aliyun_accepts_it(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    receipt = aliyun.send(message("P1/msg/1"))

    (record,) = aliyun_server.records
    assert receipt == record["BizId"]
    assert record["PhoneNumbers"] == "13800138000"
    assert record["SignName"] == SIGN
    assert record["TemplateCode"] == "SMS_15301"
    assert record["TemplateParam"] == {"name": "王女士"}
    assert aliyun_server.refused == []


def test_the_message_id_goes_as_the_out_id(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    aliyun.send(message("P1/msg/7"))
    assert aliyun_server.accepted() == ["P1/msg/7"]


def test_the_template_parameters_are_filled_from_the_mapped_variables(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    aliyun.send(message(template="contract_offer", variables=OFFER, purpose="marketing"))
    (record,) = aliyun_server.records
    assert record["TemplateCode"] == "SMS_15302"
    assert record["TemplateParam"] == {"customer": "王女士", "price": "299"}


@pytest.mark.parametrize(
    "written", ["13800138000", "8613800138000", "+8613800138000", "+86 138-0013-8000"]
)
def test_every_way_of_writing_a_mainland_number_goes_bare(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer, written: str
) -> None:
    aliyun.send(message(to=written))
    assert aliyun_server.records[0]["PhoneNumbers"] == "13800138000"


def test_the_extend_code_goes_as_sms_up_extend_code(
    aliyun_server: AliyunServer, credentials: None
) -> None:
    channel = AliyunSmsChannel.from_options(aliyun_options(aliyun_server.url, extend_code="0721"))
    with channel:
        channel.send(message())
    assert aliyun_server.records[0]["SmsUpExtendCode"] == "0721"


def test_a_tampered_secret_is_refused_by_aliyun_and_named_nowhere(
    aliyun_server: AliyunServer, monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.setenv("TEST_ALIYUN_AK_SECRET", ALIYUN_KEY_SECRET + "x")
    channel = AliyunSmsChannel.from_options(aliyun_options(aliyun_server.url))
    with channel, pytest.raises(SmsProviderError) as raised:
        channel.send(message())
    assert raised.value.code == "SignatureDoesNotMatch"
    assert aliyun_server.refused == ["SignatureDoesNotMatch"]
    assert aliyun_server.records == []
    assert ALIYUN_KEY_SECRET not in str(raised.value)
    assert ALIYUN_KEY_SECRET not in repr(channel)


def test_an_unknown_access_key_is_refused(
    aliyun_server: AliyunServer, monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.setenv("TEST_ALIYUN_AK_ID", "LTAI-not-known")
    channel = AliyunSmsChannel.from_options(aliyun_options(aliyun_server.url))
    with channel, pytest.raises(SmsProviderError, match=r"InvalidAccessKeyId\.NotFound"):
        channel.send(message())


def test_the_signature_covers_every_character_of_the_parameters(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    odd = {"name": "王*女士 ~(A&B)=+/%20", "price": "1,299.00"}
    aliyun.send(message(template="contract_offer", variables=odd, purpose="marketing"))
    assert aliyun_server.refused == []
    assert aliyun_server.records[0]["TemplateParam"] == {
        "customer": odd["name"],
        "price": odd["price"],
    }


def test_carries_names_the_template_and_its_variables(aliyun: AliyunSmsChannel) -> None:
    assert aliyun.carries(_t("contract_care")) == "SMS_15301 (name)"
    assert aliyun.carries(_t("contract_offer")) == (
        "SMS_15302 (customer=name, price; opt-out text)"
    )
    assert aliyun.carries(_t("birthday_card")) is None


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"template": "birthday"}, "template 'birthday' is not mapped"),
        ({"template": None}, "names no template"),
        ({"to": None}, "gives no mobile number"),
        ({"to": "010-12345"}, "is not a mobile number"),
        ({"variables": {}}, "needs the variable 'name'"),
        (
            {"template": "plain_offer", "variables": OFFER, "purpose": "marketing"},
            "not marked as carrying the opt-out text",
        ),
    ],
)
def test_what_can_never_be_sent_is_refused_for_good_before_aliyun_is_asked(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer, kwargs: dict[str, object], says: str
) -> None:
    with pytest.raises(PermanentDeliveryError, match=says):
        aliyun.send(message(**kwargs))  # type: ignore[arg-type]
    assert aliyun_server.received == []


def test_a_care_message_may_go_through_a_template_without_the_opt_out_text(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    aliyun.send(message(template="plain_offer", variables=OFFER, purpose="care"))
    assert len(aliyun_server.records) == 1


def test_an_unreadable_payload_is_refused_for_good(aliyun: AliyunSmsChannel) -> None:
    broken = message()
    broken = type(broken)(
        message_id=broken.message_id,
        key=broken.key,
        channel="sms",
        payload="{not json",
        send_at=broken.send_at,
    )
    with pytest.raises(PermanentDeliveryError, match="not an outgoing message"):
        aliyun.send(broken)


# -- Aliyun's codes --------------------------------------------------------------------

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("code", "text", "kind", "wait"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", PermanentDeliveryError, None),
        ("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量", PermanentDeliveryError, None),
        ("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法", PermanentDeliveryError, None),
        # The signature is the account's setup, not the message's: retried until mended.
        ("isv.SMS_SIGNATURE_ILLEGAL", "签名不合法", SmsProviderError, None),
        ("isv.BLACK_KEY_CONTROL_LIMIT", "黑名单管控", PermanentDeliveryError, None),
        ("isv.CUSTOMER_REFUSED", "用户已退订推广短信", PermanentDeliveryError, None),
        ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1", TransientDeliveryError, 60),
        ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", TransientDeliveryError, 3600),
        ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", TransientDeliveryError, 12 * 3600),
        ("isv.BUSINESS_LIMIT_CONTROL", "触发业务流控", TransientDeliveryError, 120),
        ("isv.DAY_LIMIT_CONTROL", "触发日发送限额", TransientDeliveryError, 12 * 3600),
        (
            "isv.MONTH_LIMIT_CONTROL",
            "触发月发送限额",
            TransientDeliveryError,
            30 * 86400 - 12 * 3600,
        ),
        (
            "Throttling.User",
            "Request was denied due to user flow control.",
            TransientDeliveryError,
            1,
        ),
        ("isp.SYSTEM_ERROR", "isp.SYSTEM_ERROR", TransientDeliveryError, None),
        ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足", SmsProviderError, None),
        ("isv.OUT_OF_SERVICE", "业务停机", SmsProviderError, None),
        ("isp.RAM_PERMISSION_DENY", "RAM权限DENY", SmsProviderError, None),
        ("isv.SOMETHING_NEW", "新的错误", SmsProviderError, None),
    ],
)
def test_each_aliyun_code_is_permanent_a_wait_or_retried(
    aliyun_server: AliyunServer,
    credentials: None,
    code: str,
    text: str,
    kind: type[Exception],
    wait: float | None,
) -> None:
    channel = AliyunSmsChannel.from_options(aliyun_options(aliyun_server.url), clock=lambda: NOON)
    aliyun_server.fail_next_with(code, text, status=400 if code.startswith("Throttling") else 200)
    with channel, pytest.raises(kind) as raised:
        channel.send(message())
    assert type(raised.value) is kind
    assert code in str(raised.value)
    if kind is TransientDeliveryError:
        assert raised.value.retry_after == wait  # type: ignore[attr-defined]
    assert aliyun_server.records == []


def test_an_aliyun_that_does_not_answer_is_retried(credentials: None) -> None:
    def hang_up(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    channel = AliyunSmsChannel.from_options(
        aliyun_options("https://dysmsapi.aliyuncs.com"), transport=httpx.MockTransport(hang_up)
    )
    with channel, pytest.raises(SmsProviderError, match="Aliyun SendSms: ConnectError"):
        channel.send(message())


def test_an_answer_that_is_not_json_is_retried(credentials: None) -> None:
    channel = AliyunSmsChannel.from_options(
        aliyun_options("https://dysmsapi.aliyuncs.com"),
        transport=httpx.MockTransport(lambda request: httpx.Response(502, text="<html>")),
    )
    with channel, pytest.raises(SmsProviderError, match="HTTP 502, not a JSON object"):
        channel.send(message())


# -- a retry after a doubtful try --------------------------------------------------------


def test_a_retry_finds_the_message_aliyun_took_already_and_does_not_send_it_again(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    first = aliyun.send(message("P1/msg/1"))  # taken, though the answer was lost
    assert first
    again = aliyun.send(message("P1/msg/1", attempts=1))
    assert again == "OutId:P1/msg/1"
    assert aliyun_server.accepted() == ["P1/msg/1"]
    actions = [action for action, _ in aliyun_server.received]
    assert actions == ["SendSms", "QuerySendDetails"]


def test_a_retry_of_a_message_aliyun_never_took_sends_it(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    aliyun_server.fail_next("transient")
    with pytest.raises(TransientDeliveryError):
        aliyun.send(message("P1/msg/1"))
    receipt = aliyun.send(message("P1/msg/1", attempts=1))
    assert receipt.endswith("^0")
    assert aliyun_server.accepted() == ["P1/msg/1"]
    queries = [params for action, params in aliyun_server.received if action == "QuerySendDetails"]
    assert queries
    assert all(q["PhoneNumber"] == "13800138000" for q in queries)


# -- reports ---------------------------------------------------------------------------


def _sent_one(
    channel: AliyunSmsChannel, message_id: str = "P1/msg/1", to: str = "13800138000"
) -> tuple[object, str, datetime]:
    original = message(message_id, to=to)
    receipt = channel.send(original)
    at = datetime.now(UTC)
    return sent(original, receipt=receipt, address=to, delivered_at=at), receipt, at


def test_a_delivered_message_is_reported_delivered(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    acked, receipt, at = _sent_one(aliyun)
    aliyun_server.report("P1/msg/1", delivered=True)
    (report,) = aliyun.reports([acked], at + timedelta(minutes=5))  # type: ignore[list-item]
    assert isinstance(report, DeliveryReport)
    assert report.message_id == "P1/msg/1"
    assert report.delivered
    assert report.detail == "Aliyun: DELIVERED"
    assert abs(report.at - datetime.now(UTC)) < timedelta(seconds=5)
    (query,) = [p for a, p in aliyun_server.received if a == "QuerySendDetails"]
    assert query["BizId"] == receipt
    assert query["PhoneNumber"] == "13800138000"
    assert query["SendDate"] == at.astimezone(SHANGHAI).strftime("%Y%m%d")
    assert query["CurrentPage"] == "1"


def test_a_failed_message_is_reported_undeliverable_with_aliyuns_code(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    acked, _, at = _sent_one(aliyun)
    aliyun_server.report("P1/msg/1", delivered=False, error="MK:0001")
    (report,) = aliyun.reports([acked], at)  # type: ignore[list-item]
    assert isinstance(report, DeliveryReport)
    assert not report.delivered
    assert "MK:0001" in report.detail


def test_a_message_still_waiting_for_its_receipt_is_not_reported(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    acked, _, at = _sent_one(aliyun)
    assert aliyun.reports([acked], at) == []  # type: ignore[list-item]
    aliyun_server.report("P1/msg/1", delivered=True)
    assert len(aliyun.reports([acked], at)) == 1  # type: ignore[list-item]


def test_a_message_found_by_its_out_id_is_reported_by_it(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    original = message("P1/msg/1")
    aliyun.send(original)
    receipt = aliyun.send(message("P1/msg/1", attempts=1))
    aliyun_server.report("P1/msg/1", delivered=True)
    at = datetime.now(UTC)
    acked = sent(original, receipt=receipt, address="13800138000", delivered_at=at)
    (report,) = aliyun.reports([acked], at)
    assert report.message_id == "P1/msg/1"


def test_a_message_older_than_aliyun_keeps_is_not_asked_about(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    acked, _, at = _sent_one(aliyun)
    assert aliyun.reports([acked], at + timedelta(days=31)) == []  # type: ignore[list-item]
    assert [a for a, _ in aliyun_server.received] == ["SendSms"]


def test_reports_that_cannot_be_read_raise_and_are_asked_again(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    acked, _, at = _sent_one(aliyun)
    aliyun_server.report("P1/msg/1", delivered=True)
    monkeypatch.setitem(aliyun_server.keys, ALIYUN_KEY_ID, "rotated")
    with pytest.raises(SmsProviderError, match="SignatureDoesNotMatch"):
        aliyun.reports([acked], at)  # type: ignore[list-item]
    monkeypatch.setitem(aliyun_server.keys, ALIYUN_KEY_ID, ALIYUN_KEY_SECRET)
    assert len(aliyun.reports([acked], at)) == 1  # type: ignore[list-item]


# -- replies ---------------------------------------------------------------------------


def _push(channel: AliyunSmsChannel, **item: object) -> list[Reply]:
    body = {
        "phone_number": "13800138000",
        "send_time": "2026-03-02 10:05:00",
        "content": "TD",
        "sign_name": SIGN,
        "dest_code": "1234",
        "sequence_id": 1234567890,
        **item,
    }
    return channel.take_pushed(json.dumps([body], ensure_ascii=False).encode("utf-8"))


@pytest.mark.parametrize("written", ["13800138000", "+8613800138000", "86 13800138000"])
def test_a_pushed_reply_comes_from_the_number_as_the_record_wrote_it(
    aliyun: AliyunSmsChannel, written: str
) -> None:
    aliyun.send(message(to=written))
    (reply,) = _push(aliyun)
    assert reply == Reply(
        channel="sms",
        address=written,
        text="TD",
        at=datetime(2026, 3, 2, 10, 5, tzinfo=SHANGHAI),
        reply_id="aliyun:1234567890",
    )


def test_a_reply_from_a_number_sent_nothing_comes_in_e164(aliyun: AliyunSmsChannel) -> None:
    (reply,) = _push(aliyun, phone_number="13900139000")
    assert reply.address == "+8613900139000"


def test_pushed_replies_come_with_the_next_reports_once(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    aliyun.send(message(to="+8613800138000"))
    aliyun_server.reply("13800138000", "TD")
    now = datetime.now(UTC)
    (reply,) = aliyun.reports([], now)
    assert isinstance(reply, Reply)
    assert (reply.address, reply.text) == ("+8613800138000", "TD")
    # Until the engine has taken it, it comes again; once taken, never.
    assert [r.text for r in aliyun.reports([], now)] == ["TD"]  # type: ignore[union-attr]
    aliyun.settled([reply])
    assert aliyun.reports([], now) == []


def test_a_reply_to_another_signature_is_passed_over(aliyun: AliyunSmsChannel) -> None:
    assert _push(aliyun, sign_name="别的医院") == []
    assert len(_push(aliyun, sign_name=f"【{SIGN}】")) == 1


def test_a_reply_without_a_sequence_id_gets_a_stable_one(aliyun: AliyunSmsChannel) -> None:
    (one,) = _push(aliyun, sequence_id=None)
    (two,) = _push(aliyun, sequence_id=None)
    assert one.reply_id == two.reply_id
    assert one.reply_id.startswith("aliyun:")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff", "not JSON"),
        (b'"TD"', "not a list"),
        (b'[{"content": "TD", "send_time": "2026-03-02 10:05:00"}]', "no phone_number"),
        (b'[{"phone_number": "13800138000", "content": "TD", "send_time": "x"}]', "send_time"),
    ],
)
def test_a_push_that_is_not_aliyuns_is_refused(
    aliyun: AliyunSmsChannel, body: bytes, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        aliyun.take_pushed(body)
    assert aliyun.reports([], datetime.now(UTC)) == []


def test_the_answer_to_a_push_is_aliyuns() -> None:
    assert SMSUP_ANSWER == {"code": 0, "msg": "接收成功"}


# -- what the logs see -----------------------------------------------------------------


def test_no_credential_and_no_members_details_reach_the_logs(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    aliyun.send(message(template="contract_offer", variables=OFFER, purpose="marketing"))
    aliyun_server.fail_next("permanent")
    with pytest.raises(PermanentDeliveryError):
        aliyun.send(message("P1/msg/2"))
    assert "HTTP Request: POST" in caplog.text
    assert "?<parameters not logged>" in caplog.text
    for private in (ALIYUN_KEY_ID, ALIYUN_KEY_SECRET, "13800138000", "299", "%E7%8E%8B"):
        # As a value of its own: an object's address or a port may hold the digits.
        alone = rf"(?<![0-9A-Za-z]){re.escape(private)}(?![0-9A-Za-z])"
        assert re.search(alone, caplog.text) is None, private


def test_other_hosts_request_lines_keep_their_query(
    aliyun: AliyunSmsChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as client:
        client.get("https://elsewhere.example/search?q=kept")
    assert "q=kept" in caplog.text


def test_a_reply_pushed_before_the_channel_sent_anything_takes_the_awaiting_messages_writing(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    # A restarted worker: the channel sent nothing yet, the outbox still awaits a report.
    original = message("P1/msg/1", to="138-0013-8000")
    other = AliyunSmsChannel.from_options(aliyun_options(aliyun_server.url))
    with other:
        receipt = other.send(original)
    (pushed,) = _push(aliyun)
    assert pushed.address == "+8613800138000"
    at = datetime.now(UTC)
    acked = sent(original, receipt=receipt, address="138-0013-8000", delivered_at=at)
    (reply,) = aliyun.reports([acked], at)
    assert isinstance(reply, Reply)
    assert reply.address == "138-0013-8000"


def test_a_credential_aliyun_echoes_back_is_blotted_out_of_the_error(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer
) -> None:
    aliyun_server.fail_next_with(
        "InvalidAccessKeyId.Inactive",
        f"Specified access key {ALIYUN_KEY_ID} is disabled.",
        status=400,
    )
    with pytest.raises(SmsProviderError) as raised:
        aliyun.send(message())
    assert ALIYUN_KEY_ID not in str(raised.value)
    assert "Specified access key ******** is disabled." in str(raised.value)


def test_a_message_aliyun_will_not_look_up_does_not_keep_the_others_from_their_reports(
    aliyun: AliyunSmsChannel, aliyun_server: AliyunServer, caplog: pytest.LogCaptureFixture
) -> None:
    good, _, at = _sent_one(aliyun, "P1/msg/1")
    aliyun_server.report("P1/msg/1", delivered=True)
    # Its number was written otherwise on the record since: Aliyun refuses the query.
    odd = sent(message("P2/msg/1"), receipt="1^0", address="+999123456789", delivered_at=at)
    (report,) = aliyun.reports([odd, good], at)  # type: ignore[list-item]
    assert report.message_id == "P1/msg/1"
    assert "Aliyun report on P2/msg/1 not read: Aliyun QuerySendDetails: isv." in caplog.text
