"""click's own words — its help's headings and its errors — in the language spoken.

click writes ``Usage:``, ``Options:``, ``Show this message and exit.`` and its errors
(``Missing argument 'FILE'.``) in English. :class:`Context` gives every command a help
formatter that writes the headings in Chinese, and :func:`usage_error` says a usage
mistake with the command's usage line, the hint and the mistake, Chinese where click's
words are known; words it does not know stay as click wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable
from contextlib import contextmanager

import click

from membercore_adapters.cli.speech import Words, language, say

__all__ = ["Context", "speak_click", "usage_error"]

_HEADINGS = {
    "Options": Words("选项", "Options"),
    "Commands": Words("命令", "Commands"),
    "Positional arguments": Words("参数", "Positional arguments"),
}
_USAGE = Words("用法：", "Usage: ")
#: click's words in an option's help, and their Chinese.
_IN_HELP = (
    ("Show this message and exit.", "显示此帮助并退出。"),
    ("[default: ", "[默认："),
    ("[required]", "[必填]"),
)


class _Formatter(click.HelpFormatter):
    """Help with its headings and click's words in the language spoken."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, say(_USAGE) if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        # A Chinese heading ends with a full-width colon, as 用法： does.
        colon = "：" if language() == "zh-CN" else ":"
        self.write(f"{'':>{self.current_indent}}{heading}{colon}\n")

    @contextmanager
    def section(self, name: str) -> Generator[None]:
        heading = _HEADINGS.get(name)
        with super().section(name if heading is None else say(heading)):
            yield

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        if language() == "zh-CN":
            rows = [(term, _chinese(text)) for term, text in rows]
        super().write_dl(rows, col_max, col_spacing)


def _chinese(text: str) -> str:
    for english, chinese in _IN_HELP:
        text = text.replace(english, chinese)
    return text


class Context(click.Context):
    """A command's context, whose help is written by :class:`_Formatter`."""

    formatter_class = _Formatter


def speak_click(command: click.Command) -> None:
    """Give ``command`` and every command under it the :class:`Context` that speaks."""
    command.context_class = Context
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            speak_click(sub)


_TRY = Words("用 '{command} --help' 查看帮助。", "Try '{command} --help' for help.")
_ERROR = Words("错误：{message}", "Error: {message}")
#: click's usage errors, as patterns over its English, and their Chinese.
_ERRORS = (
    (re.compile(r"Invalid value for (.+?): (.*)", re.S), "{0} 的值无效：{1}"),
    (re.compile(r"Missing argument (.+)\.$"), "缺少参数 {0}。"),
    (re.compile(r"Missing option (.+)\.$"), "缺少选项 {0}。"),
    (re.compile(r"Missing command\.$"), "缺少命令。"),
    (
        re.compile(r"No such option:? '?([^'\s]+?)'?\.? Did you mean (.+)\?$"),
        "没有选项 {0}，是否想用 {1}？",
    ),
    (re.compile(r"No such option:? '?([^'\s]+?)'?\.?$"), "没有选项 {0}。"),
    (
        re.compile(r"No such command '(.+)'\. Did you mean (.+)\?$"),
        "没有命令 '{0}'，是否想用 {1}？",
    ),
    (re.compile(r"No such command '(.+)'\.$"), "没有命令 '{0}'。"),
    (re.compile(r"Got unexpected extra arguments? \((.+)\)$"), "多余的参数：{0}"),
    (re.compile(r"Option '(.+)' requires an argument\.$"), "选项 '{0}' 需要一个值。"),
    (re.compile(r"'(.+)' is not a valid integer(?: range)?\.$"), "'{0}' 不是有效的整数。"),
    (re.compile(r"'(.+)' is not a valid float(?: range)?\.$"), "'{0}' 不是有效的数。"),
    (re.compile(r"(.+) is not in the range (.+)\.$"), "{0} 不在范围 {1} 内。"),
    (re.compile(r"'(.+)' is not one of (.+)\.$"), "'{0}' 不是 {1} 之一。"),
)


def usage_error(error: click.UsageError) -> None:
    """Say a usage mistake on standard error: the usage line, the hint, the mistake.

    A group named without its command (``membercore member``) shows its help instead.
    """
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        click.echo(error.format_message(), err=True)
        return
    said: list[str] = []
    if error.ctx is not None:
        said += [error.ctx.get_usage(), say(_TRY, command=error.ctx.command_path), ""]
    message = error.format_message()
    if language() == "zh-CN":
        message = _translated(message)
    said.append(say(_ERROR, message=message))
    click.echo("\n".join(said), err=True)


def _translated(message: str) -> str:
    """Click's English error as Chinese where the pattern is known, else as it is."""
    for pattern, chinese in _ERRORS:
        found = pattern.match(message)
        if found is not None:
            inner = [_translated(group) if group else "" for group in found.groups()]
            return chinese.format(*inner)
    return message
