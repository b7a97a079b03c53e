"""How long a provider's limit lasts, on the providers' clock: China Standard Time.

Both providers count their daily and monthly limits by the calendar in Asia/Shanghai,
and Tencent Cloud sends marketing SMS only from 08:00 to 22:00 there.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["SHANGHAI", "until_local_time", "until_midnight", "until_next_month"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _seconds(now: datetime, then: datetime) -> float:
    return max(1.0, (then - now).total_seconds())


def until_midnight(now: datetime) -> float:
    """Seconds from ``now`` until the next midnight in Shanghai (a day's limit resets)."""
    local = now.astimezone(SHANGHAI)
    return _seconds(now, datetime.combine(local.date() + timedelta(days=1), time(), SHANGHAI))


def until_next_month(now: datetime) -> float:
    """Seconds from ``now`` until the first of next month in Shanghai."""
    local = now.astimezone(SHANGHAI)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return _seconds(now, datetime(year, month, 1, tzinfo=SHANGHAI))


def until_local_time(now: datetime, hour: int) -> float:
    """Seconds from ``now`` until the next ``hour``:00 in Shanghai."""
    local = now.astimezone(SHANGHAI)
    then = datetime.combine(local.date(), time(hour), SHANGHAI)
    if then <= local:
        then = datetime.combine(local.date() + timedelta(days=1), time(hour), SHANGHAI)
    return _seconds(now, then)
