"""A profile's readings kept by the maps of notes they read are the readings worked out anew.

As facts of every kind arrive one by one (each new state sharing the maps of the kinds
it did not change), on the same days across the windows, :func:`segments.evaluate` and
:func:`segments.next_change` answer for each state exactly what they answer with nothing
kept at all (each reading worked out from the state as it is).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import reference_config, segments
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    DeliveryRecorded,
    DiagnosisRecorded,
    Fact,
    PatientRegistered,
    RefundIssued,
    RehabPlanJoined,
    VisitCompleted,
)
from membercore.segments import derive, due
from membercore.segments.memo import Memo, WhileAlive

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2027, 1, 20, 10, 0, tzinfo=SH)
CONFIG = reference_config()
ME = "p-1"


def _fact(kind: str, n: int, day: int, amount: int) -> Fact:  # noqa: PLR0911 - one per kind
    at = START + timedelta(days=day, hours=n % 9)
    common: dict[str, Any] = {"fact_id": f"f-{n}", "patient_id": ME, "occurred_at": at}
    if kind == "charge":
        category = "implant" if amount % 3 == 0 else "exam"
        department = ("dental", "orthopaedics", "obstetrics")[amount % 3]
        line = ChargeLine(department=department, category=category, amount_fen=amount * 2000)
        # Few charge ids: refunds find their charge, and a charge sent again counts once.
        return ChargePaid(**common, charge_id=f"c-{n % 4}", lines=(line,))
    if kind == "refund":
        return RefundIssued(**common, charge_id=f"c-{amount % 4}", amount_fen=amount * 100)
    if kind == "visit":
        department = ("dental", "orthopaedics", "obstetrics")[amount % 3]
        return VisitCompleted(**common, visit_id=f"v-{n}", department=department)
    if kind == "checkin":
        return CheckedIn(**common, channel=("app", "kiosk", "wechat")[amount % 3])
    if kind == "rehab":
        return RehabPlanJoined(**common, plan_id="knee")
    if kind == "delivery":
        return DeliveryRecorded(**common, visit_id=f"ip-{n}")
    if kind == "registration":  # a birth date corrected, a channel declared
        born = date(1955 + amount % 60, 1 + amount % 12, 1)
        channel = ("sms", "wecom", None)[amount % 3]
        return PatientRegistered(**common, birth_date=born, preferred_channel=channel)
    code = {0: "E11.9", 1: "Z34.0", 2: "O80", 3: "I10"}[amount % 4]
    return DiagnosisRecorded(**common, icd10=code, visit_id=f"v-{n}")


facts = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "charge",
                "visit",
                "checkin",
                "rehab",
                "delivery",
                "diagnosis",
                "refund",
                "registration",
            ]
        ),
        st.integers(0, 500),
        st.integers(1, 400),
    ),
    min_size=1,
    max_size=16,
)


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
    ):
        yield


@settings(deadline=None)
@given(facts=facts, born=st.dates(date(1950, 1, 1), date(2015, 12, 31)), days=st.data())
def test_kept_readings_are_the_readings_worked_out_anew(
    facts: list[tuple[str, int, int]], born: date, days: st.DataObject
) -> None:
    state = segments.ProfileState(member_id=ME)
    noted: list[Fact] = [
        PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=START, birth_date=born)
    ]
    noted += [_fact(kind, n, day, amount) for n, (kind, day, amount) in enumerate(facts, 1)]
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
