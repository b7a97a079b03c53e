from __future__ import annotations

import copy
import json
import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    Fact,
    IdempotencyConflictError,
    InvalidFactError,
    LedgerError,
    Lot,
    MembercoreError,
    Posting,
    PostingKind,
    Provenance,
    Redeem,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    ReversePosting,
    SurveyAnswered,
    TransferPoints,
    message_from_dict,
    message_to_dict,
    reference_config,
)
from membercore.identity import MergeMembers
from membercore.ledger import LedgerState
from membercore.serialization import snapshot_from_dict, snapshot_to_dict
from membercore.testing import Book
from membercore.testing import strategies as mst

SHANGHAI = timezone(timedelta(hours=8))
MEMBER = "p-1"
RELATIVE = "p-2"
HOUSEHOLD = frozenset({MEMBER, RELATIVE})


def _through_json(data: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(data, ensure_ascii=False))
    return decoded


def _assert_round_trips(message: Any) -> None:
    data = message_to_dict(message)
    assert data["type"] == type(message).TYPE
    assert message_from_dict(data) == message
    decoded = _through_json(data)
    assert decoded == data
    assert message_from_dict(decoded) == message


def _assert_snapshot_round_trips(state: LedgerState) -> None:
    data = snapshot_to_dict(state)
    assert snapshot_from_dict(data) == state
    decoded = _through_json(data)
    assert decoded == data
    assert snapshot_from_dict(decoded) == state


def _apply(book: Book, message: Any, now: datetime) -> None:
    try:
        if isinstance(message, TransferPoints):
            book.transfer(message, now, household=HOUSEHOLD)
        else:
            book.apply(message, now)
    except (LedgerError, IdempotencyConflictError):
        pass  # a refusal, or a generated id that repeats: nothing is posted


# -- round trips of generated messages ----------------------------------------------------


@given(mst.facts())
def test_every_fact_survives_a_round_trip_through_a_dict_and_json_text(fact: Fact) -> None:
    _assert_round_trips(fact)


@given(mst.ledger_commands())
def test_every_ledger_command_survives_a_round_trip_through_a_dict_and_json_text(
    command: Any,
) -> None:
    _assert_round_trips(command)


@given(mst.transfers())
def test_every_transfer_survives_a_round_trip_through_a_dict_and_json_text(
    transfer: TransferPoints,
) -> None:
    _assert_round_trips(transfer)


@given(mst.facts() | mst.ledger_commands() | mst.transfers())
def test_decoding_a_message_leaves_the_dict_it_was_given_untouched(message: Any) -> None:
    data = message_to_dict(message)
    before = copy.deepcopy(data)
    message_from_dict(data)
    assert data == before


_CHARGE_IDS = st.sampled_from(["c-20260115-001", "c-20260115-002", "c-20260203-001"])
_POSTING_IDS = st.sampled_from([f"{MEMBER}/{n}" for n in range(1, 9)])


def _with(messages: st.SearchStrategy[Any], field: str, values: st.SearchStrategy[str]) -> Any:
    # Refunds must find their charge and reversals their posting: draw those ids from a
    # small pool. (The strategies' own charge_id=/posting_ids= parameters are avoided here:
    # see test_the_shipped_strategies_take_an_id_strategy_without_a_hypothesis_warning.)
    return st.tuples(messages, values).map(lambda pair: attrs.evolve(pair[0], **{field: pair[1]}))


_MEMBER_CHARGES = _with(mst.charges(patient_id=MEMBER), "charge_id", _CHARGE_IDS)
_MEMBER_MESSAGES = st.one_of(
    mst.facts(patient_id=MEMBER),
    # Charges twice over: most other commands need points to act on.
    _MEMBER_CHARGES,
    _MEMBER_CHARGES,
    _with(mst.refunds(patient_id=MEMBER), "charge_id", _CHARGE_IDS),
    mst.ledger_commands(member_id=MEMBER),
    mst.redemptions(member_id=MEMBER, max_points=300),
    mst.adjustments(member_id=MEMBER, max_points=300),
    _with(mst.reversals(member_id=MEMBER), "posting_id", _POSTING_IDS),
    mst.transfers(member_id=MEMBER, target_id=RELATIVE, max_points=200),
)


@pytest.mark.parametrize(
    ("build", "ids"),
    [
        (lambda ids: mst.charges(charge_id=ids), _CHARGE_IDS),
        (lambda ids: mst.refunds(charge_id=ids), _CHARGE_IDS),
        (lambda ids: mst.reversals(posting_ids=ids), _POSTING_IDS),
    ],
    ids=["charges", "refunds", "reversals"],
)
def test_the_shipped_strategies_take_an_id_strategy_without_a_hypothesis_warning(
    build: Any, ids: st.SearchStrategy[str]
) -> None:
    # The project turns warnings into errors; `strategy or default` calls bool() on a
    # strategy, which Hypothesis warns about.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(ids)


@st.composite
def _books(draw: st.DrawFn) -> Book:
    """A book in which one member's generated facts and commands were decided."""
    book = Book(draw(mst.programme_configs()))
    steps = draw(
        st.lists(
            st.tuples(_MEMBER_MESSAGES, st.integers(min_value=0, max_value=200 * 86_400)),
            min_size=1,
            max_size=10,
        )
    )
    clock = datetime(2024, 1, 1, tzinfo=UTC)
    for message, gap_seconds in steps:
        if isinstance(message, Fact):
            clock = max(clock, message.occurred_at)
        _apply(book, message, clock)
        clock += timedelta(seconds=gap_seconds)
    return book


@pytest.mark.slow
@given(_books())
def test_every_posting_the_ledger_makes_survives_a_round_trip_through_json(book: Book) -> None:
    for posting in book.journal:
        _assert_round_trips(posting)


@pytest.mark.slow
@given(_books())
def test_every_ledger_state_snapshot_survives_a_round_trip_through_json(book: Book) -> None:
    for state in book.states.values():
        _assert_snapshot_round_trips(state)


# -- a hand-written journal that exercises every kind of posting --------------------------


def _hospital_book() -> Book:
    """A member who pays, checks in, redeems, is adjusted, refunded, reversed, gives points
    to a relative and finally lets the rest expire."""
    book = Book(reference_config())
    paid_at = datetime(2026, 1, 15, 10, 0, tzinfo=SHANGHAI)
    book.apply(
        ChargePaid(
            fact_id="his-msg-9001",
            patient_id=MEMBER,
            occurred_at=paid_at,
            charge_id="c-20260115-001",
            lines=[
                ChargeLine(department="internal", category="consult", amount_fen=50_000),
                ChargeLine(
                    department="internal", category="drug", amount_fen=20_000, insurance_fen=8_000
                ),
            ],
        ),
        paid_at,
    )
    checked_in_at = datetime(2026, 1, 16, 8, 0, tzinfo=SHANGHAI)
    book.apply(
        CheckedIn(fact_id="app-ci-1", patient_id=MEMBER, occurred_at=checked_in_at),
        checked_in_at,
    )
    book.apply(
        Redeem(key="redeem-1", member_id=MEMBER, points=100, reference="体检套餐优惠券"),
        datetime(2026, 2, 1, 9, 0, tzinfo=SHANGHAI),
    )
    book.apply(
        AdjustPoints(
            key="adjust-1", member_id=MEMBER, points=50, operator="staff-07", reason="补录积分"
        ),
        datetime(2026, 2, 2, 9, 0, tzinfo=SHANGHAI),
    )
    refunded_at = datetime(2026, 2, 3, 14, 0, tzinfo=SHANGHAI)
    book.apply(
        RefundIssued(
            fact_id="his-msg-9002",
            patient_id=MEMBER,
            occurred_at=refunded_at,
            charge_id="c-20260115-001",
            amount_fen=10_000,
        ),
        refunded_at,
    )
    book.apply(
        ReversePosting(
            key="reverse-1",
            member_id=MEMBER,
            posting_id=f"{MEMBER}/2",
            operator="staff-07",
            reason="重复签到",
        ),
        datetime(2026, 2, 4, 9, 0, tzinfo=SHANGHAI),
    )
    book.transfer(
        TransferPoints(
            key="transfer-1", member_id=MEMBER, target_id=RELATIVE, points=30, reason="家庭共享"
        ),
        datetime(2026, 2, 5, 9, 0, tzinfo=SHANGHAI),
        household=HOUSEHOLD,
    )
    book.merge(
        MergeMembers(
            key="merge-1",
            member_id=MEMBER,
            duplicate_id=RELATIVE,
            operator="staff-07",
            reason="同一身份证号重复建档",
        ),
        datetime(2026, 2, 6, 9, 0, tzinfo=SHANGHAI),
    )
    book.apply(ExpireDue(member_id=MEMBER), datetime(2028, 2, 1, 0, 0, tzinfo=SHANGHAI))
    return book


def test_a_journal_with_every_kind_of_posting_round_trips_posting_by_posting() -> None:
    book = _hospital_book()
    assert {posting.kind for posting in book.journal} == set(PostingKind)
    for posting in book.journal:
        _assert_round_trips(posting)


def test_the_snapshots_of_both_members_of_a_household_round_trip() -> None:
    book = _hospital_book()
    assert set(book.states) == {MEMBER, RELATIVE}
    for state in book.states.values():
        _assert_snapshot_round_trips(state)


def test_an_empty_ledger_state_round_trips() -> None:
    _assert_snapshot_round_trips(LedgerState(member_id=MEMBER))


# -- the wire format ----------------------------------------------------------------------

_TAGS = {
    CheckedIn: "checked_in",
    ChargePaid: "charge_paid",
    RefundIssued: "refund_issued",
    EventAttended: "event_attended",
    ContentShared: "content_shared",
    ContentLiked: "content_liked",
    ReferralQualified: "referral_qualified",
    SurveyAnswered: "survey_answered",
    RehabPlanJoined: "rehab_plan_joined",
    Redeem: "redeem",
    AdjustPoints: "adjust_points",
    AwardBonus: "award_bonus",
    ReversePosting: "reverse_posting",
    TransferPoints: "transfer_points",
    ExpireDue: "expire_due",
    Posting: "points_posted",
}


@given(mst.facts() | mst.ledger_commands() | mst.transfers())
def test_messages_are_tagged_with_their_stable_type_never_their_class_name(message: Any) -> None:
    data = message_to_dict(message)
    assert data["type"] == _TAGS[type(message)]
    assert data["type"] != type(message).__name__


def _dental_charge() -> ChargePaid:
    return ChargePaid(
        fact_id="his-msg-1",
        patient_id=MEMBER,
        occurred_at=datetime(2026, 3, 5, 9, 30, tzinfo=SHANGHAI),
        charge_id="c-20260305-017",
        lines=[
            ChargeLine(
                department="dental", category="treatment", amount_fen=128_000, insurance_fen=30_000
            )
        ],
    )


def test_a_charge_is_written_as_a_tagged_dict_with_a_utc_instant_and_integer_fen() -> None:
    assert message_to_dict(_dental_charge()) == {
        "type": "charge_paid",
        "fact_id": "his-msg-1",
        "patient_id": MEMBER,
        "occurred_at": "2026-03-05T01:30:00+00:00",  # 09:30 in Shanghai, in UTC
        "charge_id": "c-20260305-017",
        "lines": [
            {
                "department": "dental",
                "category": "treatment",
                "amount_fen": 128_000,
                "insurance_fen": 30_000,
            }
        ],
    }


def test_a_decoded_instant_is_the_same_moment_in_utc() -> None:
    decoded = message_from_dict(message_to_dict(_dental_charge()))
    assert decoded.occurred_at == datetime(2026, 3, 5, 1, 30, tzinfo=UTC)
    assert decoded.occurred_at.utcoffset() == timedelta(0)


def test_a_redemption_is_written_with_its_optional_reference() -> None:
    redeem = Redeem(key="redeem-88", member_id=MEMBER, points=800, reference="洗牙套餐")
    assert message_to_dict(redeem) == {
        "type": "redeem",
        "key": "redeem-88",
        "member_id": MEMBER,
        "points": 800,
        "reference": "洗牙套餐",
    }


def test_a_posting_is_written_with_its_kind_value_and_its_lots_as_a_list() -> None:
    earned_at = datetime(2026, 1, 15, 10, 0, tzinfo=SHANGHAI)
    posting = Posting(
        posting_id=f"{MEMBER}/1",
        member_id=MEMBER,
        kind=PostingKind.EARN,
        points=20,
        at=earned_at,
        recorded_at=earned_at,
        idempotency_key="app-event-1",
        fingerprint="0123456789abcdef0123",
        provenance=Provenance(
            rule_id="earning.event_attendance",
            rule_version=1,
            trigger_type="event_attended",
            trigger_id="app-event-1",
        ),
        lots=(
            Lot(
                lot_id=f"{MEMBER}/1",
                points=20,
                earned_at=earned_at,
                vests_at=earned_at,
                expires_at=datetime(2028, 1, 31, 16, 0, tzinfo=UTC),
                qualifying=True,
                rule_id="earning.event_attendance",
                reference="lecture-糖尿病",
            ),
        ),
    )
    data = message_to_dict(posting)
    assert data["type"] == "points_posted"
    assert data["kind"] == "earn"
    assert data["at"] == "2026-01-15T02:00:00+00:00"  # 10:00 in Shanghai, stored in UTC
    assert data["lots"] == [
        {
            "lot_id": f"{MEMBER}/1",
            "points": 20,
            "earned_at": "2026-01-15T02:00:00+00:00",
            "vests_at": "2026-01-15T02:00:00+00:00",
            "expires_at": "2028-01-31T16:00:00+00:00",
            "qualifying": True,
            "rule_id": "earning.event_attendance",
            "reference": "lecture-糖尿病",
            "basis_fen": None,
        }
    ]
    assert data["draws"] == []
    _assert_round_trips(posting)


def test_a_fact_read_back_from_its_dict_is_a_replay_to_the_ledger_not_a_conflict() -> None:
    # A fact stored as JSON and delivered again must be recognised as the same fact.
    book = Book(reference_config())
    charge = _dental_charge()
    first = book.apply(charge, charge.occurred_at)
    assert len(first) == 1
    stored = message_from_dict(_through_json(message_to_dict(charge)))
    assert stored == charge
    assert book.apply(stored, charge.occurred_at + timedelta(minutes=5)) == []


# -- refusals -----------------------------------------------------------------------------


def _charge_dict() -> dict[str, Any]:
    return message_to_dict(_dental_charge())


@pytest.mark.parametrize("tag", ["ChargePaid", "charge_payed", "fact", "command", "charge_line"])
def test_an_unknown_type_tag_is_refused_naming_the_tag(tag: str) -> None:
    data = {**_charge_dict(), "type": tag}
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.field == "type"
    assert excinfo.value.value == tag
    assert tag in str(excinfo.value)


def test_a_dict_without_a_type_tag_is_refused() -> None:
    data = _charge_dict()
    del data["type"]
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.field == "type"
    assert "type" in str(excinfo.value)


def test_a_missing_field_is_refused_naming_the_field() -> None:
    data = _charge_dict()
    del data["charge_id"]
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.message_type == "charge_paid"
    assert excinfo.value.field == "charge_id"
    assert "required field missing" in excinfo.value.problem


def test_an_extra_field_is_refused_naming_the_field() -> None:
    data = {**_charge_dict(), "cashier": "收费窗口3"}
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.message_type == "charge_paid"
    assert "cashier" in excinfo.value.problem


def test_an_extra_field_in_a_charge_line_is_refused_naming_the_field() -> None:
    data = _charge_dict()
    data["lines"][0]["discount_fen"] = 500
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert "discount_fen" in excinfo.value.problem


def test_a_naive_instant_string_is_refused_naming_the_field() -> None:
    data = {**_charge_dict(), "occurred_at": "2026-03-05T09:30:00"}
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.field == "occurred_at"
    assert "timezone-aware" in excinfo.value.problem
    assert isinstance(excinfo.value, MembercoreError)


def test_a_string_that_is_no_instant_at_all_is_refused_naming_the_field() -> None:
    data = {**_charge_dict(), "occurred_at": "昨天上午"}
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.field == "occurred_at"
    assert excinfo.value.value == "昨天上午"


def test_a_negative_refund_amount_is_refused_naming_the_field_and_value() -> None:
    refund = RefundIssued(
        fact_id="his-msg-2",
        patient_id=MEMBER,
        occurred_at=datetime(2026, 3, 6, 11, 0, tzinfo=SHANGHAI),
        charge_id="c-20260305-017",
        amount_fen=30_000,
    )
    data = {**message_to_dict(refund), "amount_fen": -30_000}
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.message_type == "refund_issued"
    assert excinfo.value.field == "amount_fen"
    assert excinfo.value.value == -30_000
    assert "amount_fen" in str(excinfo.value)


def test_a_negative_line_amount_is_refused_naming_the_line_field() -> None:
    data = _charge_dict()
    data["lines"][0]["amount_fen"] = -128_000
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.field == "lines[0].amount_fen"
    assert excinfo.value.value == -128_000
    assert "amount_fen" in str(excinfo.value)


def test_an_amount_written_as_a_string_is_refused_naming_the_field() -> None:
    data = _charge_dict()
    data["lines"][0]["amount_fen"] = "1280.00"
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert excinfo.value.field == "lines[0].amount_fen"
    assert "expected a whole number" in excinfo.value.problem


def test_a_negative_redemption_is_refused_as_an_invalid_message_naming_the_points() -> None:
    data = {**message_to_dict(Redeem(key="redeem-9", member_id=MEMBER, points=200)), "points": -200}
    with pytest.raises(InvalidFactError) as excinfo:
        message_from_dict(data)
    assert isinstance(excinfo.value, MembercoreError)
    assert excinfo.value.field == "points"
    assert excinfo.value.value == -200


@pytest.mark.parametrize(
    "thing",
    [
        {"type": "charge_paid"},
        "charge_paid",
        None,
        ChargeLine(department="dental", category="exam", amount_fen=5_000),
        LedgerState(member_id=MEMBER),
        Fact(fact_id="f-1", patient_id=MEMBER, occurred_at=datetime(2026, 1, 1, tzinfo=UTC)),
    ],
    ids=["dict", "str", "none", "charge_line", "ledger_state", "bare_fact"],
)
def test_writing_something_that_is_not_a_message_raises_type_error(thing: object) -> None:
    with pytest.raises(TypeError, match="not a membercore message"):
        message_to_dict(thing)


def test_a_subclass_of_a_message_is_not_a_message() -> None:
    class VipCharge(ChargePaid):
        pass

    charge = _dental_charge()
    vip = VipCharge(
        fact_id=charge.fact_id,
        patient_id=charge.patient_id,
        occurred_at=charge.occurred_at,
        charge_id=charge.charge_id,
        lines=charge.lines,
    )
    with pytest.raises(TypeError):
        message_to_dict(vip)
