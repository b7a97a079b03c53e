"""The generator's time and chance.

:class:`Dice` draws from the one random generator; the :class:`Schedule` is a clock with
a heap of actions to run at their instants.

Instants are whole seconds since the start; an action runs at its instant and emits
messages at that instant only, scheduling anything later on the heap, so the stream is in
time order by construction.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from heapq import heappop, heappush
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import attrs

from membercore.dates import local_date

__all__ = ["DAY", "HOUR", "MINUTE", "WEEK", "Action", "Dice", "Schedule"]

MINUTE = 60
HOUR = 3_600
DAY = 86_400
WEEK = 7 * DAY

#: Something to run later, with the arguments it was scheduled with.
Action = Callable[..., object]

_T = TypeVar("_T")


@attrs.frozen
class Dice:
    """Every draw of the generator, from the one seeded ``random.Random``."""

    rng: random.Random

    def uniform(self, low: float, high: float) -> int:
        """A whole number from ``low`` up to (not including) ``high``."""
        return int(low + (high - low) * self.rng.random())

    def chance(self, share: float) -> bool:
        """True with the probability ``share``."""
        return self.rng.random() < share

    def weighted(self, shares: Sequence[tuple[_T, float]]) -> _T:
        """One of the choices, each drawn with its share of the shares' total."""
        point = self.rng.random() * sum(share for _, share in shares)
        for choice, share in shares:
            point -= share
            if point < 0:
                return choice
        return shares[-1][0]


@attrs.define
class Schedule:
    """The clock and the heap of actions scheduled on it.

    Attributes:
        dice: draws the times of actions.
        origin: the first instant, in UTC (second 0).
        first_day: the local date of the first day (day 0).
        end: the second at which the period ends; nothing is scheduled from then on.
        tz: the hospital's time zone.
        now: the second of the action running.
        instant: ``now`` as an aware instant.
    """

    dice: Dice
    origin: datetime
    first_day: date
    end: int
    tz: ZoneInfo
    now: int = attrs.field(default=0, init=False)
    instant: datetime = attrs.field(init=False)
    _heap: list[tuple[int, int, Action, tuple[Any, ...]]] = attrs.field(factory=list, init=False)
    _seq: int = attrs.field(default=0, init=False)

    @instant.default
    def _start(self) -> datetime:
        return self.origin

    @property
    def days(self) -> int:
        """The days of the period, the last one perhaps in part."""
        return -(-self.end // DAY)

    def run(self, out: list[_T]) -> Iterator[_T]:
        """Run the actions in time order, yielding what each puts in ``out`` as it runs."""
        heap, origin, end = self._heap, self.origin, self.end
        while heap:
            at, _, action, args = heappop(heap)
            if at >= end:
                break
            if at != self.now:
                self.now = at
                self.instant = origin + timedelta(seconds=at)
            action(*args)
            if out:
                yield from out
                out.clear()

    def push(self, at: int, action: Action, *args: Any) -> None:
        """Schedule ``action`` at the second ``at`` (now, if that is past)."""
        if at < self.end:
            self._seq += 1
            now = self.now
            heappush(self._heap, (at if at > now else now, self._seq, action, args))

    def within(self, low: int, high: int, action: Action, *args: Any) -> None:
        """Schedule ``action`` between ``low`` and ``high`` seconds from now."""
        self.push(self.now + self.dice.uniform(low, high), action, *args)

    def on(self, low_days: float, high_days: float, action: Action, *args: Any) -> None:
        """Schedule ``action`` in opening hours, between ``low_days`` and ``high_days`` on."""
        self.push(self.later(low_days, high_days), action, *args)

    def later(self, low_days: float, high_days: float) -> int:
        """A second in opening hours, between ``low_days`` and ``high_days`` from now."""
        return self.business(self.now + self.dice.uniform(low_days * DAY, high_days * DAY))

    def business(self, at: int, first_hour: float = 8.0, last_hour: float = 17.5) -> int:
        """A time in opening hours on the day of ``at``; soon after now if that is past."""
        uniform = self.dice.uniform
        when = at // DAY * DAY + uniform(first_hour * HOUR, last_hour * HOUR)
        return when if when > self.now else self.now + uniform(5 * MINUTE, HOUR)

    def instant_at(self, at: int) -> datetime:
        """The second ``at`` as an aware instant."""
        return self.origin + timedelta(seconds=at)

    def date_of(self, day: int) -> date:
        """The local date of day ``day`` of the period."""
        return self.first_day + timedelta(days=day)

    def today(self) -> date:
        """The local date now."""
        return local_date(self.instant, self.tz)
