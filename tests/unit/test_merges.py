"""A merge across every part: one person, registered twice, becomes one member."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import (
    AdjustPoints,
    ChargeLine,
    ChargePaid,
    EventAttended,
    MergeMembers,
    ProgrammeConfig,
    benefits,
    consent,
    households,
    plans,
    reference_config,
    rewards,
    tiers,
)
from membercore.config import ExpiryPolicy
from membercore.errors import QuotaExhaustedError
from membercore.ledger import LedgerState, balances, expiry_of
from membercore.ledger import decide as ledger_decide
from membercore.ledger import evolve as ledger_evolve
from membercore.service import merges

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
CONFIG = reference_config()
KEEP, DUP = "p-1001", "p-2002"


def _records(member: str) -> merges.MemberRecords:
    return merges.MemberRecords(
        member_id=member,
        ledger=LedgerState(member_id=member),
        tier=tiers.TierState(member_id=member),
        plans=plans.PlansState(member_id=member),
        quotas=benefits.QuotaState(holder_id=member),
        rewards=rewards.RewardHistory(member_id=member),
        consent=consent.ConsentState(member_id=member),
    )


def _duplicate() -> merges.MemberRecords:
    """The second record: a charge, a paid annual plan, a consult used, a gift, consents."""
    record = _records(DUP)
    charge = ChargePaid(
        fact_id="f-1",
        patient_id=DUP,
        occurred_at=T0,
        charge_id="c-1",
        lines=[ChargeLine(department="ortho", category="surgery", amount_fen=200_000)],
    )
    ledger = record.ledger
    for posting in ledger_decide(charge, ledger, CONFIG, T0):
        ledger = ledger_evolve(ledger, posting)
    tier = record.tier
    for event in tiers.decide(charge, tier, ledger, CONFIG, T0):
        tier = tiers.evolve(tier, event)
    held = record.plans
    for command in (
        plans.Subscribe(key="s-1", member_id=DUP, subscription_id="sub-1", plan_key="annual_999"),
        plans.RecordPayment(
            key="s-2", member_id=DUP, subscription_id="sub-1", amount_fen=99_900, paid_at=T0
        ),
    ):
        for event in plans.decide(command, held, CONFIG, T0):
            held = plans.evolve(held, event)
    quotas = record.quotas
    use = benefits.UseQuota(key="q-1", member_id=DUP, benefit_key="expert_consults")
    standing = benefits.Standing(member_id=DUP, tier="L3")
    for event in benefits.decide(use, quotas, CONFIG, T0, standing=standing):
        quotas = benefits.evolve(quotas, event)
    agreed = record.consent
    grant = consent.GrantConsent(
        key="c-1", member_id=DUP, purpose="care", channels=("sms",), given_by=DUP, source="app"
    )
    for event in consent.decide(grant, agreed, T0):
        agreed = consent.evolve(agreed, event)
    return attrs_evolve(record, ledger=ledger, tier=tier, plans=held, quotas=quotas, consent=agreed)


def attrs_evolve(record: merges.MemberRecords, **changes: object) -> merges.MemberRecords:
    return attrs.evolve(record, **changes)  # type: ignore[arg-type]


def _survivor() -> merges.MemberRecords:
    record = _records(KEEP)
    ledger = record.ledger
    adjust = AdjustPoints(key="a-1", member_id=KEEP, points=100, operator="s", reason="补录")
    for posting in ledger_decide(adjust, ledger, CONFIG, T0):
        ledger = ledger_evolve(ledger, posting)
    agreed = record.consent
    grant = consent.GrantConsent(
        key="c-1",
        member_id=KEEP,
        purpose="care",
        channels=("sms", "wecom"),
        given_by=KEEP,
        source="app",
    )
    for event in consent.decide(grant, agreed, T0):
        agreed = consent.evolve(agreed, event)
    return attrs_evolve(record, ledger=ledger, consent=agreed)


def test_a_merge_makes_one_member_of_two_records() -> None:
    keep, dup = _survivor(), _duplicate()
    home = households.HouseholdState(household_id="hh")
    for command in (
        households.FormHousehold(key="h-1", household_id="hh", head_id=DUP),
        households.AddDependent(
            key="h-2", household_id="hh", member_id="p-spouse", relationship="spouse"
        ),
    ):
        for event in households.decide(command, home, T0, SH):
            home = households.evolve(home, event)
    merge = MergeMembers(
        key="m-1", member_id=KEEP, duplicate_id=DUP, operator="staff-07", reason="同一身份证号"
    )
    now = T0 + timedelta(days=10)
    decision = merges.decide(merge, keep, dup, CONFIG, now, household_states={"hh": home})

    ledger = keep.ledger
    for posting in decision.postings:
        if posting.member_id == KEEP:
            ledger = ledger_evolve(ledger, posting)
    assert balances(ledger, CONFIG, now).available == 100 + 2_000  # 2,000 元 of surgery

    tier = keep.tier
    for event in decision.tier:
        tier = tiers.evolve(tier, event)
    # the moved 999 元 plan holds the member at gold; the merged points alone make silver
    assert tiers.tier_of(tier, CONFIG) == "L3"
    assert tier.held == "L2"
    assert tiers.history(tier)[-1].reason == "merge"

    held = keep.plans
    for event in decision.plans:
        if event.member_id == KEEP:
            held = plans.evolve(held, event)
    assert plans.active_plans(held, now) == ("annual_999",)

    quotas = keep.quotas
    for event in decision.quotas:
        if event.holder_id == KEEP:
            quotas = benefits.evolve(quotas, event)
    assert sum(u.consumed for u in quotas.usage["expert_consults"].values()) == 1

    agreed = keep.consent
    for event in decision.consent:
        agreed = consent.evolve(agreed, event)
    assert consent.channels_for(agreed, "care") == ("sms",)  # the stricter consent wins

    for event in decision.households["hh"]:
        home = households.evolve(home, event)
    assert home.head_id == KEEP


# --- a merge carries every clock the rules read -----------------------------------------
#
# The checks take the survivor's record after the merge: anything with ``ledger``,
# ``tier`` and ``quotas`` (merges.MemberRecords here, the engine's Member as well).

INACTIVE = attrs.evolve(
    CONFIG, ledger=attrs.evolve(CONFIG.ledger, expiry=ExpiryPolicy(mode="inactivity", months=12))
)
NOW = datetime(2027, 2, 2, 10, 0, tzinfo=SH)  # eleven months after T0
LAST_WEEK = NOW - timedelta(days=7)
CONSULTS = "expert_consults"  # 4 a year at gold


class Merged(Protocol):
    """The survivor's record after a merge, whoever applied it."""

    @property
    def ledger(self) -> LedgerState: ...

    @property
    def tier(self) -> tiers.TierState: ...

    @property
    def quotas(self) -> benefits.QuotaState: ...


def _earn(record: merges.MemberRecords, fact: Any, at: datetime) -> merges.MemberRecords:
    ledger = record.ledger
    for posting in ledger_decide(fact, ledger, INACTIVE, at):
        ledger = ledger_evolve(ledger, posting)
    tier = record.tier
    for event in tiers.decide(fact, tier, ledger, INACTIVE, at):
        tier = tiers.evolve(tier, event)
    return attrs_evolve(record, ledger=ledger, tier=tier)


def _consult(record: merges.MemberRecords, key: str, at: datetime) -> merges.MemberRecords:
    quotas = record.quotas
    use = benefits.UseQuota(key=key, member_id=record.member_id, benefit_key=CONSULTS)
    standing = benefits.Standing(member_id=record.member_id, tier="L3")
    for event in benefits.decide(use, quotas, INACTIVE, at, standing=standing):
        quotas = benefits.evolve(quotas, event)
    return attrs_evolve(record, quotas=quotas)


def _lecture(member: str, n: int, at: datetime) -> EventAttended:
    return EventAttended(
        fact_id=f"{member}-ev-{n}", patient_id=member, occurred_at=at, event_id=f"{member}-e-{n}"
    )


def _inactive_survivor() -> merges.MemberRecords:
    """Active only eleven months ago: 600 qualifying points; two consults this year."""
    record = _records(KEEP)
    line = ChargeLine(department="internal", category="exam", amount_fen=60_000)
    charge = ChargePaid(
        fact_id="k-1", patient_id=KEEP, occurred_at=T0, charge_id="kc-1", lines=[line]
    )
    record = _earn(record, charge, T0)
    for n in range(2):
        record = _consult(record, f"k-q-{n}", datetime(2027, 1, 10 + n, 10, tzinfo=SH))
    return record


def _active_duplicate() -> merges.MemberRecords:
    """Active last week: 500 qualifying points from lectures; two consults this year."""
    record = _records(DUP)
    for n in range(25):
        record = _earn(record, _lecture(DUP, n, LAST_WEEK - timedelta(days=n)), LAST_WEEK)
    for n in range(2):
        record = _consult(record, f"d-q-{n}", datetime(2027, 1, 20 + n, 10, tzinfo=SH))
    return record


def _merged(decision: merges.MergeDecision, keep: merges.MemberRecords) -> merges.MemberRecords:
    ledger = keep.ledger
    for posting in decision.postings:
        if posting.member_id == KEEP:
            ledger = ledger_evolve(ledger, posting)
    tier = keep.tier
    for event in decision.tier:
        tier = tiers.evolve(tier, event)
    quotas = keep.quotas
    for quota_event in decision.quotas:
        if quota_event.holder_id == KEEP:
            quotas = benefits.evolve(quotas, quota_event)
    return attrs_evolve(keep, ledger=ledger, tier=tier, quotas=quotas)


def check_points_run_from_the_later_activity(merged: Merged, config: ProgrammeConfig) -> None:
    """Nothing of the survivor expires next month: the duplicate was active last week."""
    assert merged.ledger.last_activity_at == LAST_WEEK
    next_month = NOW + timedelta(days=31)
    assert balances(merged.ledger, config, next_month).available == 600 + 500
    assert expiry_of(merged.ledger.lots[f"{KEEP}/1"], merged.ledger, config) == datetime(
        2028, 1, 26, 10, tzinfo=SH
    )


def check_the_tier_counts_both_records(merged: Merged, config: ProgrammeConfig) -> None:
    """600 + 500 qualifying points in the window: silver, which neither record had."""
    done = tiers.qualification(merged.tier, merged.ledger, config, NOW)
    assert done.points == 1_100
    assert done.spend_fen == 60_000
    assert tiers.tier_of(merged.tier, config) == "L2"


def check_quota_uses_of_both_count(merged: Merged, config: ProgrammeConfig) -> None:
    """Two consults each this year: the survivor's four are used up."""
    standing = benefits.Standing(member_id=KEEP, tier="L3")
    (entitlement,) = [e for e in benefits.entitlements(standing, config) if e.key == CONSULTS]
    held = benefits.allowance(entitlement, standing, merged.quotas, config, NOW)
    assert held is not None
    assert (held.consumed, held.remaining) == (4, 0)
    use = benefits.UseQuota(key="k-q-more", member_id=KEEP, benefit_key=CONSULTS)
    with pytest.raises(QuotaExhaustedError):
        benefits.decide(use, merged.quotas, config, NOW, standing=standing)


def test_a_merge_carries_the_clocks_of_both_records() -> None:
    keep, dup = _inactive_survivor(), _active_duplicate()
    assert tiers.tier_of(keep.tier, INACTIVE) == tiers.tier_of(dup.tier, INACTIVE) == "L1"
    merge = MergeMembers(key="m-1", member_id=KEEP, duplicate_id=DUP, operator="s", reason="同一人")
    merged = _merged(merges.decide(merge, keep, dup, INACTIVE, NOW), keep)
    check_points_run_from_the_later_activity(merged, INACTIVE)
    check_the_tier_counts_both_records(merged, INACTIVE)
    check_quota_uses_of_both_count(merged, INACTIVE)


def test_a_merge_into_the_more_active_record_keeps_its_activity() -> None:
    keep, dup = _active_duplicate(), _inactive_survivor()
    # the same two records the other way round: the survivor was the active one
    merge = MergeMembers(key="m-1", member_id=DUP, duplicate_id=KEEP, operator="s", reason="同一人")
    decision = merges.decide(merge, keep, dup, INACTIVE, NOW)
    ledger = keep.ledger
    for posting in decision.postings:
        if posting.member_id == DUP:
            ledger = ledger_evolve(ledger, posting)
    assert ledger.last_activity_at == LAST_WEEK
    assert balances(ledger, INACTIVE, NOW + timedelta(days=31)).available == 1_100
