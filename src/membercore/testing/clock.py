"""A clock that moves only when told: for tests, simulations and the demo hospital.

It is :class:`membercore.dates.ManualClock`, which the application service's replays use
too; the testing kit offers it here, where tests have always found it.
"""

from __future__ import annotations

from membercore.dates import ManualClock

__all__ = ["ManualClock"]
