"""The programme's channels, built from its ``[channels]`` tables by the plugins' factories.

Each table names the factory a plugin registered (``use``) and its options; the factory
builds the channel and checks its options, and every template that may go by the channel
must be one it can carry (:class:`~membercore.ports.TemplatedChannel`). What is wrong is
a :class:`~membercore.errors.ConfigError` naming the key, before anything is sent.
"""

from __future__ import annotations

from membercore.config import ProgrammeConfig
from membercore.config.channels import ChannelSettings
from membercore.errors import ConfigError, MembercoreError, PluginError
from membercore.plugins import Plugins
from membercore.ports import Channel, carriage

__all__ = ["build_channels"]


def build_channels(config: ProgrammeConfig, plugins: Plugins) -> dict[str, Channel]:
    """The channels the programme configures, by name (none when it configures none).

    Raises:
        ConfigError: the outreach policy's order goes by a channel no table configures,
            a table names a factory no plugin registered, a factory refused an
            option (named ``channels.<name>.<option>``), or a template that may go by a
            channel is one it cannot carry.
        PluginError: a factory failed otherwise, or built a channel of another name.
    """
    _check_order(config)
    return {
        name: _built(config, plugins, name, settings) for name, settings in config.channels.items()
    }


def _check_order(config: ProgrammeConfig) -> None:
    """A programme that configures channels configures every one its order goes by."""
    if not config.channels:
        return
    missing = [
        c for c in config.outreach.channel_order if c != "phone" and c not in config.channels
    ]
    if missing:
        raise ConfigError(
            "outreach.channel_order",
            f"goes by {missing}, which no [channels] table configures: configure them, "
            "or take them out of the order",
        )


def _built(
    config: ProgrammeConfig, plugins: Plugins, name: str, settings: ChannelSettings
) -> Channel:
    found = plugins.channels.get(settings.use)
    if found is None:
        installed = ", ".join(sorted(plugins.channels)) or "none"
        raise ConfigError(
            f"channels.{name}.use",
            f"no installed plugin provides a channel {settings.use!r} (installed: {installed})",
        )
    try:
        channel = found.value({**settings.options, "name": name})
    except ConfigError as error:
        raise ConfigError(f"channels.{name}.{error.key}".rstrip("."), error.problem) from error
    except MembercoreError:
        raise
    # A factory is a plugin's code: whatever else it raises names the plugin.
    except Exception as error:
        raise PluginError(
            found.plugin, f"channel {name!r}: {type(error).__name__}: {error}"
        ) from error
    if getattr(channel, "name", None) != name:
        problem = (
            f"its factory {settings.use!r} built a channel named {channel.name!r}, not {name!r}"
        )
        raise PluginError(found.plugin, problem)
    try:
        _check_templates(config, name, channel)
    except ConfigError as error:
        if error.key.startswith("channels."):
            raise
        raise ConfigError(f"channels.{name}.{error.key}", error.problem) from error
    return channel


def _check_templates(config: ProgrammeConfig, name: str, channel: Channel) -> None:
    going = [t for t in config.outreach.templates if name in t.channels]
    missing = sorted(key for key, how in carriage(channel, going).items() if how is None)
    if missing:
        raise ConfigError(
            f"channels.{name}",
            f"cannot carry the templates {missing}, which may go by {name}: map them to "
            f"the provider's templates, or take {name} out of their channels",
        )
