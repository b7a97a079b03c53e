"""The ``membercore`` command line: its root, the commands plugins add, and its exit.

Every command, the first-party ones too, is added through the
``membercore_register_commands`` hook (:mod:`~membercore_adapters.cli.commands`), so a
plugin adds its own beside them (``membercore hl7 replay ...``). :func:`main` runs the
command line and turns what went wrong into a message and an exit status, never a
traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import version

import click

from membercore import MembercoreError
from membercore.plugins import commands, make_plugin_manager
from membercore_adapters.cli.arguments import Exit
from membercore_adapters.cli.chrome import speak_click, usage_error
from membercore_adapters.cli.failures import Stop, stopped
from membercore_adapters.cli.speech import Words, asked_language, say, speaking
from membercore_adapters.stores.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA
from membercore_adapters.stores.sqlite.schema import SCHEMA_VERSION as SQLITE_SCHEMA

__all__ = ["command_line", "main"]


def main(argv: Sequence[str] | None = None, *, plugins: Iterable[object] = ()) -> int:
    """Run the ``membercore`` command line; return its exit status.

    A reader that stops reading (``membercore outbox | head``) ends the command quietly
    with status 1, as other command-line tools do.

    Args:
        argv: the command line, without the program's name (``sys.argv[1:]`` if None).
        plugins: plugins to register beside the installed ones (a test's, an embedding
            application's), as :func:`~membercore.plugins.make_plugin_manager` takes them.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        spoken, arguments = asked_language(arguments)
    except click.BadParameter as error:
        error.show()
        return Exit.USAGE
    with speaking(spoken):
        try:
            return _run(arguments, plugins)
        except BrokenPipeError:
            _quiet_stdout()
            return Exit.REFUSED


def _run(arguments: list[str], plugins: Iterable[object]) -> int:
    try:
        root = command_line(plugins=plugins)
        result = root.main(args=arguments, prog_name="membercore", standalone_mode=False)
    except (click.ClickException, click.Abort, MembercoreError, SystemExit) as error:
        return _ended(error)
    except KeyboardInterrupt:  # Ctrl-C while the commands load, before click takes it
        return _ended(click.Abort())
    return int(result) if isinstance(result, int) else Exit.DONE


def _ended(error: BaseException) -> int:
    """Say how the command ended early; its exit status.

    A :class:`~membercore.errors.MembercoreError` a command raised (a plugin's, or a
    command's usage) is said as any stop; ``SystemExit`` is click's end of a closed pipe.
    """
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else Exit.REFUSED
    if isinstance(error, click.Abort):
        error = Stop(say(_ABORTED), Exit.REFUSED)
    elif isinstance(error, MembercoreError):
        error = stopped(error)
    if isinstance(error, click.UsageError):
        usage_error(error)
        return Exit.USAGE
    assert isinstance(error, click.ClickException)
    error.show()
    return error.status if isinstance(error, Stop) else error.exit_code


_ABORTED = Words("已中止", "aborted")


def _quiet_stdout() -> None:
    """Send what is left of the output nowhere: the reader has gone (Python's own advice)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a file: nothing is flushed to it
        pass


def command_line(*, plugins: Iterable[object] = ()) -> click.Group:
    """The root of the command line with every installed plugin's commands and ``plugins``'.

    Raises:
        PluginError: a plugin cannot be loaded or registered, naming it.
    """
    root = _root()
    for name, command in commands(make_plugin_manager(plugins=plugins)).items():
        root.add_command(command.value, name)
    speak_click(root)
    return root


def _root() -> click.Group:
    @click.group(
        "membercore",
        help=say(
            Words(
                "民营医院会员制：积分、等级、权益、付费会员、家庭、转介绍、患者旅程与触达。"
                "退出码：0 完成，1 输入被拒（或部分被拒），2 用法错误，3 存储或配置错误。",
                "The membership programme of a private hospital: points, tiers, benefits, "
                "paid plans, families, referrals, patient journeys and outreach. Exit "
                "status: 0 done, 1 input refused (or some of it), 2 usage, 3 store or "
                "configuration.",
            )
        ),
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.version_option(
        version("membercore"),
        prog_name="membercore",
        message=f"%(prog)s %(version)s (store schema: SQLite {SQLITE_SCHEMA}, "
        f"PostgreSQL {POSTGRES_SCHEMA})",
        help=say(Words("显示版本及存储架构版本", "show the version and the store schema versions")),
    )
    @click.option(
        "--lang",
        type=click.Choice(["zh-CN", "en"]),
        expose_value=False,
        help=say(
            Words(
                "输出语言（默认 zh-CN，或 MEMBERCORE_LANG）；可写在命令行任何位置",
                "the language spoken (zh-CN unless MEMBERCORE_LANG says otherwise); may "
                "stand anywhere on the command line",
            )
        ),
    )
    def root() -> None:
        """The root: its commands do the work."""

    return root
