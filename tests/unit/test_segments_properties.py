from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import segments as sg
from membercore.config import ProgrammeConfig
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

SH = ZoneInfo("Asia/Shanghai")
ME = "p-li"
CONFIG = ProgrammeConfig()
MIDNIGHT = datetime(2026, 5, 10, 0, 0, tzinfo=SH)
CODES = (
    "E11.9",
    "E119",
    "I10",
    "O26.8",
    "O80",
    "O03.9",
    "Z34.0",
    "Z39.2",
    "Z96.6",
    "S72.0",
    "Z96.5",
    "J06.9",
)
AMOUNTS = (199_999, 200_000, 500_000, 1_000_000, 2_500_000, 5_000_000)
DEPARTMENTS = ("internal", "obstetrics", "cosmetic", "ortho")
KINDS = ("registration", "diagnosis", "delivery", "visit", "charge", "refund", "check_in", "rehab")

# Facts of the last two years, by days and minutes back from the end of 10 May 2026.
LAST_MINUTE = datetime(2026, 5, 10, 23, 59, tzinfo=SH)
instants = st.builds(
    lambda days, minutes: LAST_MINUTE - timedelta(days=days, minutes=minutes),
    st.integers(0, 740),
    st.integers(0, 24 * 60 - 1),
)
# Instants of one local day: 10 May 2026 in Shanghai.
moments_of_the_day = st.integers(0, 24 * 3600 - 1).map(lambda s: MIDNIGHT + timedelta(seconds=s))


@st.composite
def one_fact(draw: st.DrawFn, fact_id: str) -> Fact:  # noqa: PLR0911 - a branch per kind
    kind = draw(st.sampled_from(KINDS))
    common: dict[str, Any] = {"fact_id": fact_id, "patient_id": ME, "occurred_at": draw(instants)}
    small = st.sampled_from(("1", "2", "3"))  # ids repeat across facts: resent visits, charges
    if kind == "registration":
        return PatientRegistered(
            **common,
            birth_date=draw(st.none() | st.dates(date(1940, 1, 1), date(2025, 12, 31))),
            preferred_channel=draw(st.none() | st.sampled_from(("wecom", "sms", "phone"))),
        )
    if kind == "diagnosis":
        return DiagnosisRecorded(**common, icd10=draw(st.sampled_from(CODES)), visit_id="v")
    if kind == "delivery":
        return DeliveryRecorded(**common, visit_id="ip")
    if kind == "visit":
        department = draw(st.sampled_from(DEPARTMENTS))
        return VisitCompleted(**common, visit_id=f"v-{draw(small)}", department=department)
    if kind == "charge":
        # Amounts at and around the band and criterion thresholds, and anything else.
        fen = draw(st.sampled_from(AMOUNTS) | st.integers(1, 6_000_000))
        line = ChargeLine(
            department=draw(st.sampled_from(DEPARTMENTS)),
            category="treatment",
            amount_fen=fen,
            insurance_fen=draw(st.sampled_from((0, 0, fen // 3))),
        )
        return ChargePaid(**common, charge_id=f"c-{draw(small)}", lines=(line,))
    if kind == "refund":
        amount = draw(st.integers(1, 1_000_000))
        return RefundIssued(**common, charge_id=f"c-{draw(small)}", amount_fen=amount)
    if kind == "check_in":
        return CheckedIn(**common, channel=draw(st.sampled_from(("app", "sms", "email", "kiosk"))))
    return RehabPlanJoined(**common, plan_id="knee")


@st.composite
def histories(draw: st.DrawFn) -> list[Fact]:
    size = draw(st.integers(1, 14))
    return [draw(one_fact(f"f-{number}")) for number in range(size)]


def deliver(
    facts: list[Fact], moments: list[datetime]
) -> tuple[sg.ProfileState, list[sg.ProfileEvent]]:
    state = sg.ProfileState(member_id=ME)
    journal: list[sg.ProfileEvent] = []
    for fact, now in zip(facts, sorted(moments), strict=True):
        events = sg.decide(fact, state, CONFIG, now)
        for event in events:
            state = sg.evolve(state, event)
        journal += events
    return state, journal


def moments(count: int) -> st.SearchStrategy[list[datetime]]:
    return st.lists(moments_of_the_day, min_size=count, max_size=count)


@pytest.mark.slow
@given(facts=histories(), data=st.data())
def test_the_same_facts_in_any_order_or_twice_within_a_day_make_the_same_profile(
    facts: list[Fact], data: st.DataObject
) -> None:
    again = data.draw(st.lists(st.sampled_from(facts), max_size=4), label="delivered again")
    shuffled = data.draw(st.permutations([*facts, *again]), label="delivery order")
    first, _ = deliver(facts, data.draw(moments(len(facts))))
    second, _ = deliver(shuffled, data.draw(moments(len(shuffled))))
    assert sg.tags(second) == sg.tags(first)
    assert sg.segment_of(second) == sg.segment_of(first)
    assert second == first


@pytest.mark.slow
@given(facts=histories(), data=st.data())
def test_replaying_the_journal_rebuilds_the_same_profile(
    facts: list[Fact], data: st.DataObject
) -> None:
    state, journal = deliver(facts, data.draw(moments(len(facts))))
    assert sg.replay(ME, journal) == state


@pytest.mark.slow
@given(facts=histories(), data=st.data(), later=moments_of_the_day)
def test_a_decided_profile_is_what_an_evaluation_later_that_day_finds(
    facts: list[Fact], data: st.DataObject, later: datetime
) -> None:
    state, _ = deliver(facts, data.draw(moments(len(facts))))
    found = sg.evaluate(state, CONFIG, later)
    assert dict(found.tags) == dict(state.tags)
    assert (found.segment, found.explanation) == (state.segment, state.explanation)


@pytest.mark.slow
@given(facts=histories(), data=st.data())
def test_every_tag_and_segment_decision_names_only_facts_the_member_has(
    facts: list[Fact], data: st.DataObject
) -> None:
    state, _ = deliver(facts, data.draw(moments(len(facts))))
    assert state.explanation is not None
    named = {fact_id for tag in state.tags.values() for fact_id in tag.fact_ids}
    named |= set(state.explanation.fact_ids)
    assert named <= set(state.facts)
    assert state.segment in {"A", "B", "C"}
    assert sum(tag.startswith("spend:") for tag in sg.tags(state)) == 1
