"""Sums over a window read from a timeline, and timelines carried from state to state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import reference_config, segments, tiers
from membercore.config import ProgrammeConfig
from membercore.facts import Fact
from membercore.ledger import LedgerState, decide, evolve, qualifying, qualifying_points
from membercore.segments import interactions
from membercore.tiers import activity
from membercore.timeline import Timeline

from . import test_ledger_forget as ledger_streams
from .profile_facts import ME as PROFILE_OF
from .profile_facts import facts as profile_facts
from .profile_facts import profile_fact
from .test_tiers_forget import CONFIGS, ME, START, streams

EVER = datetime(2000, 1, 1, tzinfo=UTC)
CONFIG = reference_config()

KEYS = st.sampled_from([f"k{n}" for n in range(12)])
#: Few distinct instants, so that entries share them.
INSTANTS = st.integers(0, 8).map(lambda hours: START + timedelta(hours=hours))
AMOUNTS = st.integers(-50, 50)


def _scan(entries: dict[str, tuple[datetime, int]], since: datetime, until: datetime) -> int:
    return sum(amount for at, amount in entries.values() if since <= at < until)


@pytest.mark.slow
@given(
    st.dictionaries(KEYS, st.tuples(INSTANTS, AMOUNTS)),
    st.lists(
        st.tuples(st.lists(KEYS, max_size=3), st.dictionaries(KEYS, st.tuples(INSTANTS, AMOUNTS)))
    ),
    st.lists(st.tuples(INSTANTS, INSTANTS), min_size=1, max_size=4),
)
def test_a_timeline_sums_what_a_scan_of_its_entries_sums(
    first: dict[str, tuple[datetime, int]],
    changes: list[tuple[list[str], dict[str, tuple[datetime, int]]]],
    windows: list[tuple[datetime, datetime]],
) -> None:
    entries = dict(first)
    timeline = Timeline((at, key, amount) for key, (at, amount) in entries.items())
    for gone, added in changes:
        before = timeline
        # what the change takes out: the keys let go and those it gives a new entry
        old = {key: entries[key][0] for key in (*gone, *added) if key in entries}
        timeline = timeline.replaced(old, [(at, key, n) for key, (at, n) in added.items()])
        was = dict(entries)
        for key in gone:
            entries.pop(key, None)
        entries.update(added)
        for since, until in windows:
            assert timeline.total(since, until) == _scan(entries, since, until)
            assert before.total(since, until) == _scan(was, since, until)  # left as it was
            ordered = sorted((at, key) for key, (at, _) in entries.items() if at >= since)
            assert timeline.latest(since, 3) == [key for _, key in ordered[-3:]]
        assert timeline == Timeline((at, key, amount) for key, (at, amount) in entries.items())


@pytest.mark.slow
@given(streams(), st.sampled_from(CONFIGS), st.integers(0, 3))
def test_the_ladder_counts_the_visits_and_spend_its_state_holds(
    facts: list[Fact], config: ProgrammeConfig, asked_every: int
) -> None:
    """Carried from state to state (asked after every event, or now and then), the
    timelines count what a scan of the state's visits and spend counts."""
    ledger = LedgerState(member_id=ME)
    state = tiers.TierState(member_id=ME)
    now = START
    events = 0
    for fact in facts:
        now = max(now, fact.occurred_at)
        for event in tiers.decide(fact, state, ledger, config, now):
            state = tiers.evolve(state, event)
            events += 1
            if asked_every and events % asked_every:
                continue
            for since in (now - timedelta(days=40), now - timedelta(days=400)):
                until = now + timedelta(microseconds=1)
                visits = sum(1 for at in state.visits.values() if since <= at < until)
                spend = sum(fen for at, fen in state.spend.values() if since <= at < until)
                assert activity.visits(state, since, until) == visits
                assert activity.spend_fen(state, since, until) == spend
            assert activity.timelines(state) == (
                Timeline((at, key, 1) for key, at in state.visits.items()),
                Timeline((at, key, fen) for key, (at, fen) in state.spend.items()),
            )


@pytest.mark.slow
@given(ledger_streams.streams(), st.sampled_from(ledger_streams.CONFIGS))
def test_the_ledger_sums_the_qualifying_points_its_lots_hold(
    stream: list[tuple[datetime, ledger_streams.Message]], config: ProgrammeConfig
) -> None:
    """Carried from posting to posting, lots let go included, the timeline holds the
    qualifying lots the state holds, and sums what a scan of them sums."""
    state = LedgerState(member_id=ME)
    for now, message in stream:
        try:
            made = decide(message, state, config, now)
        except Exception:
            continue
        for posting in made:
            state = evolve(state, posting)
            held = [lot for lot in state.lots.values() if lot.lot.qualifying]
            assert qualifying.timeline(state) == Timeline(
                (lot.lot.earned_at, lot.lot.lot_id, lot.lot.points - lot.reversed) for lot in held
            )
            for since in (now - timedelta(days=40), EVER):
                scan = sum(
                    lot.lot.points - lot.reversed
                    for lot in held
                    if since <= lot.lot.earned_at < now
                )
                assert qualifying_points(state, since, now) == scan


INTERACTIONS = ("checkin", "checkin", "visit", "registration")


@given(profile_facts(kinds=INTERACTIONS, days=500, amounts=400, most=40))
def test_a_profile_counts_the_interactions_it_holds_by_channel(
    facts: list[tuple[str, int, int]],
) -> None:
    """Carried from event to event, each channel's timeline holds the interactions the
    state holds that count for it, in order."""
    noted = [profile_fact(kind, n, day, amount) for n, (kind, day, amount) in enumerate(facts, 1)]
    _carry_interactions(sorted(noted, key=lambda fact: fact.occurred_at))


def test_a_profile_lets_go_of_old_interactions_in_its_timelines_too() -> None:
    days = [profile_fact("checkin", n, n // 2, n) for n in range(1, 3 * 365)]
    assert _carry_interactions(days) > 0


def _carry_interactions(noted: list[Fact]) -> int:
    state = segments.ProfileState(member_id=PROFILE_OF)
    let_go = 0
    for fact in noted:
        for event in segments.decide(fact, state, CONFIG, fact.occurred_at):
            state = segments.evolve(state, event)
            if isinstance(event, segments.NotesForgotten):
                let_go += len(event.fact_ids)
            counted: dict[str, list[tuple[datetime, str, int]]] = {}
            for fact_id, note in state.interactions.items():
                if note.counted_as is not None:
                    counted.setdefault(note.counted_as, []).append((note.at, fact_id, 1))
            lines = interactions.by_channel(state)
            assert {c: line for c, line in lines.items() if len(line)} == {
                channel: Timeline(entries) for channel, entries in counted.items()
            }
    return let_go
