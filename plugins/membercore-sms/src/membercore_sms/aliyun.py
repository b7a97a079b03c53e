"""Aliyun Dysms (阿里云短信服务, API 2017-05-25), signed with ACS3-HMAC-SHA256.

:class:`AliyunSmsChannel` sends each message with ``SendSms`` (its BizId is the
acknowledgment, the programme's message id goes as ``OutId``), reads delivery reports
with ``QuerySendDetails``, and takes members' replies (上行短信) from Aliyun's SmsUp HTTP
push, which the hospital's web endpoint hands to :meth:`AliyunSmsChannel.take_pushed`.

Aliyun's RPC-style API takes its parameters in the query string of a POST to the
endpoint's root; the V3 signature covers the query, the ``host`` and ``x-acs-*``
headers and the (empty) body's hash.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx

from membercore.errors import ConfigError
from membercore.ports import (
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
)
from membercore_sms.phones import canonical, for_aliyun
from membercore_sms.signing import acs3_authorization, canonical_query, sha256_hex
from membercore_sms.waits import SHANGHAI, until_midnight, until_next_month

__all__ = [
    "DEFAULT_ENDPOINT",
    "PERMANENT",
    "SMSUP_ANSWER",
    "VERSION",
    "AliyunSmsChannel",
    "aliyun_failure",
]

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
VERSION = "2017-05-25"
#: The options only this provider takes.
OWN_KEYS = frozenset({"access_key_id_env", "access_key_secret_env"})
#: What a template's table may hold.
TEMPLATE_KEYS = frozenset({"code", "params", "opt_out"})
#: What the hospital's endpoint answers Aliyun's SmsUp push with, once it is taken.
SMSUP_ANSWER: Mapping[str, object] = {"code": 0, "msg": "接收成功"}
#: The prefix of a receipt found by the message's OutId (Aliyun's query gives no BizId).
OUT_ID_RECEIPT = "OutId:"
#: How far back QuerySendDetails reaches.
QUERY_DAYS = 30
#: Records one QuerySendDetails page holds at most.
PAGE_SIZE = 50

#: The codes for what sending again will not mend: the number, the template, the
#: signature, the values, or the member (who refused the hospital's marketing SMS).
PERMANENT = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        "isv.NOT_SUPPORTED_COUNTRY",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_CONTENT_ILLEGAL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.EXTEND_CODE_ERROR",
        "isv.CUSTOMER_REFUSED",
        "isv.SMS_TEST_NUMBER_LIMIT",
        "isv.SMS_TEST_SIGN_TEMPLATE_LIMIT",
        "isv.SMS_TEST_TEMPLATE_PARAMS_ILLEGAL",
    }
)
#: Server-side trouble: try again after the back-off.
_BUSY = frozenset({"isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "isp.UNKNOWN", "ServiceUnavailable"})


def _flow_control_wait(message: str, now: datetime) -> float:
    """How long ``isv.BUSINESS_LIMIT_CONTROL`` lasts, by the level its message names.

    ``触发分钟级流控Permits:1``: a minute; ``触发小时级流控``: an hour; ``触发天级流控``:
    until midnight in China.
    """
    if "分钟" in message:
        return 60.0
    if "小时" in message:
        return 3600.0
    if "天" in message or "日" in message:
        return until_midnight(now)
    # A limit whose level the answer does not say: two minutes, and the back-off grows.
    return 120.0


def aliyun_failure(action: str, code: str, message: str, now: datetime) -> Exception:
    """The exception for an Aliyun error code.

    Permanent, transient (with how long its limit lasts, when that is known) or a
    :class:`SmsProviderError` (tried again after the back-off).

    Args:
        action: the API action (``SendSms``), for the text.
        code: Aliyun's ``Code``.
        message: Aliyun's ``Message``.
        now: the instant of the answer, for the limits that end at a date.
    """
    said = f"Aliyun {action}: {code}: {message}".rstrip(": ")
    if code in PERMANENT:
        return PermanentDeliveryError(said)
    waits: dict[str, Callable[[], float | None]] = {
        "isv.BUSINESS_LIMIT_CONTROL": lambda: _flow_control_wait(message, now),
        "isv.DAY_LIMIT_CONTROL": lambda: until_midnight(now),
        "isv.MONTH_LIMIT_CONTROL": lambda: until_next_month(now),
        **dict.fromkeys(_BUSY, lambda: None),
    }
    if code in waits:
        return TransientDeliveryError(said, retry_after=waits[code]())
    if code.startswith("Throttling"):
        return TransientDeliveryError(said, retry_after=1.0)
    # The account's or the credentials' state (balance, suspension, RAM, a signature
    # refused, an unknown key), or a code this channel does not know: worth trying again
    # after the back-off, when someone may have mended it; given up after its attempts.
    return SmsProviderError(said, code=code)


def _local_time(value: object) -> datetime | None:
    """An Aliyun time (``2019-01-08 16:44:13``, China Standard Time), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _send_date(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y%m%d")


def _template(key: str, value: object) -> ProviderTemplate:
    where = f"templates.{key}"
    found = table(where, value)
    refuse_unknown(where, found, TEMPLATE_KEYS)
    if "code" not in found:
        raise ConfigError(f"{where}.code", "missing: the approved template's code (SMS_...)")
    params = table(f"{where}.params", found.get("params", {}))
    return ProviderTemplate(
        template_id=text(f"{where}.code", found["code"]),
        params=tuple(
            (text(f"{where}.params", name), text(f"{where}.params.{name}", variable))
            for name, variable in params.items()
        ),
        opt_out=flag(f"{where}.opt_out", found.get("opt_out", False)),
    )


class AliyunSmsChannel(SmsChannel):
    """SMS through Aliyun Dysms.

    Build it from the options with :meth:`from_options` (the factory ``aliyun-sms``).

    Args:
        access_key_id: the AccessKey ID.
        access_key_secret: the AccessKey secret.
        (the others as :class:`~membercore_sms.channel.SmsChannel`'s)
    """

    provider = "Aliyun"

    def __init__(
        self,
        settings: CommonSettings,
        templates: Mapping[str, ProviderTemplate],
        access_key_id: Secret,
        access_key_secret: Secret,
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            settings,
            templates,
            (access_key_id, access_key_secret),
            clock=clock,
            transport=transport,
        )
        self._key_id = access_key_id
        self._key_secret = access_key_secret
        self._host = httpx.URL(self.endpoint).netloc.decode("ascii")

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> AliyunSmsChannel:
        """Build the channel from its ``[channels.sms]`` options.

        Raises:
            ConfigError: an option is unknown, missing or wrong, or an environment
                variable it names is not set (the key named relative to the table).
        """
        settings = common_settings(options, own_keys=OWN_KEYS, default_endpoint=DEFAULT_ENDPOINT)
        templates = {
            str(key): _template(str(key), value) for key, value in settings.templates.items()
        }
        key_id = secret(options, "access_key_id_env")
        key_secret = secret(options, "access_key_secret_env")
        return cls(settings, templates, key_id, key_secret, clock=clock, transport=transport)

    # -- the API -------------------------------------------------------------------------

    def _call(self, action: str, parameters: Mapping[str, str]) -> dict[str, Any]:
        """Call an action; its answer when Aliyun says ``OK``.

        Raises:
            PermanentDeliveryError, TransientDeliveryError, SmsProviderError: as
                :func:`aliyun_failure` maps Aliyun's code, or no usable answer.
        """
        query = canonical_query(parameters)
        headers = {
            "host": self._host,
            "x-acs-action": action,
            "x-acs-version": VERSION,
            "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": secrets.token_hex(16),
            "x-acs-content-sha256": sha256_hex(b""),
        }
        headers["Authorization"] = acs3_authorization(
            method="POST",
            path="/",
            query=query,
            headers=headers,
            body=b"",
            access_key_id=self._key_id.reveal(),
            access_key_secret=self._key_secret.reveal(),
        )
        headers["Accept"] = "application/json"
        try:
            response = self._client.post(f"{self.endpoint}/?{query}", headers=headers, content=b"")
        except httpx.HTTPError as error:
            raise self._unreachable(action, error) from None
        answer = self._answer(action, response)
        code = answer.get("Code")
        if code == "OK":
            return answer
        if not isinstance(code, str) or not code:
            raise SmsProviderError(f"Aliyun {action}: HTTP {response.status_code}, no Code")
        message = self._scrub(answer.get("Message") or "")
        raise aliyun_failure(action, code, message, self._clock())

    # -- sending -------------------------------------------------------------------------

    def _submit(
        self,
        message: OutboxMessage,
        outgoing: Outgoing,
        number: str,
        template: ProviderTemplate,
        values: list[tuple[str, str]],
    ) -> str:
        if message.attempts:
            # Aliyun's SendSms is not idempotent: after a failed try (a timeout may have
            # been sent all the same), look for the message by its OutId first.
            found = self._already_sent(number, outgoing.message_id, message.send_at)
            if found is not None:
                return found
        parameters = {
            "PhoneNumbers": for_aliyun(number),
            "SignName": self.sign_name,
            "TemplateCode": template.template_id,
            "OutId": outgoing.message_id,
        }
        if values:
            parameters["TemplateParam"] = json.dumps(
                dict(values), ensure_ascii=False, separators=(",", ":")
            )
        if self.extend_code:
            parameters["SmsUpExtendCode"] = self.extend_code
        answer = self._call("SendSms", parameters)
        biz_id = answer.get("BizId")
        if not isinstance(biz_id, str) or not biz_id:
            raise SmsProviderError("Aliyun SendSms: OK without a BizId")
        return biz_id

    def _already_sent(self, number: str, message_id: str, send_at: datetime) -> str | None:
        """The receipt of the message if Aliyun took it already, by its OutId.

        The earlier try was the first, on the day of the message's ``send_at`` (or the
        day before), or a retry, within the back-off's longest wait (hours) of now —
        quiet hours and retries may have moved it days on from ``send_at``: the records
        of those days that QuerySendDetails still reaches are looked at.

        Raises:
            TransientDeliveryError, SmsProviderError: Aliyun could not be asked; the
                message is not sent now, and tried again later.
        """
        now = self._clock()
        oldest = now - timedelta(days=QUERY_DAYS - 1)
        tried = (send_at, send_at - timedelta(days=1), now, now - timedelta(days=1))
        days = {_send_date(at) for at in tried if oldest <= at <= now}
        try:
            for day in sorted(days, reverse=True):
                if any(record.get("OutId") == message_id for record in self._details(number, day)):
                    return OUT_ID_RECEIPT + message_id
        except PermanentDeliveryError as error:
            # A refused query says nothing of the message: it is not given up for it.
            raise SmsProviderError(f"looking for an earlier try: {error}") from None
        return None

    # -- reports -------------------------------------------------------------------------

    def _details(self, number: str, day: str, biz_id: str | None = None) -> list[Mapping[str, Any]]:
        """The send records of ``day`` (``yyyyMMdd``) to the number, or to its BizId."""
        records: list[Mapping[str, Any]] = []
        for page in range(1, 21):
            parameters = {
                "PhoneNumber": for_aliyun(number),
                "SendDate": day,
                "PageSize": str(PAGE_SIZE),
                "CurrentPage": str(page),
            }
            if biz_id:
                parameters["BizId"] = biz_id
            answer = self._call("QuerySendDetails", parameters)
            holder = answer.get("SmsSendDetailDTOs")
            found = holder.get("SmsSendDetailDTO") if isinstance(holder, Mapping) else None
            if isinstance(found, Mapping):
                found = [found]
            batch = [item for item in found or () if isinstance(item, Mapping)]
            records += batch
            total = answer.get("TotalCount")
            if len(batch) < PAGE_SIZE or not isinstance(total, int) or len(records) >= total:
                break
        return records

    def _collect(self, awaiting: Sequence[OutboxMessage], now: datetime) -> None:
        # Aliyun answers the same query the same way: what is found is kept only once
        # every message was asked about, and all is asked again after a failure.
        found = []
        for message in awaiting:
            receipt, address, delivered_at = sent_record(message)
            number = canonical(address) if address else None
            if not receipt or number is None or delivered_at is None:
                continue
            if now - delivered_at > timedelta(days=QUERY_DAYS):
                continue  # beyond what QuerySendDetails reaches
            try:
                report = self._report_on(message.message_id, receipt, number, delivered_at, now)
            except PermanentDeliveryError as error:
                # Aliyun refuses to look this one up (its number, its date): the others
                # are still asked about, and it is again next time.
                log.warning("Aliyun report on %s not read: %s", message.message_id, error)
                continue
            if report is not None:
                found.append(report)
        self._keep(found)

    def _report_on(
        self, message_id: str, receipt: str, number: str, acknowledged: datetime, now: datetime
    ) -> DeliveryReport | None:
        by_out_id = receipt.startswith(OUT_ID_RECEIPT)
        # Aliyun dates the record when it took the message, a moment before it was
        # acknowledged here: around midnight that is the day before.
        days = {_send_date(acknowledged), _send_date(acknowledged - timedelta(minutes=10))}
        for day in sorted(days, reverse=True):
            for record in self._details(number, day, None if by_out_id else receipt):
                if by_out_id and record.get("OutId") != message_id:
                    continue
                return _report(message_id, record, now)
        return None

    # -- replies -------------------------------------------------------------------------

    def take_pushed(self, body: bytes) -> list[Reply]:
        """Keep the replies of one SmsUp push for the next :meth:`reports` (:meth:`parse_pushed`).

        Raises:
            ValueError: as :meth:`parse_pushed`.
        """
        replies = self._pushed(body)
        self._keep(replies)
        return [attrs.evolve(reply, address=self._book.address(reply.address)) for reply in replies]

    def parse_pushed(self, body: bytes) -> list[Reply]:
        """Take the members' replies in one of Aliyun's SmsUp HTTP pushes.

        The hospital's web endpoint that Aliyun's console names as the SmsUp push address
        hands each request body here, and answers :data:`SMSUP_ANSWER` as JSON once the
        engine has taken them (HTTP 500 otherwise: Aliyun pushes again); ``membercore
        worker --listen aliyun-smsup`` is such an endpoint
        (:class:`~membercore_sms.smsup.SmsUpListener`). A reply to another signature
        than the channel's is passed over.

        Raises:
            ValueError: the body is not an SmsUp push (a JSON list of replies, each with
                ``phone_number``, ``content`` and ``send_time``).
        """
        return [
            attrs.evolve(reply, address=self._book.address(reply.address))
            for reply in self._pushed(body)
        ]

    def _pushed(self, body: bytes) -> list[Reply]:
        try:
            items = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("not an Aliyun SmsUp push: not JSON") from None
        if isinstance(items, Mapping):
            items = [items]
        if not isinstance(items, list):
            raise ValueError("not an Aliyun SmsUp push: not a list of replies")
        replies = []
        for place, item in enumerate(items):
            reply = self._reply(place, item)
            if reply is not None:
                replies.append(reply)
        return replies

    def _reply(self, place: int, item: object) -> Reply | None:
        if not isinstance(item, Mapping):
            raise ValueError(f"Aliyun SmsUp push, reply {place}: not an object")
        phone, content = item.get("phone_number"), item.get("content")
        at = _local_time(item.get("send_time"))
        if not isinstance(phone, str) or not phone.strip():
            raise ValueError(f"Aliyun SmsUp push, reply {place}: no phone_number")
        if not isinstance(content, str):
            raise ValueError(f"Aliyun SmsUp push, reply {place}: no content")
        if at is None:
            raise ValueError(f"Aliyun SmsUp push, reply {place}: send_time is not a time")
        if not same_signature(item.get("sign_name"), self.sign_name):
            return None
        number = canonical(phone) or phone.strip()
        sequence = item.get("sequence_id")
        if isinstance(sequence, int | str) and str(sequence).strip():
            reply_id = f"aliyun:{sequence}"
        else:
            said = f"{number}|{at.isoformat()}|{content}".encode()
            reply_id = "aliyun:" + hashlib.sha256(said).hexdigest()[:32]
        return Reply(
            channel=self.name,
            address=number,
            text=content,
            at=at,
            reply_id=reply_id,
        )


def _report(message_id: str, record: Mapping[str, Any], now: datetime) -> DeliveryReport | None:
    """A delivery report from a QuerySendDetails record; None while it waits (status 1)."""
    try:
        status = int(record.get("SendStatus") or 0)
    except (TypeError, ValueError):
        return None
    if status not in (2, 3):
        return None
    code = str(record.get("ErrCode") or "")
    at = _local_time(record.get("ReceiveDate")) or _local_time(record.get("SendDate")) or now
    if status == 3:
        return DeliveryReport(
            message_id=message_id, delivered=True, at=at, detail=f"Aliyun: {code or 'DELIVERED'}"
        )
    return DeliveryReport(
        message_id=message_id,
        delivered=False,
        at=at,
        detail=f"Aliyun: send failed (SendStatus 2){', ' + code if code else ''}",
    )
