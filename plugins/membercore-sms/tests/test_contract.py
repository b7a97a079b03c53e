"""Both channels pass the channel conformance suite, replies included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from membercore.testing.channels import T0, ChannelSetup, ReplyContract
from membercore_sms import AliyunSmsChannel, tencent_sms
from membercore_sms.testing.aliyun import AliyunServer
from membercore_sms.testing.tencent import TencentServer

from .conftest import (
    ALIYUN_KEY_ID,
    ALIYUN_KEY_SECRET,
    TENCENT_SECRET_ID,
    TENCENT_SECRET_KEY,
    aliyun_options,
    tencent_options,
)


def _hospital_time() -> object:
    # The stand-ins date what they take and report on the suite's clock, as the
    # providers date them on theirs.
    return T0 + timedelta(minutes=1)


class TestAliyunContract(ReplyContract):
    @pytest.fixture
    def channel_setup(
        self, aliyun_server: AliyunServer, credentials: None
    ) -> Iterator[ChannelSetup]:
        aliyun_server.clock = _hospital_time  # type: ignore[assignment]
        # The channel reads the day on the same clock as the provider it asks.
        channel = AliyunSmsChannel.from_options(
            aliyun_options(aliyun_server.url),
            clock=_hospital_time,  # type: ignore[arg-type]
        )
        # The hospital's SmsUp endpoint hands Aliyun's pushes to the channel.
        aliyun_server.push = channel.take_pushed
        yield ChannelSetup(
            channel=channel,
            provider=aliyun_server,
            address="13800138000",
            secrets=(ALIYUN_KEY_ID, ALIYUN_KEY_SECRET),
        )
        channel.close()


class TestTencentContract(ReplyContract):
    @pytest.fixture
    def channel_setup(
        self, tencent_server: TencentServer, credentials: None
    ) -> Iterator[ChannelSetup]:
        tencent_server.clock = _hospital_time  # type: ignore[assignment]
        channel = tencent_sms(tencent_options(tencent_server.url))
        yield ChannelSetup(
            channel=channel,
            provider=tencent_server,
            address="+8613800138000",
            secrets=(TENCENT_SECRET_ID, TENCENT_SECRET_KEY),
        )
        channel.close()  # type: ignore[attr-defined]
