"""The demo's dashboard and progress bar: Chinese first, aligned by display width."""

from __future__ import annotations

import io
import re
import time
from collections import Counter
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import attrs
import pytest
from rich.cells import cell_len
from rich.console import Console

from membercore import reference_config
from membercore.facts import PatientRegistered, ReferralQualified
from membercore.service.engine import Engine
from membercore.testing.clock import ManualClock
from membercore_adapters.demo import (
    DemoResult,
    ProgressBar,
    dashboard,
    refusal_kind,
    run_demo,
    small,
)
from membercore_adapters.language import LANGUAGES, Language

#: A number as the dashboard writes one: thousands separators, maybe yuan or a percentage,
#: standing alone (so not the 1 of L1 or the digits of a patient id).
NUMBER = re.compile(r"(?<!\S)¥?\d{1,3}(?:,\d{3})*(?:\.\d+)?%?(?!\S)")


@pytest.fixture(scope="module")
def result() -> DemoResult:
    """A small demo run, with two kinds of dead letter added so that every table is shown."""
    run = run_demo(small(), "memory://", step=timedelta(hours=12))
    rejected = Counter({"line …: not JSON": 1_200, "referral_qualified: member … is not known": 3})
    return attrs.evolve(run, rejected=run.rejected + rejected)


def sections(text: str) -> list[list[str]]:
    """The dashboard's blocks of lines, between blank lines: the headline, then tables."""
    return [block.splitlines() for block in text.split("\n\n")]


def right_edges(line: str) -> list[int]:
    """The display columns at which the line's numbers end."""
    return [cell_len(line[: match.end()]) for match in NUMBER.finditer(line)]


def misaligned(rows: list[str]) -> str | None:
    """Why the numbers of a table's rows do not line up in columns, if they do not.

    A table with n columns of numbers has its numbers end at n display columns, no more.
    """
    edges = [right_edges(row) for row in rows]
    columns = max((len(found) for found in edges), default=0)
    ends = sorted({edge for found in edges for edge in found})
    if len(ends) == columns:
        return None
    return f"{columns} columns of numbers end at columns {ends}"


def tables(text: str) -> dict[str, list[str]]:
    """Each table by its title: the rows under its header and the rule below it."""
    found = {}
    for block in sections(text)[1:]:
        title, _header, rule, *rows = block
        assert set(rule) == {"─"}, block
        found[title] = rows
    return found


def test_the_check_catches_numbers_padded_by_characters() -> None:
    # The dashboard as it was: a CJK character counted as one column, not two.
    config = reference_config()
    padded = [f"  {plan.label:<12} {n * 7:>8,}" for n, plan in enumerate(config.plans.plans)]
    assert misaligned(padded) is not None
    assert misaligned(["  a  12", "  bb 3"]) is not None
    assert misaligned(["  a   12  1.5%", "  bb   3", "  c   40 10.0%"]) is None


def test_the_dashboard_is_in_chinese_with_its_numbers_in_columns(result: DemoResult) -> None:
    config = reference_config()
    text = dashboard(result, config)
    assert text.splitlines()[0] == "仁和医院演示 · 300 位患者 · 6 个月 · 随机种子 7"
    found = tables(text)
    assert list(found) == [
        "运行",
        "会员等级",
        "付费会员（有效权益卡）",
        "续费与忠诚阶梯",
        "近一年自付消费（人均）",
        "积分",
        "实验：尊享年卡定价：年付999元 对 月付99元",
        "分流检查（对照分配比例）",
        "消息（按渠道与用途）",
        "延后、取消与拒发",
        "员工任务（按类型）",
        "拒收的输入（死信，按原因）",
    ]
    # The price test: each variant's members exposed and converted, then the split check.
    (tested,) = result.experiments
    price = found["实验：尊享年卡定价：年付999元 对 月付99元"]
    assert [row.split()[:3] for row in price[:2]] == [
        [
            f"{v.label}（对照）" if v.key == tested.control else v.label,
            f"{v.exposed:,}",
            f"{v.converted:,}",
        ]
        for v in tested.variants
    ]
    assert sum(v.exposed for v in tested.variants) > 0
    (split,) = found["分流检查（对照分配比例）"]
    assert split.startswith(tested.label)
    assert "正常" in split
    for title, rows in found.items():
        assert any(right_edges(row) for row in rows), title
        assert misaligned(rows) is None, (title, misaligned(rows), rows)
    # The programme's own labels name the tiers and the plans, with their counts.
    fig = result.figures
    tiers = found["会员等级"]
    for level, row in zip(config.tiers.levels, tiers, strict=True):
        assert row.split() == [level.key, level.label, f"{fig.by_tier.get(level.key, 0):,}"]
    plans = {row.split()[0]: row.split()[-1] for row in found["付费会员（有效权益卡）"]}
    labels = {plan.key: plan.label for plan in config.plans.plans}
    assert plans == {labels[key]: f"{count:,}" for key, count in fig.paid_by_plan.items()}
    assert any(cell_len(label) > len(label) for label in plans)  # wide characters are there
    # Keys have their Chinese names where the code has them, and show as keys otherwise.
    messages = "\n".join(found["消息（按渠道与用途）"])
    assert "企业微信" in messages
    assert "短信" in messages
    assert "营销" in messages
    assert "wecom" not in messages
    assert "拒发：未获同意" in "\n".join(found["延后、取消与拒发"])
    kinds = [row.split()[0] for row in found["员工任务（按类型）"]]
    assert "致电" in kinds
    assert "call" not in kinds
    assert kinds == [
        {"call": "致电", "review": "复核"}.get(kind, kind)
        for kind, _ in result.tally.tasks.most_common()
    ]
    assert "复核" in kinds  # the reference journeys' review tasks, by their name
    # The figures, as the dashboard has always shown them.
    ladder = found["续费与忠诚阶梯"]
    renewal = (Decimal(100 * fig.renewed) / fig.terms_ended).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert ladder[1].split()[-2:] == [f"{fig.renewed:,}", f"{renewal}%"]
    points = {row.split()[0]: row.split()[-1] for row in found["积分"]}
    assert points["已发放"] == f"{fig.points['earned']:,}"
    assert points["未兑余额（负债）"] == f"{fig.points['balance']:,}"
    spend = found["近一年自付消费（人均）"][0].split()
    assert spend[0] == "会员"
    assert spend[-1] == f"¥{(fig.average_spend_fen(members=True) + 50) // 100:,}"
    assert found["拒收的输入（死信，按原因）"][0].split()[-1] == "1,200"


def test_no_line_is_wider_than_asked_nor_holds_escape_codes(result: DemoResult) -> None:
    config = reference_config()
    for language in LANGUAGES:
        for width in (100, 60, 40):
            text = dashboard(result, config, language=language, width=width)
            widest = max(cell_len(line) for line in text.splitlines())
            assert widest <= width, (language, width, widest)
            assert "\x1b" not in text
            assert "\r" not in text
            assert all(line == line.rstrip() for line in text.splitlines())
    assert max(cell_len(line) for line in dashboard(result, config).splitlines()) > 40


def test_in_english_the_labels_are_english_and_the_numbers_the_same(result: DemoResult) -> None:
    config = reference_config()
    chinese = dashboard(result, config)
    english = dashboard(result, config, language="en")
    assert english.splitlines()[0] == "仁和医院 demo hospital · 300 patients · 6 months · seed 7"
    found = tables(english)
    assert list(found) == [
        "The run",
        "Members by tier",
        "Paid members by plan (in force)",
        "Renewal and the loyalty ladder",
        "Yearly out-of-pocket spend (average)",
        "Points",
        "Experiment: 尊享年卡定价：年付999元 对 月付99元",
        "Split check (against the allocation)",
        "Messages by channel and purpose",
        "Deferred, cancelled and refused",
        "Staff tasks by kind",
        "Rejected inputs (dead letters) by reason",
    ]
    for title, rows in found.items():
        assert misaligned(rows) is None, (title, rows)
    assert "WeCom" in english
    assert "refused: no consent" in english
    assert "Renewal" not in chinese
    assert "续费" not in english

    def numbers(text: str) -> list[str]:
        return [match.group() for match in NUMBER.finditer(text)]

    assert numbers(english) == numbers(chinese)
    assert len(numbers(chinese)) > 40


def test_an_empty_section_says_so(result: DemoResult) -> None:
    figures = attrs.evolve(result.figures, paid_by_plan={})
    empty = attrs.evolve(result, figures=figures, rejected=Counter())
    found = tables(dashboard(empty, reference_config()))
    assert found["付费会员（有效权益卡）"] == ["无"]
    assert "拒收的输入（死信，按原因）" not in found


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        (6, 32, "18.8%"),  # 18.75 %
        (2_796, 10_000, "28.0%"),  # 27.96 %
        (1, 16, "6.3%"),  # 6.25 %
        (1, 3, "33.3%"),
        (2, 3, "66.7%"),
        (1, 2_001, "0.0%"),  # 0.0499... %
        (1, 2_000, "0.1%"),  # 0.05 %
        (7, 7, "100.0%"),
        (0, 0, "0.0%"),
    ],
)
def test_shares_are_rounded_half_up_to_a_tenth_of_a_percent(
    result: DemoResult, part: int, whole: int, shown: str
) -> None:
    figures = attrs.evolve(
        result.figures,
        terms_ended=whole,
        renewed=part,
        first_visits=whole,
        became_members=whole,
        became_family=part,
    )
    text = dashboard(attrs.evolve(result, figures=figures), reference_config())
    ladder = [row.split() for row in tables(text)["续费与忠诚阶梯"]]
    everyone = "100.0%" if whole else "0.0%"
    assert [row[-1] for row in ladder if row[-1].endswith("%")] == [shown, everyone, shown]


#: A patient id of the demo hospital.
PATIENT_ID = re.compile(r"P\d{6}")


def test_refused_inputs_are_counted_by_kind_and_name_no_patient(result: DemoResult) -> None:
    start = small().start
    referrals = [("P000001", "P000002"), ("P000009", "P000010")]
    referrals += [("P000017", "P000018"), ("P000025", "P000026")]  # referrers not known
    inputs: list[object] = [
        PatientRegistered(fact_id=f"reg-{referrer}", patient_id=referrer, occurred_at=start)
        for referrer, _ in referrals[:2]
    ]
    inputs += [
        ReferralQualified(
            fact_id=f"ref-{referred}",
            patient_id=referrer,
            occurred_at=start,
            referred_patient_id=referred,
            visit_id=f"V-{referred}",
        )
        for referrer, referred in referrals
    ]
    with Engine.open("memory://", config=reference_config(), clock=ManualClock(start)) as engine:
        engine.ingest(inputs, now=start)
        letters = list(engine.dead_letters())
    assert len(letters) == 4
    assert all(PATIENT_ID.search(letter.reason) for letter in letters)
    kinds = Counter(refusal_kind(letter) for letter in letters)
    assert kinds == {
        "referral_qualified: referral of … refused: the referred patient is not known": 2,
        "referral_qualified: member … is not known": 2,
    }
    text = dashboard(attrs.evolve(result, rejected=kinds), reference_config())
    assert not PATIENT_ID.search(text)
    rows = tables(text)["拒收的输入（死信，按原因）"]
    assert [row.split()[-1] for row in rows] == ["2", "2"]
    assert [" ".join(row.split()[:-1]) for row in rows] == list(kinds)


# --- the progress bar -------------------------------------------------------------------------


def _feed(bar: ProgressBar, calls: int) -> None:
    spec = small()
    for count in range(1, calls + 1):
        bar(count, spec.start + timedelta(days=count * 200 / calls))


def test_the_progress_bar_writes_nothing_where_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    bar = ProgressBar(small())  # on standard error, captured: not a terminal
    _feed(bar, 1_000)
    bar.close()
    assert capsys.readouterr() == ("", "")
    stream = io.StringIO()
    with ProgressBar(small(), console=Console(file=stream, force_terminal=False)) as bar:
        _feed(bar, 1_000)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("language", "words"), [("zh-CN", "条事实与命令"), ("en", "facts and commands")]
)
def test_the_progress_bar_draws_on_a_terminal_at_most_ten_times_a_second(
    language: Language, words: str
) -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    began = time.perf_counter()
    with ProgressBar(small(), language=language, console=console) as bar:
        _feed(bar, 1_000)
        took = time.perf_counter() - began
    drawn = stream.getvalue()
    assert "━" in drawn  # the bar
    assert "\x1b[" in drawn  # drawn over itself, as on a terminal
    assert drawn.count(words) <= int(took * 10) + 3  # the first, one per 0.1 s, the last
    last = drawn.rsplit("\r", 1)[-1]
    assert "1,000 " in last  # the last state, drawn on closing
    assert "100%" in last
    bar.close()  # closed once
    assert stream.getvalue() == drawn
