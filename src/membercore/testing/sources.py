"""The conformance suite every source of facts runs: :class:`SourceContract`.

A source (:class:`~membercore.ports.HisSource`) reads what the hospital's systems
wrote — a file of messages, a database view, a FHIR server — and hands the engine
facts, each positioned so that a reader started again after the position the engine
committed (:meth:`~membercore.Engine.position`) misses nothing. The suite checks what
every source promises, through the engine:

- a read cut off anywhere and resumed from the committed position ends as one read
  straight through (nothing missed; what is read again is a duplicate);
- reading everything again changes nothing;
- an entry the source cannot translate becomes a dead letter with its raw text and a
  reason, and the entries around it are taken;
- an entry naming the patient by another of their identifiers reaches their record;
- entries written after a read are read, from the committed position, next time.

A source's test module subclasses the contract and overrides one fixture, ``feed``,
which gives a :class:`SourceFeed`: a place the suite writes entries to in the source's
own format, and a way to build the source over what was written::

    import pytest
    from membercore.testing.sources import SourceContract

    class TestMySource(SourceContract):
        @pytest.fixture
        def feed(self, tmp_path):
            return MyFileFeed(tmp_path / "feed.txt")

The engine runs the reference programme on a fresh ``memory://`` store of the installed
plugins (override the ``new_engine`` fixture, which opens one, to change that).
"""

# The suite's test names read as sentences and are their own documentation.
# ruff: noqa: D102

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Protocol

import pytest

from membercore.config.reference import reference_config
from membercore.ports import HisSource
from membercore.service.engine import Engine, IngestReport
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock

__all__ = ["T0", "SourceContract", "SourceFeed"]

#: When the suite's first entry happened; the others follow an hour apart.
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
#: When the suite's engines learn of the entries: after all of them.
NOW = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


class SourceFeed(Protocol):
    """Where the suite writes entries in a source's own format, and reads them back.

    Attributes:
        name: the name the source's position is committed under
            (``hl7v2:/data/adt.hl7``, ``dbview:outpatient_charges``).
    """

    name: str

    def registration(self, patient_id: str, card: str, at: datetime) -> None:
        """Write an entry registering ``patient_id``, with ``card`` as another identifier.

        ``card`` is a number the hospital issues besides the patient id (a clinic card,
        就诊卡号), under a system the source names as it names it.
        """
        ...

    def visit(self, card: str, visit_id: str, at: datetime) -> None:
        """Write an entry telling of a completed visit ``visit_id`` at ``at``.

        The entry names the patient by ``card`` alone (not by their patient id), as a
        system that keys its records by the card does; the source translates it into a
        :class:`~membercore.facts.VisitCompleted` (with whatever else it tells).
        """
        ...

    def untranslatable(self) -> str:
        """Write an entry the source cannot translate; a piece of its text (kept raw)."""
        ...

    def source(self, after: str | None) -> HisSource:
        """The source over every entry written so far, reading after ``after``.

        Args:
            after: a position the engine committed for :attr:`name`; None to read from
                the start.
        """
        ...


class SourceContract:
    """What every source of facts does; subclass it and override ``feed``."""

    @pytest.fixture
    def feed(self) -> SourceFeed:
        """Where the suite writes entries; a source's test class overrides this fixture."""
        raise NotImplementedError(f"{type(self).__name__} must override the feed fixture")

    @pytest.fixture
    def new_engine(self) -> Callable[[], Engine]:
        """Opens a fresh engine: the reference programme on ``memory://`` (override to change)."""
        return _engine

    @pytest.fixture
    def engine(self, new_engine: Callable[[], Engine]) -> Iterator[Engine]:
        """A fresh engine, closed afterwards."""
        engine = new_engine()
        yield engine
        engine.close()

    # -- what the suite writes -------------------------------------------------------------

    @staticmethod
    def write_patients(feed: SourceFeed, count: int, *, first: int = 0) -> list[str]:
        """Register ``count`` patients and write two visits of each; their patient ids."""
        patients = []
        for number in range(first, first + count):
            patient, at = f"p-{number}", T0 + timedelta(days=number)
            feed.registration(patient, f"card-{number}", at)
            feed.visit(f"card-{number}", f"v-{number}-1", at + timedelta(hours=1))
            feed.visit(f"card-{number}", f"v-{number}-2", at + timedelta(hours=2))
            patients.append(patient)
        return patients

    # -- the contract --------------------------------------------------------------------

    def test_the_source_takes_what_was_written_each_visit_reaching_its_patient(
        self, feed: SourceFeed, engine: Engine
    ) -> None:
        patients = self.write_patients(feed, 3)
        report = _ingest(engine, feed, None)
        assert report.rejected == 0, report.refusals
        for number, patient in enumerate(patients):
            assert _visits(engine, patient) == {f"v-{number}-1", f"v-{number}-2"}
        assert engine.position(feed.name) is not None

    def test_a_visit_named_by_the_card_alone_makes_no_member_of_the_card(
        self, feed: SourceFeed, engine: Engine
    ) -> None:
        self.write_patients(feed, 1)
        _ingest(engine, feed, None)
        assert not engine.store.load([member_key("card-0")])
        assert _visits(engine, "p-0") == {"v-0-1", "v-0-2"}

    def test_a_read_cut_off_anywhere_and_resumed_ends_as_one_read_straight_through(
        self, feed: SourceFeed, new_engine: Callable[[], Engine]
    ) -> None:
        patients = self.write_patients(feed, 2)
        feed.untranslatable()
        patients += self.write_patients(feed, 1, first=2)
        straight = new_engine()
        _ingest(straight, feed, None)
        expected = _taken(straight, patients)
        inputs = len(list(feed.source(None).read()))
        assert inputs >= 10, "every entry is read"
        for cut in range(1, inputs):
            resumed = new_engine()
            first = resumed.ingest(islice(feed.source(None).read(), cut), source=feed.name)
            assert first.commits >= 1
            position = resumed.position(feed.name)
            assert position is not None, f"the first {cut} inputs committed no position"
            _ingest(resumed, feed, position)
            assert _taken(resumed, patients) == expected, f"cut after input {cut}"
            assert _letters(resumed) == _letters(straight), f"cut after input {cut}"
            resumed.close()
        straight.close()

    def test_reading_from_the_committed_position_after_everything_takes_nothing(
        self, feed: SourceFeed, engine: Engine
    ) -> None:
        self.write_patients(feed, 2)
        feed.untranslatable()
        _ingest(engine, feed, None)
        again = _ingest(engine, feed, engine.position(feed.name))
        assert (again.applied, again.rejected) == (0, 0)

    def test_reading_everything_again_changes_nothing(
        self, feed: SourceFeed, engine: Engine
    ) -> None:
        patients = self.write_patients(feed, 2)
        feed.untranslatable()
        _ingest(engine, feed, None)
        journals = {p: len(engine.store.events(member_key(p))) for p in patients}
        letters = _letters(engine)
        again = _ingest(engine, feed, None)
        assert again.applied == 0
        assert again.duplicates > 0
        assert {p: len(engine.store.events(member_key(p))) for p in patients} == journals
        assert _letters(engine) == letters

    def test_an_untranslatable_entry_is_a_dead_letter_with_its_raw_text_and_a_reason(
        self, feed: SourceFeed, engine: Engine
    ) -> None:
        self.write_patients(feed, 1)
        piece = feed.untranslatable()
        self.write_patients(feed, 1, first=1)
        report = _ingest(engine, feed, None)
        assert report.rejected == 1
        [letter] = engine.store.dead_letters()
        assert piece in letter.payload
        assert letter.reason.strip()
        assert [place for place, _ in report.refusals], "the refusal names where"
        assert _visits(engine, "p-0") == {"v-0-1", "v-0-2"}
        assert _visits(engine, "p-1") == {"v-1-1", "v-1-2"}

    def test_entries_written_after_a_read_are_read_from_the_committed_position(
        self, feed: SourceFeed, engine: Engine
    ) -> None:
        self.write_patients(feed, 1)
        _ingest(engine, feed, None)
        self.write_patients(feed, 1, first=1)
        feed.visit("card-0", "v-0-3", T0 + timedelta(days=5))
        later = _ingest(engine, feed, engine.position(feed.name))
        assert later.applied > 0
        assert later.rejected == 0, later.refusals
        assert _visits(engine, "p-0") == {"v-0-1", "v-0-2", "v-0-3"}
        assert _visits(engine, "p-1") == {"v-1-1", "v-1-2"}


def _engine() -> Engine:
    return Engine.open("memory://", config=reference_config(), clock=ManualClock(NOW))


def _ingest(engine: Engine, feed: SourceFeed, after: str | None) -> IngestReport:
    return engine.ingest(feed.source(after).read(), source=feed.name)


def _visits(engine: Engine, patient: str) -> set[str]:
    """The visits ``patient``'s record took."""
    return {visit.visit_id for visit in engine.member(patient).profile.visits.values()}


def _taken(engine: Engine, patients: list[str]) -> dict[str, tuple[list[str], int]]:
    """Per patient, the facts their record took and the length of its journal."""
    taken = {}
    for patient in patients:
        facts = sorted(engine.member(patient).profile.facts)
        taken[patient] = (facts, len(engine.store.events(member_key(patient))))
    return taken


def _letters(engine: Engine) -> list[tuple[str, str]]:
    """The inputs kept as dead letters (their reasons may count places from the read's start)."""
    return sorted((letter.fact_id, letter.payload) for letter in engine.store.dead_letters())
