"""``membercore whatif``: the store's history under another programme, read-only."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click

from membercore import MembercoreError
from membercore.analytics.whatif import WhatIf
from membercore.service.whatif import MOST_INPUTS
from membercore_adapters.cli.arguments import Exit
from membercore_adapters.cli.failures import Stop, stopped
from membercore_adapters.cli.opening import _no_file, programme
from membercore_adapters.cli.speech import Words, echo, say, warn
from membercore_adapters.cli.tables import show_table
from membercore_adapters.whatif import whatif

__all__ = ["commands"]


def processors() -> int:
    """The processors this process may run on (a replay keeps each of them busy)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def _interruptions_abort() -> Iterator[None]:
    """SIGTERM (``timeout``, cron, systemd) and Ctrl-C end the command, saying "aborted".

    Each is raised as Ctrl-C's ``KeyboardInterrupt``, which no ``except Exception`` on the
    way takes for a failure of the data (cattrs gathers whatever an input's field raised),
    and which unwinds: the replaying processes are ended and the temporary files that hold the
    partitions' inputs (patients' facts) are removed, which SIGTERM's default end would
    leave behind. Python drops what a signal handler raises while it runs a clean-up of
    its own (a weak reference's callback): the signal is noted too, and a what-if that
    ran on after it is aborted at its end.
    """
    came: list[int] = []

    def interrupt(number: int, _frame: object) -> None:
        came.append(number)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread takes signals: the caller's handling stands
        return
    before = {sign: signal.signal(sign, interrupt) for sign in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sign, handler in before.items():
            signal.signal(sign, handler)
    if came:
        raise click.Abort


def commands() -> list[click.Command]:
    """``whatif``."""
    return [_whatif()]


_SECTIONS: dict[str, Words] = {
    "points": Words("积分", "points"),
    "by_tier": Words("会员等级", "members by tier"),
    "paid_by_plan": Words("付费会员（有效权益卡）", "paid members (plans in force)"),
    "plans_fen": Words("权益卡收入与退款（分）", "plan revenue and refunds (fen)"),
    "messages": Words("消息（渠道/用途）", "messages (channel/purpose)"),
    "tasks": Words("员工任务", "staff tasks"),
    "offers": Words("优惠", "offers"),
}
_NAMES: dict[str, Words] = {
    "earned": Words("已发放", "issued"),
    "redeemed": Words("已兑换", "redeemed"),
    "expired": Words("已过期", "expired"),
    "balance": Words("未兑余额（负债）", "outstanding (liability)"),
    "revenue": Words("收入", "revenue"),
    "refunds": Words("退款", "refunds"),
}


def _whatif() -> click.Command:
    @click.command(
        "whatif",
        help=say(
            Words(
                "在另一版方案下重放存储的历史（只读），报告差异",
                "replay the store's history under another programme (read-only) and "
                "report the differences",
            )
        ),
    )
    @click.option(
        "--store",
        required=True,
        metavar="URL",
        help=say(Words("存储 URL（只读打开）", "store URL (opened read-only)")),
    )
    @click.option(
        "--config",
        "config",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(Words("要试算的方案（TOML）", "the programme to try (TOML)")),
    )
    @click.option(
        "--baseline",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "存储所用的方案（TOML；默认为参考方案）",
                "the programme the store ran under (TOML; the reference one by default)",
            )
        ),
    )
    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=processors,
        show_default=say(Words("本机可用的处理器数", "the processors this machine lends it")),
        help=say(Words("并行的进程数", "processes replaying side by side")),
    )
    @click.option(
        "--partition-inputs",
        type=click.IntRange(min=1),
        default=MOST_INPUTS,
        show_default=True,
        help=say(
            Words(
                "每组重放至多的输入数（连通的记录不拆开）：每个进程的内存随之增长",
                "inputs a partition holds at most (connected records are never split): "
                "what each process holds grows with it",
            )
        ),
    )
    @click.option(
        "--sample",
        type=click.IntRange(min=0),
        default=5,
        show_default=True,
        help=say(Words("逐一比较的会员数", "members compared one by one")),
    )
    @click.option(
        "--json",
        "json_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(Words("把结果写入此 JSON 文件", "write the result to this JSON file")),
    )
    def command(
        store: str,
        config: Path,
        baseline: Path | None,
        workers: int,
        partition_inputs: int,
        sample: int,
        json_file: Path | None,
    ) -> int:
        proposed = programme(config)
        base = programme(baseline)
        if workers > processors():
            warn(_CROWDED, workers=workers, processors=processors())
        try:
            _no_file(store)
            with _interruptions_abort():
                result = whatif(
                    store,
                    proposed,
                    baseline=base,
                    workers=workers,
                    sample=sample,
                    most_inputs=partition_inputs,
                )
        except MembercoreError as error:
            raise stopped(error, store=store) from error
        if not result.inputs:
            warn(_NOTHING, unlogged=result.unlogged)
        else:
            _report(result)  # said first: a file that cannot be written loses nothing
        if json_file is not None:
            _write(json_file, result)
        return Exit.DONE if result.inputs else Exit.STORE

    return command


def _write(path: Path, result: WhatIf) -> None:
    """Write the result as JSON to ``path``, making its folder if need be.

    Raises:
        Stop: the file cannot be written (exit 2).
    """
    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise Stop(say(_CANNOT_WRITE, name=path, why=error.strerror or error), Exit.USAGE) from None


_CANNOT_WRITE = Words(
    "membercore: 无法写入 {name}：{why}", "membercore: cannot write {name}: {why}"
)


_NOTHING = Words(
    "membercore: 存储的输入日志为空，无可重放（日志开始前已有 {unlogged} 条记录，其历史无法重放）",
    "membercore: the store's input log is empty: nothing to replay ({unlogged} records "
    "predate the log, and their history cannot be replayed)",
)
_HEAD = Words(
    "试算：{proposed} 对比 {baseline} · 重放 {inputs:,} 条输入 · {partitions} 组 · "
    "{workers} 个进程 · {seconds:.1f} 秒",
    "what-if: {proposed} against {baseline} · {inputs:,} inputs replayed · "
    "partitions: {partitions} · processes: {workers} · {seconds:.1f} s",
)
_UNLOGGED = Words(
    "注意：输入日志开始前存储已有 {unlogged:,} 条记录，其之前的历史未能重放，结果只反映日志之后",
    "note: {unlogged:,} records were stored before the input log began; their history "
    "before it is not replayed, and the figures cover only what came after",
)
_LATER = Words(
    "注意：存储在读取期间又收到 {later:,} 条输入，其自身数字晚于重放，未与基准重放比较",
    "note: the store took {later:,} more inputs while it was read: its own figures are "
    "later than the replay's and are not compared with the baseline replay",
)
_CROWDED = Words(
    "注意：{workers} 个进程多于本机可用的 {processors} 个处理器：多出的进程只增加内存，不加快速度",
    "note: {workers} processes on {processors} processors: the processes past the "
    "processors add memory, not speed",
)
_REPRODUCED = Words(
    "基准重放与存储一致（积分、等级、付费会员）",
    "the baseline replay reproduces the store (points, tiers, paid members)",
)
_NOT_REPRODUCED = Words(
    "注意：基准重放与存储不一致（积分、等级或付费会员），差异以基准重放为准",
    "note: the baseline replay does not reproduce the store (points, tiers or paid "
    "members); the differences are against the baseline replay",
)
_COLUMNS = (
    (Words("项目", "item"), False),
    (Words("基准", "baseline"), True),
    (Words("试算", "proposed"), True),
    (Words("差异", "difference"), True),
)


def _report(result: WhatIf) -> None:
    echo(
        _HEAD,
        proposed=result.proposed_name,
        baseline=result.baseline_name,
        inputs=result.inputs,
        partitions=result.partitions,
        workers=result.workers,
        seconds=result.seconds,
    )
    if result.unlogged:
        echo(_UNLOGGED, unlogged=result.unlogged)
    if result.later:
        echo(_LATER, later=result.later)
    else:
        echo(_REPRODUCED if result.reproduces else _NOT_REPRODUCED)
    baseline, proposed = result.baseline.totals(), result.proposed.totals()
    for name, heading in _SECTIONS.items():
        echo("")
        echo(heading)
        show_table(_COLUMNS, _rows(baseline[name], proposed[name]))
    for member in result.members:
        echo("")
        echo(
            Words(
                "会员 {member}：积分余额 {before:,} → {after:,}，等级 {tier_before} → {tier_after}",
                "member {member}: points balance {before:,} → {after:,}, tier {tier_before} → "
                "{tier_after}",
            ),
            member=member.member_id,
            before=member.baseline.points.get("balance", 0),
            after=member.proposed.points.get("balance", 0),
            tier_before=member.baseline.tier,
            tier_after=member.proposed.tier,
        )
        for line in member.why:
            echo(f"  {line}")


def _rows(before: Mapping[str, int], after: Mapping[str, int]) -> list[tuple[str, str, str, str]]:
    keys = sorted(set(before) | set(after))
    return [
        (
            say(_NAMES[key]) if key in _NAMES else key,
            f"{before.get(key, 0):,}",
            f"{after.get(key, 0):,}",
            f"{after.get(key, 0) - before.get(key, 0):+,}",
        )
        for key in keys
    ]
