"""Hypothesis strategies for membercore's messages and the points ledger.

Other suites (a storage backend's, a vendor plugin's) draw realistic facts and ledger
commands from here instead of writing their own::

    from hypothesis import given
    from membercore.testing import strategies as mst

    @given(mst.facts(patient_id="p-1"))
    def test_my_backend_stores_any_fact(fact): ...
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
from hypothesis import strategies as st

from membercore.config import ExpiryPolicy, LedgerConfig, ProgrammeConfig, reference_config
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    DiagnosisRecorded,
    EventAttended,
    Fact,
    PatientRegistered,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    SurveyAnswered,
)
from membercore.households import AddDependent, FormHousehold, RemoveDependent
from membercore.ledger.commands import (
    AdjustPoints,
    AwardBonus,
    ExpireDue,
    Redeem,
    ReversePosting,
    TransferPoints,
)
from membercore.tiers import SetTierOverride

__all__ = [
    "DEPARTMENTS",
    "DIAGNOSES",
    "SERVICE_CATEGORIES",
    "adjustments",
    "bonuses",
    "charge_lines",
    "charges",
    "engagement_facts",
    "expire_due",
    "facts",
    "household_commands",
    "identifiers",
    "instants",
    "ledger_commands",
    "patient_streams",
    "programme_configs",
    "redemptions",
    "refunds",
    "reversals",
    "tier_overrides",
    "transfers",
]

#: Departments of a private general hospital, as HIS codes.
DEPARTMENTS = ("internal", "surgery", "obstetrics", "pediatrics", "dental", "ortho", "checkup")
#: Service categories that earning rates can name.
SERVICE_CATEGORIES = ("consult", "exam", "drug", "treatment", "checkup", "surgery")

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def identifiers(prefix: str = "id") -> st.SearchStrategy[str]:
    """Non-empty identifiers such as ``id-42``."""
    return st.integers(min_value=0, max_value=10**9).map(lambda n: f"{prefix}-{n}")


def instants(start: datetime = _EPOCH, *, days: int = 3 * 366) -> st.SearchStrategy[datetime]:
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


def _member(member_id: str | None) -> st.SearchStrategy[str]:
    return identifiers("patient") if member_id is None else st.just(member_id)


def _points(max_points: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=max_points)


def redemptions(
    *, member_id: str | None = None, max_points: int = 5_000
) -> st.SearchStrategy[Redeem]:
    """Redemptions of a positive number of points."""
    return st.builds(
        Redeem,
        key=identifiers("redeem"),
        member_id=_member(member_id),
        points=_points(max_points),
        reference=st.none() | identifiers("gift"),
    )


def adjustments(
    *, member_id: str | None = None, max_points: int = 5_000
) -> st.SearchStrategy[AdjustPoints]:
    """Manual adjustments up or down, with operator and reason."""
    return st.builds(
        AdjustPoints,
        key=identifiers("adjust"),
        member_id=_member(member_id),
        points=_points(max_points) | _points(max_points).map(lambda n: -n),
        operator=identifiers("staff"),
        reason=st.sampled_from(["补录积分", "系统纠错", "goodwill"]),
        qualifying=st.booleans(),
    )


def bonuses(
    *, member_id: str | None = None, rules: tuple[str, ...] = ("welcome", "birthday", "campaign")
) -> st.SearchStrategy[AwardBonus]:
    """Promotional bonuses naming a rule of ``earning.bonuses``."""
    return st.builds(
        AwardBonus,
        key=identifiers("bonus"),
        member_id=_member(member_id),
        rule_id=st.sampled_from(rules),
        points=_points(1_000),
    )


def reversals(
    *, member_id: str | None = None, posting_ids: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[ReversePosting]:
    """Staff reversals of an earning posting."""
    return st.builds(
        ReversePosting,
        key=identifiers("reverse"),
        member_id=_member(member_id),
        posting_id=identifiers("posting") if posting_ids is None else posting_ids,
        operator=identifiers("staff"),
        reason=st.just("voided by staff"),
    )


def transfers(
    *, member_id: str | None = None, target_id: str | None = None, max_points: int = 5_000
) -> st.SearchStrategy[TransferPoints]:
    """Transfers of points to another member."""
    return st.builds(
        TransferPoints,
        key=identifiers("transfer"),
        member_id=_member(member_id),
        target_id=_member(target_id),
        points=_points(max_points),
    )


def expire_due(*, member_id: str | None = None) -> st.SearchStrategy[ExpireDue]:
    """The time-driven expiry command."""
    return st.builds(ExpireDue, member_id=_member(member_id))


def ledger_commands(*, member_id: str | None = None) -> st.SearchStrategy[Any]:
    """Any ledger command for one member (transfers excluded: they need two ledgers)."""
    return st.one_of(
        redemptions(member_id=member_id),
        adjustments(member_id=member_id),
        bonuses(member_id=member_id),
        reversals(member_id=member_id),
        expire_due(member_id=member_id),
    )


def programme_configs() -> st.SearchStrategy[ProgrammeConfig]:
    """The reference programme under every clawback and expiry policy."""
    policies = st.builds(
        ExpiryPolicy,
        mode=st.sampled_from(["month_end", "inactivity", "never"]),
        months=st.integers(min_value=1, max_value=36),
    )
    ledgers = st.builds(LedgerConfig, clawback=st.sampled_from(["debt", "cap"]), expiry=policies)
    return ledgers.map(lambda ledger: _with_ledger(reference_config(), ledger))


def _with_ledger(config: ProgrammeConfig, ledger: LedgerConfig) -> ProgrammeConfig:
    return attrs.evolve(config, ledger=ledger)


def tier_overrides(*, member_id: str | None = None) -> st.SearchStrategy[SetTierOverride]:
    """Staff overrides to one of the reference tiers, with an expiry."""
    return st.builds(
        SetTierOverride,
        key=identifiers("override"),
        member_id=_member(member_id),
        tier=st.sampled_from(["L1", "L2", "L3", "L4", "L5"]),
        operator=identifiers("staff"),
        reason=st.sampled_from(["VIP 患者", "投诉补偿", "院长批准"]),
        expires_at=instants(),
    )


def household_commands(*, household_id: str = "hh-1") -> st.SearchStrategy[Any]:
    """Commands forming a household, adding and removing relatives."""
    relationships = st.sampled_from(["spouse", "child", "parent", "other"])
    births = st.none() | st.dates(min_value=date(1930, 1, 1), max_value=date(2026, 1, 1))
    return st.one_of(
        st.builds(
            FormHousehold,
            key=identifiers("form"),
            household_id=st.just(household_id),
            head_id=identifiers("patient"),
        ),
        st.builds(
            AddDependent,
            key=identifiers("add"),
            household_id=st.just(household_id),
            member_id=identifiers("patient"),
            relationship=relationships,
            birth_date=births,
            guardian_id=st.none() | identifiers("patient"),
        ),
        st.builds(
            RemoveDependent,
            key=identifiers("remove"),
            household_id=st.just(household_id),
            member_id=identifiers("patient"),
            reason=st.just("搬离"),
        ),
    )


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
    start: datetime = _EPOCH,
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
            stream.append(
                PatientRegistered(
                    birth_date=draw(
                        st.none() | st.dates(min_value=date(1940, 1, 1), max_value=date(2020, 1, 1))
                    ),
                    sex=draw(st.none() | st.sampled_from(["female", "male"])),
                    **fields,
                )
            )
        elif kind == "charge":
            charge = ChargePaid(
                charge_id=f"charge-{number}",
                lines=tuple(draw(st.lists(charge_lines(max_fen=200_000), min_size=1, max_size=3))),
                **fields,
            )
            if charge.amount_fen > 0:
                left[charge.charge_id] = charge.amount_fen
            stream.append(charge)
        elif kind == "refund" and left:
            charge_id = draw(st.sampled_from(sorted(left)))
            amount = draw(st.integers(min_value=1, max_value=left[charge_id]))
            left[charge_id] -= amount
            if not left[charge_id]:
                del left[charge_id]
            stream.append(RefundIssued(charge_id=charge_id, amount_fen=amount, **fields))
        elif kind == "event":
            stream.append(
                EventAttended(
                    event_id=f"event-{draw(st.integers(1, 5))}",
                    event_kind=draw(st.sampled_from(["lecture", "member_day"])),
                    **fields,
                )
            )
        elif kind == "diagnosis":
            stream.append(
                DiagnosisRecorded(
                    icd10=draw(st.sampled_from(DIAGNOSES)), visit_id=f"visit-{number}", **fields
                )
            )
        else:
            stream.append(CheckedIn(channel=draw(st.sampled_from(["app", "kiosk"])), **fields))
    return stream
