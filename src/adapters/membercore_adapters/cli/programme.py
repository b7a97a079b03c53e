"""``membercore config init`` and ``membercore config check``: the programme's file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from membercore import MembercoreError, reference_toml
from membercore.config import ProgrammeConfig
from membercore.errors import PluginError
from membercore.journeys import check_tags, validate
from membercore.plugins import Plugins, collect, make_plugin_manager
from membercore.ports import carriage
from membercore.serialization import load_config_file, message_types
from membercore.service.channels import build_channels
from membercore_adapters.cli.arguments import Exit
from membercore_adapters.cli.failures import Stop, unreadable
from membercore_adapters.cli.speech import Words, echo, say, warn
from membercore_adapters.cli.summary import summary
from membercore_adapters.demo.programme import demo_toml

__all__ = ["commands"]

#: The programmes ``config init`` writes, by name.
TEMPLATES: dict[str, Callable[[], str]] = {"reference": reference_toml, "demo": demo_toml}
_TEMPLATE_NAMES = {
    "reference": Words("参考方案", "the reference programme"),
    "demo": Words(
        "演示医院的方案：参考方案加定价测试",
        "the demo hospital's: the reference and its price test",
    ),
}


def commands() -> list[click.Command]:
    """``config``, with ``init`` and ``check``."""
    config = click.Group("config", help=say(Words("方案配置", "the programme's configuration")))
    config.add_command(_init())
    config.add_command(_check())
    return [config]


_EXISTS = Words(
    "{path} 已存在，未改动；要覆盖请加 --force",
    "{path} exists and was left as it is; --force writes over it",
)
_WRITTEN = Words(
    "已写入 {path}（{template}）；修改后用 `membercore config check {path}` 检查",
    "wrote {path} ({template}); after editing it, `membercore config check {path}` checks it",
)


def _init() -> click.Command:
    @click.command(
        "init",
        help=say(
            Words(
                "写出一份带注释的完整方案（TOML），作为医院方案的起点",
                "write a complete, commented programme (TOML) to start the hospital's from",
            )
        ),
    )
    @click.argument(
        "file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=Path("programme.toml"),
    )
    @click.option(
        "--template",
        type=click.Choice(sorted(TEMPLATES)),
        default="reference",
        show_default=True,
        help=say(Words("从哪个方案开始", "the programme to start from")),
    )
    @click.option(
        "--force",
        is_flag=True,
        help=say(Words("覆盖已存在的文件", "write over a file that exists")),
    )
    def init(file: Path, template: str, force: bool) -> int:
        if file.exists() and not force:
            raise Stop(say(_EXISTS, path=file), Exit.REFUSED)
        try:
            file.write_text(TEMPLATES[template](), encoding="utf-8")
        except OSError as error:
            raise unreadable(error) from error
        echo(_WRITTEN, path=file, template=say(_TEMPLATE_NAMES[template]))
        return Exit.DONE

    return init


_VALID = Words(
    "{path}：有效的方案 {name!r} v{version}（{timezone}）",
    "{path}: valid programme {name!r} v{version} ({timezone})",
)
_PLUGIN_NEEDS = Words(
    "{path}：已安装的插件需要方案中的这一项；"
    "`membercore config check --without-plugins` 只检查方案本身",
    "{path}: an installed plugin needs this of the programme; "
    "`membercore config check --without-plugins` checks the programme alone",
)


def _check() -> click.Command:
    @click.command(
        "check",
        help=say(
            Words(
                "检查方案配置（TOML），连同已安装插件的旅程和渠道，并概述它将做什么",
                "validate a programme (TOML), with the installed plugins' journeys and "
                "channels, and say what it will do",
            )
        ),
    )
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
    @click.option(
        "--without-plugins",
        is_flag=True,
        help=say(
            Words(
                "只检查方案本身，不含已安装插件加入的旅程和渠道",
                "check the programme alone, not the journeys and channels installed "
                "plugins add to it",
            )
        ),
    )
    def check(file: Path, without_plugins: bool) -> int:
        try:
            config = load_config_file(file)
            plugins = collect(make_plugin_manager(load_entrypoints=not without_plugins), config)
            journeys = (*config.journeys, *(found.value for found in plugins.journeys))
            known = message_types()
            for journey in journeys:
                check_tags(validate(journey, plugins.registry), known)
            carried = [] if without_plugins else _carriage(config, plugins)
        except OSError as error:
            raise unreadable(error, programme=file) from error
        except MembercoreError as error:  # a key, or a journey naming what no plugin has
            warn(f"{file}: {error}")
            if isinstance(error, PluginError) and isinstance(error.__cause__, MembercoreError):
                warn(_PLUGIN_NEEDS, path=file)
            return Exit.REFUSED
        echo(_VALID, path=file, name=config.name, version=config.version, timezone=config.timezone)
        for line in (*summary(config, plugins.journeys), *carried):
            echo(line)
        return Exit.DONE

    return check


_CHANNEL = Words("渠道 {name}（{use}）：", "channel {name} ({use}):")
_NOTHING_GOES = Words("  （方案中没有模板经由它发送）", "  (no programme template goes by it)")


def _carriage(config: ProgrammeConfig, plugins: Plugins) -> list[str]:
    """How each configured channel carries the templates that may go by it, to print.

    Building the channels checks their options, their environment variables and that
    they carry every such template (a ConfigError naming the key otherwise).
    """
    lines: list[str] = []
    for name, channel in build_channels(config, plugins).items():
        lines.append(say(_CHANNEL, name=name, use=config.channels[name].use))
        going = [t for t in config.outreach.templates if name in t.channels]
        lines += [f"  {key}: {how}" for key, how in carriage(channel, going).items()]
        if not going:
            lines.append(say(_NOTHING_GOES))
        closing = getattr(channel, "close", None)
        if callable(closing):
            closing()
    return lines
