"""Hypothesis strategies for facts: charges, refunds and engagement, and their parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    EventAttended,
    Fact,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    SurveyAnswered,
)

__all__ = [
    "DEPARTMENTS",
    "EPOCH",
    "SERVICE_CATEGORIES",
    "charge_lines",
    "charges",
    "engagement_facts",
    "facts",
    "identifiers",
    "instants",
    "refunds",
]

#: Departments of a private general hospital, as HIS codes.
DEPARTMENTS = ("internal", "surgery", "obstetrics", "pediatrics", "dental", "ortho", "checkup")
#: Service categories that earning rates can name.
SERVICE_CATEGORIES = ("consult", "exam", "drug", "treatment", "checkup", "surgery")

#: Where drawn instants and patient streams start by default.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def identifiers(prefix: str = "id") -> st.SearchStrategy[str]:
    """Non-empty identifiers such as ``id-42``."""
    return st.integers(min_value=0, max_value=10**9).map(lambda n: f"{prefix}-{n}")


def instants(start: datetime = EPOCH, *, days: int = 3 * 366) -> st.SearchStrategy[datetime]:
    """Aware UTC instants within ``days`` after ``start``, to the second."""
    return st.integers(min_value=0, max_value=days * 86_400).map(
        lambda seconds: start + timedelta(seconds=seconds)
    )


@st.composite
def charge_lines(draw: st.DrawFn, *, max_fen: int = 5_000_000) -> ChargeLine:
    """A charge line with a self-paid part and perhaps a medical-insurance part."""
    amount = draw(st.integers(min_value=0, max_value=max_fen))
    return ChargeLine(
        department=draw(st.sampled_from(DEPARTMENTS)),
        category=draw(st.sampled_from(SERVICE_CATEGORIES)),
        amount_fen=amount,
        insurance_fen=draw(st.integers(min_value=0, max_value=amount)),
    )


def _fact_fields(
    patient_id: str | None, occurred_at: st.SearchStrategy[datetime] | None
) -> dict[str, Any]:
    return {
        "fact_id": identifiers("fact"),
        "patient_id": identifiers("patient") if patient_id is None else st.just(patient_id),
        "occurred_at": instants() if occurred_at is None else occurred_at,
    }


def charges(
    *,
    patient_id: str | None = None,
    occurred_at: st.SearchStrategy[datetime] | None = None,
    charge_id: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ChargePaid]:
    """Paid charges of one to four lines."""
    return st.builds(
        ChargePaid,
        charge_id=identifiers("charge") if charge_id is None else charge_id,
        lines=st.lists(charge_lines(), min_size=1, max_size=4).map(tuple),
        **_fact_fields(patient_id, occurred_at),
    )


def refunds(
    *,
    patient_id: str | None = None,
    occurred_at: st.SearchStrategy[datetime] | None = None,
    charge_id: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[RefundIssued]:
    """Refunds of part or all of a charge."""
    return st.builds(
        RefundIssued,
        charge_id=identifiers("charge") if charge_id is None else charge_id,
        amount_fen=st.integers(min_value=1, max_value=5_000_000),
        **_fact_fields(patient_id, occurred_at),
    )


def engagement_facts(
    *, patient_id: str | None = None, occurred_at: st.SearchStrategy[datetime] | None = None
) -> st.SearchStrategy[Fact]:
    """Check-ins, events, shares, likes, referrals, surveys and rehab-plan enrolments."""
    fields = _fact_fields(patient_id, occurred_at)
    return st.one_of(
        st.builds(CheckedIn, channel=st.sampled_from(["app", "kiosk", "wecom"]), **fields),
        st.builds(
            EventAttended,
            event_id=identifiers("event"),
            event_kind=st.sampled_from(["lecture", "member_day", "free_clinic"]),
            **fields,
        ),
        st.builds(ContentShared, content_id=identifiers("content"), **fields),
        st.builds(ContentLiked, content_id=identifiers("content"), **fields),
        st.builds(
            ReferralQualified,
            referred_patient_id=identifiers("patient"),
            visit_id=identifiers("visit"),
            **fields,
        ),
        st.builds(
            SurveyAnswered,
            visit_id=identifiers("visit"),
            score=st.integers(min_value=0, max_value=10),
            **fields,
        ),
        st.builds(RehabPlanJoined, plan_id=identifiers("plan"), **fields),
    )


def facts(
    *, patient_id: str | None = None, occurred_at: st.SearchStrategy[datetime] | None = None
) -> st.SearchStrategy[Fact]:
    """Any fact the points ledger takes."""
    return st.one_of(
        charges(patient_id=patient_id, occurred_at=occurred_at),
        refunds(patient_id=patient_id, occurred_at=occurred_at),
        engagement_facts(patient_id=patient_id, occurred_at=occurred_at),
    )
