"""A member with a long history, through the engine: what the record lets go stays decided."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import Engine
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    PatientRegistered,
    RefundIssued,
    VisitCompleted,
)
from membercore.identity import MergeMembers
from membercore.service.recording import LONG_JOURNAL
from membercore.testing.clock import ManualClock

from .conftest import OpenEngine

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2021, 1, 4, 9, tzinfo=SH)
LATER = START + timedelta(days=600)


def _charge(fact_id: str, n: int, at: datetime) -> ChargePaid:
    line = ChargeLine(department="internal", category="exam", amount_fen=10_000)
    return ChargePaid(
        fact_id=fact_id, patient_id="p", occurred_at=at, charge_id=f"c-{n}", lines=(line,)
    )


@pytest.fixture(params=["memory", "sqlite"])
def long_history(
    request: pytest.FixtureRequest, tmp_path: Path, open_engine: OpenEngine
) -> Iterator[Engine]:
    """A member with forty charges in their first weeks and forty visits a year and more on."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/m.db"
    with open_engine(url, ManualClock(LATER)) as engine:
        yield _loaded(engine)


def _loaded(engine: Engine) -> Engine:
    facts: list[object] = [PatientRegistered(fact_id="reg", patient_id="p", occurred_at=START)]
    facts += [_charge(f"f-c{n}", n, START + timedelta(days=n)) for n in range(1, 41)]
    facts += [
        VisitCompleted(
            fact_id=f"f-v{n}",
            patient_id="p",
            visit_id=f"v-{n}",
            occurred_at=START + timedelta(days=500, hours=n),
        )
        for n in range(40)
    ]
    engine.ingest(facts, now=LATER)
    return engine


def test_the_profile_lets_the_old_charges_go(long_history: Engine) -> None:
    assert len(long_history.member("p").profile.charges) < 40


def test_a_charge_sent_again_after_its_note_was_let_go_is_still_refused(
    long_history: Engine,
) -> None:
    before = long_history.member("p").ledger.balance
    again = _charge("f-c1-again", 1, START + timedelta(days=1))
    report = long_history.ingest([again], now=LATER + timedelta(days=1))
    assert (report.applied, report.rejected) == (0, 1)
    (letter,) = long_history.store.dead_letters()
    assert "taken before (it earned points)" in letter.reason
    assert long_history.member("p").ledger.balance == before


def test_a_charge_sent_again_for_a_record_merged_away_is_refused(long_history: Engine) -> None:
    long_history.ingest(
        [PatientRegistered(fact_id="reg-s", patient_id="s", occurred_at=START)], now=LATER
    )
    merge = MergeMembers(key="merge", member_id="s", duplicate_id="p", operator="o", reason="r")
    long_history.execute(merge, now=LATER + timedelta(hours=1))
    before = long_history.member("s").ledger.balance
    again = _charge("f-c1-again", 1, START + timedelta(days=1))
    report = long_history.ingest([again], now=LATER + timedelta(days=1))
    assert (report.applied, report.rejected) == (0, 1)
    assert long_history.member("s").ledger.balance == before


def test_a_refund_of_a_charge_let_go_takes_back_what_it_earned(long_history: Engine) -> None:
    before = long_history.member("p").ledger
    assert not any(
        note.charge_id == "c-2" for note in long_history.member("p").profile.charges.values()
    )
    lot = before.lots[before.references["earning.spending:c-2"]]
    refund = RefundIssued(
        fact_id="refund-c2", patient_id="p", occurred_at=LATER, charge_id="c-2", amount_fen=10_000
    )
    too_much = attrs.evolve(refund, fact_id="refund-c3", charge_id="c-3", amount_fen=10_001)
    report = long_history.ingest([refund, too_much], now=LATER + timedelta(hours=1))
    assert (report.applied, report.rejected) == (1, 1)
    (letter,) = long_history.store.dead_letters()
    assert "more than is left of charge c-3 (10000 of 10000 fen)" in letter.reason
    assert long_history.member("p").ledger.balance == before.balance - lot.lot.points


def _snapshots(
    engine: Engine, clock: ManualClock, charges: range
) -> list[tuple[int, int, int, int]]:
    """Charge the member once a commit; after each: the record's version, its snapshot's
    version and length, and the length of the journal since the snapshot."""
    seen = []
    for n in charges:
        at = LATER + timedelta(hours=n)
        clock.set(at)
        engine.ingest([_charge(f"f-late{n}", 1000 + n, at)], now=at)
        (record,) = engine.store.load(["member:p"]).values()
        since = engine.store.events("member:p", after_version=record.snapshot_version)
        journal = sum(len(e.payload) for e in since)
        seen.append((record.version, record.snapshot_version, len(record.snapshot), journal))
    return seen


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_snapshot_is_written_again_once_its_journal_is_as_long_as_it(
    store: str, tmp_path: Path, open_engine: OpenEngine
) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path}/m.db"
    clock = ManualClock(LATER)
    with open_engine(url, clock, snapshot_every=2) as engine:
        _loaded(engine)  # one commit, snapshotted: the record is its first
        seen = _snapshots(engine, clock, range(60))
        live = engine.member("p")
    written = sorted({snapshot for _, snapshot, _, _ in seen})
    # A large record's snapshot is written far less often than every two commits, and
    # the journal since it is never longer than it once two commits have passed.
    assert len(written) >= 2
    assert min(b - a for a, b in itertools.pairwise(written)) > 2
    for version, snapshot, size, since in seen:
        assert version - snapshot < 2 or since < size, (version, snapshot, size, since)
    if store == "sqlite":  # a cold engine replays the journal since the snapshot
        with open_engine(url, clock) as cold:
            assert cold.member("p") == live


def test_a_cold_engine_writes_its_snapshots_where_a_warm_one_does(
    tmp_path: Path, open_engine: OpenEngine
) -> None:
    clocks = [ManualClock(LATER), ManualClock(LATER)]
    warm_url, cold_url = f"sqlite:///{tmp_path}/warm.db", f"sqlite:///{tmp_path}/cold.db"
    with open_engine(warm_url, clocks[0], snapshot_every=2) as warm:
        _loaded(warm)
        kept = _snapshots(warm, clocks[0], range(30))
    with open_engine(cold_url, clocks[1], snapshot_every=2) as cold:
        _loaded(cold)
    read_cold = []
    for n in range(30):  # a new engine for each fact: every record read from the store
        with open_engine(cold_url, clocks[1], snapshot_every=2) as cold:
            read_cold += _snapshots(cold, clocks[1], range(n, n + 1))
    assert read_cold == kept


def test_a_history_imported_in_large_batches_leaves_a_snapshot_to_read_from(
    tmp_path: Path, open_engine: OpenEngine
) -> None:
    """An import commits a member's thousands of facts in a few commits: reading the
    record cold afterwards replays no more than a snapshot's worth of journal (or
    :data:`~membercore.service.recording.LONG_JOURNAL`), not every batch since the first."""
    facts: list[object] = [PatientRegistered(fact_id="reg", patient_id="p", occurred_at=START)]
    facts += [_charge(f"f-c{n}", n, START + timedelta(hours=n)) for n in range(1, 3_001)]
    with open_engine(f"sqlite:///{tmp_path}/m.db", ManualClock(LATER)) as engine:
        engine.ingest(facts, history=True)
        (record,) = engine.store.load(["member:p"]).values()
        since = engine.store.events("member:p", after_version=record.snapshot_version)
    assert record.version >= 3  # a few commits of a thousand facts each
    journal = sum(len(event.payload) for event in since)
    assert journal <= max(len(record.snapshot), LONG_JOURNAL)
