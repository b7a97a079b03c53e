"""``membercore serve --webhook NAME --mapping FILE``: the plugins' webhooks it serves.

Each ``--webhook`` names a webhook an installed plugin registers (``aliyun-smsup`` with
membercore-sms, ``fhir`` with membercore-fhir), served at ``/webhooks/NAME``; each is
given the options the worker gives its listeners (``mapping``). They are built once
before the server starts, as the worker builds what it polls, so that a wrong name or
settings file stops ``membercore serve`` with its exit status instead of the server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from membercore.service.engine import Engine
from membercore_adapters.cli.arguments import UsageError, reading_options
from membercore_adapters.cli.speech import Words, say

__all__ = ["served_webhooks", "webhook_options"]

F = TypeVar("F", bound=Callable[..., Any])

_NO_WEBHOOK = Words(
    "没有名为 {name!r} 的 webhook（已安装：{known}）",
    "no webhook is named {name!r} (installed: {known})",
)


def webhook_options(command: F) -> F:
    """``--webhook NAME`` (repeatable) and ``--mapping FILE``."""
    command = click.option(
        "--mapping",
        type=click.Path(path_type=Path, dir_okay=False),
        help=say(
            Words(
                "webhook 对医院编码的映射或设置文件（fhir：FHIR 设置文件）",
                "the webhooks' mapping or settings file (fhir: the FHIR settings file)",
            )
        ),
    )(command)
    return click.option(
        "--webhook",
        "webhooks",
        multiple=True,
        metavar="NAME",
        help=say(
            Words(
                "在 /webhooks/NAME 提供的已安装 webhook（安装 membercore-sms 后可用 "
                "aliyun-smsup，membercore-fhir 后可用 fhir）；可重复",
                "an installed webhook to serve at /webhooks/NAME (aliyun-smsup with "
                "membercore-sms, fhir with membercore-fhir); may be repeated",
            )
        ),
    )(command)


def served_webhooks(
    engine: Engine, names: tuple[str, ...], mapping: Path | None
) -> dict[str, dict[str, str]]:
    """The webhooks to serve, each with its options; each built once to check it.

    Raises:
        UsageError: no installed plugin registers a webhook of a name.
        ConfigError: a webhook refuses its options (naming the key).
        OSError: a file the options name cannot be read.
    """
    from membercore_adapters.http.webhooks import build_webhook  # noqa: PLC0415 - the http extra

    wanted: dict[str, dict[str, str]] = {}
    for name in dict.fromkeys(names):
        if name not in engine.plugins.webhooks:
            known = ", ".join(sorted(engine.plugins.webhooks)) or "-"
            raise UsageError(say(_NO_WEBHOOK, name=name, known=known))
        options = reading_options(mapping, None)
        build_webhook(engine, name, options)
        wanted[name] = options
    return wanted
