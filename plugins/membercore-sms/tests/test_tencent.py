from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import attrs
import httpx
import pytest

from membercore.errors import ConfigError
from membercore.ports import (
    DeliveryReport,
    PermanentDeliveryError,
    Reply,
    TransientDeliveryError,
)
from membercore.testing.channels import contract_template as _t
from membercore_sms import SmsProviderError, TencentSmsChannel
from membercore_sms.testing.tencent import TencentServer
from membercore_sms.waits import SHANGHAI

from .conftest import (
    SDK_APP_ID,
    SIGN,
    TENCENT_SECRET_ID,
    TENCENT_SECRET_KEY,
    message,
    sent,
    tencent_options,
)

OFFER = {"name": "王女士", "price": "299"}


def test_a_message_goes_as_sendsms_signed_so_that_tencent_accepts_it(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    receipt = tencent.send(message("P1/msg/1"))

    (record,) = tencent_server.records
    assert receipt == record["SerialNo"]
    assert record["PhoneNumber"] == "+8613800138000"
    assert record["TemplateId"] == "1101"
    assert record["TemplateParamSet"] == ["王女士"]
    assert tencent_server.refused == []
    ((action, payload, headers),) = tencent_server.received
    assert action == "SendSms"
    assert payload["SmsSdkAppId"] == SDK_APP_ID
    assert payload["SignName"] == SIGN
    assert headers["x-tc-version"] == "2021-01-11"
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={TENCENT_SECRET_ID}/")
    assert "SignedHeaders=content-type;host," in headers["authorization"]


def test_the_message_id_goes_as_the_session_context(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    tencent.send(message("P1/msg/9"))
    assert tencent_server.accepted() == ["P1/msg/9"]


def test_the_template_parameters_go_in_the_order_the_options_list_them(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    tencent.send(message(template="contract_offer", variables=OFFER, purpose="marketing"))
    assert tencent_server.records[0]["TemplateParamSet"] == ["王女士", "299"]
    assert tencent.carries(_t("contract_offer")) == "1102 (name, price; opt-out text)"
    assert tencent.carries(_t("plain_offer", "name", "price")) == "1102 (name, price)"


@pytest.mark.parametrize("written", ["13800138000", "8613800138000", "0086 13800138000"])
def test_every_way_of_writing_a_mainland_number_goes_in_e164(
    tencent: TencentSmsChannel, tencent_server: TencentServer, written: str
) -> None:
    tencent.send(message(to=written))
    assert tencent_server.records[0]["PhoneNumber"] == "+8613800138000"


def test_the_extend_code_goes_along(tencent_server: TencentServer, credentials: None) -> None:
    with TencentSmsChannel.from_options(
        tencent_options(tencent_server.url, extend_code="12")
    ) as channel:
        channel.send(message())
    assert tencent_server.records[0]["ExtendCode"] == "12"


def test_a_tampered_secret_is_refused_by_tencent_and_named_nowhere(
    tencent_server: TencentServer, monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.setenv("TEST_TENCENT_SECRET_KEY", "x" + TENCENT_SECRET_KEY)
    channel = TencentSmsChannel.from_options(tencent_options(tencent_server.url))
    with channel, pytest.raises(SmsProviderError) as raised:
        channel.send(message())
    assert raised.value.code == "AuthFailure.SignatureFailure"
    assert tencent_server.refused == ["AuthFailure.SignatureFailure"]
    assert tencent_server.records == []
    assert TENCENT_SECRET_KEY not in str(raised.value)
    assert TENCENT_SECRET_KEY not in repr(channel)


def test_the_signature_covers_every_character_of_the_body(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    odd = {"name": 'Ā"\\\n王 😀', "price": "1,299"}
    tencent.send(message(template="contract_offer", variables=odd, purpose="marketing"))
    assert tencent_server.refused == []
    assert tencent_server.records[0]["TemplateParamSet"] == [odd["name"], odd["price"]]


def test_a_template_the_options_do_not_map_is_refused_before_tencent_is_asked(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    with pytest.raises(PermanentDeliveryError, match="'birthday' is not mapped"):
        tencent.send(message(template="birthday"))
    with pytest.raises(PermanentDeliveryError, match="needs the variable 'price'"):
        tencent.send(
            message(template="contract_offer", variables={"name": "x"}, purpose="marketing")
        )
    with pytest.raises(PermanentDeliveryError, match="opt-out"):
        tencent.send(message(template="plain_offer", variables=OFFER, purpose="marketing"))
    assert tencent_server.received == []


# -- Tencent Cloud's codes ---------------------------------------------------------------

NIGHT = datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("where", "code", "kind", "wait"),
    [
        ("status", "FailedOperation.PhoneNumberInBlacklist", PermanentDeliveryError, None),
        ("status", "InvalidParameterValue.IncorrectPhoneNumber", PermanentDeliveryError, None),
        ("status", "FailedOperation.TemplateIncorrectOrUnapproved", PermanentDeliveryError, None),
        ("status", "FailedOperation.SignatureIncorrectOrUnapproved", SmsProviderError, None),
        (
            "status",
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
            PermanentDeliveryError,
            None,
        ),
        ("error", "InvalidParameterValue.ContentLengthLimit", PermanentDeliveryError, None),
        ("status", "LimitExceeded.PhoneNumberThirtySecondLimit", TransientDeliveryError, 30),
        ("status", "LimitExceeded.PhoneNumberOneHourLimit", TransientDeliveryError, 3600),
        ("status", "LimitExceeded.PhoneNumberDailyLimit", TransientDeliveryError, 1800),
        ("status", "LimitExceeded.AppDailyLimit", TransientDeliveryError, 1800),
        ("status", "LimitExceeded.DeliveryFrequencyLimit", TransientDeliveryError, 120),
        ("status", "FailedOperation.MarketingSendTimeConstraint", TransientDeliveryError, 30600),
        ("error", "RequestLimitExceeded", TransientDeliveryError, 1),
        ("error", "RequestLimitExceeded.IPLimitExceeded", TransientDeliveryError, 1),
        ("error", "InternalError.Timeout", TransientDeliveryError, None),
        ("status", "FailedOperation.InsufficientBalanceInSmsPackage", SmsProviderError, None),
        ("error", "UnauthorizedOperation.SerivceSuspendDueToArrears", SmsProviderError, None),
        ("error", "AuthFailure.SecretIdNotFound", SmsProviderError, None),
        ("status", "FailedOperation.SomethingNew", SmsProviderError, None),
    ],
)
def test_each_tencent_code_is_permanent_a_wait_or_retried(
    tencent_server: TencentServer,
    credentials: None,
    where: str,
    code: str,
    kind: type[Exception],
    wait: float | None,
) -> None:
    channel = TencentSmsChannel.from_options(
        tencent_options(tencent_server.url), clock=lambda: NIGHT
    )
    tencent_server.fail_next_with(where, code, "说明")
    with channel, pytest.raises(kind) as raised:
        channel.send(message())
    assert type(raised.value) is kind
    assert code in str(raised.value)
    if kind is TransientDeliveryError:
        assert raised.value.retry_after == wait  # type: ignore[attr-defined]
    assert tencent_server.records == []


def test_a_mapping_with_too_few_parameters_for_the_approved_template_is_refused_for_good(
    tencent_server: TencentServer, credentials: None
) -> None:
    options = tencent_options(tencent_server.url)
    options["templates"]["contract_offer"]["params"] = ["name"]
    with (
        TencentSmsChannel.from_options(options) as channel,
        pytest.raises(PermanentDeliveryError, match="TemplateParamSetNotMatchApprovedTemplate"),
    ):
        channel.send(message(template="contract_offer", variables=OFFER, purpose="marketing"))


def test_a_refused_number_is_named_masked(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    tencent_server.fail_next("permanent")
    with pytest.raises(PermanentDeliveryError) as raised:
        tencent.send(message())
    assert "+86138****8000" in str(raised.value)
    assert "13800138000" not in str(raised.value)


def test_tencent_unreachable_is_retried(credentials: None) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    channel = TencentSmsChannel.from_options(
        tencent_options("https://sms.tencentcloudapi.com"), transport=httpx.MockTransport(slow)
    )
    with channel, pytest.raises(SmsProviderError, match="no answer within 5 s"):
        channel.send(message())


# -- reports and replies -----------------------------------------------------------------


def _acknowledged(channel: TencentSmsChannel, message_id: str, to: str = "13800138000"):  # type: ignore[no-untyped-def]
    original = message(message_id, to=to)
    receipt = channel.send(original)
    return sent(original, receipt=receipt, address=to, delivered_at=datetime.now(UTC))


def test_reports_come_by_the_session_context(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    one = _acknowledged(tencent, "P1/msg/1")
    two = _acknowledged(tencent, "P2/msg/1")
    tencent_server.report("P1/msg/1", delivered=True)
    tencent_server.report("P2/msg/1", delivered=False)
    reports = tencent.reports([one, two], datetime.now(UTC))
    assert [(r.message_id, r.delivered) for r in reports] == [  # type: ignore[union-attr]
        ("P1/msg/1", True),
        ("P2/msg/1", False),
    ]
    assert reports[0].detail == "Tencent Cloud: SUCCESS DELIVRD"  # type: ignore[union-attr]
    assert abs(reports[0].at - datetime.now(UTC)) < timedelta(seconds=5)
    assert len(tencent.reports([one, two], datetime.now(UTC))) == 2  # not taken yet
    tencent.settled(reports)
    assert tencent.reports([one, two], datetime.now(UTC)) == []
    pulls = [payload for action, payload, _ in tencent_server.received if action.startswith("Pull")]
    assert pulls[0] == {"Limit": 100, "SmsSdkAppId": SDK_APP_ID}


def test_a_report_without_session_context_is_matched_by_its_serial_number(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    one = _acknowledged(tencent, "P1/msg/1")
    tencent_server.report("P1/msg/1", delivered=True, with_session=False, as_text_time=True)
    (report,) = tencent.reports([one], datetime.now(UTC))
    assert isinstance(report, DeliveryReport)
    assert report.message_id == "P1/msg/1"
    assert report.at.tzinfo is not None


def test_a_report_on_nothing_of_the_programmes_is_passed_over(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    _acknowledged(tencent, "P1/msg/1")
    tencent_server.report("P1/msg/1", delivered=True, with_session=False)
    assert tencent.reports([], datetime.now(UTC)) == []


def test_a_reply_comes_from_the_number_as_the_record_wrote_it_with_a_stable_id(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    tencent.send(message(to="138 0013 8000"))
    tencent_server.reply("+8613800138000", "TD")
    tencent_server.reply("+8613900139000", "R")
    first, other = said = tencent.reports([], datetime.now(UTC))
    tencent.settled(said)
    assert isinstance(first, Reply)
    assert (first.channel, first.address, first.text) == ("sms", "138 0013 8000", "TD")
    assert other.address == "+8613900139000"  # type: ignore[union-attr]
    assert first.reply_id.startswith("tencent:")
    assert first.reply_id != other.reply_id  # type: ignore[union-attr]
    # The same reply pulled again (a hospital's second reader) is the same reply.
    tencent_server.replies.append(
        {
            "PhoneNumber": "+8613800138000",
            "ReplyContent": "TD",
            "ReplyUnixTime": int(first.at.timestamp()),
            "SignName": SIGN,
        }
    )
    (again,) = tencent.reports([], datetime.now(UTC))
    assert again.reply_id == first.reply_id  # type: ignore[union-attr]


def test_a_reply_to_another_signature_is_passed_over(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    tencent_server.reply("+8613800138000", "TD", sign_name="别的医院")
    assert tencent.reports([], datetime.now(UTC)) == []


def test_a_pull_that_fails_raises_and_everything_is_pulled_next_time(
    tencent: TencentSmsChannel, tencent_server: TencentServer
) -> None:
    one = _acknowledged(tencent, "P1/msg/1")
    tencent_server.report("P1/msg/1", delivered=True)
    tencent_server.reply("+8613800138000", "TD")
    tencent_server.fail_next_pull("InternalError.Timeout")
    with pytest.raises(TransientDeliveryError):
        tencent.reports([one], datetime.now(UTC))
    assert len(tencent.reports([one], datetime.now(UTC))) == 2


def test_a_pulled_status_is_kept_when_the_reply_pull_fails(
    tencent: TencentSmsChannel, tencent_server: TencentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _acknowledged(tencent, "P1/msg/1")
    tencent_server.report("P1/msg/1", delivered=True)
    real_pull = TencentServer._pull

    def pull(self, payload, queue, field):  # type: ignore[no-untyped-def]
        if field == "PullSmsReplyStatusSet":
            return self._error("InternalError.Timeout", "拉取失败")
        return real_pull(self, payload, queue, field)

    monkeypatch.setattr(TencentServer, "_pull", pull)
    with pytest.raises(TransientDeliveryError):
        tencent.reports([one], datetime.now(UTC))
    monkeypatch.setattr(TencentServer, "_pull", real_pull)
    (report,) = tencent.reports([one], datetime.now(UTC))
    assert report.message_id == "P1/msg/1"  # type: ignore[union-attr]


def test_no_credential_reaches_the_logs(
    tencent: TencentSmsChannel, tencent_server: TencentServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tencent.send(message())
    tencent_server.fail_next("transient", retry_after=30)
    with pytest.raises(TransientDeliveryError):
        tencent.send(message("P1/msg/2"))
    tencent.reports([], datetime.now(UTC))
    assert "HTTP Request: POST" in caplog.text
    for secret in (TENCENT_SECRET_ID, TENCENT_SECRET_KEY):
        assert secret not in caplog.text


def test_a_mapping_wrong_for_its_template_is_refused_naming_the_option(
    tencent: TencentSmsChannel,
) -> None:
    offer = _t("contract_offer")
    marketing_plain = attrs.evolve(offer, key="plain_offer")  # mapped without the opt-out
    with pytest.raises(ConfigError) as refused:
        tencent.carries(marketing_plain)
    assert refused.value.key == "templates.plain_offer.opt_out"
    fewer = attrs.evolve(_t("plain_offer", "name", "price"), variables=("name",))
    with pytest.raises(ConfigError) as undeclared:
        tencent.carries(fewer)
    assert undeclared.value.key == "templates.plain_offer.params"
    assert "['price']" in undeclared.value.problem
