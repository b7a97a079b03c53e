"""The guide's TOML examples build the channels they show."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from membercore.testing.channels import contract_template as _t
from membercore_sms import AliyunSmsChannel, TencentSmsChannel, aliyun_sms, tencent_sms

DOCS = Path(__file__).parents[3] / "docs"


def _examples() -> list[str]:
    text = (DOCS / "channels.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    return [b for b in blocks if re.search(r'use = "(aliyun|tencent)-sms"', b)]


def test_the_guide_shows_both_providers() -> None:
    uses = {tomllib.loads(block)["channels"]["sms"]["use"] for block in _examples()}
    assert uses == {"aliyun-sms", "tencent-sms"}


@pytest.mark.parametrize("block", _examples())
def test_each_example_table_builds_its_channel(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    table = dict(tomllib.loads(block)["channels"]["sms"])
    use = table.pop("use")
    for key, variable in table.items():
        if key.endswith("_env"):
            monkeypatch.setenv(variable, f"value of {variable}")
    factory, kind = {
        "aliyun-sms": (aliyun_sms, AliyunSmsChannel),
        "tencent-sms": (tencent_sms, TencentSmsChannel),
    }[use]
    channel = factory({**table, "name": "sms"})
    assert isinstance(channel, kind)
    assert channel.carries(_t("annual_plan_offer")) is not None
