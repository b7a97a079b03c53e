"""SMS for membercore: Aliyun Dysms and Tencent Cloud SMS.

Two channel factories, each building the programme's ``sms`` channel from its
``[channels.sms]`` table:

- ``aliyun-sms``: :class:`~membercore_sms.aliyun.AliyunSmsChannel`, Aliyun Dysms
  (``SendSms``, ``QuerySendDetails``, replies by SmsUp HTTP push to the webhook
  ``aliyun-smsup`` of ``membercore serve``, :class:`~membercore_sms.smsup.SmsUpWebhook`,
  or to the worker's listener of the same name, :class:`~membercore_sms.smsup.SmsUpListener`),
  signed with ACS3-HMAC-SHA256;
- ``tencent-sms``: :class:`~membercore_sms.tencent.TencentSmsChannel`, Tencent Cloud SMS
  (``SendSms``, ``PullSmsSendStatus``, ``PullSmsReplyStatus``), signed with
  TC3-HMAC-SHA256.

Each sends the programme's templates as the provider templates its options map them to,
reports what the provider said of each message and the members' replies, and reads its
credentials from the environment variables its options name. See ``docs/channels.md``
for the options, the providers' error codes and what membercore does with each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from membercore.hookspecs import ChannelFactory, ListenerFactory, WebhookFactory, hookimpl
from membercore.ports import Channel
from membercore_sms.aliyun import SMSUP_ANSWER, AliyunSmsChannel, aliyun_failure
from membercore_sms.channel import SmsChannel, SmsProviderError
from membercore_sms.options import ProviderTemplate, Secret
from membercore_sms.phones import canonical
from membercore_sms.smsup import SmsUpListener, SmsUpWebhook
from membercore_sms.tencent import TencentSmsChannel, tencent_failure

__all__ = [
    "SMSUP_ANSWER",
    "AliyunSmsChannel",
    "ProviderTemplate",
    "Secret",
    "SmsChannel",
    "SmsProviderError",
    "SmsUpListener",
    "SmsUpWebhook",
    "TencentSmsChannel",
    "aliyun_failure",
    "aliyun_sms",
    "canonical",
    "membercore_register_channels",
    "membercore_register_listeners",
    "membercore_register_webhooks",
    "tencent_failure",
    "tencent_sms",
]


def aliyun_sms(options: Mapping[str, Any]) -> Channel:
    """The factory ``aliyun-sms``: an Aliyun Dysms channel from its options."""
    return AliyunSmsChannel.from_options(options)


def tencent_sms(options: Mapping[str, Any]) -> Channel:
    """The factory ``tencent-sms``: a Tencent Cloud SMS channel from its options."""
    return TencentSmsChannel.from_options(options)


@hookimpl
def membercore_register_channels(register: Callable[[str, ChannelFactory], None]) -> None:
    """Provide the SMS channels ``aliyun-sms`` and ``tencent-sms``."""
    register("aliyun-sms", aliyun_sms)
    register("tencent-sms", tencent_sms)


@hookimpl
def membercore_register_listeners(register: Callable[[str, ListenerFactory], None]) -> None:
    """Provide Aliyun's SmsUp push endpoint, ``aliyun-smsup``."""
    register("aliyun-smsup", SmsUpListener.from_options)


@hookimpl
def membercore_register_webhooks(register: Callable[[str, WebhookFactory], None]) -> None:
    """Provide Aliyun's SmsUp push endpoint to ``membercore serve``, ``aliyun-smsup``."""
    register("aliyun-smsup", SmsUpWebhook.from_options)
