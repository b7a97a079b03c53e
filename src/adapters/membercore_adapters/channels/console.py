"""The console channel: messages written as JSON lines to a file or standard output.

The default channel for development, demos and tests: it stands in for WeCom, SMS and
e-mail until a hospital installs the plugins for its own providers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from membercore.hookspecs import ChannelFactory, hookimpl
from membercore.ports import OutboxMessage

__all__ = ["ConsoleChannel", "console_channels", "membercore_register_channels"]


def console_channels() -> dict[str, ConsoleChannel]:
    """The console channel under each of the programme's channel names, on standard output."""
    return {name: ConsoleChannel(name) for name in ("wecom", "sms", "email")}


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
    def from_options(cls, options: Mapping[str, str]) -> ConsoleChannel:
        """Build one from options: ``name``, and ``path`` of a file to append to."""
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
