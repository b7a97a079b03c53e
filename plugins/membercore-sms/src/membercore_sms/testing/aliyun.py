"""A stand-in for Aliyun Dysms (API 2017-05-25) on loopback, as Aliyun's documents describe it.

It checks every request's V3 signature (ACS3-HMAC-SHA256) by recomputing it from the
request as received — the canonical request of method, path, query, the signed headers
and the body's hash — and refuses a wrong one as Aliyun does (``SignatureDoesNotMatch``).
It answers ``SendSms`` and ``QuerySendDetails``, keeps what it accepted, fails the next
send when asked to, and pushes members' replies (SmsUp) to whoever the test names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .loopback import LoopbackServer, rfc3986, unpercent

CST = ZoneInfo("Asia/Shanghai")
VERSION = "2017-05-25"

#: For ``fail_next("transient", retry_after=...)``: Aliyun's limits and the waits they
#: imply, the shortest first; with no wait asked, a system error.
TRANSIENT = [
    (1, 400, "Throttling.User", "Request was denied due to user flow control."),
    (60, 200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
    (120, 200, "isv.BUSINESS_LIMIT_CONTROL", "触发业务流控"),
    (3600, 200, "isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5"),
    (86400, 200, "isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10"),
]


def _error(status: int, code: str, message: str) -> tuple[int, str]:
    body = {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message}
    if status != 200:
        body["HostId"] = "dysmsapi.aliyuncs.com"
    return status, json.dumps(body, ensure_ascii=False)


def _national(number: str) -> str | None:
    """A mainland number as SendSms accepts it (+, +86, 0086, 86 or no prefix)."""
    for prefix in ("+86", "0086", "86", "+"):
        if number.startswith(prefix) and len(number) - len(prefix) == 11:
            number = number[len(prefix) :]
            break
    return number if re.fullmatch(r"1\d{10}", number) else None


class AliyunServer(LoopbackServer):
    """Aliyun Dysms on loopback: one access key, one sign name, the approved templates."""

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        sign_name: str,
        templates: Mapping[str, tuple[str, ...]],
    ) -> None:
        super().__init__()
        self.keys = {access_key_id: access_key_secret}
        self.sign_name = sign_name
        self.templates = dict(templates)
        self.records: list[dict[str, Any]] = []  # what SendSms accepted, in order
        self.received: list[tuple[str, dict[str, str]]] = []  # every signed call
        self.refused: list[str] = []  # the codes it answered with
        self._failures: list[tuple[int, str, str]] = []
        self._nonces: set[str] = set()
        self._serial = 0
        #: Where SmsUp pushes go: the hospital's endpoint (a test hands them to the channel).
        self.push: Callable[[bytes], object] | None = None

    # -- the probe -----------------------------------------------------------------------

    def accepted(self) -> list[str]:
        """The message ids (``OutId``) of the sends it accepted, in order."""
        with self.lock:
            return [record["OutId"] for record in self.records]

    def fail_next(
        self, kind: Literal["transient", "permanent"], *, retry_after: float | None = None
    ) -> None:
        """Fail the next send: rate-limited (waiting ``retry_after``) or for good."""
        if kind == "permanent":
            self.fail_next_with("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        elif retry_after is None:
            self.fail_next_with("isp.SYSTEM_ERROR", "isp.SYSTEM_ERROR")
        else:
            _, status, code, message = next(
                (item for item in TRANSIENT if item[0] >= retry_after), TRANSIENT[-1]
            )
            self.fail_next_with(code, message, status=status)

    def fail_next_with(self, code: str, message: str, *, status: int = 200) -> None:
        """Fail the next send with Aliyun's ``code`` and ``message``."""
        with self.lock:
            self._failures.append((status, code, message))

    def report(self, message_id: str, *, delivered: bool, error: str | None = None) -> None:
        """Report that message's fate when it is next asked (``QuerySendDetails``)."""
        with self.lock:
            for record in self.records:
                if record["OutId"] == message_id:
                    record["SendStatus"] = 3 if delivered else 2
                    record["ErrCode"] = "DELIVERED" if delivered else (error or "MK:0001")
                    record["ReceiveDate"] = self._local(self.clock())

    def reply(self, address: str, text: str, *, sign_name: str | None = None) -> None:
        """A member's reply from ``address``, pushed to :attr:`push` (SmsUp)."""
        national = _national(address.replace(" ", "")) or address
        with self.lock:
            self._serial += 1
            serial = self._serial
        body = [
            {
                "phone_number": national,
                "send_time": self._local(self.clock()),
                "content": text,
                "sign_name": sign_name or self.sign_name,
                "dest_code": "1234",
                "sequence_id": 1000000 + serial,
            }
        ]
        assert self.push is not None, "the test names no SmsUp push address"
        self.push(json.dumps(body, ensure_ascii=False).encode("utf-8"))

    @staticmethod
    def _local(at: datetime) -> str:
        return at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")

    # -- the API -------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str]:
        """Answer one request as Aliyun does, after checking its signature."""
        refused = self._authenticate(method, path, query, headers, body)
        if refused is not None:
            with self.lock:
                self.refused.append(json.loads(refused[1])["Code"])
            return refused
        parameters = {}
        for pair in filter(None, query.split("&")):
            name, _, value = pair.partition("=")
            parameters[unpercent(name)] = unpercent(value)
        if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            for pair in filter(None, body.decode("ascii").split("&")):
                name, _, value = pair.partition("=")
                parameters[unpercent(name)] = unpercent(value.replace("+", " "))
        action = headers["x-acs-action"]
        with self.lock:
            self.received.append((action, parameters))
        if action == "SendSms":
            answer = self._send(parameters)
        elif action == "QuerySendDetails":
            answer = self._query(parameters)
        else:
            answer = _error(404, "InvalidAction.NotFound", f"Specified api is not found: {action}")
        if json.loads(answer[1]).get("Code") != "OK":
            with self.lock:
                self.refused.append(json.loads(answer[1])["Code"])
        return answer

    def _authenticate(  # noqa: PLR0911, PLR0912 (one answer per check the documents ask for)
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str] | None:
        """Aliyun's V3 check, recomputed from the request as received."""
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != "ACS3-HMAC-SHA256":
            return _error(400, "IncompleteSignature", "The request signature is not ACS3.")
        fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
        key_id, signed, signature = (
            fields.get("Credential", ""),
            fields.get("SignedHeaders", ""),
            fields.get("Signature", ""),
        )
        if key_id not in self.keys:
            return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        for required in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"):
            if required not in headers:
                return _error(400, "MissingParameter", f"{required} is mandatory.")
        if headers["x-acs-version"] != VERSION:
            return _error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        signed_names = signed.split(";")
        must_sign = {"host"} | {name for name in headers if name.startswith("x-acs-")}
        if "content-type" in headers:
            must_sign.add("content-type")
        if not must_sign <= set(signed_names) or signed_names != sorted(signed_names):
            return _error(400, "IncompleteSignature", "The request signature does not conform.")
        try:
            date = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=UTC
            )
        except ValueError:
            return _error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(datetime.now(UTC) - date) > timedelta(minutes=15):
            return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        content_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256", content_hash) != content_hash:
            return _error(400, "SignatureDoesNotMatch", "The body's hash does not match.")
        pairs = []
        for pair in filter(None, query.split("&")):
            name, _, value = pair.partition("=")
            pairs.append((rfc3986(unpercent(name)), rfc3986(unpercent(value))))
        canonical_query = "&".join(f"{name}={value}" for name, value in sorted(pairs))
        canonical_headers = "".join(
            f"{name}:{headers.get(name, '').strip()}\n" for name in signed_names
        )
        canonical_request = (
            f"{method}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{signed}\n"
            f"{content_hash}"
        )
        string_to_sign = (
            "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
        )
        expected = hmac.new(
            self.keys[key_id].encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return _error(
                400,
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to "
                f"sign is:{string_to_sign}",
            )
        nonce = headers["x-acs-signature-nonce"]
        with self.lock:
            if nonce in self._nonces:
                return _error(400, "SignatureNonceUsed", "Specified signature nonce was used.")
            self._nonces.add(nonce)
        return None

    def _send(self, parameters: dict[str, str]) -> tuple[int, str]:  # noqa: PLR0911 (per check)
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not parameters.get(name):
                return _error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        with self.lock:
            if self._failures:
                return _error(*self._failures.pop(0))
        national = _national(parameters["PhoneNumbers"])
        if national is None:
            return _error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if parameters["SignName"] != self.sign_name:
            return _error(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        wanted = self.templates.get(parameters["TemplateCode"])
        if wanted is None:
            return _error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        values: Any = {}
        if "TemplateParam" in parameters:
            try:
                values = json.loads(parameters["TemplateParam"])
            except ValueError:
                return _error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                return _error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        missing = [name for name in wanted if name not in values]
        if missing:
            return _error(200, "isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量: {missing}")
        with self.lock:
            self._serial += 1
            biz_id = f"{900619746936498000 + self._serial}^0"
            self.records.append(
                {
                    "BizId": biz_id,
                    "PhoneNum": national,
                    "PhoneNumbers": parameters["PhoneNumbers"],
                    "TemplateCode": parameters["TemplateCode"],
                    "TemplateParam": values,
                    "SignName": parameters["SignName"],
                    "OutId": parameters.get("OutId", ""),
                    "SmsUpExtendCode": parameters.get("SmsUpExtendCode"),
                    "SendDate": self._local(self.clock()),
                    "SendStatus": 1,
                    "ErrCode": "",
                    "ReceiveDate": "",
                }
            )
        answer = {
            "Code": "OK",
            "Message": "OK",
            "BizId": biz_id,
            "RequestId": str(uuid.uuid4()).upper(),
        }
        return 200, json.dumps(answer)

    def _query(self, parameters: dict[str, str]) -> tuple[int, str]:
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not parameters.get(name):
                return _error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        day = parameters["SendDate"]
        try:
            sent = datetime.strptime(day, "%Y%m%d").replace(tzinfo=CST).date()
        except ValueError:
            return _error(200, "isv.INVALID_PARAMETERS", "SendDate 格式错误")
        today = self.clock().astimezone(CST).date()
        if not timedelta(0) <= today - sent <= timedelta(days=30):
            return _error(200, "isv.INVALID_PARAMETERS", "只支持查询最近30天的记录")
        size, page = int(parameters["PageSize"]), int(parameters["CurrentPage"])
        if not 1 <= size <= 50 or page < 1:
            return _error(200, "isv.INVALID_PARAMETERS", "PageSize 取值范围 1~50")
        phone = _national(parameters["PhoneNumber"])
        if phone is None:
            return _error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        with self.lock:
            found = [
                record
                for record in self.records
                if record["PhoneNum"] == phone
                and record["SendDate"].replace("-", "")[:8] == day
                and parameters.get("BizId", record["BizId"]) == record["BizId"]
            ]
        shown = found[(page - 1) * size : page * size]
        details = [
            {
                "PhoneNum": record["PhoneNum"],
                "SendStatus": record["SendStatus"],
                "ErrCode": record["ErrCode"],
                "TemplateCode": record["TemplateCode"],
                "Content": f"【{record['SignName']}】{json.dumps(record['TemplateParam'])}",
                "SendDate": record["SendDate"],
                "ReceiveDate": record["ReceiveDate"],
                "OutId": record["OutId"],
            }
            for record in shown
        ]
        answer = {
            "Code": "OK",
            "Message": "OK",
            "RequestId": str(uuid.uuid4()).upper(),
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
        }
        return 200, json.dumps(answer, ensure_ascii=False)
