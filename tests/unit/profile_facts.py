"""One member's facts of every kind the profile notes, for the segment properties.

``profile_fact(kind, n, day, amount)`` makes the ``n``-th fact, ``day`` days after :data:`START`;
:func:`facts` draws lists of ``(kind, day, amount)``. Few charge ids, so that refunds find
their charge and a charge is sometimes sent again; departments, categories, channels and
diagnoses vary with ``amount``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

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
ME = "p-1"
KINDS = ("charge", "visit", "checkin", "rehab", "delivery", "diagnosis", "refund")
_DEPARTMENTS = ("dental", "orthopaedics", "obstetrics")


def profile_fact(kind: str, n: int, day: int, amount: int) -> Fact:  # noqa: PLR0911 - one per kind
    """The ``n``-th fact, of ``kind``, ``day`` days after :data:`START`."""
    at = START + timedelta(days=day, hours=n % 9)
    common: dict[str, Any] = {"fact_id": f"f-{n}", "patient_id": ME, "occurred_at": at}
    if kind == "charge":
        category = "implant" if amount % 3 == 0 else "exam"
        department = _DEPARTMENTS[amount % 3]
        line = ChargeLine(department=department, category=category, amount_fen=amount * 2000)
        return ChargePaid(**common, charge_id=f"c-{n % 4}", lines=(line,))
    if kind == "refund":
        return RefundIssued(**common, charge_id=f"c-{amount % 4}", amount_fen=amount * 100)
    if kind == "visit":
        return VisitCompleted(**common, visit_id=f"v-{n}", department=_DEPARTMENTS[amount % 3])
    if kind == "checkin":  # a kiosk counts for no channel
        return CheckedIn(**common, channel=("app", "kiosk", "wechat")[amount % 3])
    if kind == "rehab":
        return RehabPlanJoined(**common, plan_id="knee")
    if kind == "delivery":
        return DeliveryRecorded(**common, visit_id=f"ip-{n}")
    if kind == "registration":  # a birth date corrected, a channel declared
        born = date(1955 + amount % 60, 1 + amount % 12, 1)
        channel = ("sms", "wecom", None)[amount % 3]
        return PatientRegistered(**common, birth_date=born, preferred_channel=channel)
    code = {0: "E11.9", 1: "Z34.0", 2: "O80", 3: "I10"}[amount % 4]
    return DiagnosisRecorded(**common, icd10=code, visit_id=f"v-{n}")


def facts(
    *, kinds: Sequence[str] = KINDS, days: int, amounts: int, least: int = 0, most: int
) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """Lists of ``(kind, day, amount)``: days from 0 to ``days``, amounts from 1 to ``amounts``."""
    drawn = st.tuples(st.sampled_from(kinds), st.integers(0, days), st.integers(1, amounts))
    return st.lists(drawn, min_size=least, max_size=most)
