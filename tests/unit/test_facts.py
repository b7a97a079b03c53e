from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given

from membercore import (
    AdjustPoints,
    AwardBonus,
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    EventAttended,
    ExpireDue,
    InvalidAmountError,
    InvalidFactError,
    LedgerError,
    MembercoreError,
    NaiveInstantError,
    Redeem,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    ReversePosting,
    SurveyAnswered,
    TransferPoints,
)
from membercore.testing import strategies as mst

SHANGHAI = timezone(timedelta(hours=8))
AT = datetime(2026, 4, 8, 10, 15, tzinfo=SHANGHAI)
MEMBER = "p-000318"


def _fact_fields(**overrides: Any) -> dict[str, Any]:
    return {"fact_id": "his-msg-77", "patient_id": MEMBER, "occurred_at": AT, **overrides}


def _line(**overrides: Any) -> ChargeLine:
    fields: dict[str, Any] = {
        "department": "ortho",
        "category": "treatment",
        "amount_fen": 68_000,
        **overrides,
    }
    return ChargeLine(**fields)


# One valid example of every fact, as (class, its own fields).
FACTS: list[tuple[type[Any], dict[str, Any]]] = [
    (CheckedIn, {"channel": "kiosk"}),
    (ChargePaid, {"charge_id": "c-20260408-031", "lines": [_line()]}),
    (RefundIssued, {"charge_id": "c-20260408-031", "amount_fen": 20_000}),
    (EventAttended, {"event_id": "ev-糖尿病讲座-04", "event_kind": "lecture"}),
    (ContentShared, {"content_id": "article-春季过敏"}),
    (ContentLiked, {"content_id": "article-春季过敏"}),
    (ReferralQualified, {"referred_patient_id": "p-000977", "visit_id": "v-5521"}),
    (SurveyAnswered, {"visit_id": "v-5521", "score": 9}),
    (RehabPlanJoined, {"plan_id": "rehab-膝关节-12周"}),
]


@pytest.mark.parametrize(("cls", "fields"), FACTS, ids=[cls.TYPE for cls, _ in FACTS])
def test_a_well_formed_fact_is_accepted(cls: type[Any], fields: dict[str, Any]) -> None:
    fact = cls(**_fact_fields(), **fields)
    assert fact.fact_id == "his-msg-77"
    assert fact.patient_id == MEMBER
    assert fact.occurred_at == AT


# -- empty identifiers --------------------------------------------------------------------

EMPTY_IDS = [
    pytest.param(cls, {**fields, **_fact_fields(**{name: blank})}, name, id=f"{cls.TYPE}-{name}")
    for cls, fields in FACTS
    for name, blank in [("fact_id", ""), ("patient_id", "  ")]
] + [
    pytest.param(ChargePaid, {**FACTS[1][1], **_fact_fields(), "charge_id": ""}, "charge_id"),
    pytest.param(RefundIssued, {**FACTS[2][1], **_fact_fields(), "charge_id": " "}, "charge_id"),
    pytest.param(EventAttended, {**FACTS[3][1], **_fact_fields(), "event_id": ""}, "event_id"),
    pytest.param(EventAttended, {**FACTS[3][1], **_fact_fields(), "event_kind": ""}, "event_kind"),
    pytest.param(ContentShared, {**_fact_fields(), "content_id": "\t"}, "content_id"),
    pytest.param(ContentLiked, {**_fact_fields(), "content_id": ""}, "content_id"),
    pytest.param(
        ReferralQualified,
        {**FACTS[6][1], **_fact_fields(), "referred_patient_id": ""},
        "referred_patient_id",
    ),
    pytest.param(ReferralQualified, {**FACTS[6][1], **_fact_fields(), "visit_id": ""}, "visit_id"),
    pytest.param(SurveyAnswered, {**FACTS[7][1], **_fact_fields(), "visit_id": ""}, "visit_id"),
    pytest.param(RehabPlanJoined, {**_fact_fields(), "plan_id": ""}, "plan_id"),
]


@pytest.mark.parametrize(("cls", "fields", "field"), EMPTY_IDS)
def test_a_fact_with_an_empty_identifier_is_refused_naming_the_field(
    cls: type[Any], fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        cls(**fields)
    error = excinfo.value
    assert isinstance(error, MembercoreError)
    assert error.message_type == cls.TYPE
    assert error.field == field
    assert error.value == fields[field]
    assert f"{cls.TYPE}.{field}" in str(error)
    assert "empty" in str(error)


@pytest.mark.parametrize(
    ("field", "blank"),
    [("department", ""), ("category", " ")],
)
def test_a_charge_line_without_department_or_category_is_refused(field: str, blank: str) -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        _line(**{field: blank})
    assert excinfo.value.message_type == "charge_line"
    assert excinfo.value.field == field
    assert f"charge_line.{field}" in str(excinfo.value)


# -- amounts ------------------------------------------------------------------------------


def test_a_charge_line_with_a_negative_amount_is_refused_naming_the_amount() -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        _line(amount_fen=-68_000)
    error = excinfo.value
    assert (error.message_type, error.field, error.value) == ("charge_line", "amount_fen", -68_000)
    assert "charge_line.amount_fen = -68000" in str(error)
    assert "negative" in str(error)


def test_a_charge_line_with_negative_insurance_is_refused() -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        _line(insurance_fen=-1)
    assert excinfo.value.field == "insurance_fen"
    assert excinfo.value.value == -1


def test_insurance_paying_more_than_the_line_is_refused_naming_both_amounts() -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        _line(amount_fen=68_000, insurance_fen=68_001)
    error = excinfo.value
    assert error.field == "insurance_fen"
    assert error.value == 68_001
    assert "insurance_fen" in str(error)
    assert "68001" in str(error)
    assert "68000" in str(error)


def test_insurance_paying_the_whole_line_leaves_nothing_self_paid() -> None:
    line = _line(amount_fen=68_000, insurance_fen=68_000)
    assert line.self_paid_fen == 0


def test_a_free_line_is_accepted() -> None:
    line = _line(category="consult", amount_fen=0)
    assert line.self_paid_fen == 0


def test_a_charge_line_knows_what_the_patient_paid_themselves() -> None:
    line = _line(amount_fen=128_050, insurance_fen=45_020)
    assert line.insurance_fen == 45_020
    assert line.self_paid_fen == 83_030


def test_insurance_defaults_to_nothing() -> None:
    assert _line(amount_fen=9_900).self_paid_fen == 9_900


def test_a_charge_totals_its_lines_whoever_paid_them() -> None:
    charge = ChargePaid(
        **_fact_fields(),
        charge_id="c-20260408-031",
        lines=[
            ChargeLine(department="ortho", category="consult", amount_fen=5_000),
            ChargeLine(
                department="ortho", category="exam", amount_fen=32_000, insurance_fen=22_400
            ),
            ChargeLine(
                department="ortho", category="drug", amount_fen=18_650, insurance_fen=18_650
            ),
        ],
    )
    assert charge.amount_fen == 55_650
    assert [line.self_paid_fen for line in charge.lines] == [5_000, 9_600, 0]


def test_a_charge_keeps_its_lines_as_a_tuple() -> None:
    lines = [_line(), _line(category="drug", amount_fen=3_300)]
    charge = ChargePaid(**_fact_fields(), charge_id="c-1", lines=lines)
    assert charge.lines == (lines[0], lines[1])
    assert isinstance(charge.lines, tuple)


def test_a_charge_with_no_lines_is_refused() -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        ChargePaid(**_fact_fields(), charge_id="c-20260408-031", lines=[])
    error = excinfo.value
    assert error.message_type == "charge_paid"
    assert error.field == "lines"
    assert "charge_paid.lines" in str(error)
    assert "at least one line" in str(error)


@pytest.mark.parametrize("amount", [0, -20_000])
def test_a_refund_of_nothing_or_less_is_refused(amount: int) -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        RefundIssued(**_fact_fields(), charge_id="c-20260408-031", amount_fen=amount)
    assert excinfo.value.message_type == "refund_issued"
    assert excinfo.value.field == "amount_fen"
    assert f"refund_issued.amount_fen = {amount}" in str(excinfo.value)


def test_a_negative_survey_score_is_refused() -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        SurveyAnswered(**_fact_fields(), visit_id="v-5521", score=-1)
    assert excinfo.value.field == "score"
    assert "survey_answered.score" in str(excinfo.value)


# -- instants -----------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "fields"), FACTS, ids=[cls.TYPE for cls, _ in FACTS])
def test_a_fact_with_a_naive_instant_is_refused(cls: type[Any], fields: dict[str, Any]) -> None:
    naive = datetime(2026, 4, 8, 10, 15)  # noqa: DTZ001 - the point of the test
    with pytest.raises(NaiveInstantError) as excinfo:
        cls(**_fact_fields(occurred_at=naive), **fields)
    error = excinfo.value
    assert isinstance(error, MembercoreError)
    assert isinstance(error, ValueError)
    assert error.field == "occurred_at"
    assert error.value == naive
    assert "occurred_at" in str(error)
    assert "timezone-aware" in str(error)


def test_a_fact_holds_its_instant_in_utc_whatever_offset_it_was_given() -> None:
    fact = CheckedIn(**_fact_fields())  # given at 10:15 in Shanghai (+08:00)
    assert fact.occurred_at.tzinfo is UTC
    assert fact.occurred_at == datetime(2026, 4, 8, 2, 15, tzinfo=UTC)


# -- commands -----------------------------------------------------------------------------


@pytest.mark.parametrize("points", [0, -1, -500])
def test_a_redemption_of_no_points_or_fewer_is_refused_naming_member_and_amount(
    points: int,
) -> None:
    with pytest.raises(InvalidAmountError) as excinfo:
        Redeem(key="redeem-301", member_id=MEMBER, points=points)
    error = excinfo.value
    assert isinstance(error, LedgerError)
    assert isinstance(error, MembercoreError)
    assert error.member_id == MEMBER
    assert error.amount == points
    assert MEMBER in str(error)
    assert f"invalid amount {points}" in str(error)


@pytest.mark.parametrize("points", [0, -100])
def test_a_bonus_of_no_points_or_fewer_is_refused(points: int) -> None:
    with pytest.raises(InvalidAmountError) as excinfo:
        AwardBonus(key="bonus-1", member_id=MEMBER, rule_id="birthday", points=points)
    assert excinfo.value.amount == points
    assert MEMBER in str(excinfo.value)


@pytest.mark.parametrize("points", [0, -30])
def test_a_transfer_of_no_points_or_fewer_is_refused(points: int) -> None:
    with pytest.raises(InvalidAmountError) as excinfo:
        TransferPoints(key="transfer-1", member_id=MEMBER, target_id="p-000319", points=points)
    assert excinfo.value.member_id == MEMBER
    assert excinfo.value.amount == points


def test_a_zero_adjustment_is_refused_naming_member_and_amount() -> None:
    with pytest.raises(InvalidAmountError) as excinfo:
        AdjustPoints(
            key="adjust-12", member_id=MEMBER, points=0, operator="staff-07", reason="补录积分"
        )
    error = excinfo.value
    assert error.member_id == MEMBER
    assert error.amount == 0
    assert MEMBER in str(error)
    assert "invalid amount 0" in str(error)
    assert "zero" in str(error)


@pytest.mark.parametrize("points", [-1, 1, -250, 250])
def test_an_adjustment_may_go_either_way(points: int) -> None:
    adjust = AdjustPoints(
        key="adjust-12", member_id=MEMBER, points=points, operator="staff-07", reason="系统纠错"
    )
    assert adjust.points == points
    assert adjust.qualifying is False


def _command(cls: type[Any], **overrides: Any) -> Any:
    valid: dict[type[Any], dict[str, Any]] = {
        Redeem: {"points": 800, "reference": "洗牙套餐"},
        AdjustPoints: {"points": 50, "operator": "staff-07", "reason": "补录积分"},
        AwardBonus: {"rule_id": "birthday", "points": 200},
        ReversePosting: {"posting_id": f"{MEMBER}/4", "operator": "staff-07", "reason": "作废"},
        TransferPoints: {"target_id": "p-000319", "points": 300},
    }
    return cls(**{"key": "cmd-1", "member_id": MEMBER, **valid[cls], **overrides})


@pytest.mark.parametrize("cls", [Redeem, AdjustPoints, AwardBonus, ReversePosting, TransferPoints])
def test_a_well_formed_command_is_accepted(cls: type[Any]) -> None:
    command = _command(cls)
    assert command.key == "cmd-1"
    assert command.member_id == MEMBER


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (Redeem, "key"),
        (Redeem, "member_id"),
        (AdjustPoints, "key"),
        (AdjustPoints, "operator"),
        (AdjustPoints, "reason"),
        (AwardBonus, "member_id"),
        (AwardBonus, "rule_id"),
        (ReversePosting, "posting_id"),
        (ReversePosting, "operator"),
        (TransferPoints, "target_id"),
    ],
)
def test_a_command_with_an_empty_identifier_is_refused_naming_the_field(
    cls: type[Any], field: str
) -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        _command(cls, **{field: " "})
    assert excinfo.value.message_type == cls.TYPE
    assert excinfo.value.field == field
    assert f"{cls.TYPE}.{field}" in str(excinfo.value)


def test_expire_due_needs_a_member() -> None:
    with pytest.raises(InvalidFactError) as excinfo:
        ExpireDue(member_id=" ")
    assert excinfo.value.message_type == "expire_due"
    assert excinfo.value.field == "member_id"


# -- generated messages -------------------------------------------------------------------


@given(mst.charges())
def test_a_generated_charge_totals_its_lines_and_never_earns_on_insurance(
    charge: ChargePaid,
) -> None:
    assert charge.amount_fen == sum(line.amount_fen for line in charge.lines)
    for line in charge.lines:
        assert 0 <= line.self_paid_fen <= line.amount_fen
        assert line.self_paid_fen + line.insurance_fen == line.amount_fen


@given(mst.facts())
def test_every_generated_fact_carries_an_aware_instant_and_its_tag(fact: Any) -> None:
    assert fact.occurred_at.utcoffset() is not None
    assert fact.TYPE != "fact"
