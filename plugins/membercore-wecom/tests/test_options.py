"""The channel's options, read strictly: every mistake names its key."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from membercore.config import ProgrammeConfig, reference_config
from membercore.config.channels import ChannelSettings
from membercore.errors import ConfigError
from membercore.plugins import collect, make_plugin_manager
from membercore.service.channels import build_channels
from membercore_wecom import WeComChannel, WeComOptions, WeComStaffChannel
from membercore_wecom.testing import WeComServer

from .conftest import AGENT_ID, STAFF, options

BASE = {"corp_id": "ww5f3c1d2e8a9b0c47", "secret_env": "WECOM_CONTACT_SECRET"}


def test_the_defaults_are_wecoms_and_the_hospitals_usual_ones() -> None:
    read = WeComOptions.read(BASE)
    assert read.name == "wecom"
    assert read.base_url == "https://qyapi.weixin.qq.com"
    assert read.monthly_limit_per_customer == 4
    assert read.per_minute == 30
    assert read.per_hour_per_member == 1000
    assert read.timeout == 10.0
    assert read.templates is None
    assert read.staff == {}
    assert read.agent_id is None
    assert read.default_sender is None


def test_every_option_is_read() -> None:
    read = WeComOptions.read(
        {
            **BASE,
            "name": "wecom",
            "app_secret_env": "WECOM_APP_SECRET",
            "agent_id": AGENT_ID,
            "default_sender": "zhanghua",
            "staff": STAFF,
            "monthly_limit_per_customer": 31,
            "per_minute": 20,
            "per_hour_per_member": 500,
            "base_url": "http://127.0.0.1:8080/",
            "timeout": 3,
            "templates": ["hba1c_recheck"],
        }
    )
    assert read.userid("S0012") == "zhanghua"
    assert read.userid("S0077") == "S0077"
    assert read.base_url == "http://127.0.0.1:8080"
    assert read.templates == ("hba1c_recheck",)
    assert read.timeout == 3.0


@pytest.mark.parametrize(
    ("changes", "key", "problem"),
    [
        ({"sender": "zhanghua"}, "sender", "unknown key"),
        ({"corp_id": None}, "corp_id", "is required"),
        ({"secret_env": None}, "secret_env", "is required"),
        ({"corp_id": ""}, "corp_id", "non-empty text"),
        ({"agent_id": AGENT_ID}, "app_secret_env", "is required with agent_id"),
        ({"app_secret_env": "WECOM_APP_SECRET"}, "agent_id", "is required with app_secret_env"),
        ({"agent_id": "1000002", "app_secret_env": "X"}, "agent_id", "AgentId"),
        ({"per_minute": 0}, "per_minute", "positive whole number"),
        ({"per_hour_per_member": 1.5}, "per_hour_per_member", "positive whole number"),
        ({"monthly_limit_per_customer": True}, "monthly_limit_per_customer", "positive"),
        ({"base_url": "qyapi.weixin.qq.com"}, "base_url", "must be an http"),
        ({"base_url": "https://qyapi.weixin.qq.com/?x=1"}, "base_url", "without a query"),
        ({"timeout": -1}, "timeout", "positive number of seconds"),
        ({"staff": ["zhanghua"]}, "staff", "table"),
        ({"staff": {"S0012": 7}}, "staff.S0012", "non-empty text"),
        ({"templates": "hba1c_recheck"}, "templates", "list of template keys"),
        ({"templates": ["a", ""]}, "templates[1]", "non-empty text"),
        ({"name": ""}, "name", "non-empty text"),
    ],
)
def test_a_wrong_option_is_refused_naming_its_key(
    changes: dict[str, Any], key: str, problem: str
) -> None:
    table = {**BASE, **changes}
    table = {name: value for name, value in table.items() if value is not None}
    with pytest.raises(ConfigError, match=problem) as raised:
        WeComOptions.read(table)
    assert raised.value.key == key


def test_a_secret_variable_not_set_is_refused_naming_the_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WECOM_CONTACT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="WECOM_CONTACT_SECRET is not set") as raised:
        WeComChannel.from_options(BASE)
    assert raised.value.key == "secret_env"


def test_an_app_secret_variable_not_set_is_refused_naming_the_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WECOM_CONTACT_SECRET", "x")
    monkeypatch.delenv("WECOM_APP_SECRET", raising=False)
    with pytest.raises(ConfigError) as raised:
        WeComChannel.from_options(
            {**BASE, "app_secret_env": "WECOM_APP_SECRET", "agent_id": AGENT_ID}
        )
    assert raised.value.key == "app_secret_env"


def test_the_plugin_registers_the_wecom_channel_factories() -> None:
    plugins = collect(make_plugin_manager(), reference_config())
    contribution = plugins.channels["wecom"]
    assert contribution.plugin == "wecom"
    assert contribution.value == WeComChannel.from_options
    assert plugins.channels["wecom-staff"].value == WeComStaffChannel.from_options


def test_the_programmes_table_builds_the_channel_through_the_plugin(
    server: WeComServer, environ: dict[str, str]
) -> None:
    table = {"use": "wecom", **options(server)}
    config = _going_by_wecom({"wecom": ChannelSettings.from_table(table)})
    plugins = collect(make_plugin_manager(), config)
    channels = build_channels(config, plugins)
    channel = channels["wecom"]
    assert isinstance(channel, WeComChannel)
    assert channel.name == "wecom"
    assert server.contact_secret not in repr(channel)
    channel.close()


def test_a_wrong_option_in_the_programme_is_named_under_its_table(
    server: WeComServer, environ: dict[str, str]
) -> None:
    table = {"use": "wecom", **options(server), "per_minute": 0}
    config = _going_by_wecom({"wecom": ChannelSettings.from_table(table)})
    with pytest.raises(ConfigError) as raised:
        build_channels(config, collect(make_plugin_manager(), config))
    assert raised.value.key == "channels.wecom.per_minute"


def _going_by_wecom(channels: dict[str, ChannelSettings]) -> ProgrammeConfig:
    """The reference programme going by WeCom alone, then a call, over ``channels``."""
    reference = reference_config()
    policy = attrs.evolve(reference.outreach, channel_order=("wecom", "phone"))
    return attrs.evolve(reference, outreach=policy, channels=channels)
