"""A stand-in for Tencent Cloud SMS (API 2021-01-11) on loopback, as its documents describe it.

It checks every request's TC3-HMAC-SHA256 signature by recomputing it from the request
as received — the canonical request, the credential scope of the timestamp's UTC date,
the key derived from ``TC3`` + SecretKey through the date, the service and
``tc3_request`` — and refuses a wrong one with ``AuthFailure.SignatureFailure``. It
answers ``SendSms``, ``PullSmsSendStatus`` and ``PullSmsReplyStatus`` (each pulled record
given once), keeps what it accepted, and fails the next send when asked to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .loopback import LoopbackServer

CST = ZoneInfo("Asia/Shanghai")
VERSION = "2021-01-11"

#: For ``fail_next("transient", retry_after=...)``: Tencent Cloud's limits and the waits
#: they imply, the shortest first (``error``: the whole request refused; ``status``: the
#: number's SendStatus); with no wait asked, an internal error.
TRANSIENT = [
    (1, "error", "RequestLimitExceeded", "请求的次数超过了频率限制。"),
    (
        30,
        "status",
        "LimitExceeded.PhoneNumberThirtySecondLimit",
        "单个手机号30秒内下发短信条数超过设定的上限",
    ),
    (120, "status", "LimitExceeded.DeliveryFrequencyLimit", "下发短信命中了频率限制策略"),
    (
        3600,
        "status",
        "LimitExceeded.PhoneNumberOneHourLimit",
        "单个手机号1小时内下发短信条数超过设定的上限",
    ),
    (
        86400,
        "status",
        "LimitExceeded.PhoneNumberDailyLimit",
        "单个手机号日下发短信条数超过设定的上限",
    ),
]


def _e164(number: str) -> str | None:
    written = number.replace(" ", "")
    if re.fullmatch(r"1\d{10}", written):
        return "+86" + written
    return written if re.fullmatch(r"\+[1-9]\d{6,14}", written) else None


class TencentServer(LoopbackServer):
    """Tencent Cloud SMS on loopback: one secret, one SDK app, the approved templates."""

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        *,
        sdk_app_id: str,
        sign_name: str,
        templates: dict[str, int],
    ) -> None:
        super().__init__()
        self.keys = {secret_id: secret_key}
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.templates = templates  # template id -> how many parameters
        self.records: list[dict[str, Any]] = []
        self.received: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.refused: list[str] = []
        self.statuses: list[dict[str, Any]] = []  # waiting to be pulled
        self.replies: list[dict[str, Any]] = []
        self._failures: list[tuple[str, str, str]] = []
        self._fail_pulls: list[str] = []
        self._serial = 0

    # -- the probe -----------------------------------------------------------------------

    def accepted(self) -> list[str]:
        """The message ids (``SessionContext``) of the sends it accepted, in order."""
        with self.lock:
            return [record["SessionContext"] for record in self.records]

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        """Fail the next send: rate-limited (waiting ``retry_after``) or for good."""
        if kind == "permanent":
            self.fail_next_with(
                "status", "InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"
            )
        elif retry_after is None:
            self.fail_next_with(
                "error", "InternalError.SendAndRecvFail", "接口超时或后短信收发包超时"
            )
        else:
            _, where, code, message = next(
                (item for item in TRANSIENT if item[0] >= retry_after), TRANSIENT[-1]
            )
            self.fail_next_with(where, code, message)

    def fail_next_with(self, where: str, code: str, message: str) -> None:
        """Fail the next send with Tencent's ``code`` and ``message`` (``where`` it shows)."""
        with self.lock:
            self._failures.append((where, code, message))

    def fail_next_pull(self, code: str) -> None:
        """Fail the next pull of statuses or replies with Tencent's ``code``."""
        with self.lock:
            self._fail_pulls.append(code)

    def report(
        self,
        message_id: str,
        *,
        delivered: bool,
        with_session: bool = True,
        as_text_time: bool = False,
    ) -> None:
        """Report that message's fate in the next ``PullSmsSendStatus``."""
        with self.lock:
            (record,) = [r for r in self.records if r["SessionContext"] == message_id]
            at = self.clock()
            self.statuses.append(
                {
                    "UserReceiveTime": (
                        at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
                        if as_text_time
                        else int(at.timestamp())
                    ),
                    "CountryCode": "86",
                    "SubscriberNumber": record["PhoneNumber"][3:],
                    "PhoneNumber": record["PhoneNumber"],
                    "SerialNo": record["SerialNo"],
                    "ReportStatus": "SUCCESS" if delivered else "FAIL",
                    "Description": "DELIVRD" if delivered else "MK:0005",
                    "SessionContext": message_id if with_session else "",
                }
            )

    def reply(self, address: str, text: str, *, sign_name: str | None = None) -> None:
        """A member's reply from ``address`` in the next ``PullSmsReplyStatus``."""
        number = _e164(address) or address
        at = self.clock()
        with self.lock:
            self.replies.append(
                {
                    "ExtendCode": "",
                    "CountryCode": "86",
                    "SubscriberNumber": number[3:],
                    "PhoneNumber": number,
                    "SignName": sign_name or self.sign_name,
                    "ReplyContent": text,
                    "ReplyTime": at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"),
                    "ReplyUnixTime": int(at.timestamp()),
                }
            )

    # -- the API -------------------------------------------------------------------------

    def _answer(self, response: dict[str, Any]) -> tuple[int, str]:
        response["RequestId"] = str(uuid.uuid4())
        error = response.get("Error")
        if error:
            with self.lock:
                self.refused.append(error["Code"])
        return 200, json.dumps({"Response": response}, ensure_ascii=False)

    def _error(self, code: str, message: str) -> tuple[int, str]:
        return self._answer({"Error": {"Code": code, "Message": message}})

    def handle(  # noqa: PLR0911 (one answer per action)
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str]:
        """Answer one request as Tencent Cloud does, after checking its signature."""
        if method != "POST" or not headers.get("content-type", "").startswith("application/json"):
            return self._error("InvalidParameter", "只支持 POST application/json")
        refused = self._authenticate(headers, body)
        if refused is not None:
            return refused
        try:
            payload = json.loads(body)
        except ValueError:
            return self._error("FailedOperation.JsonParseFail", "解析请求包体时候失败。")
        action = headers["x-tc-action"]
        with self.lock:
            self.received.append((action, payload, headers))
        if action == "SendSms":
            return self._send(payload)
        if action == "PullSmsSendStatus":
            return self._pull(payload, self.statuses, "PullSmsSendStatusSet")
        if action == "PullSmsReplyStatus":
            return self._pull(payload, self.replies, "PullSmsReplyStatusSet")
        return self._error("InvalidAction", f"接口不存在: {action}")

    def _authenticate(  # noqa: PLR0911 (one answer per check the documents ask for)
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, str] | None:
        """Tencent Cloud's TC3 check, recomputed from the request as received."""
        for required in ("x-tc-action", "x-tc-version", "x-tc-timestamp", "x-tc-region"):
            if not headers.get(required):
                return self._error("MissingParameter", f"缺少参数 {required}")
        if headers["x-tc-version"] != VERSION:
            return self._error("NoSuchVersion", "接口版本不存在。")
        match = re.fullmatch(
            r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request,"
            r" SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
            headers.get("authorization", ""),
        )
        if match is None:
            return self._error(
                "AuthFailure.InvalidAuthorization", "Authorization 不符合腾讯云标准。"
            )
        secret_id, date, service, signed, signature = match.groups()
        if secret_id not in self.keys:
            return self._error("AuthFailure.SecretIdNotFound", "密钥不存在。")
        timestamp = int(headers["x-tc-timestamp"])
        if abs(datetime.now(UTC).timestamp() - timestamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "签名过期。")
        if service != "sms" or date != datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d"):
            return self._error("AuthFailure.SignatureFailure", "凭证范围不对。")
        names = signed.split(";")
        if not {"content-type", "host"} <= set(names):
            return self._error("AuthFailure.SignatureFailure", "须签 content-type 与 host。")
        # Names and values lower case, trimmed, one line each, in the order signed.
        canonical_headers = "".join(
            f"{name}:{headers.get(name, '').strip().lower()}\n" for name in names
        )
        canonical_request = "\n".join(
            ["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
        )
        string_to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
            ]
        )

        def sign(key: bytes, text: str) -> bytes:
            return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()

        key = sign(
            sign(sign(("TC3" + self.keys[secret_id]).encode("utf-8"), date), service), "tc3_request"
        )
        expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return self._error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature "
                "is correct.",
            )
        return None

    def _send(self, payload: dict[str, Any]) -> tuple[int, str]:
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
            if not payload.get(name):
                return self._error("MissingParameter", f"缺少参数 {name}")
        if payload["SmsSdkAppId"] != self.sdk_app_id:
            return self._error(
                "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId 校验失败。"
            )
        with self.lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None and failure[0] == "error":
            return self._error(failure[1], failure[2])
        statuses = []
        for number in payload["PhoneNumberSet"]:
            code, message = "Ok", "send success"
            if failure is not None:
                code, message = failure[1], failure[2]
            elif _e164(number) != number:
                code, message = "InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"
            elif payload.get("SignName") != self.sign_name:
                code, message = (
                    "FailedOperation.SignatureIncorrectOrUnapproved",
                    "签名未审批或格式错误。",
                )
            elif str(payload["TemplateId"]) not in self.templates:
                code, message = (
                    "FailedOperation.TemplateIncorrectOrUnapproved",
                    "模板未审批或内容不匹配。",
                )
            elif (
                len(payload.get("TemplateParamSet") or [])
                != self.templates[str(payload["TemplateId"])]
            ):
                code, message = (
                    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                    "请求内容与审核通过的模板内容不匹配。",
                )
            serial = ""
            if code == "Ok":
                with self.lock:
                    self._serial += 1
                    serial = f"2640:{10457106691570536578 + self._serial}"
                    self.records.append(
                        {
                            "SerialNo": serial,
                            "PhoneNumber": number,
                            "TemplateId": payload["TemplateId"],
                            "TemplateParamSet": payload.get("TemplateParamSet"),
                            "SessionContext": payload.get("SessionContext", ""),
                            "ExtendCode": payload.get("ExtendCode"),
                        }
                    )
            else:
                with self.lock:
                    self.refused.append(code)
            statuses.append(
                {
                    "SerialNo": serial,
                    "PhoneNumber": number,
                    "Fee": 1 if code == "Ok" else 0,
                    "SessionContext": payload.get("SessionContext", ""),
                    "Code": code,
                    "Message": message,
                    "IsoCode": "CN",
                }
            )
        return self._answer({"SendStatusSet": statuses})

    def _pull(
        self, payload: dict[str, Any], queue: list[dict[str, Any]], field: str
    ) -> tuple[int, str]:
        limit = payload.get("Limit")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            return self._error("InvalidParameterValue.LimitVerifyFail", "参数 Limit 校验失败。")
        if payload.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error(
                "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId 校验失败。"
            )
        with self.lock:
            if self._fail_pulls:
                code = self._fail_pulls.pop(0)
                failed = True
            else:
                failed = False
                given = queue[:limit]
                del queue[:limit]
        if failed:
            return self._error(code, "拉取失败")
        return self._answer({field: given})
