"""Which channel plugin carries each of the programme's channels, and with what options.

In the programme's TOML, one table per channel in use::

    [channels.sms]
    use = "aliyun-sms"                      # the factory a plugin registered
    access_key_id_env = "ALIYUN_AK_ID"      # credentials: names of environment variables
    sign_name = "某某医院"

Everything but ``use`` is the plugin's own options, which its factory checks. Secrets
are never written here: an option names the environment variable that holds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from membercore.config.common import non_blank
from membercore.errors import ConfigError

__all__ = ["CONFIGURABLE_CHANNELS", "ChannelSettings", "check_channels"]

#: The programme's channels a plugin may carry (``phone`` is a staff call, not a channel),
#: and ``staff``, which tells staff of the tasks given them.
CONFIGURABLE_CHANNELS = ("wecom", "sms", "email", "staff")


@attrs.frozen(kw_only=True)
class ChannelSettings:
    """One channel in use: the plugin's factory that builds it, and its options.

    Attributes:
        use: the name a plugin registered its factory under (``console``,
            ``aliyun-sms``, ``tencent-sms``, ``wecom``, ``smtp``...).
        options: the rest of the table, handed to the factory as it is.
    """

    use: str = attrs.field(validator=non_blank)
    options: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> ChannelSettings:
        """Read a ``[channels.<name>]`` table.

        Raises:
            TypeError: it is not a table.
            ConfigError: it names no ``use``, or gives a ``name``.
        """
        if not isinstance(table, Mapping):
            raise TypeError(f"must be a table with a 'use', got {table!r}")
        use = table.get("use")
        if not isinstance(use, str):
            raise ConfigError("use", f"must name the channel's plugin factory, got {use!r}")
        if "name" in table:
            raise ConfigError("name", "is the table's own name; leave it out")
        return cls(use=use, options={k: v for k, v in table.items() if k != "use"})

    def as_table(self) -> dict[str, Any]:
        """The ``[channels.<name>]`` table it was read from."""
        return {"use": self.use, **self.options}


def check_channels(channels: Mapping[str, ChannelSettings]) -> None:
    """Attrs validator body: only the programme's own channels may be configured.

    Raises:
        ConfigError: a table names another channel.
    """
    for name in channels:
        if name not in CONFIGURABLE_CHANNELS:
            raise ConfigError(
                f"channels.{name}",
                f"not a channel of the programme; configure {', '.join(CONFIGURABLE_CHANNELS)}",
            )
