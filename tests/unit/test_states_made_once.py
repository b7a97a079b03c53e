"""Each state a part's event makes is made once, whether a decision read it first or not.

A part decides on the state its own events make (the tier state a visit's activity
makes, the journeys a step moves on) before the record is moved on by the same events;
the record takes that very state, with what was kept or carried for it, instead of
making each state (and copying its maps) a second time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, get_args
from unittest.mock import patch

import pytest

from membercore import Engine, journeys, reference_config, segments, tiers
from membercore.facts import ChargeLine, ChargePaid, CheckedIn, PatientRegistered, VisitCompleted
from membercore.journeys import state as journey_state
from membercore.ledger import LedgerState
from membercore.memo import EVOLVED
from membercore.service.recording import member_key
from membercore.testing.clock import ManualClock
from membercore.tiers import state as tier_state

ME = "p-1"
HELD = "p-held-long"  # a member of this test alone
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _visit_and_charge(n: int) -> list[Any]:
    at = NOW + timedelta(hours=5 * n + 1)
    visit = f"v-{n}"
    line = ChargeLine(department="internal", category="exam", amount_fen=20_000)
    return [
        VisitCompleted(
            fact_id=visit, patient_id=ME, occurred_at=at, visit_id=visit, first_visit=n == 0
        ),
        ChargePaid(
            fact_id=f"c-{n}", patient_id=ME, occurred_at=at, charge_id=f"c-{n}", lines=(line,)
        ),
    ]


@pytest.mark.parametrize(
    ("part", "events"),
    [(tier_state, tiers.TierEvent), (journey_state, journeys.JourneyEvent)],
    ids=["tiers", "journeys"],
)
def test_the_engine_makes_each_state_of_a_part_once(part: ModuleType, events: object) -> None:
    made: list[object] = []
    evolved: Callable[[Any, Any], Any] = part._evolved

    def counted(state: Any, event: Any) -> Any:
        made.append(event)
        return evolved(state, event)

    clock = ManualClock(NOW)
    with (
        patch.object(part, "_evolved", counted),
        Engine.open("memory://", config=reference_config(), clock=clock) as engine,
    ):
        engine.ingest([PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=NOW)])
        for n in range(30):
            facts = _visit_and_charge(n)
            clock.set(facts[0].occurred_at)
            engine.ingest(facts)
            engine.tick(clock.now())
        clock.set(NOW + timedelta(days=400))
        engine.tick(clock.now())
        journal = engine.store.events(member_key(ME))
    types = {kind.TYPE for kind in get_args(events)}
    recorded = [event for event in journal if event.type in types]
    assert len(recorded) >= 5
    assert len(made) == len(recorded)


def _alive(kind: type, member_id: str) -> int:
    """How many states of ``kind`` of the member are alive (other tests' may be too)."""
    gc.collect()
    return sum(1 for held in gc.get_objects() if type(held) is kind and held.member_id == member_id)


def test_a_state_held_long_holds_no_chain_of_the_states_made_after_it() -> None:
    """A record's snapshot is held while its journal is replayed: the states the events
    make after it are let go as the replay moves on, not kept by the states before."""
    config = reference_config()
    first = profile = segments.ProfileState(member_id=HELD)
    tier = tiers.TierState(member_id=HELD)
    ledger = LedgerState(member_id=HELD)
    for n in range(300):
        at = NOW + timedelta(hours=n)
        checked_in = CheckedIn(fact_id=f"in-{n}", patient_id=HELD, occurred_at=at)
        for note in segments.decide(checked_in, profile, config, at):
            profile = segments.evolve(profile, note)
        visit = VisitCompleted(fact_id=f"v-{n}", patient_id=HELD, occurred_at=at, visit_id=f"v-{n}")
        for activity in tiers.decide(visit, tier, ledger, config, at):
            tier = tiers.evolve(tier, activity)
    assert len(profile.interactions) == 300
    assert len(tier.visits) == 300
    assert first.interactions == {}  # the first state, held throughout
    assert _alive(segments.ProfileState, HELD) <= EVOLVED + 4
    assert _alive(tiers.TierState, HELD) <= EVOLVED + 4
