"""Round trips of the tier and household messages and states, through JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import ChargeLine, ChargePaid, identity, reference_config
from membercore import benefits as b
from membercore import households as h
from membercore import tiers as t
from membercore.facts import RefundIssued, VisitCompleted
from membercore.serialization import (
    converter,
    message_from_dict,
    message_from_stored,
    message_to_dict,
    message_to_json,
)
from membercore.testing import Book
from membercore.testing import strategies as mst


def _through_json(message: Any) -> Any:
    return message_from_dict(json.loads(json.dumps(message_to_dict(message))))


@given(st.one_of(mst.tier_overrides(), mst.household_commands()))
def test_tier_and_household_commands_round_trip(command: Any) -> None:
    assert _through_json(command) == command


@given(st.lists(st.integers(min_value=1, max_value=30_000), min_size=1, max_size=6))
def test_tier_events_and_state_round_trip(amounts: list[int]) -> None:
    config = reference_config()
    book = Book(config)
    state = t.TierState(member_id="p-1")
    events: list[t.TierEvent] = []
    now = datetime(2026, 1, 5, tzinfo=UTC)
    for n, yuan in enumerate(amounts):
        now += timedelta(days=40 * n)
        line = ChargeLine(department="internal", category="consult", amount_fen=yuan * 100)
        charge = ChargePaid(
            fact_id=f"f{n}", patient_id="p-1", occurred_at=now, charge_id=f"c{n}", lines=[line]
        )
        visit = VisitCompleted(fact_id=f"v{n}", patient_id="p-1", occurred_at=now, visit_id=f"v{n}")
        for fact in (charge, visit):
            book.apply(fact, now)
            for event in t.decide(fact, state, book.state("p-1"), config, now):
                state = t.evolve(state, event)
                events.append(event)
        for event in t.decide(t.ReviewTier(member_id="p-1"), state, book.state("p-1"), config, now):
            state = t.evolve(state, event)
            events.append(event)
    for event in events:
        assert _through_json(event) == event
    snapshot = json.loads(json.dumps(converter().unstructure(state)))
    assert converter().structure(snapshot, t.TierState) == state


def test_tier_basis_changes_round_trip() -> None:
    config = reference_config()
    state = t.TierState(member_id="p-1")
    at = datetime(2026, 1, 5, tzinfo=UTC)
    override = t.SetTierOverride(
        key="ov-1",
        member_id="p-1",
        tier="L1",
        operator="staff-wu",
        reason="院长批准",
        expires_at=at + timedelta(days=30),
    )
    (noted,) = t.decide(override, state, Book(config).state("p-1"), config, at)
    assert isinstance(noted, t.TierBasisChanged)
    assert _through_json(noted) == noted
    state = t.evolve(state, noted)
    snapshot = json.loads(json.dumps(converter().unstructure(state)))
    assert converter().structure(snapshot, t.TierState) == state


def test_tier_events_and_states_stored_without_refund_bases_still_read() -> None:
    at = "2026-01-05T00:00:00+00:00"
    spent = {
        "type": "tier_activity_recorded",
        "member_id": "p-1",
        "kind": "spend",
        "reference": "c-1",
        "at": at,
        "amount_fen": 50_000,
        "fact_id": "f-1",
    }
    event = message_from_dict(spent)
    assert (event.charge_fen, event.refunded_fen) == (None, None)
    merged = {
        "type": "tier_records_merged",
        "member_id": "p-1",
        "duplicate_id": "p-2",
        "at": at,
        "visits": {},
        "spend": {"c-2": [at, 10_000]},
        "held": "L1",
        "review_at": None,
        "key": "m-1",
        "fingerprint": "x",
    }
    assert message_from_dict(merged).spend_basis == {}
    state = converter().structure({"member_id": "p-1", "spend": {"c-1": [at, 50_000]}}, t.TierState)
    assert state.spend_basis == {}
    # a refund of a charge recorded without its total is taken fen for fen, as it was
    refund = RefundIssued(
        fact_id="f-2",
        patient_id="p-1",
        occurred_at=datetime(2026, 1, 6, tzinfo=UTC),
        charge_id="c-1",
        amount_fen=20_000,
    )
    config = reference_config()
    events = t.decide(refund, state, Book(config).state("p-1"), config, refund.occurred_at)
    assert [e.amount_fen for e in events if isinstance(e, t.TierActivityRecorded)] == [-20_000]


def test_household_events_and_state_round_trip() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 5, 1, tzinfo=tz)
    state = h.HouseholdState(household_id="hh")
    commands: list[h.HouseholdCommand] = [
        h.FormHousehold(key="k1", household_id="hh", head_id="p-1"),
        h.AddDependent(
            key="k2",
            household_id="hh",
            member_id="p-2",
            relationship="child",
            birth_date=date(2019, 2, 28),
            guardian_id="p-1",
        ),
        h.RemoveDependent(key="k3", household_id="hh", member_id="p-2", reason="成年独立"),
    ]
    for command in commands:
        for event in h.decide(command, state, now, tz):
            assert _through_json(event) == event
            state = h.evolve(state, event)
    snapshot = json.loads(json.dumps(converter().unstructure(state)))
    assert converter().structure(snapshot, h.HouseholdState) == state


def test_quota_commands_events_and_state_round_trip() -> None:
    config = reference_config()
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    wang = b.Standing(member_id="p-wang", tier="L3")
    state = b.QuotaState(holder_id="p-wang")
    commands: list[Any] = [
        b.ReserveQuota(
            key="r1", member_id="p-wang", benefit_key="expert_consults", appointment_id="A-1"
        ),
        b.ReserveQuota(
            key="r2", member_id="p-wang", benefit_key="expert_consults", appointment_id="A-2"
        ),
        b.ConsumeQuota(key="c1", member_id="p-wang", appointment_id="A-1"),
        b.ReleaseQuota(key="x2", member_id="p-wang", appointment_id="A-2", reason="取消预约"),
        b.UseQuota(
            key="u1", member_id="p-wang", benefit_key="expert_consults", reference="walk-in"
        ),
    ]
    for command in commands:
        assert _through_json(command) == command
        for event in b.decide(command, state, config, now, standing=wang):
            assert _through_json(event) == event
            state = b.evolve(state, event)
    snapshot = json.loads(json.dumps(converter().unstructure(state)))
    assert converter().structure(snapshot, b.QuotaState) == state


INSTANT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "message",
    [
        identity.ReverseDeath(key="rd", member_id="p", reason="wrong patient", operator="n-1"),
        identity.DeathRecorded(member_id="p", fact_id="d", died_at=INSTANT, at=INSTANT),
        identity.DeathReversed(member_id="p", key="rd", reason="r", operator="n", at=INSTANT),
        identity.FactSetAside(
            member_id="p", fact_id="c", fact_type="charge_paid", reason="r", at=INSTANT
        ),
        identity.ReferralCredited(member_id="p", referrer_id="q", fact_id="f", at=INSTANT),
    ],
    ids=lambda message: message.TYPE,
)
def test_the_identity_messages_round_trip_through_their_stored_form(message: object) -> None:
    assert message_from_dict(message_to_dict(message)) == message
    assert message_from_stored(message_to_json(message)) == message
