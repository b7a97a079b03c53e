"""The system clock, the default the engine reads when it is given none."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from membercore.hookspecs import hookimpl

__all__ = ["SystemClock", "membercore_clock"]


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Wait (the engine waits between retries of a unit of work that met a conflict)."""
        time.sleep(seconds)


@hookimpl
def membercore_clock() -> SystemClock:
    """Provide the system clock."""
    return SystemClock()
