"""One pass over members' records and journals: the measures, the dashboard, the experiments.

The report and the demo's workers read each member's record and whole journal once and
count it three ways: into the measures' tallies (:class:`Tallies`, from the member's
story), the dashboard's figures (:class:`FigureCounter`, from the record) and the
experiments' exposures and conversions (:class:`ExperimentCounts`, from the events of
the types they read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from membercore.analytics.figures import FigureCounter
from membercore.analytics.stories import story_of
from membercore.analytics.tallies import Tallies
from membercore.config import ProgrammeConfig
from membercore.dates import require_aware
from membercore.experiments import ExperimentCounts
from membercore.ports import StoredEvent
from membercore.serialization import message_from_stored
from membercore.service.member import Member

__all__ = ["Counted", "counted"]


class Counted:
    """Members counted one at a time, each with its whole journal, at ``now``.

    Attributes:
        sums: the measures' tallies.
        figures: the dashboard's figures.
        tried: the experiments' counts.
    """

    def __init__(self, config: ProgrammeConfig, now: datetime) -> None:
        self._config = config
        self._now = require_aware("now", now)
        self.figures = FigureCounter(config, now)
        self.sums = Tallies(now=self._now, tz=config.tz)
        self.tried = ExperimentCounts(config)
        self._wanted = self.tried.wanted if config.experiments else frozenset()

    def add(self, member: Member, journal: Sequence[StoredEvent]) -> None:
        """Count one member's record and journal."""
        self.figures.add(member)
        self.tried.add(message_from_stored(e.payload) for e in journal if e.type in self._wanted)
        self.sums.add(story_of(member, journal, self._config, self._now))


def counted(
    histories: Iterable[tuple[Member, Sequence[StoredEvent]]],
    config: ProgrammeConfig,
    now: datetime,
) -> Counted:
    """Every member of ``histories`` (records with their journals) counted at ``now``."""
    counts = Counted(config, now)
    for member, journal in histories:
        counts.add(member, journal)
    return counts
