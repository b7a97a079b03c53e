"""A Hypothesis strategy for a realistic HIS feed about a few patients, in arrival order."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from membercore.facts import (
    ChargePaid,
    CheckedIn,
    DiagnosisRecorded,
    EventAttended,
    Fact,
    PatientRegistered,
    RefundIssued,
)
from membercore.testing.fact_strategies import EPOCH, charge_lines

__all__ = ["DIAGNOSES", "patient_streams"]

#: ICD-10 codes a general hospital records often: type-2 diabetes (which starts the
#: reference diabetes journey), hypertension, delivery, knee arthrosis, asthma, caries.
DIAGNOSES = ("E11.9", "E11", "I10", "O80", "M17.1", "J45.9", "K02.9")

_STREAM_KINDS = ("check_in", "charge", "refund", "event", "diagnosis")


@st.composite
def patient_streams(
    draw: st.DrawFn,
    *,
    patients: int = 3,
    max_facts: int = 30,
    start: datetime = EPOCH,
    max_gap: timedelta = timedelta(days=3),
) -> list[Fact]:
    """A realistic feed from the HIS about a few patients, in the order it arrives.

    Each patient is registered before any other fact about them; then come check-ins,
    charges, refunds of part of an earlier charge of the same patient (never more than
    what is left of it), event attendances and diagnoses. Instants never go back, fact
    ids are unique (``fact-<n>``), patients are ``patient-1`` to ``patient-<patients>``;
    at most ``max_facts`` facts, the first at ``start`` or later, at most ``max_gap``
    apart.
    """
    ids = [f"patient-{n}" for n in range(1, draw(st.integers(1, patients)) + 1)]
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ids),
                st.sampled_from(_STREAM_KINDS),
                st.integers(min_value=0, max_value=int(max_gap.total_seconds())),
            ),
            max_size=max_facts,
        )
    )
    stream: list[Fact] = []
    refundable: dict[str, dict[str, int]] = {}
    at = start
    for number, (patient_id, kind, gap) in enumerate(steps, start=1):
        at += timedelta(seconds=gap)
        fields: dict[str, Any] = {
            "fact_id": f"fact-{number}",
            "patient_id": patient_id,
            "occurred_at": at,
        }
        left = refundable.get(patient_id)
        if left is None:
            refundable[patient_id] = {}
            stream.append(_registration(draw, fields))
        else:
            stream.append(_next_fact(draw, kind, number, fields, left))
    return stream


def _registration(draw: st.DrawFn, fields: dict[str, Any]) -> PatientRegistered:
    return PatientRegistered(
        birth_date=draw(
            st.none() | st.dates(min_value=date(1940, 1, 1), max_value=date(2020, 1, 1))
        ),
        sex=draw(st.none() | st.sampled_from(["female", "male"])),
        **fields,
    )


def _next_fact(
    draw: st.DrawFn, kind: str, number: int, fields: dict[str, Any], left: dict[str, int]
) -> Fact:
    """The patient's next fact of ``kind``; ``left`` is what is left to refund, by charge."""
    if kind == "charge":
        return _charge(draw, number, fields, left)
    if kind == "refund" and left:
        return _refund(draw, fields, left)
    if kind == "event":
        return EventAttended(
            event_id=f"event-{draw(st.integers(1, 5))}",
            event_kind=draw(st.sampled_from(["lecture", "member_day"])),
            **fields,
        )
    if kind == "diagnosis":
        return DiagnosisRecorded(
            icd10=draw(st.sampled_from(DIAGNOSES)), visit_id=f"visit-{number}", **fields
        )
    return CheckedIn(channel=draw(st.sampled_from(["app", "kiosk"])), **fields)


def _charge(
    draw: st.DrawFn, number: int, fields: dict[str, Any], left: dict[str, int]
) -> ChargePaid:
    charge = ChargePaid(
        charge_id=f"charge-{number}",
        lines=tuple(draw(st.lists(charge_lines(max_fen=200_000), min_size=1, max_size=3))),
        **fields,
    )
    if charge.amount_fen > 0:
        left[charge.charge_id] = charge.amount_fen
    return charge


def _refund(draw: st.DrawFn, fields: dict[str, Any], left: dict[str, int]) -> RefundIssued:
    charge_id = draw(st.sampled_from(sorted(left)))
    amount = draw(st.integers(min_value=1, max_value=left[charge_id]))
    left[charge_id] -= amount
    if not left[charge_id]:
        del left[charge_id]
    return RefundIssued(charge_id=charge_id, amount_fen=amount, **fields)
