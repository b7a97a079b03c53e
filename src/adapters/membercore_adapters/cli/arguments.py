"""What the ``membercore`` command line shares: exit statuses, instants, store options."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from membercore.errors import MembercoreError
from membercore_adapters.cli.speech import Words, say

__all__ = [
    "DEFAULT_STORE",
    "DEMO_STORE",
    "INSTANT",
    "Exit",
    "UsageError",
    "reading_options",
    "store_options",
]

DEFAULT_STORE = "sqlite:///membercore.db"
DEMO_STORE = "sqlite:///membercore-demo.db"

F = TypeVar("F", bound=Callable[..., Any])


class Exit(enum.IntEnum):
    """The exit status of ``membercore`` (the README's "Exit codes")."""

    DONE = 0
    REFUSED = 1  # an input refused, or some of them (and a reader that stopped reading)
    USAGE = 2  # the command line: an option, an input file or a mapping, a plugin it names
    STORE = 3  # the store or the programme: missing, unreachable, invalid, not the demo's


class UsageError(MembercoreError):
    """The command line asks for what cannot be: its options, or a plugin it names."""


_NOT_AN_INSTANT = Words(
    "需要带 UTC 偏移的 ISO 8601 时刻（如 2025-06-01T10:00:00+08:00），而不是 {text!r}",
    "an ISO 8601 instant with its UTC offset (2025-06-01T10:00:00+08:00), not {text!r}",
)


class _Instant(click.ParamType[datetime]):
    """An ISO 8601 instant with its UTC offset, for ``--now`` and ``--cutoff``."""

    name = "instant"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            parsed = None
        if parsed is None or parsed.utcoffset() is None:
            self.fail(say(_NOT_AN_INSTANT, text=str(value)), param, ctx)
        return parsed


#: An ISO 8601 instant with its UTC offset (a usage error, exit 2, otherwise).
INSTANT = _Instant()


def store_options(command: F) -> F:
    """``--store URL`` and ``--config FILE``, the options of every command over a store."""
    command = click.option(
        "--config",
        "config",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "方案配置文件（TOML；默认为参考方案）",
                "programme configuration (TOML; the reference programme by default)",
            )
        ),
    )(command)
    return click.option(
        "--store",
        default=DEFAULT_STORE,
        show_default=True,
        metavar="URL",
        help=say(
            Words(
                "存储 URL（sqlite:///文件 或 postgresql://…）",
                "store URL (sqlite:///FILE or postgresql://…)",
            )
        ),
    )(command)


def reading_options(mapping: Path | None, encoding: str | None, **options: str) -> dict[str, str]:
    """``options`` and what ``--mapping`` and ``--encoding`` give a source or a listener."""
    if mapping is not None:
        options["mapping"] = str(mapping)
    if encoding is not None:
        options["encoding"] = encoding
    return options
