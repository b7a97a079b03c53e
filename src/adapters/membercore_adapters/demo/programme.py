"""The demo hospital's programme: the reference programme and the price test it runs.

The price test is the one the field reports (会员费从年付999元改为月付99元): half the
patients are quoted the 尊享年卡 at 999 元 a year, half at 99 元 a month, billed monthly.
A patient meets it at their first visit, when the desk presents the card; they convert
when the card's first payment activates it within 30 days.
"""

from __future__ import annotations

from functools import cache

from membercore import reference_toml
from membercore.config import ProgrammeConfig
from membercore.serialization import load_config_toml

__all__ = ["PRICE_TEST", "PRICE_TEST_TOML", "demo_programme", "demo_toml"]

#: The key of the demo's price test.
PRICE_TEST = "price_999_yearly_vs_99_monthly"

#: The price test as the programme file writes it.
PRICE_TEST_TOML = f'''
# =======================================================================================
# 实验 / Experiments: 尊享年卡的定价测试，年付 999 元对月付 99 元
# the price test of the premium card: 999 yuan a year against 99 yuan a month
# =======================================================================================
[[experiments]]
key = "{PRICE_TEST}"
label = "尊享年卡定价：年付999元 对 月付99元"
control = "yearly"

[experiments.exposure]
on = "visit_completed"          # 首诊时前台介绍尊享年卡 / the desk presents the card

[experiments.conversion]
on = ["subscription_activated"] # 首次付款开通 / the first payment activates it
plan = "annual_999"
within_days = 30

[[experiments.variants]]
key = "yearly"
label = "年付999元"
weight = 50

[[experiments.variants]]
key = "monthly"
label = "月付99元"
weight = 50
[experiments.variants.overrides]
"plans.plans.annual_999.label" = "尊享会员（月付）"
"plans.plans.annual_999.kind" = "monthly"
"plans.plans.annual_999.price_fen" = 9900
"plans.plans.annual_999.term_months" = 1
"plans.plans.annual_999.auto_renew" = true
"plans.plans.annual_999.grace_days" = 3
'''


def demo_toml() -> str:
    """The demo's programme as a file writes it: the reference programme and the test."""
    return reference_toml() + PRICE_TEST_TOML


@cache
def demo_programme() -> ProgrammeConfig:
    """The reference programme with the price test."""
    return load_config_toml(demo_toml())
