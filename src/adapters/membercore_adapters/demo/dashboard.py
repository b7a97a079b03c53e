"""What a demo run shows: a progress bar while it runs, and the dashboard of its figures.

Both speak Chinese unless asked for English (``language="en"``), and both are drawn with
rich, which measures text by display width: a Chinese character takes two terminal
columns, so a plan named 家庭健康管家 does not push its number out of the column.

The dashboard is plain text (no escape codes), a table a section, numbers right-aligned
in their column and no line wider than ``width`` columns. The progress bar is drawn on
standard error only when it is a terminal; into a file or a pipe it writes nothing.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import TracebackType

from rich import box
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

from membercore import reference_config
from membercore.config import ProgrammeConfig
from membercore.dates import add_months
from membercore_adapters.demo.hospital import HospitalSpec
from membercore_adapters.demo.runner import DemoResult
from membercore_adapters.figures import (
    COUNT,
    ITEM,
    Section,
    experiment_sections,
    figure_sections,
    number,
    section,
)
from membercore_adapters.labels import CHANNELS, PURPOSES, REFUSAL_REASONS, TASK_KINDS, named
from membercore_adapters.language import Language, Words
from membercore_adapters.plain import plain

__all__ = ["ProgressBar", "dashboard"]


# --- the progress bar -------------------------------------------------------------------------

_PROGRESS = Words(
    "{day} · {count:,} 条事实与命令 · 每秒 {rate:,.0f} 条",
    "{day} · {count:,} facts and commands · {rate:,.0f}/s",
)
#: The finest step the bar counts the simulated period in.
_STEPS = 1_000


class ProgressBar:
    """A progress bar on standard error, by simulated time, drawn only on a terminal.

    Called as ``bar(count, at)`` with the messages taken so far and the simulated instant
    reached (a :data:`~membercore_adapters.demo.runner.Progress`), it redraws at most ten
    times a second; :meth:`close` draws the last state and ends the bar's line. When
    ``console`` (standard error by default) is not a terminal, it writes nothing at all.
    It is also a context manager, closed on leaving.

    Args:
        spec: the hospital, whose period the bar spans.
        language: the language of the bar's words.
        console: where to draw (``Console(stderr=True)`` unless given).
        width: the bar's width in columns.
    """

    def __init__(
        self,
        spec: HospitalSpec,
        *,
        language: Language = "zh-CN",
        console: Console | None = None,
        width: int = 30,
    ) -> None:
        self.start = spec.start
        self.span = add_months(spec.start, spec.months, reference_config().tz) - spec.start
        self.language: Language = language
        self.console = Console(stderr=True) if console is None else console
        self.width = width
        self.began = time.perf_counter()
        self.shown = 0.0
        self.latest: tuple[int, datetime, float] | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._closed = not self.console.is_terminal  # nothing is ever drawn on a non-terminal

    def __call__(self, count: int, at: datetime) -> None:
        """Redraw the bar (at most ten times a second)."""
        if self._closed:
            return
        now = time.perf_counter()
        self.latest = (count, at, now)
        if now - self.shown < 0.1:
            return
        self.shown = now
        self._draw(count, at, now)

    def _draw(self, count: int, at: datetime, now: float, *, refresh: bool = True) -> None:
        done = min(max((at - self.start) / self.span, 0.0), 1.0)
        rate = count / max(now - self.began, 1e-9)
        words = _PROGRESS.say(self.language, day=at.date(), count=count, rate=rate)
        if self._progress is None:
            self._progress = Progress(
                BarColumn(bar_width=self.width),
                TaskProgressColumn(),
                TextColumn("{task.description}", markup=False),
                console=self.console,
                auto_refresh=False,  # drawn when called, throttled: no thread
            )
            self._task = self._progress.add_task(
                words, total=_STEPS, completed=round(done * _STEPS)
            )
            self._progress.start()  # draws it
            return
        assert self._task is not None
        self._progress.update(
            self._task, completed=round(done * _STEPS), description=words, refresh=refresh
        )

    def close(self) -> None:
        """Draw the last state and end the bar's line (once; nothing if never drawn)."""
        if self._closed:
            return
        self._closed = True
        if self.latest is not None:
            self._draw(*self.latest, refresh=False)
        if self._progress is not None:
            self._progress.stop()  # draws the last state

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# --- the words --------------------------------------------------------------------------------

_HEADLINE = Words(
    "仁和医院演示 · {patients:,} 位患者 · {months} 个月 · 随机种子 {seed}",
    "仁和医院 demo hospital · {patients:,} patients · {months} months · seed {seed}",
)
_NONE = Words("无", "none")

_RUN = Words("运行", "The run")
_RUN_ROWS = (
    Words("事实与命令", "facts and commands"),
    Words("已应用", "applied"),
    Words("重复", "duplicates"),
    Words("拒收", "rejected"),
    Words("用时（秒）", "seconds"),
    Words("每秒条数", "per second"),
)

_MESSAGES = Words("消息（按渠道与用途）", "Messages by channel and purpose")
_CHANNEL = Words("渠道", "Channel")
_PURPOSE = Words("用途", "Purpose")
_MESSAGES_COLUMN = Words("条数", "Messages")

_HELD = Words("延后、取消与拒发", "Deferred, cancelled and refused")
_WHY = Words("原因", "Reason")
_DEFERRED = Words("因免打扰时段延后", "deferred by quiet hours")
_CANCELLED = Words("已取消（撤回同意等）", "cancelled (consent withdrawn...)")
_REFUSED = Words("拒发：{reason}", "refused: {reason}")

_TASKS = Words("员工任务（按类型）", "Staff tasks by kind")
_KIND = Words("类型", "Kind")
_TASKS_COLUMN = Words("任务数", "Tasks")

_REJECTED = Words("拒收的输入（死信，按原因）", "Rejected inputs (dead letters) by reason")
_INPUTS = Words("条数", "Inputs")

# --- the dashboard ----------------------------------------------------------------------------


def dashboard(
    result: DemoResult,
    config: ProgrammeConfig,
    *,
    language: Language = "zh-CN",
    width: int = 100,
) -> str:
    """The figures of a demo run as text: a headline, then a table a section.

    Args:
        result: the run.
        config: the programme it ran (its tier and plan labels name the rows).
        language: ``zh-CN`` (the default) or ``en``; the programme's labels are its own.
        width: the widest a line may be, in display columns.

    Returns:
        Plain text without escape codes or trailing spaces, numbers right-aligned in their
        columns by display width.
    """
    spec = result.spec
    headline = _HEADLINE.say(language, patients=spec.patients, months=spec.months, seed=spec.seed)
    shown: list[RenderableType] = [Text(headline, overflow="fold")]
    for held in _sections(result, config, language):
        shown += ["", Text(held.title, overflow="fold"), _table(held, language)]
    return plain(shown, width)


def _sections(result: DemoResult, config: ProgrammeConfig, language: Language) -> list[Section]:
    return [
        _run(result, language),
        *figure_sections(result.figures, config, language),
        *experiment_sections(result.experiments, language),
        _messages(result, language),
        _held(result, language),
        _tasks(result, language),
        *([_rejected(result, language)] if result.rejected else []),
    ]


def _table(held: Section, language: Language) -> Table:
    """A section's table: text columns left-aligned, number columns right."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in held.texts:
        table.add_column(header, justify="left", overflow="fold")
    for header in held.numbers:
        table.add_column(header, justify="right", no_wrap=True)
    for row in held.rows:
        table.add_row(*row)
    if not held.rows:
        table.add_row(_NONE.say(language), *[""] * (len(held.texts) + len(held.numbers) - 1))
    return table


def _run(result: DemoResult, language: Language) -> Section:
    report = result.report
    seconds = result.seconds
    values = (
        number(result.messages),
        number(report.applied),
        number(report.duplicates),
        number(report.rejected),
        f"{seconds:,.1f}",
        f"{result.messages / max(seconds, 1e-9):,.0f}",
    )
    rows = [(label.say(language), value) for label, value in zip(_RUN_ROWS, values, strict=True)]
    return section(_RUN, language, [ITEM], [COUNT], rows)


def _messages(result: DemoResult, language: Language) -> Section:
    rows = [
        (
            named(CHANNELS, channel, language),
            named(PURPOSES, purpose, language),
            number(count),
        )
        for (channel, purpose), count in sorted(result.tally.messages.items())
    ]
    return section(_MESSAGES, language, [_CHANNEL, _PURPOSE], [_MESSAGES_COLUMN], rows)


def _held(result: DemoResult, language: Language) -> Section:
    tally = result.tally
    rows = [
        (_DEFERRED.say(language), number(tally.deferred)),
        (_CANCELLED.say(language), number(tally.cancelled)),
    ]
    rows += [
        (_REFUSED.say(language, reason=named(REFUSAL_REASONS, reason, language)), number(count))
        for reason, count in tally.refused.most_common()
    ]
    return section(_HELD, language, [_WHY], [_MESSAGES_COLUMN], rows)


def _tasks(result: DemoResult, language: Language) -> Section:
    rows = [
        (named(TASK_KINDS, kind, language), number(count))
        for kind, count in result.tally.tasks.most_common()
    ]
    return section(_TASKS, language, [_KIND], [_TASKS_COLUMN], rows)


def _rejected(result: DemoResult, language: Language) -> Section:
    rows = [(reason, number(count)) for reason, count in result.rejected.most_common(8)]
    return section(_REJECTED, language, [_WHY], [_INPUTS], rows)
