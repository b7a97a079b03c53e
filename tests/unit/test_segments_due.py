"""The days a profile's reading changes by itself are never missed (:func:`segments.next_change`).

Whatever facts a profile notes, walking the calendar day by day, every day its reading
differs from the day before — a tag, a tag's reason or evidence, the segment or its
explanation — is a day ``next_change`` named: a tick on it would read the profile again.
(It may name days on which nothing changes: they cost a refresh. It leaves out the days
a fact no reading holds leaves a window: a refund's own, an interaction counting for no
channel, a charge of no high-value category leaving that tag's days, a diagnosis that is
not obstetric reaching the pregnancy or post-partum span.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import ProgrammeConfig, reference_config, segments
from membercore.config.segments import HIGH_VALUE_TAG
from membercore.dates import local_day_start
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    DiagnosisRecorded,
    Fact,
    PatientRegistered,
    RefundIssued,
)

from .profile_facts import ME, SH, START, profile_fact
from .profile_facts import facts as profile_facts

CONFIG = reference_config()
DAYS = 800


facts = profile_facts(days=400, amounts=3000, most=12)


def _reading(state: segments.ProfileState, day: date) -> segments.Evaluation:
    """Everything the profile reads on ``day``: tags with reasons and evidence, segment."""
    return segments.evaluate(state, CONFIG, local_day_start(day, SH) + timedelta(hours=12))


@settings(max_examples=max(10, settings.default.max_examples // 10), deadline=None)
@given(facts=facts, born=st.dates(date(1940, 1, 1), date(2020, 12, 31)))
def test_every_day_a_profile_changes_by_itself_is_a_day_it_is_due(
    facts: list[tuple[str, int, int]], born: date
) -> None:
    state = segments.ProfileState(member_id=ME)
    noted: list[Fact] = [
        PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=START, birth_date=born)
    ]
    noted += [profile_fact(kind, n, day, amount) for n, (kind, day, amount) in enumerate(facts, 1)]
    last = max(fact.occurred_at for fact in noted)
    for fact in noted:
        for event in segments.decide(fact, state, CONFIG, last):
            state = segments.evolve(state, event)
    first = last.astimezone(SH).date()
    before = _reading(state, first)
    for offset in range(1, DAYS):
        day = first + timedelta(days=offset)
        now = _reading(state, day)
        if now != before:
            yesterday = local_day_start(day - timedelta(days=1), SH) + timedelta(hours=12)
            due = segments.next_change(state, CONFIG.segments, SH, yesterday)
            assert due is not None, (day, before, now)
            assert due <= local_day_start(day, SH), (day, due, before, now)
        before = now


def _named_days(facts: list[Fact], config: ProgrammeConfig) -> list[date]:
    """Every day ``next_change`` names after the facts, one after another."""
    state = segments.ProfileState(member_id=ME)
    last = max(fact.occurred_at for fact in facts)
    for fact in facts:
        for event in segments.decide(fact, state, config, last):
            state = segments.evolve(state, event)
    days: list[date] = []
    after: datetime | None = last
    while (due := segments.next_change(state, config.segments, SH, after)) is not None:
        days.append(due.astimezone(SH).date())
        after = due
    return days


def _spans(pregnancy: int, postpartum: int) -> ProgrammeConfig:
    """The reference programme with its obstetric spans apart from every tag's days."""
    rules = attrs.evolve(CONFIG.segments, pregnancy_days=pregnancy, postpartum_days=postpartum)
    return attrs.evolve(CONFIG, segments=rules)


def _on(day: int) -> dict[str, object]:
    return {"fact_id": f"f-{day}", "patient_id": ME, "occurred_at": START + timedelta(days=day)}


REGISTERED = PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=START)


def test_a_high_value_charge_is_due_when_it_leaves_the_tags_days_and_an_exam_is_not() -> None:
    implant = ChargeLine(department="dental", category="implant", amount_fen=600_000)
    exam = ChargeLine(department="dental", category="exam", amount_fen=600_000)
    high = _named_days(
        [REGISTERED, ChargePaid(**_on(1), charge_id="c-1", lines=(implant,))], CONFIG
    )
    plain = _named_days([REGISTERED, ChargePaid(**_on(1), charge_id="c-1", lines=(exam,))], CONFIG)
    charged = START.date() + timedelta(days=1)
    left = charged + timedelta(days=CONFIG.segments.tag_days[HIGH_VALUE_TAG])
    assert left in high
    assert left not in plain
    assert plain == [day for day in high if day != left]  # the window's exit, in both


def test_obstetric_diagnoses_are_due_at_the_end_of_their_spans_and_others_are_not() -> None:
    config = _spans(pregnancy=200, postpartum=100)
    diagnosed = START.date() + timedelta(days=1)

    def named(code: str) -> list[date]:
        fact = DiagnosisRecorded(**_on(1), icd10=code, visit_id="v-1")
        return _named_days([REGISTERED, fact], config)

    assert diagnosed + timedelta(days=200) in named("Z34.0")  # pregnancy
    assert diagnosed + timedelta(days=100) in named("O80")  # a delivery
    hypertension = named("I10")
    assert diagnosed + timedelta(days=200) not in hypertension
    assert diagnosed + timedelta(days=100) not in hypertension


def test_a_refund_and_an_interaction_counting_for_no_channel_name_no_day_of_their_own() -> None:
    line = ChargeLine(department="dental", category="exam", amount_fen=50_000)
    charged = [REGISTERED, ChargePaid(**_on(1), charge_id="c-1", lines=(line,))]
    refunded = [*charged, RefundIssued(**_on(40), charge_id="c-1", amount_fen=10_000)]
    assert _named_days(refunded, CONFIG) == _named_days(charged, CONFIG)
    kiosk = _named_days([REGISTERED, CheckedIn(**_on(1), channel="kiosk")], CONFIG)
    app = _named_days([REGISTERED, CheckedIn(**_on(1), channel="app")], CONFIG)
    assert kiosk == []
    assert len(app) == 1  # the day the check-in leaves the 12-month window
