"""A merge across every part: one person, registered twice, becomes one member."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from membercore import (
    AdjustPoints,
    ChargeLine,
    ChargePaid,
    MergeMembers,
    benefits,
    consent,
    households,
    merges,
    plans,
    reference_config,
    rewards,
    tiers,
)
from membercore.ledger import LedgerState, balances
from membercore.ledger import decide as ledger_decide
from membercore.ledger import evolve as ledger_evolve

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
