"""The limits the channel keeps itself, before WeCom has to refuse anything.

- :class:`Throttle`: the app's requests in any minute and each member's in any hour
  (a :class:`SlidingWindow` each). A request over either is not sent: the caller is
  told how long until a place frees up.
- :class:`MonthlyQuota`: how many mass messages (群发) each customer was sent this
  calendar month, in WeCom's calendar (China time), against the corp's rule.

Both are counted in memory, in this process: a restart begins them again, and two
dispatchers count apart. WeCom's own limits still hold behind them (errcodes 45009,
41048); these keep the channel from running into them.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["CHINA", "MonthlyQuota", "SlidingWindow", "Throttle", "next_month"]

#: WeCom's calendar: its months begin at midnight, China time.
CHINA = ZoneInfo("Asia/Shanghai")
#: Idle keys are swept out after this many requests.
_SWEEP_EVERY = 1024


class SlidingWindow:
    """At most ``limit`` requests in any ``window`` seconds, for each key.

    Args:
        limit: the requests allowed in a window.
        window: the window's length in seconds.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._sent: dict[str, deque[float]] = {}
        self._records = 0
        self._lock = threading.Lock()

    def wait(self, key: str, now: float) -> float:
        """Seconds until one more request for ``key`` is allowed (0: now)."""
        with self._lock:
            sent = self._sent.get(key)
            if sent is None:
                return 0.0
            sent = self._pruned(key, now)
            if len(sent) < self.limit:
                return 0.0
            return max(sent[len(sent) - self.limit] + self.window - now, 0.0)

    def record(self, key: str, now: float) -> None:
        """Count a request for ``key`` made at ``now``."""
        with self._lock:
            self._pruned(key, now).append(now)
            self._records += 1
            if self._records % _SWEEP_EVERY == 0:
                # Forget keys idle for a whole window (members seen once, long ago).
                stale = now - self.window
                for idle in [k for k, sent in self._sent.items() if not sent or sent[-1] <= stale]:
                    del self._sent[idle]

    def _pruned(self, key: str, now: float) -> deque[float]:
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        return sent


def next_month(at: datetime) -> datetime:
    """The start of the calendar month after ``at``'s, in China time."""
    local = at.astimezone(CHINA)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=CHINA)


class MonthlyQuota:
    """How many mass messages each customer may receive a calendar month, and was sent.

    Args:
        limit: messages a customer may receive in a month.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def used(self, customer: str, at: datetime) -> int:
        """Messages counted for ``customer`` in ``at``'s month."""
        with self._lock:
            return self._counts.get((customer, _month(at)), 0)

    def take(self, customer: str, at: datetime) -> bool:
        """Count a message to ``customer`` at ``at``, if the month's allowance has room.

        Returns:
            Whether it was counted (False: the allowance is used up).
        """
        month = _month(at)
        with self._lock:
            used = self._counts.get((customer, month), 0)
            if used >= self.limit:
                return False
            for key in [key for key in self._counts if key[1] < month]:
                del self._counts[key]
            self._counts[customer, month] = used + 1
            return True

    def give_back(self, customer: str, at: datetime) -> None:
        """Uncount a message :meth:`take` counted that WeCom did not take after all."""
        key = (customer, _month(at))
        with self._lock:
            if self._counts.get(key, 0) > 0:
                self._counts[key] -= 1

    @staticmethod
    def until_next_month(at: datetime) -> timedelta:
        """How long from ``at`` to the next month's start, in China time."""
        return next_month(at) - at


def _month(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m")


class Throttle:
    """The app's requests a minute and each member's an hour, held before sending.

    Args:
        per_minute: requests the app makes in any minute, at most.
        per_hour_per_member: requests for one member in any hour, at most.
    """

    def __init__(self, per_minute: int, per_hour_per_member: int) -> None:
        self.per_minute = per_minute
        self.per_hour_per_member = per_hour_per_member
        self._app = SlidingWindow(per_minute, 60.0)
        self._members = SlidingWindow(per_hour_per_member, 3600.0)
        self._lock = threading.Lock()

    def admit(self, member: str, now: float) -> float:
        """Count a request for ``member`` at ``now`` if both limits allow it.

        Returns:
            0 if it was counted and may be made, else the seconds until it may.
        """
        with self._lock:
            wait = max(self._app.wait("", now), self._members.wait(member, now))
            if wait > 0:
                return wait
            self._app.record("", now)
            self._members.record(member, now)
            return 0.0
