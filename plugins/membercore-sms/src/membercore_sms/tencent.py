"""Tencent Cloud SMS (腾讯云短信, API 2021-01-11), signed with TC3-HMAC-SHA256.

:class:`TencentSmsChannel` sends each message with ``SendSms`` (its SerialNo is the
acknowledgment, the programme's message id goes as ``SessionContext`` and comes back in
the delivery reports), and reads delivery reports and members' replies with
``PullSmsSendStatus`` and ``PullSmsReplyStatus``. Tencent Cloud gives a pulled report or
reply once: what the channel pulled is kept until :meth:`~TencentSmsChannel.reports`
returns it, even when a later pull fails.

Every call is a POST of JSON to the endpoint's root, with the action, version, region
and timestamp in ``X-TC-*`` headers; the signature covers ``content-type``, ``host`` and
the body's hash.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from membercore.errors import ConfigError
from membercore.ports import (
    ChannelReport,
    DeliveryReport,
    OutboxMessage,
    Outgoing,
    PermanentDeliveryError,
    Reply,
    TransientDeliveryError,
)
from membercore_sms.channel import (
    Clock,
    SmsChannel,
    SmsProviderError,
    log,
    same_signature,
    sent_record,
)
from membercore_sms.options import (
    CommonSettings,
    ProviderTemplate,
    Secret,
    common_settings,
    flag,
    refuse_unknown,
    secret,
    table,
    text,
    variable_names,
)
from membercore_sms.phones import canonical, masked
from membercore_sms.signing import tc3_authorization
from membercore_sms.waits import SHANGHAI, until_local_time, until_midnight

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_REGION",
    "PERMANENT",
    "VERSION",
    "TencentSmsChannel",
    "tencent_failure",
]

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
DEFAULT_REGION = "ap-guangzhou"
VERSION = "2021-01-11"
SERVICE = "sms"
CONTENT_TYPE = "application/json; charset=utf-8"
#: The options only this provider takes.
OWN_KEYS = frozenset({"secret_id_env", "secret_key_env", "sdk_app_id", "region"})
#: What a template's table may hold.
TEMPLATE_KEYS = frozenset({"id", "params", "opt_out"})
#: The most records one pull gives.
PULL_LIMIT = 100
#: The most pulls of each kind one call of reports() makes.
PULLS = 20

#: The codes for what sending again will not mend: the number (a member who
#: unsubscribed is on the blacklist), the template, the signature, the values.
PERMANENT = frozenset(
    {
        "FailedOperation.PhoneNumberInBlacklist",
        "FailedOperation.PhoneNumberOnBlacklist",
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.TemplateUnapprovedOrNotExist",
        "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        "FailedOperation.MissingTemplateList",
        "FailedOperation.ContainSensitiveWord",
        "InvalidParameter.DirtyWordFound",
        "InvalidParameterValue.ContentLengthLimit",
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
        "InvalidParameterValue.TemplateParameterFormatError",
        "InvalidParameterValue.TemplateParameterLengthLimit",
        "UnsupportedOperation.UnsuportedRegion",
        "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
        "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny",
        "MissingParameter.EmptyPhoneNumberSet",
    }
)


def tencent_failure(action: str, code: str, message: str, now: datetime) -> Exception:
    """The exception for a Tencent Cloud error code.

    Permanent, transient (with how long its limit lasts, when that is known) or a
    :class:`SmsProviderError` (tried again after the back-off).

    Args:
        action: the API action (``SendSms``), for the text.
        code: Tencent Cloud's ``Code``.
        message: its ``Message``.
        now: the instant of the answer, for the limits that end at a date.
    """
    said = f"Tencent Cloud {action}: {code}: {message}".rstrip(": ")
    if code in PERMANENT:
        return PermanentDeliveryError(said)
    transient, wait = _wait(code, now)
    if transient:
        return TransientDeliveryError(said, retry_after=wait)
    # Credentials (AuthFailure.*), the account's state (balance, arrears, a disabled
    # SdkAppId, an IP not allowed, a signature not approved yet), a parameter of the
    # request rather than of the message, or a code this channel does not know: trying
    # again after the back-off; given up after its attempts.
    return SmsProviderError(said, code=code)


#: Limits that last a known time, in seconds.
_FIXED_WAITS: Mapping[str, float] = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    # A frequency policy of the hospital's own, whose window the answer does not say:
    # two minutes, and the back-off grows.
    "LimitExceeded.DeliveryFrequencyLimit": 120.0,
}
#: Limits that last until midnight in China.
_DAILY = frozenset(
    {
        "LimitExceeded.PhoneNumberDailyLimit",
        "LimitExceeded.PhoneNumberSameContentDailyLimit",
        "LimitExceeded.AppDailyLimit",
        "LimitExceeded.DailyLimit",
    }
)


def _wait(code: str, now: datetime) -> tuple[bool, float | None]:
    """Whether the code is a wait, and how long it lasts when that is known."""
    if code in _FIXED_WAITS:
        return True, _FIXED_WAITS[code]
    if code in _DAILY:
        return True, until_midnight(now)
    if code == "FailedOperation.MarketingSendTimeConstraint":
        # Marketing SMS go only from 08:00 to 22:00 in China.
        return True, until_local_time(now, 8)
    if code.startswith("RequestLimitExceeded"):
        return True, 1.0
    return code.startswith("InternalError"), None


def _template(key: str, value: object) -> ProviderTemplate:
    where = f"templates.{key}"
    found = table(where, value)
    refuse_unknown(where, found, TEMPLATE_KEYS)
    if "id" not in found:
        raise ConfigError(f"{where}.id", "missing: the approved template's id")
    variables = variable_names(f"{where}.params", found.get("params", []))
    return ProviderTemplate(
        template_id=text(f"{where}.id", found["id"]),
        params=tuple((str(place), name) for place, name in enumerate(variables, start=1)),
        opt_out=flag(f"{where}.opt_out", found.get("opt_out", False)),
    )


class TencentSmsChannel(SmsChannel):
    """SMS through Tencent Cloud.

    Build it from the options with :meth:`from_options` (the factory ``tencent-sms``).

    Args:
        secret_id: the API key's SecretId.
        secret_key: its SecretKey.
        sdk_app_id: the SMS application's SdkAppId (``1400006666``).
        region: the API region (``ap-guangzhou``).
        (the others as :class:`~membercore_sms.channel.SmsChannel`'s)
    """

    provider = "Tencent Cloud"

    def __init__(
        self,
        settings: CommonSettings,
        templates: Mapping[str, ProviderTemplate],
        secret_id: Secret,
        secret_key: Secret,
        *,
        sdk_app_id: str,
        region: str = DEFAULT_REGION,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            settings, templates, (secret_id, secret_key), clock=clock, transport=transport
        )
        self._secret_id = secret_id
        self._secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.region = region
        self._host = httpx.URL(self.endpoint).netloc.decode("ascii")

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> TencentSmsChannel:
        """Build the channel from its ``[channels.sms]`` options.

        Raises:
            ConfigError: an option is unknown, missing or wrong, or an environment
                variable it names is not set (the key named relative to the table).
        """
        settings = common_settings(options, own_keys=OWN_KEYS, default_endpoint=DEFAULT_ENDPOINT)
        templates = {
            str(key): _template(str(key), value) for key, value in settings.templates.items()
        }
        if "sdk_app_id" not in options:
            raise ConfigError("sdk_app_id", "missing: the SMS application's SdkAppId")
        sdk_app_id = text("sdk_app_id", options["sdk_app_id"])
        region = text("region", options.get("region", DEFAULT_REGION))
        secret_id = secret(options, "secret_id_env")
        secret_key = secret(options, "secret_key_env")
        return cls(
            settings,
            templates,
            secret_id,
            secret_key,
            sdk_app_id=sdk_app_id,
            region=region,
            clock=clock,
            transport=transport,
        )

    # -- the API -------------------------------------------------------------------------

    def _call(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Call an action; its ``Response`` when it names no ``Error``.

        Raises:
            PermanentDeliveryError, TransientDeliveryError, SmsProviderError: as
                :func:`tencent_failure` maps the error's code, or no usable answer.
        """
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(time.time())
        headers = {
            "Host": self._host,
            "Content-Type": CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
        }
        headers["Authorization"] = tc3_authorization(
            service=SERVICE,
            host=self._host,
            content_type=CONTENT_TYPE,
            body=body,
            timestamp=timestamp,
            secret_id=self._secret_id.reveal(),
            secret_key=self._secret_key.reveal(),
        )
        try:
            response = self._client.post(f"{self.endpoint}/", headers=headers, content=body)
        except httpx.HTTPError as error:
            raise self._unreachable(action, error) from None
        answer = self._answer(action, response).get("Response")
        if not isinstance(answer, dict):
            raise SmsProviderError(
                f"Tencent Cloud {action}: HTTP {response.status_code}, no Response"
            )
        refused = answer.get("Error")
        if isinstance(refused, Mapping):
            code = str(refused.get("Code") or "")
            message = self._scrub(refused.get("Message") or "")
            raise tencent_failure(action, code, message, self._clock())
        return answer

    # -- sending -------------------------------------------------------------------------

    def _submit(
        self,
        message: OutboxMessage,
        outgoing: Outgoing,
        number: str,
        template: ProviderTemplate,
        values: list[tuple[str, str]],
    ) -> str:
        payload: dict[str, Any] = {
            "PhoneNumberSet": [number],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": template.template_id,
            "TemplateParamSet": [value for _, value in values],
            "SessionContext": outgoing.message_id,
        }
        if self.extend_code:
            payload["ExtendCode"] = self.extend_code
        answer = self._call("SendSms", payload)
        statuses = answer.get("SendStatusSet")
        status = statuses[0] if isinstance(statuses, list) and statuses else None
        if not isinstance(status, Mapping):
            raise SmsProviderError("Tencent Cloud SendSms: no SendStatusSet in the answer")
        code = str(status.get("Code") or "")
        if code != "Ok":
            said = self._scrub(status.get("Message") or "")
            raise tencent_failure("SendSms", code, f"{said} ({masked(number)})", self._clock())
        serial = status.get("SerialNo")
        if not isinstance(serial, str) or not serial:
            raise SmsProviderError("Tencent Cloud SendSms: Ok without a SerialNo")
        return serial

    # -- reports and replies -------------------------------------------------------------

    def _pull(self, action: str, field: str) -> list[Mapping[str, Any]]:
        """One pull: the records it gives (Tencent Cloud will not give them again)."""
        answer = self._call(action, {"Limit": PULL_LIMIT, "SmsSdkAppId": self.sdk_app_id})
        found = answer.get(field)
        return [item for item in found or () if isinstance(item, Mapping)]

    def _collect(self, awaiting: Sequence[OutboxMessage], now: datetime) -> None:
        by_receipt = {
            receipt: message.message_id
            for message in awaiting
            if (receipt := sent_record(message)[0])
        }
        for _ in range(PULLS):
            pulled = self._pull("PullSmsSendStatus", "PullSmsSendStatusSet")
            self._keep(self._statuses(pulled, by_receipt, now))
            if len(pulled) < PULL_LIMIT:
                break
        for _ in range(PULLS):
            pulled = self._pull("PullSmsReplyStatus", "PullSmsReplyStatusSet")
            self._keep(self._replies(pulled, now))
            if len(pulled) < PULL_LIMIT:
                break

    def _statuses(
        self, pulled: Sequence[Mapping[str, Any]], by_receipt: Mapping[str, str], now: datetime
    ) -> list[ChannelReport]:
        reports: list[ChannelReport] = []
        for status in pulled:
            # SessionContext is the programme's message id; a report without one is
            # ours only if its SerialNo is a receipt the channel is waiting on.
            message_id = str(status.get("SessionContext") or "") or by_receipt.get(
                str(status.get("SerialNo") or "")
            )
            outcome = str(status.get("ReportStatus") or "").upper()
            if not message_id or outcome not in ("SUCCESS", "FAIL"):
                log.debug("Tencent Cloud report on no message of this programme passed over")
                continue
            detail = " ".join(
                part
                for part in ("Tencent Cloud:", outcome, str(status.get("Description") or ""))
                if part
            )
            reports.append(
                DeliveryReport(
                    message_id=message_id,
                    delivered=outcome == "SUCCESS",
                    at=_instant(status.get("UserReceiveTime")) or now,
                    detail=detail,
                )
            )
        return reports

    def _replies(self, pulled: Sequence[Mapping[str, Any]], now: datetime) -> list[ChannelReport]:
        replies: list[ChannelReport] = []
        for item in pulled:
            phone, content = item.get("PhoneNumber"), item.get("ReplyContent")
            if not isinstance(phone, str) or not isinstance(content, str):
                continue
            if not same_signature(item.get("SignName") or item.get("Sign"), self.sign_name):
                continue
            number = canonical(phone) or phone.strip()
            unix = item.get("ReplyUnixTime")
            at = _instant(unix) or _instant(item.get("ReplyTime")) or now
            # Tencent Cloud gives a reply no id: this digest of who, when and what is one.
            said = f"{number}|{unix if unix is not None else at.isoformat()}|{content}"
            replies.append(
                Reply(
                    channel=self.name,
                    address=number,
                    text=content,
                    at=at,
                    reply_id="tencent:" + hashlib.sha256(said.encode()).hexdigest()[:32],
                )
            )
        return replies


def _instant(value: object) -> datetime | None:
    """A Tencent Cloud time: Unix seconds, or ``2021-05-11 19:56:28`` in China."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip():
        if value.strip().isdigit():
            return datetime.fromtimestamp(int(value.strip()), UTC)
        try:
            return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        except ValueError:
            return None
    return None
