"""A profile's readings kept by the maps of notes they read are the readings worked out anew.

As facts of every kind arrive one by one (each new state sharing the maps of the kinds
it did not change), on the same days across the windows, :func:`segments.evaluate` and
:func:`segments.next_change` answer for each state exactly what they answer with nothing
kept at all (each reading worked out from the state as it is).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TypeVar
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import Engine, reference_config, segments
from membercore.facts import CheckedIn, Fact, PatientRegistered
from membercore.memo import KEPT_FROM, Memo, WhileAlive
from membercore.segments import derive, due, interactions
from membercore.segments.day import evidence, window_start
from membercore.segments.messages import FactNoted, InteractionNoted
from membercore.segments.spending import spend
from membercore.testing.clock import ManualClock

from .profile_facts import KINDS, ME, SH, START, profile_fact
from .profile_facts import facts as profile_facts

CONFIG = reference_config()
T = TypeVar("T")
facts = profile_facts(kinds=(*KINDS, "registration"), days=500, amounts=400, least=1, most=16)


@contextmanager
def _everything_kept() -> Iterator[None]:
    """Within the block, readings of even one note are kept (a profile is seldom larger here)."""
    with patch.object(derive, "KEPT_FROM", 1), patch.object(due, "KEPT_FROM", 1):
        yield


@contextmanager
def _nothing_kept() -> Iterator[None]:
    """Within the block, every reading is worked out anew (and kept apart, then dropped)."""
    with (
        patch.object(derive, "_READINGS", Memo(1)),
        patch.object(due, "_MAP_DAYS", Memo(1)),
        patch.object(due, "_NOTE_DAYS", Memo(1)),
        patch.object(due, "_STATE_DAYS", WhileAlive()),
        patch.object(due, "_GROWN", {}),
        patch.object(interactions, "_KEPT", _Forgetful()),
        patch.object(derive, "_EVIDENCE", Memo(1)),
    ):
        yield


class _Forgetful(WhileAlive[T]):
    """Keeps nothing: every answer is worked out anew, and nothing is carried."""

    def held(self, subject: object) -> tuple[tuple[object, ...], T] | None:
        return None

    def get(self, subject: object, key: tuple[object, ...], work: Callable[[], T]) -> T:
        return work()


@pytest.mark.slow
@settings(deadline=None)
@given(facts=facts, born=st.dates(date(1950, 1, 1), date(2015, 12, 31)), days=st.data())
def test_kept_readings_are_the_readings_worked_out_anew(
    facts: list[tuple[str, int, int]], born: date, days: st.DataObject
) -> None:
    state = segments.ProfileState(member_id=ME)
    noted: list[Fact] = [
        PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=START, birth_date=born)
    ]
    noted += [profile_fact(kind, n, day, amount) for n, (kind, day, amount) in enumerate(facts, 1)]
    noted.sort(key=lambda fact: fact.occurred_at)
    # The same days for every state, so that a state sharing maps with the one before
    # finds those readings kept.
    offsets = days.draw(st.lists(st.integers(0, 800), min_size=1, max_size=4))
    for fact in noted:
        for event in segments.decide(fact, state, CONFIG, fact.occurred_at):
            state = segments.evolve(state, event)
        for offset in offsets:
            now = START + timedelta(days=offset)
            with _everything_kept():
                kept = segments.evaluate(state, CONFIG, now)
                due_kept = segments.next_change(state, CONFIG.segments, SH, now)
            with _nothing_kept():
                assert kept == segments.evaluate(state, CONFIG, now)
                assert due_kept == segments.next_change(state, CONFIG.segments, SH, now)
            # A segment's explanation names the latest of every fact its criterion read.
            with patch.object(derive, "_latest", _every_fact):
                whole = segments.evaluate(state, CONFIG, now)
            assert (kept.segment, kept.explanation) == (whole.segment, whole.explanation)


def _every_fact(notes: tuple[FactNoted, ...]) -> tuple[str, ...]:
    return tuple(note.fact_id for note in notes)


def test_an_answer_kept_while_its_object_lives_goes_with_it() -> None:
    kept: WhileAlive[int] = WhileAlive()
    rules, other = object(), object()
    states = [segments.ProfileState(member_id=f"p-{n}") for n in range(100)]
    worked: list[int] = []

    def work(n: int) -> int:
        worked.append(n)
        return n

    for n, state in enumerate(states):
        assert kept.get(state, (rules,), lambda n=n: work(n)) == n
    assert [kept.get(state, (rules,), lambda: work(-1)) for state in states] == list(range(100))
    assert kept.get(states[0], (other,), lambda: work(-2)) == -2  # other rules: worked anew
    assert len(worked) == 101
    del states, state
    gc.collect()
    assert len(kept) == 0


def test_a_segment_explanation_names_the_latest_of_every_fact_its_criterion_read() -> None:
    """Obstetrics charges and visits over 5,000 元: the explanation names the latest ten
    of the department's notes and the window's spend together, as read whole."""
    facts = [profile_fact("charge", n, 7 * n, 3 * n + 2) for n in range(1, 31)]
    facts += [profile_fact("visit", n, 5 * n + 1, 3 * n + 2) for n in range(31, 61)]
    facts += [profile_fact("charge", n, 3 * n + 50, 3 * n + 1) for n in range(61, 81)]  # elsewhere
    state = segments.ProfileState(member_id=ME)
    for fact in sorted(facts, key=lambda fact: fact.occurred_at):
        for event in segments.decide(fact, state, CONFIG, fact.occurred_at):
            state = segments.evolve(state, event)
    now = START + timedelta(days=300)
    with _everything_kept():
        kept = segments.evaluate(state, CONFIG, now)
    since = window_start(CONFIG.segments, now, SH)
    seen = [v for v in state.visits.values() if v.at >= since and v.department == "obstetrics"]
    seen += [c for c in state.charges.values() if c.at >= since and "obstetrics" in c.departments]
    assert kept.explanation.rule == "A.obstetrics_cosmetic"
    assert kept.explanation.fact_ids == evidence([*seen, *spend(state, since)[1]])
    named = {int(fact_id.removeprefix("f-")) for fact_id in kept.explanation.fact_ids}
    assert len(named) == 10
    assert named & set(range(31, 61))  # visits
    assert named & set(range(61, 81))  # spend elsewhere


def test_the_engine_carries_the_channel_readings_from_fact_to_fact() -> None:
    """Deciding a fact reads the profile its notes make; the record then moves on by the
    same events: it takes that very state, and the channel counts kept for it, so that a
    member's check-ins are not all counted again on each new one."""
    built: list[int] = []
    made = interactions._made

    def counted(notes: Mapping[str, InteractionNoted]) -> interactions.Timelines:
        built.append(len(notes))
        return made(notes)

    now = datetime(2026, 3, 2, 9, tzinfo=SH)
    with (
        patch.object(interactions, "_made", counted),
        Engine.open("memory://", config=CONFIG, clock=ManualClock(now)) as engine,
    ):
        engine.ingest([PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=now)])
        for n in range(80):
            at = now + timedelta(minutes=n + 1)
            engine.ingest([CheckedIn(fact_id=f"in-{n}", patient_id=ME, occurred_at=at)], now=at)
        assert len(engine.member(ME).profile.interactions) == 80
    kept = [size for size in built if size >= KEPT_FROM]
    assert len(kept) <= 1  # counted once, when there were enough to keep


def test_a_memo_holds_maps_within_its_weight_and_lets_the_oldest_used_go_first() -> None:
    """A member's maps grow and each fact makes new ones: the answers about them are
    bounded by what the maps hold in all, not only by their number."""
    memo: Memo[int] = Memo(1_000, weight=1_000)
    rules = object()
    kept_map = {f"k{n}": n for n in range(100)}
    worked: list[int] = []

    def work(n: int) -> int:
        worked.append(n)
        return n

    assert memo.get((rules, kept_map), None, lambda: work(-1)) == -1
    for size in range(1, 60):
        grown = {f"grown-{n}": [n] for n in range(100 + size)}  # a new version of a growing map
        assert memo.get((rules, grown), None, lambda size=size: work(size)) == size
        assert memo.get((rules, kept_map), None, lambda: work(-2)) == -1  # used: kept
    del grown
    gc.collect()
    alive = [held for held in gc.get_objects() if type(held) is dict and "grown-0" in held]
    assert len(alive) <= 1_000 // 100
    assert worked == [-1, *range(1, 60)]
