"""The console channel: messages written as JSON lines to a file or standard output.

The default channel for development, demos and tests: it stands in for WeCom, SMS and
e-mail until a hospital installs the plugins for its own providers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from membercore.errors import ConfigError
from membercore.hookspecs import ChannelFactory, hookimpl
from membercore.ports import Channel, OutboxMessage
from membercore.service.engine import Engine

__all__ = [
    "ConsoleChannel",
    "console_channels",
    "membercore_register_channels",
    "programme_channels",
]


def console_channels() -> dict[str, ConsoleChannel]:
    """The console channel under each of the programme's channel names, on standard output."""
    return {name: ConsoleChannel(name) for name in ("wecom", "sms", "email")}


def programme_channels(engine: Engine) -> dict[str, Channel]:
    """The channels the programme configures; the console's when it configures none.

    Raises:
        ConfigError: a ``[channels]`` table is wrong (see :meth:`Engine.channels`).
        PluginError: a plugin's factory failed.
    """
    return engine.channels() or dict(console_channels())


class ConsoleChannel:
    """Writes each message as one JSON line.

    Args:
        name: the channel name it answers to.
        stream: where to write (standard output by default).
        path: a file to append to instead, opened for each message: nothing stays open
            between deliveries, and each line is written out before its acknowledgment.
    """

    def __init__(
        self, name: str = "console", stream: TextIO | None = None, *, path: Path | None = None
    ) -> None:
        self.name = name
        self._stream = stream
        self._path = path

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ConsoleChannel:
        """Build one from options: ``name``, and ``path`` of a file to append to.

        Raises:
            ConfigError: another option is given, or one is not text.
        """
        for key, value in options.items():
            if key not in ("name", "path"):
                raise ConfigError(key, "the console channel takes only path")
            if not isinstance(value, str) or not value:
                raise ConfigError(key, f"must be non-empty text, got {value!r}")
        path = options.get("path")
        return cls(options.get("name", "console"), path=None if path is None else Path(path))

    def send(self, message: OutboxMessage) -> str:
        """Write the message; its id is the acknowledgment."""
        line = {
            "message_id": message.message_id,
            "channel": message.channel,
            "member": message.key,
            "send_at": message.send_at.isoformat(),
            "message": json.loads(message.payload),
        }
        text = json.dumps(line, ensure_ascii=False) + "\n"
        if self._path is not None:
            with self._path.open("a", encoding="utf-8") as file:
                file.write(text)
            return message.message_id
        stream = self._stream or sys.stdout
        stream.write(text)
        stream.flush()
        return message.message_id


@hookimpl
def membercore_register_channels(register: Callable[[str, ChannelFactory], None]) -> None:
    """Provide the console channel."""
    register("console", ConsoleChannel.from_options)
