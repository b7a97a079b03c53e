"""The day a profile is read on, and what every reading of it shares.

Everything a profile means is worked out from the whole set of noted facts and the local
date of ``now`` in the programme's timezone, never from the order the facts came in or
the time of day: the same facts give the same answers all day long.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import attrs

from membercore.config.segments import SegmentRules
from membercore.dates import add_months, local_date, local_day_start, require_aware
from membercore.segments.messages import FactNoted

__all__ = ["MAX_EVIDENCE", "Day", "day_of", "evidence", "order", "window_start", "yuan"]

#: Tags and explanations name at most this many facts: the latest.
MAX_EVIDENCE = 10


@attrs.frozen(kw_only=True)
class Day:
    """The local day a profile is read on.

    Attributes:
        rules: the segment rules.
        tz: the programme's timezone.
        today: the local date.
        since: the start of the window (:func:`window_start`).
    """

    rules: SegmentRules
    tz: ZoneInfo
    today: date
    since: datetime

    def date_of(self, note: FactNoted) -> date:
        """The local date of a noted fact."""
        return local_date(note.at, self.tz)

    def within(self, note: FactNoted, days: int | None) -> bool:
        """Whether the fact is less than ``days`` local days old (``None``: always)."""
        return days is None or (self.today - self.date_of(note)).days < days


def window_start(rules: SegmentRules, now: datetime, tz: ZoneInfo) -> datetime:
    """The start of the window: local midnight of the same date ``window_months`` ago.

    On 10 May 2026 with a 12-month window it is 10 May 2025 00:00 in ``tz``.
    """
    today = local_day_start(local_date(require_aware("now", now), tz), tz)
    return add_months(today, -rules.window_months, tz)


def day_of(rules: SegmentRules, now: datetime, tz: ZoneInfo) -> Day:
    """The local day of ``now`` in ``tz``, with its window."""
    now = require_aware("now", now)
    return Day(rules=rules, tz=tz, today=local_date(now, tz), since=window_start(rules, now, tz))


def order(note: FactNoted) -> tuple[datetime, str]:
    """The order of noted facts: by instant, then fact id."""
    return (note.at, note.fact_id)


def evidence(notes: Iterable[FactNoted]) -> tuple[str, ...]:
    """The ids of the latest :data:`MAX_EVIDENCE` facts, each once, oldest first."""
    ordered = sorted({note.fact_id: note for note in notes}.values(), key=order)
    return tuple(note.fact_id for note in ordered[-MAX_EVIDENCE:])


def yuan(fen: int) -> str:
    """An amount in fen written in yuan: ``1,234.50 元``."""
    return f"{fen // 100:,}.{fen % 100:02d} 元"
