from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import segments as sg
from membercore.config import ProgrammeConfig
from membercore.config.segments import (
    HighValueTreatment,
    RfmBreakpoints,
    SegmentCriterion,
    SegmentDefinition,
    SegmentRules,
    SpendingBand,
    reference_segment_definitions,
)
from membercore.errors import (
    ConfigError,
    IdempotencyConflictError,
    InvalidCodeError,
    InvalidFactError,
    MemberMismatchError,
    ReservedTagError,
)
from membercore.facts import (
    CLINICAL_FACT_TYPES,
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    DeliveryRecorded,
    DiagnosisRecorded,
    Fact,
    PatientRegistered,
    RefundIssued,
    RehabPlanJoined,
    VisitCompleted,
)
from membercore.facts.icd10 import CODE_TABLE, CodeRule, conditions_for, is_code, normalise
from membercore.serialization import converter, dump_config, load_config

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 10, 9, 0, tzinfo=SH)
ME = "p-li"
CONFIG = ProgrammeConfig()


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


MARCH_1 = at(2026, 3, 1)


def run(
    *messages: Fact | sg.ProfileCommand,
    state: sg.ProfileState | None = None,
    now: datetime = NOW,
    config: ProgrammeConfig = CONFIG,
    family: sg.FamilyStatus | None = None,
) -> sg.ProfileState:
    state = state or sg.ProfileState(member_id=ME)
    for message in messages:
        for event in sg.decide(message, state, config, now, family=family):
            state = sg.evolve(state, event)
    return state


def events_of(
    message: Fact | sg.ProfileCommand, state: sg.ProfileState, now: datetime = NOW
) -> list[sg.ProfileEvent]:
    return sg.decide(message, state, CONFIG, now)


def diagnosis(code: str, on: datetime = MARCH_1, fact_id: str = "") -> DiagnosisRecorded:
    return DiagnosisRecorded(
        fact_id=fact_id or f"dx-{code}-{on:%Y%m%d}",
        patient_id=ME,
        occurred_at=on,
        icd10=code,
        visit_id=f"v-{on:%Y%m%d}",
    )


def born(day: date, fact_id: str = "reg-1", **stated: Any) -> PatientRegistered:
    return PatientRegistered(
        fact_id=fact_id, patient_id=ME, occurred_at=at(2020, 1, 1), birth_date=day, **stated
    )


def visit(department: str, on: datetime, fact_id: str = "") -> VisitCompleted:
    return VisitCompleted(
        fact_id=fact_id or f"visit-{on:%Y%m%d%H%M}",
        patient_id=ME,
        occurred_at=on,
        visit_id=fact_id or f"v-{on:%Y%m%d%H%M}",
        department=department,
    )


def charge(
    fen: int,
    on: datetime = MARCH_1,
    department: str = "internal",
    fact_id: str = "",
    insurance: int = 0,
) -> ChargePaid:
    line = ChargeLine(
        department=department, category="treatment", amount_fen=fen, insurance_fen=insurance
    )
    return ChargePaid(
        fact_id=fact_id or f"pay-{fen}-{on:%Y%m%d%H%M}",
        patient_id=ME,
        occurred_at=on,
        charge_id=fact_id or f"c-{fen}-{on:%Y%m%d%H%M}",
        lines=(line,),
    )


def add_tag(tag: str, key: str = "k-1") -> sg.AddTag:
    return sg.AddTag(key=key, member_id=ME, tag=tag, reason="win-back journey")


# --- ICD-10 ------------------------------------------------------------------------------


def test_type_2_diabetes_is_recognised_in_dotted_and_undotted_forms() -> None:
    expected = ("chronic_disease", "diabetes", "type2_diabetes")
    assert conditions_for("E11.9") == expected
    assert conditions_for("E119") == expected
    assert conditions_for("e11.9 ") == expected
    assert normalise("E11.9") == normalise("E119") == "E119"


def test_the_national_clinical_extension_codes_match_by_their_category() -> None:
    assert conditions_for("E11.900x001") == ("chronic_disease", "diabetes", "type2_diabetes")
    assert conditions_for("I10.x00x002") == ("chronic_disease", "hypertension")


@pytest.mark.parametrize(
    ("code", "conditions"),
    [
        ("E09.9", ()),
        ("E10.9", ("chronic_disease", "diabetes", "type1_diabetes")),
        ("E14", ("chronic_disease", "diabetes")),
        ("E15", ()),
        ("I09.9", ()),
        ("I10", ("chronic_disease", "hypertension")),
        ("I15.0", ("chronic_disease", "hypertension")),
        ("I16", ()),
    ],
)
def test_a_code_range_covers_its_first_and_last_categories_and_nothing_beyond(
    code: str, conditions: tuple[str, ...]
) -> None:
    assert conditions_for(code) == conditions


@pytest.mark.parametrize(
    ("code", "conditions"),
    [
        ("O03.9", ("obstetric", "pregnancy_loss")),
        ("O24.4", ("obstetric", "pregnancy")),
        ("O80", ("delivery", "obstetric")),
        ("O86.0", ("obstetric", "puerperium")),
        ("O99.8", ("obstetric",)),
        ("O9A.1", ("obstetric",)),
        ("Z34.0", ("obstetric", "pregnancy")),
        ("Z3A.20", ("obstetric", "pregnancy")),
        ("Z37.0", ("delivery", "obstetric")),
        ("Z39.2", ("obstetric", "puerperium")),
        ("Z32.1", ()),
        ("Z38.0", ()),
    ],
)
def test_obstetric_codes_tell_pregnancy_delivery_puerperium_and_loss_apart(
    code: str, conditions: tuple[str, ...]
) -> None:
    assert conditions_for(code) == conditions


@pytest.mark.parametrize(
    ("code", "conditions"),
    [
        ("Z96.5", ("dental_implant",)),
        ("Z96.6", ("orthopaedic_surgery",)),
        ("Z96.61", ("orthopaedic_surgery",)),
        ("Z96", ()),
        ("Z47.1", ("orthopaedic_surgery",)),
        ("S72.00", ("femur_fracture",)),
        ("M17.1", ("joint_arthrosis",)),
        ("K08.1", ("tooth_loss",)),
        ("K08.2", ()),
    ],
)
def test_orthopaedic_and_dental_codes_make_their_conditions(
    code: str, conditions: tuple[str, ...]
) -> None:
    assert conditions_for(code) == conditions


def test_text_that_is_not_an_icd10_code_is_refused() -> None:
    assert not is_code("hello")
    assert not is_code("11.9")
    with pytest.raises(InvalidCodeError, match="'E1' is not an ICD-10 code"):
        normalise("E1")
    with pytest.raises(InvalidFactError, match=r"diagnosis_recorded\.icd10"):
        diagnosis("diabetes")


def test_an_unknown_code_makes_no_tag_but_the_diagnosis_is_recorded() -> None:
    state = run(diagnosis("J06.9", fact_id="dx-cold"))
    assert state.diagnoses["dx-cold"].conditions == ()
    assert state.diagnoses["dx-cold"].icd10 == "J06.9"
    assert not {tag for tag in sg.tags(state) if tag.startswith("condition:")}


def test_a_hospital_adds_its_own_code_rules() -> None:
    thyroid = CodeRule(first="E03", last="E03", conditions=("hypothyroidism",), label="甲减")
    config = ProgrammeConfig(segments=SegmentRules(extra_codes=(thyroid,)))
    state = run(diagnosis("E03.9", fact_id="dx-thyroid"), config=config)
    assert state.tags["condition:hypothyroidism"] == sg.Tag(
        reason="E03.9 on 2026-03-01", fact_ids=("dx-thyroid",)
    )


def test_a_code_rule_is_stored_undotted_and_checked() -> None:
    assert CodeRule(first="Z96.5", last="Z96.5", conditions=("dental_implant",)).first == "Z965"
    with pytest.raises(ConfigError, match="'last'"):
        CodeRule(first="E14", last="E10", conditions=("diabetes",))
    with pytest.raises(ConfigError, match=r"conditions\[0\]"):
        CodeRule(first="E10", last="E14", conditions=("Diabetes!",))
    assert all(rule.first <= rule.last for rule in CODE_TABLE)


# --- life stage --------------------------------------------------------------------------


def test_a_patient_becomes_an_adult_at_local_midnight_of_their_eighteenth_birthday() -> None:
    state = run(born(date(2008, 5, 10)))
    just_before = datetime(2026, 5, 9, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    midnight = datetime(2026, 5, 9, 16, 0, tzinfo=UTC)  # 00:00 on 10 May in Shanghai
    assert sg.life_stage(state, just_before, SH) == "child"
    assert sg.life_stage(state, midnight, SH) == "adult"


def test_a_patient_becomes_a_senior_on_their_sixtieth_birthday() -> None:
    state = run(born(date(1966, 5, 10)))
    assert sg.life_stage(state, at(2026, 5, 9, 23, 59), SH) == "adult"
    assert sg.life_stage(state, at(2026, 5, 10, 0, 0), SH) == "senior"


def test_a_leap_day_birthday_counts_from_the_first_of_march() -> None:
    state = run(born(date(2008, 2, 29)))
    assert sg.life_stage(state, at(2026, 2, 28, 23, 59), SH) == "child"
    assert sg.life_stage(state, at(2026, 3, 1, 0, 0), SH) == "adult"


def test_without_a_birth_date_or_obstetric_facts_the_life_stage_is_unknown() -> None:
    assert sg.life_stage(sg.ProfileState(member_id=ME), NOW, SH) is None


def test_the_latest_registration_stating_a_birth_date_wins() -> None:
    state = run(
        born(date(1990, 1, 1), fact_id="reg-1"),
        PatientRegistered(fact_id="reg-2", patient_id=ME, occurred_at=at(2021, 1, 1)),
        PatientRegistered(
            fact_id="reg-0", patient_id=ME, occurred_at=at(2019, 1, 1), birth_date=date(2015, 1, 1)
        ),
    )
    assert sg.life_stage(state, NOW, SH) == "adult"
    assert state.tags["stage:adult"] == sg.Tag(reason="born 1990-01-01", fact_ids=("reg-1",))


def test_a_pregnancy_diagnosis_makes_a_patient_pregnant_until_she_delivers() -> None:
    state = run(born(date(1994, 6, 1)), diagnosis("O26.8", at(2026, 3, 1), "dx-1"))
    assert sg.life_stage(state, NOW, SH) == "pregnant"
    assert state.tags["stage:pregnant"] == sg.Tag(
        reason="pregnancy recorded on 2026-03-01 (O26.8), no delivery since", fact_ids=("dx-1",)
    )
    delivered = DeliveryRecorded(
        fact_id="birth-1", patient_id=ME, occurred_at=at(2026, 5, 5), visit_id="ip-1"
    )
    state = run(delivered, state=state)
    assert sg.life_stage(state, NOW, SH) == "postpartum"
    assert {"stage:postpartum", "stage:adult", "condition:delivery"} <= sg.tags(state)
    assert "stage:pregnant" not in sg.tags(state)


def test_the_post_partum_stage_lasts_365_days_from_the_delivery() -> None:
    state = run(born(date(1994, 6, 1)), diagnosis("O80", at(2025, 5, 10, 23, 0), "dx-birth"))
    assert sg.life_stage(state, at(2026, 5, 9, 23, 59), SH) == "postpartum"  # day 365
    assert sg.life_stage(state, at(2026, 5, 10, 0, 0), SH) == "adult"


def test_a_pregnancy_without_news_is_assumed_over_after_280_days() -> None:
    state = run(diagnosis("Z34.0", at(2025, 8, 3), "dx-1"))
    assert sg.life_stage(state, at(2026, 5, 9), SH) == "pregnant"  # 3 Aug + 279 days
    assert sg.life_stage(state, at(2026, 5, 10), SH) is None


def test_a_pregnancy_loss_ends_the_pregnancy_without_a_post_partum_stage() -> None:
    state = run(
        born(date(1994, 6, 1)),
        diagnosis("O26.8", at(2026, 2, 1), "dx-1"),
        diagnosis("O03.9", at(2026, 3, 1), "dx-2"),
    )
    assert sg.life_stage(state, NOW, SH) == "adult"
    assert "condition:pregnancy_loss" in sg.tags(state)
    assert not {"stage:pregnant", "stage:postpartum"} & sg.tags(state)


# --- spending power ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "band"),
    [
        (0, "basic"),
        (199_999, "basic"),
        (200_000, "medium"),
        (999_999, "medium"),
        (1_000_000, "high"),
        (4_999_999, "high"),
        (5_000_000, "premium"),
    ],
)
def test_spending_bands_start_exactly_at_their_thresholds(fen: int, band: str) -> None:
    state = run(charge(fen)) if fen else run(sg.RefreshProfile(member_id=ME))
    assert sg.spending_band(state, CONFIG, NOW).key == band
    assert f"spend:{band}" in sg.tags(state)


def test_insurance_and_refunds_are_not_out_of_pocket_spend_whatever_the_order() -> None:
    paid = charge(300_000, insurance=100_000, fact_id="pay-1")
    refund = RefundIssued(
        fact_id="ref-1",
        patient_id=ME,
        occurred_at=at(2026, 3, 5),
        charge_id="pay-1",
        amount_fen=50_000,
    )
    assert sg.out_of_pocket_fen(run(paid, refund), CONFIG, NOW) == 150_000
    assert sg.out_of_pocket_fen(run(refund, paid), CONFIG, NOW) == 150_000
    too_much = attrs.evolve(refund, fact_id="ref-2", amount_fen=900_000)
    assert sg.out_of_pocket_fen(run(paid, too_much), CONFIG, NOW) == 0


def test_the_spending_window_starts_at_local_midnight_twelve_months_back() -> None:
    assert sg.window_start(CONFIG.segments, NOW, SH) == at(2025, 5, 10, 0, 0)
    inside = charge(200_000, on=at(2025, 5, 10, 0, 0))
    outside = charge(300_000, on=at(2025, 5, 9, 23, 59))
    assert sg.out_of_pocket_fen(run(inside, outside), CONFIG, NOW) == 200_000


# --- RFM ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "score"),
    [(0, 5), (30, 5), (31, 4), (90, 4), (91, 3), (180, 3), (181, 2), (365, 2), (366, 1)],
)
def test_recency_scores_drop_just_after_each_breakpoint(days: int, score: int) -> None:
    state = run(visit("internal", at(2026, 5, 10, 8, 0) - timedelta(days=days)))
    result = sg.rfm(state, CONFIG, NOW)
    assert (result.recency_days, result.recency) == (days, score)


def test_a_member_never_seen_scores_one_everywhere() -> None:
    result = sg.rfm(sg.ProfileState(member_id=ME), CONFIG, NOW)
    assert (result.recency_days, result.code) == (None, "111")


@pytest.mark.parametrize(("visits", "score"), [(1, 1), (2, 2), (3, 2), (4, 3), (6, 4), (12, 5)])
def test_frequency_scores_count_the_breakpoints_reached(visits: int, score: int) -> None:
    state = run(*(visit("internal", at(2026, 1, 1 + number)) for number in range(visits)))
    assert sg.rfm(state, CONFIG, NOW).frequency == score


@pytest.mark.parametrize(
    ("fen", "score"), [(99_999, 1), (100_000, 2), (500_000, 3), (1_000_000, 4), (3_000_000, 5)]
)
def test_monetary_scores_count_the_breakpoints_reached(fen: int, score: int) -> None:
    assert sg.rfm(run(charge(fen)), CONFIG, NOW).monetary == score


def test_rfm_reads_as_one_code() -> None:
    state = run(
        visit("internal", at(2026, 4, 20)),  # 20 days ago: recency 5
        visit("internal", at(2026, 2, 1)),
        visit("internal", at(2025, 12, 1)),
        visit("internal", at(2025, 10, 1)),  # 4 visits: frequency 3
        charge(1_200_000, on=at(2026, 4, 20, 11)),  # 12,000 元: monetary 4
    )
    result = sg.rfm(state, CONFIG, NOW)
    assert result == sg.Rfm(
        recency_days=20, visits=4, spend_fen=1_200_000, recency=5, frequency=3, monetary=4
    )
    assert result.code == "534"


# --- segments ----------------------------------------------------------------------------


def test_an_obstetrics_patient_is_in_segment_a_and_gets_a_case_manager() -> None:
    state = run(
        born(date(1994, 6, 1)),
        visit("obstetrics", at(2026, 3, 1), "visit-1"),
        diagnosis("Z34.0", at(2026, 3, 1), "dx-1"),
    )
    assert sg.segment_of(state) == "A"
    assert state.explanation == sg.Explanation(
        rule="A.maternity", detail="tag stage:pregnant", fact_ids=("dx-1",)
    )
    assert sg.service_level("A", CONFIG.segments) == "case_manager"


def test_a_chronic_disease_patient_is_in_segment_a() -> None:
    state = run(diagnosis("E11.9", at(2026, 3, 1), "dx-1"))
    assert state.explanation == sg.Explanation(
        rule="A.chronic_disease", detail="tag condition:chronic_disease", fact_ids=("dx-1",)
    )


def test_a_cosmetic_patient_reaches_segment_a_at_5000_yuan_out_of_pocket() -> None:
    state = run(charge(499_999, department="cosmetic", fact_id="pay-1"))
    assert sg.segment_of(state) == "C"
    state = run(charge(1, on=at(2026, 3, 2), department="cosmetic", fact_id="pay-2"), state=state)
    assert state.explanation == sg.Explanation(
        rule="A.obstetrics_cosmetic",
        detail="department cosmetic; spent 5,000.00 元, at least 5,000.00 元",
        fact_ids=("pay-1", "pay-2"),
    )


def test_a_patient_in_rehab_after_surgery_is_in_segment_b_with_a_follow_up_plan() -> None:
    joined = RehabPlanJoined(
        fact_id="rehab-1", patient_id=ME, occurred_at=at(2026, 4, 1), plan_id="knee-rehab"
    )
    state = run(diagnosis("Z96.6", at(2026, 3, 20), "dx-tkr"), joined)
    assert state.explanation == sg.Explanation(
        rule="B.post_surgery", detail="tag condition:orthopaedic_surgery", fact_ids=("dx-tkr",)
    )
    assert sg.service_level("B", CONFIG.segments) == "follow_up_plan"
    assert "care:rehab_plan" in sg.tags(state)


def test_a_general_outpatient_is_in_segment_c_with_standard_service() -> None:
    state = run(visit("internal", at(2026, 4, 1)), charge(20_000, on=at(2026, 4, 1)))
    assert sg.segment_of(state) == "C"
    assert state.explanation == sg.Explanation(
        rule="C.default", detail="no criterion of A, B holds"
    )
    assert sg.service_level("C", CONFIG.segments) == "standard"


def test_segment_a_is_tried_before_b() -> None:
    state = run(diagnosis("Z96.6", at(2026, 3, 20)), diagnosis("I10", at(2026, 3, 21)))
    assert sg.segment_of(state) == "A"


def test_a_move_between_segments_records_where_the_member_was() -> None:
    state = run(visit("internal", at(2026, 4, 1)))
    events = events_of(diagnosis("E11.9", at(2026, 4, 2), "dx-1"), state)
    assigned = [event for event in events if isinstance(event, sg.SegmentAssigned)]
    assert [(e.previous, e.segment, e.changed, e.version) for e in assigned] == [
        ("C", "A", True, 1)
    ]


def test_service_levels_follow_the_configured_mapping() -> None:
    a, b, c = reference_segment_definitions()
    rules = SegmentRules(segments=(a, attrs.evolve(b, service_level="case_manager"), c))
    assert sg.service_level("B", rules) == "case_manager"
    with pytest.raises(ConfigError, match="no segment 'D'"):
        sg.service_level("D", rules)


def test_a_tag_set_by_a_journey_can_put_a_member_in_a_segment() -> None:
    vip = SegmentDefinition(
        key="VIP",
        label="贵宾",
        service_level="case_manager",
        criteria=(SegmentCriterion(key="flagged", tags=("vip",)),),
    )
    config = ProgrammeConfig(
        segments=SegmentRules(segments=(vip, *reference_segment_definitions()))
    )
    state = run(add_tag("vip"), config=config)
    assert state.explanation == sg.Explanation(rule="VIP.flagged", detail="tag vip")


# --- tags by command ---------------------------------------------------------------------


def test_a_journey_adds_and_removes_a_tag_of_its_own() -> None:
    state = run(add_tag("winback"))
    assert state.tags["winback"] == sg.Tag(reason="win-back journey", key="k-1")
    assert events_of(add_tag("winback"), state) == []  # the same command again
    removed = sg.RemoveTag(key="k-2", member_id=ME, tag="winback", reason="came back")
    state = run(removed, state=state)
    assert "winback" not in sg.tags(state)
    assert set(state.keys) == {"k-1", "k-2"}


def test_removing_a_tag_the_member_does_not_hold_changes_nothing() -> None:
    state = run(sg.RefreshProfile(member_id=ME))
    removed = sg.RemoveTag(key="k-9", member_id=ME, tag="winback", reason="came back")
    assert events_of(removed, state) == []


def test_a_command_cannot_set_or_remove_a_tag_only_facts_make() -> None:
    with pytest.raises(ReservedTagError, match="condition:diabetes"):
        run(add_tag("condition:diabetes"))
    state = run(diagnosis("E11.9"))
    removed = sg.RemoveTag(key="k-2", member_id=ME, tag="stage:pregnant", reason="x")
    with pytest.raises(ReservedTagError):
        events_of(removed, state)
    assert sg.is_reserved("spend:high")
    assert not sg.is_reserved("conditional")
    assert not sg.is_reserved("journey:onboarding")


def test_a_command_key_reused_for_another_tag_is_refused() -> None:
    state = run(add_tag("winback", key="k-1"))
    with pytest.raises(IdempotencyConflictError):
        events_of(add_tag("birthday", key="k-1"), state)


# --- channel and family ------------------------------------------------------------------


def test_the_channel_used_most_is_preferred_and_a_declared_one_wins() -> None:
    seen: list[Fact] = [
        CheckedIn(fact_id=f"in-{n}", patient_id=ME, occurred_at=at(2026, 4, n)) for n in (1, 2)
    ]
    seen += [
        ContentShared(
            fact_id=f"share-{n}",
            patient_id=ME,
            occurred_at=at(2026, 4, n),
            content_id="c",
            channel="sms",
        )
        for n in (3, 4, 5)
    ]
    state = run(*seen)
    assert sg.preferred_channel(state, CONFIG, NOW) == "sms"
    assert state.tags["channel:sms"] == sg.Tag(
        reason="3 of 5 interactions in 12 months", fact_ids=("share-3", "share-4", "share-5")
    )
    state = run(born(date(1980, 1, 1), preferred_channel="phone"), state=state)
    assert sg.preferred_channel(state, CONFIG, NOW) == "phone"
    assert "channel:sms" not in sg.tags(state)
    assert "channel:phone" in sg.tags(state)


def test_a_channel_tie_goes_to_the_order_of_the_consent_channels() -> None:
    sms = CheckedIn(fact_id="in-1", patient_id=ME, occurred_at=at(2026, 4, 1), channel="sms")
    app = CheckedIn(fact_id="in-2", patient_id=ME, occurred_at=at(2026, 4, 2), channel="app")
    kiosk = CheckedIn(fact_id="in-3", patient_id=ME, occurred_at=at(2026, 4, 3), channel="kiosk")
    assert sg.preferred_channel(run(sms, app, kiosk), CONFIG, NOW) == "wecom"


def test_family_status_comes_from_the_households_part() -> None:
    state = run(sg.RefreshProfile(member_id=ME), family=sg.FamilyStatus(has_dependents=True))
    assert state.tags["family:has_dependents"] == sg.Tag(reason="heads a household with dependents")
    state = run(sg.RefreshProfile(member_id=ME), state=state, family=sg.FamilyStatus())
    assert not {"family:has_dependents", "family:dependent"} & sg.tags(state)


# --- time, idempotency, refusals ---------------------------------------------------------


def test_the_daily_refresh_ends_a_rehab_plan_tag_after_180_days() -> None:
    joined = RehabPlanJoined(
        fact_id="rehab-1", patient_id=ME, occurred_at=at(2026, 1, 1), plan_id="p"
    )
    state = run(joined, now=at(2026, 1, 1, 12))
    refresh = sg.RefreshProfile(member_id=ME)
    state = run(refresh, state=state, now=at(2026, 6, 29))  # 1 January + 179 days
    assert sg.segment_of(state) == "B"
    events = events_of(refresh, state, now=at(2026, 6, 30))
    assert [type(event).__name__ for event in events] == ["TagRemoved", "SegmentAssigned"]
    state = run(refresh, state=state, now=at(2026, 6, 30))
    assert (sg.segment_of(state), "care:rehab_plan" in sg.tags(state)) == ("C", False)
    assert events_of(refresh, state, now=at(2026, 6, 30, 23, 59)) == []  # same day: nothing


def test_a_new_charge_restates_a_band_without_adding_it_again() -> None:
    state = run(charge(300_000, fact_id="pay-1"))
    events = events_of(charge(100_000, on=at(2026, 3, 2), fact_id="pay-2"), state)
    changed = [event for event in events if isinstance(event, sg.TagEvidenceChanged)]
    assert [(e.tag, e.fact_ids) for e in changed] == [("spend:medium", ("pay-1", "pay-2"))]
    assert not [event for event in events if isinstance(event, sg.TagAdded)]


def test_the_same_fact_twice_is_noted_once_and_a_reused_fact_id_is_refused() -> None:
    fact = diagnosis("E11.9", fact_id="dx-1")
    state = run(fact)
    assert events_of(fact, state) == []
    with pytest.raises(IdempotencyConflictError):
        events_of(attrs.evolve(fact, icd10="I10"), state)


def test_facts_the_profile_does_not_read_make_no_events() -> None:
    liked = ContentLiked(
        fact_id="like-1", patient_id=ME, occurred_at=at(2026, 4, 1), content_id="c"
    )
    assert events_of(liked, sg.ProfileState(member_id=ME)) == []


def test_a_fact_about_another_member_is_refused() -> None:
    with pytest.raises(MemberMismatchError):
        events_of(
            attrs.evolve(diagnosis("E11.9"), patient_id="p-zhao"), sg.ProfileState(member_id=ME)
        )


def test_what_is_decided_is_what_an_evaluation_at_the_same_instant_finds() -> None:
    state = run(born(date(1950, 1, 1)), diagnosis("I10"), charge(2_000_000), add_tag("winback"))
    found = sg.evaluate(state, CONFIG, NOW)
    assert (found.segment, found.explanation, dict(found.tags)) == (
        state.segment,
        state.explanation,
        dict(state.tags),
    )
    assert set(sg.derived_tags(state, CONFIG, NOW)) == sg.tags(state) - {"winback"}
    assert sg.tags(state) == {
        "stage:senior",
        "condition:hypertension",
        "condition:chronic_disease",
        "spend:high",
        "winback",
    }


def test_replaying_the_events_rebuilds_the_profile() -> None:
    state = sg.ProfileState(member_id=ME)
    journal: list[sg.ProfileEvent] = []
    for message in (born(date(1994, 6, 1)), diagnosis("O26.8"), add_tag("winback")):
        events = sg.decide(message, state, CONFIG, NOW)
        journal += events
        for event in events:
            state = sg.evolve(state, event)
    assert sg.replay(ME, journal) == state


# --- configuration -----------------------------------------------------------------------


def _criterion(**changes: Any) -> SegmentCriterion:
    return SegmentCriterion(**{"key": "x", "tags": ("vip",), **changes})


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: SegmentRules(segments=()), "segments"),
        (
            lambda: SegmentRules(
                segments=(SegmentDefinition(key="A", label="a", service_level="standard"),) * 2
            ),
            "segments[0].criteria",
        ),
        (
            lambda: SegmentRules(
                segments=(
                    SegmentDefinition(
                        key="A", label="a", service_level="standard", criteria=(_criterion(),)
                    ),
                )
            ),
            "segments[0].criteria",
        ),
        (lambda: SegmentCriterion(key="nothing"), "key"),
        (lambda: _criterion(min_spend_fen=0), "min_spend_fen"),
        (
            lambda: SegmentDefinition(key="A", label="a", service_level="concierge"),  # type: ignore[arg-type]
            "service_level",
        ),
        (
            lambda: SegmentRules(
                spending_bands=(SpendingBand(key="low", label="低", min_fen=100),)
            ),
            "spending_bands",
        ),
        (
            lambda: SegmentRules(
                spending_bands=(
                    SpendingBand(key="low", label="低", min_fen=0),
                    SpendingBand(key="mid", label="中", min_fen=0),
                )
            ),
            "spending_bands[1].min_fen",
        ),
        (lambda: RfmBreakpoints(frequency=(2, 4, 6)), "frequency"),
        (lambda: RfmBreakpoints(recency_days=(30, 30, 180, 365)), "recency_days"),
        (lambda: SegmentRules(senior_from_age=18), "senior_from_age"),
        (lambda: SegmentRules(tag_days={"condition:flu": 10}), "tag_days['condition:flu']"),
        (lambda: SegmentRules(tag_days={"care:rehab_plan": 0}), "tag_days['care:rehab_plan']"),
        (
            lambda: SegmentRules(interaction_channels={"fax": "fax"}),  # type: ignore[dict-item]
            "interaction_channels['fax']",
        ),
        (
            lambda: SegmentRules(
                segments=(
                    SegmentDefinition(
                        key="A",
                        label="a",
                        service_level="standard",
                        criteria=(_criterion(tags=("vip", "spend:gold")),),
                    ),
                    SegmentDefinition(key="C", label="c", service_level="standard"),
                )
            ),
            "segments[0].criteria[0].tags[1]",
        ),
    ],
)
def test_invalid_segment_rules_name_the_offending_key(build: Any, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build()
    assert raised.value.key == key


def test_the_reference_rules_survive_the_configuration_loader() -> None:
    data = dump_config(CONFIG)
    assert data["segments"]["extra_codes"] == []
    assert load_config(data) == CONFIG
    data["segments"]["spending_bands"][1]["min_fen"] = 0
    with pytest.raises(ConfigError, match=r"segments\.spending_bands\[1\]\.min_fen"):
        load_config(data)


# --- messages ----------------------------------------------------------------------------


def _examples() -> list[object]:
    """Every profile message: the facts and commands of a story, and the events they make."""
    messages: list[Fact | sg.ProfileCommand] = [
        born(date(1994, 6, 1), sex="female", preferred_channel="wecom", language="zh-CN"),
        visit("obstetrics", at(2026, 3, 1)),
        charge(300_000, department="obstetrics", fact_id="pay-1"),
        RefundIssued(
            fact_id="ref-1",
            patient_id=ME,
            occurred_at=at(2026, 3, 2),
            charge_id="pay-1",
            amount_fen=1,
        ),
        diagnosis("O26.8"),
        DeliveryRecorded(
            fact_id="birth-1",
            patient_id=ME,
            occurred_at=at(2026, 5, 5),
            visit_id="ip",
            mode="caesarean",
        ),
        CheckedIn(fact_id="in-1", patient_id=ME, occurred_at=at(2026, 4, 1)),
        RehabPlanJoined(fact_id="rehab-1", patient_id=ME, occurred_at=at(2026, 5, 6), plan_id="p"),
        add_tag("winback"),
        sg.RemoveTag(key="k-2", member_id=ME, tag="winback", reason="back"),
        sg.RefreshProfile(member_id=ME),
        charge(100_000, on=at(2026, 3, 3), fact_id="pay-2"),
        # check-ins of two years before: the profile lets them go
        *(
            CheckedIn(fact_id=f"old-{n}", patient_id=ME, occurred_at=at(2024, 1, 1))
            for n in range(60)
        ),
    ]
    state = sg.ProfileState(member_id=ME)
    journal: list[sg.ProfileEvent] = []
    for message in messages:
        events = sg.decide(message, state, CONFIG, NOW, family=sg.FamilyStatus(is_dependent=True))
        for event in events:
            state = sg.evolve(state, event)
        journal += events
    return [*messages, *journal]


def test_the_examples_hold_every_profile_message_type() -> None:
    kinds = {type(message) for message in _examples()}
    # the clinical facts segments read (the others are round-tripped with the journeys)
    read = {PatientRegistered, DiagnosisRecorded, DeliveryRecorded}
    assert set(sg.MESSAGE_TYPES) | read <= kinds


@pytest.mark.parametrize("message", _examples(), ids=lambda message: type(message).__name__)
def test_every_profile_message_round_trips_through_the_converter(message: object) -> None:
    conv = converter()
    assert conv.structure(conv.unstructure(message), type(message)) == message


def test_the_message_type_tags_are_unique_and_stable() -> None:
    tags = [kind.TYPE for kind in (*sg.MESSAGE_TYPES, *CLINICAL_FACT_TYPES)]
    assert len(tags) == len(set(tags))
    assert {"diagnosis_recorded", "patient_registered", "delivery_recorded"} <= set(tags)
    assert {"add_tag", "remove_tag", "tag_added", "tag_removed", "segment_assigned"} <= set(tags)


# --- high-value treatment and relatives --------------------------------------------------


def implant(fen: int, on: datetime = MARCH_1, fact_id: str = "implant-1") -> ChargePaid:
    return ChargePaid(
        fact_id=fact_id,
        patient_id=ME,
        occurred_at=on,
        charge_id=f"c-{fact_id}",
        lines=(
            ChargeLine(department="dental", category="implant", amount_fen=fen),
            ChargeLine(department="dental", category="exam", amount_fen=60_000),
        ),
    )


def test_a_charge_of_a_high_value_category_above_the_amount_is_a_high_value_treatment() -> None:
    state = run(implant(500_000))
    held = state.tags["care:high_value_treatment"]
    assert held.fact_ids == ("implant-1",)
    assert held.reason == "5,000.00 元 of implant paid on 2026-03-01"
    (noted,) = state.charges.values()
    assert [(c.category, c.amount_fen) for c in noted.categories] == [
        ("exam", 60_000),
        ("implant", 500_000),
    ]


def test_other_lines_of_the_charge_do_not_make_a_treatment_high_value() -> None:
    state = run(implant(499_999))  # the exam line would bring it over the amount
    assert "care:high_value_treatment" not in sg.tags(state)


def test_a_refund_of_the_charge_takes_the_high_value_treatment_back() -> None:
    refund = RefundIssued(
        fact_id="refund-1",
        patient_id=ME,
        occurred_at=at(2026, 3, 3),
        charge_id="c-implant-1",
        amount_fen=300_000,
    )
    state = run(implant(700_000), refund, now=at(2026, 3, 4))
    assert "care:high_value_treatment" not in sg.tags(state)


def test_the_high_value_categories_and_amount_are_the_programmes() -> None:
    rules = attrs.evolve(
        CONFIG.segments,
        high_value_treatment=HighValueTreatment(categories=("orthodontics",), min_fen=100_000),
    )
    config = attrs.evolve(CONFIG, segments=rules)
    assert "care:high_value_treatment" not in sg.tags(run(implant(900_000), config=config))
    brace = ChargePaid(
        fact_id="brace-1",
        patient_id=ME,
        occurred_at=MARCH_1,
        charge_id="c-brace-1",
        lines=(ChargeLine(department="dental", category="orthodontics", amount_fen=100_000),),
    )
    assert "care:high_value_treatment" in sg.tags(run(brace, config=config))


def test_the_high_value_treatment_tag_ends_after_180_days() -> None:
    state = run(implant(800_000), now=at(2026, 3, 1, 12))
    refresh = sg.RefreshProfile(member_id=ME)
    state = run(refresh, state=state, now=at(2026, 8, 27))  # 1 March + 179 days
    assert "care:high_value_treatment" in sg.tags(state)
    state = run(refresh, state=state, now=at(2026, 8, 28))
    assert "care:high_value_treatment" not in sg.tags(state)


def test_relatives_the_his_links_to_a_registration_are_seen_for_good() -> None:
    state = run(born(date(1980, 1, 1)))
    assert not sg.relatives_seen(state)
    state = run(born(date(1980, 1, 1), fact_id="reg-2", relatives=("p-mother",)), state=state)
    assert sg.relatives_seen(state)
    state = run(born(date(1980, 1, 1), fact_id="reg-3"), state=state)  # restates none
    assert sg.relatives_seen(state)
