"""A clock that moves only when told: for tests, simulations and the demo hospital."""

from __future__ import annotations

from datetime import datetime, timedelta

from membercore.dates import require_aware

__all__ = ["ManualClock"]


class ManualClock:
    """A clock set by hand.

    Args:
        at: the instant it shows (timezone-aware).
    """

    def __init__(self, at: datetime) -> None:
        self._at = require_aware("at", at)

    def now(self) -> datetime:
        """The instant it shows."""
        return self._at

    def set(self, at: datetime) -> None:
        """Show ``at`` from now on (it may go back, as a test may need)."""
        self._at = require_aware("at", at)

    def advance(self, by: timedelta) -> datetime:
        """Move on by ``by`` and return the new instant."""
        self._at += by
        return self._at
