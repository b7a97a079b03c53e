"""What the ``membercore`` command line shares: exit statuses, instants, store options."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from membercore.errors import ConfigError, MembercoreError
from membercore_adapters.cli.speech import Words, say
from membercore_adapters.his.exports import encoding_named

__all__ = [
    "DEFAULT_STORE",
    "DEMO_STORE",
    "ENCODING",
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
    "{text!r} 不是 ISO 8601 时刻（{why}）；应如 2025-06-01T10:00:00+08:00",
    "{text!r} is not an ISO 8601 instant ({why}); write it as 2025-06-01T10:00:00+08:00",
)
_NOT_ITS_FORM = Words("格式不符", "not in its form")
_NO_OFFSET = Words(
    "{text!r} 缺少 UTC 偏移：写上时区，如 2025-06-01T10:00:00+08:00",
    "{text!r} has no UTC offset: give its zone, as in 2025-06-01T10:00:00+08:00",
)


class _Instant(click.ParamType[datetime]):
    """An ISO 8601 instant with its UTC offset, for ``--now`` and ``--cutoff``."""

    name = "instant"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as error:
            # Python's reason names a field out of range (a month 13); its "Invalid
            # isoformat string" says no more than the message does.
            why = say(_NOT_ITS_FORM) if str(error).startswith("Invalid isoformat") else error
            self.fail(say(_NOT_AN_INSTANT, text=text, why=why), param, ctx)
        if parsed.utcoffset() is None:
            self.fail(say(_NO_OFFSET, text=text), param, ctx)
        return parsed


#: An ISO 8601 instant with its UTC offset (a usage error, exit 2, otherwise).
INSTANT = _Instant()


_NO_CODEC = Words(
    "没有名为 {text!r} 的字符编码（如 utf-8、gbk、gb18030）",
    "no character encoding is named {text!r} (utf-8, gbk, gb18030...)",
)


class _Encoding(click.ParamType[str]):
    """A character encoding Python reads, for ``--encoding``."""

    name = "encoding"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            encoding_named(text, "--encoding")
        except ConfigError:
            self.fail(say(_NO_CODEC, text=text), param, ctx)
        return text


#: A character encoding's name (a usage error, exit 2, when Python knows none so named).
ENCODING = _Encoding()


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
