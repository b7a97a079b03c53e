"""A merged record's own quota uses count for the surviving record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from membercore import MergeMembers, reference_config
from membercore import benefits as b
from membercore.errors import QuotaExhaustedError, ReservationExistsError
from membercore.serialization import converter, message_from_dict, message_to_dict

CONFIG = reference_config()
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
KEEP, DUP = "p-1001", "p-2002"


def _used(member: str, *commands: object) -> b.QuotaState:
    state = b.QuotaState(holder_id=member)
    standing = b.Standing(member_id=member, tier="L3")  # 4 expert consults a year
    for command in commands:
        for event in b.decide(command, state, CONFIG, NOW, standing=standing):  # type: ignore[arg-type]
            state = b.evolve(state, event)
    return state


def _use(member: str, key: str, units: int) -> b.UseQuota:
    return b.UseQuota(key=key, member_id=member, benefit_key="expert_consults", units=units)


def _merge() -> MergeMembers:
    return MergeMembers(
        key="m-1", member_id=KEEP, duplicate_id=DUP, operator="staff", reason="同一人"
    )


def test_uses_of_both_records_add_up_on_the_survivor() -> None:
    keep = _used(KEEP, _use(KEEP, "u1", 1))
    dup = _used(
        DUP,
        _use(DUP, "u2", 2),
        b.ReserveQuota(
            key="r1", member_id=DUP, benefit_key="expert_consults", appointment_id="A-9"
        ),
    )
    away, merged = b.decide_merge(_merge(), keep, dup, NOW)
    keep, dup = b.evolve(keep, merged), b.evolve(dup, away)
    (usage,) = keep.usage["expert_consults"].values()
    assert (usage.consumed, usage.reserved) == (1 + 2, 1)
    assert keep.reservations["A-9"].member_id == KEEP  # the booking is now the survivor's
    assert dup.usage == {}
    # 4 a year: 3 consumed and 1 reserved leave nothing
    with pytest.raises(QuotaExhaustedError):
        _apply(keep, _use(KEEP, "u3", 1))
    assert b.decide_merge(_merge(), keep, dup, NOW) == []


def _apply(state: b.QuotaState, command: object) -> b.QuotaState:
    standing = b.Standing(member_id=KEEP, tier="L3")
    for event in b.decide(command, state, CONFIG, NOW, standing=standing):  # type: ignore[arg-type]
        state = b.evolve(state, event)
    return state


def test_one_appointment_reserved_on_both_records_is_refused() -> None:
    reserve = {"benefit_key": "expert_consults", "appointment_id": "A-1"}
    keep = _used(KEEP, b.ReserveQuota(key="r1", member_id=KEEP, **reserve))
    dup = _used(DUP, b.ReserveQuota(key="r2", member_id=DUP, **reserve))
    with pytest.raises(ReservationExistsError):
        b.decide_merge(_merge(), keep, dup, NOW)


def test_merge_events_and_the_merged_state_round_trip() -> None:
    keep = _used(KEEP, _use(KEEP, "u1", 1))
    dup = _used(DUP, _use(DUP, "u2", 2))
    events = b.decide_merge(_merge(), keep, dup, NOW)
    for event in events:
        assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
    merged = b.evolve(keep, events[1])
    snapshot = json.loads(json.dumps(converter().unstructure(merged)))
    assert converter().structure(snapshot, b.QuotaState) == merged
