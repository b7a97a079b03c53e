"""The days a profile's reading changes by itself are never missed (:func:`segments.next_change`).

Whatever facts a profile notes, walking the calendar day by day, every day its tags or
segment differ from the day before is a day ``next_change`` named: a tick on it would
read the profile again. (It may name days on which nothing changes: they cost a refresh.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from membercore import reference_config, segments
from membercore.dates import local_day_start
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
START = datetime(2027, 1, 20, 10, 0, tzinfo=SH)  # a year with 29 February ahead
CONFIG = reference_config()
ME = "p-1"
DAYS = 800


def _fact(kind: str, n: int, day: int, amount: int) -> Fact:  # noqa: PLR0911 - one per kind
    at = START + timedelta(days=day, hours=n % 9)
    common = {"fact_id": f"f-{n}", "patient_id": ME, "occurred_at": at}
    if kind == "charge":
        category = "implant" if amount % 3 == 0 else "exam"
        line = ChargeLine(department="dental", category=category, amount_fen=amount * 1000)
        return ChargePaid(**common, charge_id=f"c-{n}", lines=(line,))
    if kind == "refund":
        return RefundIssued(**common, charge_id="c-0", amount_fen=amount)
    if kind == "visit":
        return VisitCompleted(**common, visit_id=f"v-{n}")
    if kind == "checkin":
        return CheckedIn(**common, channel="wecom")
    if kind == "rehab":
        return RehabPlanJoined(**common, plan_id="knee")
    if kind == "delivery":
        return DeliveryRecorded(**common, visit_id=f"ip-{n}")
    code = {0: "E11.9", 1: "Z34.0", 2: "O80", 3: "I10"}[amount % 4]
    return DiagnosisRecorded(**common, icd10=code, visit_id=f"v-{n}")


facts = st.lists(
    st.tuples(
        st.sampled_from(["charge", "visit", "checkin", "rehab", "delivery", "diagnosis", "refund"]),
        st.integers(0, 400),
        st.integers(1, 3000),
    ),
    max_size=12,
)


def _reading(state: segments.ProfileState, day: date) -> tuple[frozenset[str], str]:
    now = local_day_start(day, SH) + timedelta(hours=12)
    found = segments.evaluate(state, CONFIG, now)
    return frozenset(found.tags), found.segment


@settings(max_examples=max(10, settings.default.max_examples // 10), deadline=None)
@given(facts=facts, born=st.dates(date(1940, 1, 1), date(2020, 12, 31)))
def test_every_day_a_profile_changes_by_itself_is_a_day_it_is_due(
    facts: list[tuple[str, int, int]], born: date
) -> None:
    state = segments.ProfileState(member_id=ME)
    noted: list[Fact] = [
        PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=START, birth_date=born)
    ]
    noted += [_fact(kind, n, day, amount) for n, (kind, day, amount) in enumerate(facts, 1)]
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
            assert due <= local_day_start(day, SH), (day, due, before ^ now)
        before = now
