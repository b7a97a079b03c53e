"""What the profile lets go never changes a reading: tags, segment, evidence, due days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import hypothesis
import pytest
from hypothesis import given, note, target
from hypothesis import strategies as st

from membercore import segments as sg
from membercore.config import ProgrammeConfig
from membercore.config.segments import HIGH_VALUE_TAG
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
from membercore.segments.forget import FORGET_AT_ONCE, forgettable

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2022, 1, 3, 9, 0, tzinfo=SH)
ME = "p-long"
CONFIG = ProgrammeConfig()
#: What a burst of facts is made of: anything, or only check-ins, charges, visits...
MIXES = ("vcrdbiph", "i", "c", "cr", "v", "d", "bp")
CODES = ("E11.9", "I10", "O26.8", "O80", "O03", "Z39.0", "J44.9", "R51", "J06.9")


@st.composite
def histories(draw: st.DrawFn) -> list[Fact]:
    """A member's facts over a few years, in time order: bursts of them between pauses."""
    bursts = draw(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60)), max_size=6))
    gaps = [hours for days, count in bursts for hours in (days * 24, *[7] * (count - 1))]
    mixes = [draw(st.sampled_from(MIXES)) for _ in bursts]
    kinds = [mix for (_, count), mix in zip(bursts, mixes, strict=True) for _ in range(count)]
    facts: list[Fact] = [
        PatientRegistered(
            fact_id="reg", patient_id=ME, occurred_at=START, birth_date=date(1990, 5, 1)
        )
    ]
    at = START
    charges: list[str] = []
    for n, hours in enumerate(gaps):
        at += timedelta(hours=hours)
        kind = draw(st.sampled_from(kinds[n]))
        common = {"fact_id": f"f-{n}", "patient_id": ME, "occurred_at": at}
        if kind == "v":
            dept = draw(st.sampled_from(["internal", "obstetrics", "dental"]))
            facts.append(VisitCompleted(**common, visit_id=f"v-{n}", department=dept))
        elif kind == "c":
            category = draw(st.sampled_from(["exam", "implant", "surgery"]))
            line = ChargeLine(department="internal", category=category, amount_fen=4_000_000)
            facts.append(ChargePaid(**common, charge_id=f"c-{n}", lines=(line,)))
            charges.append(f"c-{n}")
        elif kind == "r" and charges:
            charge = draw(st.sampled_from(charges))
            facts.append(RefundIssued(**common, charge_id=charge, amount_fen=100_000))
        elif kind == "d":
            code = draw(st.sampled_from(CODES))
            facts.append(DiagnosisRecorded(**common, icd10=code, visit_id=f"v-{n}"))
        elif kind == "b":
            facts.append(DeliveryRecorded(**common, visit_id=f"ip-{n}"))
        elif kind == "p":
            facts.append(RehabPlanJoined(**common, plan_id="postnatal"))
        else:
            channel = draw(st.sampled_from(["app", "wecom", "sms"]))
            facts.append(CheckedIn(**common, channel=channel))
    return facts


def _noted(state: sg.ProfileState) -> int:
    return len(state.facts)


@st.composite
def configs(draw: st.DrawFn) -> ProgrammeConfig:
    """The reference programme, or one with a short window and long high-value days."""
    months = draw(st.sampled_from([12, 3]))
    days = draw(st.sampled_from([180, 500]))
    tag_days = {**CONFIG.segments.tag_days, HIGH_VALUE_TAG: days}
    rules = attrs.evolve(CONFIG.segments, window_months=months, tag_days=tag_days)
    return attrs.evolve(CONFIG, segments=rules)


@pytest.mark.slow
@given(histories(), st.lists(st.integers(0, 800), min_size=1, max_size=4), configs())
def test_what_is_forgotten_never_changes_a_reading(
    facts: list[Fact], later: list[int], config: ProgrammeConfig
) -> None:
    kept = whole = sg.ProfileState(member_id=ME)
    forgotten = 0
    for fact in facts:
        now = fact.occurred_at
        events = sg.decide(fact, kept, config, now)
        for event in events:
            kept = sg.evolve(kept, event)
            if isinstance(event, sg.NotesForgotten):
                forgotten += len(event.fact_ids)
            else:
                whole = sg.evolve(whole, event)
        assert (kept.tags, kept.segment, kept.explanation) == (
            whole.tags,
            whole.segment,
            whole.explanation,
        )
    note(f"{forgotten} of {_noted(whole)} facts forgotten")
    hypothesis.event("some forgotten" if forgotten else "none forgotten")
    target(forgotten)
    assert _noted(kept) == _noted(whole) - forgotten
    # what the engine reads beside the readings: the diagnosis noted last (a message may
    # name it) and the first visits (a referral names the first)
    assert list(kept.diagnoses)[-1:] == list(whole.diagnoses)[-1:]
    first = min((visit.at for visit in whole.visits.values()), default=None)
    assert {k for k, v in kept.visits.items() if v.at == first} == {
        k for k, v in whole.visits.items() if v.at == first
    }
    last = facts[-1].occurred_at
    for days in sorted(later):
        then = last + timedelta(days=days, hours=3)
        assert sg.evaluate(kept, config, then) == sg.evaluate(whole, config, then)
        assert sg.rfm(kept, config, then) == sg.rfm(whole, config, then)
        assert sg.life_stage(kept, then, SH) == sg.life_stage(whole, then, SH)
        changes = sg.next_change(kept, config.segments, SH, then)
        if changes is not None:  # a day forgotten facts named changes nothing
            assert sg.evaluate(kept, config, changes) == sg.evaluate(whole, config, changes)


def test_a_long_history_is_let_go_and_the_window_kept() -> None:
    state = sg.ProfileState(member_id=ME)
    events: list[sg.ProfileEvent] = []
    for n in range(400):  # a check-in and a visit every few days over three years
        at = START + timedelta(days=n * 3)
        for fact in (
            CheckedIn(fact_id=f"in-{n}", patient_id=ME, occurred_at=at, channel="app"),
            VisitCompleted(fact_id=f"v-{n}", patient_id=ME, occurred_at=at, visit_id=f"v-{n}"),
        ):
            made = sg.decide(fact, state, CONFIG, at)
            events += made
            for event in made:
                state = sg.evolve(state, event)
    let_go = [event for event in events if isinstance(event, sg.NotesForgotten)]
    assert let_go
    assert all(len(event.fact_ids) >= FORGET_AT_ONCE for event in let_go)
    # what remains: about a year of each (122 days of three), the first visit
    assert 240 <= len(state.facts) <= 260 + 2 * FORGET_AT_ONCE
    assert "v-0" in state.visits  # the first visit, which a referral must name
    assert "in-0" not in state.interactions
    assert sg.replay(ME, events) == state


def test_a_high_value_charge_is_kept_for_the_tags_days_beyond_the_window() -> None:
    rules = attrs.evolve(CONFIG.segments, tag_days={HIGH_VALUE_TAG: 500}, window_months=3)
    config = attrs.evolve(CONFIG, segments=rules)
    implant = ChargeLine(department="dental", category="implant", amount_fen=4_000_000)
    state = sg.ProfileState(member_id=ME)
    facts: list[Fact] = [
        ChargePaid(fact_id="big", patient_id=ME, occurred_at=START, charge_id="c", lines=(implant,))
    ]
    refund = RefundIssued(
        fact_id="ref", patient_id=ME, occurred_at=START, charge_id="c", amount_fen=100_000
    )
    facts += [refund]
    facts += [
        CheckedIn(fact_id=f"in-{n}", patient_id=ME, occurred_at=START + timedelta(days=n))
        for n in range(1, 450)
    ]
    exam = ChargeLine(department="internal", category="exam", amount_fen=20_000)
    at = START + timedelta(days=460)
    facts.append(
        ChargePaid(fact_id="small", patient_id=ME, occurred_at=at, charge_id="s", lines=(exam,))
    )
    for fact in facts:
        for event in sg.decide(fact, state, config, fact.occurred_at):
            state = sg.evolve(state, event)
    assert "big" in state.charges
    assert "ref" in state.refunds  # what the tag's net amount is reckoned on
    assert HIGH_VALUE_TAG in state.tags
    assert "big" not in forgettable(state, rules, SH, START + timedelta(days=499))
    assert "big" in forgettable(state, rules, SH, START + timedelta(days=501))
