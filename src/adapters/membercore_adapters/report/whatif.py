"""The what-if comparison's part of the report (``membercore whatif --json`` gives it).

A table of every figure of the baseline replay against the proposed programme's, with
the difference; a chart of the points; and the members compared one by one with the
lines that explain what changed for them (:mod:`membercore.analytics.whatif`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from membercore.config import ProgrammeConfig
from membercore_adapters.figures import Section, number, section
from membercore_adapters.labels import CHANNELS, PURPOSES, TASK_KINDS, named
from membercore_adapters.language import Language, Words
from membercore_adapters.report.charts import bar_chart
from membercore_adapters.report.extra import Extra

__all__ = ["whatif_extra"]

_SECTIONS = {
    "points": Words("积分", "points"),
    "by_tier": Words("各等级会员", "members by tier"),
    "paid_by_plan": Words("各卡种付费会员", "paid members by plan"),
    "plans_fen": Words("会费（分）", "plan money (fen)"),
    "messages": Words("消息（渠道/用途）", "messages (channel/purpose)"),
    "tasks": Words("员工任务", "staff tasks"),
    "offers": Words("优惠", "offers"),
}
_TITLE = Words("试算：{proposed} 对比 {baseline}", "What-if: {proposed} against {baseline}")
_MEMBERS = Words("试算：抽样会员的变化及原因", "What-if: sampled members, what changed and why")


_BASELINE = Words("基准：{name}", "baseline: {name}")
_PROPOSED = Words("方案：{name}", "proposed: {name}")
_REPLAYED = Words("重放 {inputs} 条输入；{how}", "{inputs} inputs replayed; {how}")
_REPRODUCED = Words("基准重放与存储一致", "the baseline replay reproduced the store")
_NOT_REPRODUCED = Words(
    "基准重放与存储不一致：基准可能不是存储所用的方案",
    "the baseline replay did not reproduce the store: the baseline may not be its programme",
)
_LATER = Words(
    "存储在读取期间又收到 {later} 条输入：其自身数字晚于重放，未作比较",
    "the store took {later} more inputs while it was read: its own figures are later than "
    "the replay's and were not compared",
)
_INCOMPLETE = Words("；存储有输入日志开始前的历史", "; the store holds history from before its log")
_POINTS = {
    "earned": Words("发放", "earned"),
    "redeemed": Words("兑换", "redeemed"),
    "expired": Words("过期", "expired"),
    "balance": Words("未兑余额（负债）", "outstanding (liability)"),
}


def whatif_extra(
    compared: Mapping[str, Any], language: Language, config: ProgrammeConfig | None = None
) -> Extra:
    """The report's what-if part from a comparison as plain data (``WhatIf.to_dict()``).

    ``config`` (the programme the report reads) names tiers and plans by their labels.
    """
    baseline, proposed = compared["baseline"], compared["proposed"]
    before_name = _BASELINE.say(language, name=compared["baseline_name"])
    after_name = _PROPOSED.say(language, name=compared["proposed_name"])
    title = _TITLE.say(language, proposed=after_name, baseline=before_name)
    rows = []
    for key, words in _SECTIONS.items():
        before, after = _totals(baseline).get(key, {}), _totals(proposed).get(key, {})
        for item in sorted(set(before) | set(after)):
            was, now = before.get(item, 0), after.get(item, 0)
            name = _name(key, item, language, config)
            rows.append((words.say(language), name, number(was), number(now), f"{now - was:+,}"))
    headers = [Words("基准", "baseline"), Words("方案", "proposed"), Words("差", "difference")]
    said = _said(compared, language)
    texts = [Words("项目", "section"), Words(said, said)]
    table = section(Words(title, title), language, texts, headers, rows)
    points = sorted(set(baseline["points"]) | set(proposed["points"]))
    chart = bar_chart(
        "whatif-points",
        Words("试算：积分", "What-if: points").say(language),
        [_name("points", key, language, config) for key in points],
        [
            (before_name, [baseline["points"].get(k, 0) for k in points]),
            (after_name, [proposed["points"].get(k, 0) for k in points]),
        ],
    )
    return Extra(
        sections=(table, _members(compared, language)),
        charts=(chart,),
        records={"whatif": _records(baseline, proposed)},
    )


def _said(compared: Mapping[str, Any], language: Language) -> str:
    """How the replay went: the inputs, and whether the baseline reproduced the store."""
    if compared.get("later"):
        how = _LATER.say(language, later=f"{compared['later']:,}")
    else:
        how = (_REPRODUCED if compared.get("reproduces") else _NOT_REPRODUCED).say(language)
    if not compared.get("complete", True):
        how += _INCOMPLETE.say(language)
    return _REPLAYED.say(language, inputs=f"{compared.get('inputs', 0):,}", how=how)


def _name(part: str, key: str, language: Language, config: ProgrammeConfig | None) -> str:
    """A key of the comparison as people know it."""
    if part == "points":
        return named(_POINTS, key, language)
    if part == "by_tier" and config is not None:
        return {level.key: level.label for level in config.tiers.levels}.get(key, key)
    if part == "paid_by_plan" and config is not None:
        return {plan.key: plan.label for plan in config.plans.plans}.get(key, key)
    if part == "messages" and "/" in key:
        channel, purpose = key.split("/", 1)
        return f"{named(CHANNELS, channel, language)} / {named(PURPOSES, purpose, language)}"
    if part == "tasks":
        return named(TASK_KINDS, key, language)
    return key


def _totals(run: Mapping[str, Any]) -> dict[str, Mapping[str, int]]:
    return {
        "points": run["points"],
        "by_tier": run["by_tier"],
        "paid_by_plan": run["paid_by_plan"],
        "plans_fen": {"revenue": run["revenue_fen"], "refunds": run["refunds_fen"]},
        "messages": run["messages"],
        "tasks": run["tasks"],
        "offers": run["offers"],
    }


def _members(compared: Mapping[str, Any], language: Language) -> Section:
    rows = [
        (member["member_id"], line)
        for member in compared.get("members", [])
        for line in (member.get("why") or ["—"])[:8]
    ]
    return section(_MEMBERS, language, [Words("会员", "member"), Words("原因", "why")], [], rows)


def _records(baseline: Mapping[str, Any], proposed: Mapping[str, Any]) -> list[dict[str, object]]:
    before, after = _totals(baseline), _totals(proposed)
    return [
        {
            "section": key,
            "key": item,
            "baseline": before[key].get(item, 0),
            "proposed": after[key].get(item, 0),
        }
        for key in _SECTIONS
        for item in sorted(set(before[key]) | set(after[key]))
    ]
