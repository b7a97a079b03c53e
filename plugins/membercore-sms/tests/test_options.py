from __future__ import annotations

from typing import Any

import attrs
import pytest

from membercore.config.channels import ChannelSettings
from membercore.config.reference import reference_config
from membercore.errors import ConfigError
from membercore.plugins import collect, make_plugin_manager
from membercore.service.channels import build_channels
from membercore.testing.channels import contract_programme
from membercore_sms import AliyunSmsChannel, TencentSmsChannel, aliyun_sms, tencent_sms

from .conftest import aliyun_options, tencent_options

URL = "http://127.0.0.1:9"


def _refused(factory: Any, options: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        factory(options)
    return raised.value


def test_the_plugin_registers_both_factories() -> None:
    channels = collect(make_plugin_manager(), reference_config()).channels
    assert channels["aliyun-sms"].value is aliyun_sms
    assert channels["tencent-sms"].value is tencent_sms


def test_each_factory_builds_the_sms_channel(credentials: None) -> None:
    aliyun = aliyun_sms(aliyun_options(URL))
    tencent = tencent_sms(tencent_options(URL))
    assert isinstance(aliyun, AliyunSmsChannel)
    assert isinstance(tencent, TencentSmsChannel)
    assert (aliyun.name, tencent.name) == ("sms", "sms")
    assert tencent.region == "ap-guangzhou"
    assert tencent.sdk_app_id == "1400006666"


def test_the_channel_name_defaults_to_sms_and_follows_the_option(credentials: None) -> None:
    options = aliyun_options(URL)
    del options["name"]
    assert aliyun_sms(options).name == "sms"
    assert aliyun_sms({**options, "name": "sms2"}).name == "sms2"


def test_the_defaults_are_the_providers_public_endpoints(credentials: None) -> None:
    aliyun = aliyun_options(URL)
    tencent = tencent_options(URL)
    for options in (aliyun, tencent):
        del options["endpoint"], options["timeout"]
    del tencent["region"]
    built_aliyun = AliyunSmsChannel.from_options(aliyun)
    built_tencent = TencentSmsChannel.from_options(tencent)
    assert built_aliyun.endpoint == "https://dysmsapi.aliyuncs.com"
    assert built_tencent.endpoint == "https://sms.tencentcloudapi.com"
    assert built_tencent.region == "ap-guangzhou"
    assert built_aliyun.timeout == 10.0


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"colour": "red"}, "colour", "unknown key"),
        ({"sign_name": " "}, "sign_name", "non-empty text"),
        ({"timeout": 0}, "timeout", "positive"),
        ({"timeout": True}, "timeout", "number of seconds"),
        ({"endpoint": "ftp://x"}, "endpoint", "http(s) URL"),
        ({"endpoint": "https://x/api?a=1"}, "endpoint", "address alone"),
        ({"extend_code": "12a"}, "extend_code", "digits"),
        ({"templates": []}, "templates", "table"),
        ({"templates": {"care": {"params": {}}}}, "templates.care.code", "missing"),
        (
            {"templates": {"care": {"code": "SMS_1", "param": {}}}},
            "templates.care.param",
            "unknown key",
        ),
        (
            {"templates": {"care": {"code": "SMS_1", "params": ["name"]}}},
            "templates.care.params",
            "table",
        ),
        (
            {"templates": {"care": {"code": "SMS_1", "params": {"n": 3.5}}}},
            "templates.care.params.n",
            "text",
        ),
        (
            {"templates": {"care": {"code": "SMS_1", "opt_out": "yes"}}},
            "templates.care.opt_out",
            "true or false",
        ),
        ({"access_key_id_env": ""}, "access_key_id_env", "non-empty"),
        (
            {"access_key_secret_env": "NOT_SET_ANYWHERE"},
            "access_key_secret_env",
            "NOT_SET_ANYWHERE is not set",
        ),
        ({"sdk_app_id": "1400"}, "sdk_app_id", "unknown key"),
    ],
)
def test_aliyun_options_are_read_strictly(
    credentials: None, change: dict[str, Any], key: str, problem: str
) -> None:
    error = _refused(aliyun_sms, {**aliyun_options(URL), **change})
    assert error.key == key
    assert problem in error.problem


@pytest.mark.parametrize("missing", ["sign_name", "templates", "access_key_id_env"])
def test_aliyun_options_that_must_be_given(credentials: None, missing: str) -> None:
    options = aliyun_options(URL)
    del options[missing]
    error = _refused(aliyun_sms, options)
    assert error.key == missing
    assert "missing" in error.problem


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"access_key_id_env": "X"}, "access_key_id_env", "unknown key"),
        ({"templates": {"care": {"code": "SMS_1"}}}, "templates.care.code", "unknown key"),
        ({"templates": {"care": {"params": []}}}, "templates.care.id", "missing"),
        (
            {"templates": {"care": {"id": "1", "params": {"a": "b"}}}},
            "templates.care.params",
            "list",
        ),
        (
            {"templates": {"care": {"id": "1", "params": ["a", ""]}}},
            "templates.care.params[1]",
            "non-empty",
        ),
        ({"region": ""}, "region", "non-empty"),
        ({"secret_key_env": "NOT_SET_ANYWHERE"}, "secret_key_env", "NOT_SET_ANYWHERE is not set"),
    ],
)
def test_tencent_options_are_read_strictly(
    credentials: None, change: dict[str, Any], key: str, problem: str
) -> None:
    error = _refused(tencent_sms, {**tencent_options(URL), **change})
    assert error.key == key
    assert problem in error.problem


def test_tencent_needs_its_sdk_app_id(credentials: None) -> None:
    options = tencent_options(URL)
    del options["sdk_app_id"]
    assert _refused(tencent_sms, options).key == "sdk_app_id"


def test_an_unset_variable_is_named_and_no_value_ever_is(
    monkeypatch: pytest.MonkeyPatch, credentials: None
) -> None:
    monkeypatch.delenv("TEST_TENCENT_SECRET_ID")
    error = _refused(tencent_sms, tencent_options(URL))
    assert str(error) == (
        "config key 'secret_id_env': the environment variable TEST_TENCENT_SECRET_ID is not set"
    )


def _programme(options: dict[str, Any], use: str = "aliyun-sms") -> Any:
    programme = contract_programme("sms")
    # Only the suite's two templates go by SMS here, as a hospital maps what it sends.
    templates = tuple(
        template
        if template.key.startswith("contract_")
        else attrs.evolve(template, channels=tuple(c for c in template.channels if c != "sms"))
        for template in programme.outreach.templates
    )
    outreach = attrs.evolve(programme.outreach, templates=templates)
    settings = ChannelSettings(use=use, options={k: v for k, v in options.items() if k != "name"})
    return attrs.evolve(programme, outreach=outreach, channels={"sms": settings})


def test_a_programme_builds_its_sms_channel_from_its_table(credentials: None) -> None:
    for use, options in (
        ("aliyun-sms", aliyun_options(URL)),
        ("tencent-sms", tencent_options(URL)),
    ):
        config = _programme(options, use)
        channels = build_channels(config, collect(make_plugin_manager(), config))
        assert channels["sms"].name == "sms"


def test_a_programme_errors_name_the_key_under_its_channels_table(credentials: None) -> None:
    options = aliyun_options(URL)
    options["templates"]["contract_care"] = {"params": {"name": "name"}}
    config = _programme(options)
    with pytest.raises(ConfigError) as raised:
        build_channels(config, collect(make_plugin_manager(), config))
    assert raised.value.key == "channels.sms.templates.contract_care.code"

    options = aliyun_options(URL)
    del options["templates"]["contract_offer"]
    config = _programme(options)
    with pytest.raises(ConfigError, match="cannot carry the templates \\['contract_offer'\\]"):
        build_channels(config, collect(make_plugin_manager(), config))
