"""The what-if comparison's part of the report (``membercore whatif --json`` gives it).

A table of every figure of the baseline replay against the proposed programme's, with
the difference; a chart of the points; and the members compared one by one with the
lines that explain what changed for them (:mod:`membercore.analytics.whatif`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from membercore_adapters.figures import Section, number, section
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


def whatif_extra(compared: Mapping[str, Any], language: Language) -> Extra:
    """The report's what-if part from a comparison as plain data (``WhatIf.to_dict()``)."""
    baseline, proposed = compared["baseline"], compared["proposed"]
    names = {"baseline": compared["baseline_name"], "proposed": compared["proposed_name"]}
    title = _TITLE.say(language, **names)
    rows = []
    for key, words in _SECTIONS.items():
        before, after = _totals(baseline).get(key, {}), _totals(proposed).get(key, {})
        for item in sorted(set(before) | set(after)):
            was, now = before.get(item, 0), after.get(item, 0)
            rows.append((words.say(language), item, number(was), number(now), f"{now - was:+,}"))
    headers = [Words("基准", "baseline"), Words("方案", "proposed"), Words("差", "difference")]
    table = section(
        Words(title, title), language, [Words("项目", "section"), Words("键", "key")], headers, rows
    )
    points = sorted(set(baseline["points"]) | set(proposed["points"]))
    chart = bar_chart(
        "whatif-points",
        Words("试算：积分", "What-if: points").say(language),
        points,
        [
            (names["baseline"], [baseline["points"].get(k, 0) for k in points]),
            (names["proposed"], [proposed["points"].get(k, 0) for k in points]),
        ],
    )
    return Extra(
        sections=(table, _members(compared, language)),
        charts=(chart,),
        records={"whatif": _records(baseline, proposed)},
    )


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
