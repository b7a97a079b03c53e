"""What went wrong, said in words with the exit status of its kind (never a traceback)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import IO

import click

from membercore import ConfigError, MembercoreError
from membercore.errors import JourneyError, OutdatedSchemaError, PluginError, StorageError
from membercore_adapters.cli.arguments import Exit, UsageError
from membercore_adapters.cli.speech import Words, say

__all__ = ["Stop", "stopped", "unreadable"]


class Stop(click.ClickException):
    """The command stops: a message for standard error and the exit status to end with."""

    def __init__(self, message: str, status: Exit) -> None:
        super().__init__(message)
        self.status = status

    def show(self, file: IO[str] | None = None) -> None:
        """Write the message as it is, with no "Error:" before it."""
        click.echo(self.format_message(), err=True, file=file)


_MIGRATE = Words(
    "请先备份存储并停止旧版本的 worker，然后运行：membercore migrate --store {store}",
    "Back the store up and stop the workers of the earlier release, then run: "
    "membercore migrate --store {store}",
)


def stopped(
    error: MembercoreError, *, store: str | None = None, programme: Path | None = None
) -> Stop:
    """How the command stops on ``error``.

    Args:
        error: what was wrong.
        store: the store's URL, when the store was being opened or used.
        programme: the programme file, when it was reading it that failed.
    """
    if isinstance(error, OutdatedSchemaError):
        return Stop(f"membercore: {error}. {say(_MIGRATE, store=store)}", Exit.STORE)
    if isinstance(error, ConfigError):
        # The programme's is the set-up (3); a source's mapping or settings refuse the
        # input read through them (1), as the refusal of a line does.
        if programme is not None:
            return misconfigured(error, programme)
        return Stop(f"membercore: {error}", Exit.REFUSED)
    if isinstance(error, UsageError):
        return Stop(f"membercore: {error}", Exit.USAGE)
    if isinstance(error, (StorageError, PluginError, JourneyError)):  # the store, the set-up
        return Stop(f"membercore: {error}", Exit.STORE)
    return Stop(f"membercore: {error}", Exit.REFUSED)  # what was asked of the records


def misconfigured(error: MembercoreError, programme: Path | None) -> Stop:
    """A setting of the programme's that cannot be used (a channel's): the set-up (3).

    Args:
        error: what was wrong.
        programme: the programme's file, named before the error (None: the reference).
    """
    said = f"{programme}: {error}" if programme is not None else f"membercore: {error}"
    return Stop(said, Exit.STORE)


_CANNOT_READ = Words("membercore: 无法读取 {name}：{why}", "membercore: cannot read {name}: {why}")


def unreadable(error: OSError, *, programme: Path | None = None) -> Stop:
    """A file that cannot be read: the programme's is the set-up (3), the others usage (2).

    A file with no name is a port to listen on, or the like: the set-up (3).
    """
    if error.filename is None:
        return Stop(f"membercore: {error.strerror or error}", Exit.STORE)
    said = say(_CANNOT_READ, name=error.filename, why=error.strerror)
    if programme is not None and str(error.filename) == str(programme):
        return Stop(said, Exit.STORE)
    return Stop(said, Exit.USAGE)


def not_installed(*modules: str) -> list[str]:
    """Those of ``modules`` that cannot be imported here (an extra not installed)."""
    return [name for name in modules if importlib.util.find_spec(name) is None]
