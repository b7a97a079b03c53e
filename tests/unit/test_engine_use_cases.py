"""Every command the library exports, carried out by the engine on every store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

import membercore
from membercore import (
    AdjustPoints,
    AwardBonus,
    ChargeLine,
    ChargePaid,
    Engine,
    ExpireDue,
    IdempotencyConflictError,
    MergeMembers,
    Redeem,
    ReversePosting,
    TransferPoints,
    benefits,
    consent,
    households,
    outreach,
    plans,
    rewards,
    segments,
    tiers,
)
from membercore.benefits import BillItem
from membercore.facts import (
    CLINICAL_FACT_TYPES,
    FACT_TYPES,
    CheckedIn,
    EventAttended,
    Fact,
    PatientRegistered,
)
from membercore.serialization import _MESSAGE_TYPES
from membercore.service.member import EVENT_TYPES
from membercore.service.use_cases import COMMAND_TYPES
from membercore.staff import offers, programmes, tasks
from membercore.testing.clock import ManualClock

HEAD, SON, WIFE, DUP = "p-lin", "p-son", "p-wife", "p-lin-dup"
HH = "hh-lin"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_engine(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path, open_engine: Any
) -> Iterator[Engine]:
    """An engine over memory, a SQLite file and a PostgreSQL schema of the test's own."""
    if request.param == "postgres":
        from membercore.plugins import make_plugin_manager  # noqa: PLC0415
        from membercore_adapters.stores import memory, postgres, sqlite  # noqa: PLC0415

        url = request.getfixturevalue("postgres_schema_url")
        manager = make_plugin_manager(load_entrypoints=False, plugins=[memory, sqlite, postgres])
        opened = Engine.open(
            url, config=membercore.reference_config(), clock=clock, plugin_manager=manager
        )
    else:
        url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/m.db"
        opened = open_engine(url, clock)
    with opened:
        yield opened


def _register(engine: Engine, clock: ManualClock, *people: str, born: date | None = None) -> None:
    engine.ingest(
        PatientRegistered(
            fact_id=f"reg-{person}",
            patient_id=person,
            occurred_at=clock.now(),
            birth_date=born if person == SON else None,
        )
        for person in people
    )


def _charge(person: str, yuan: int, clock: ManualClock, fact_id: str) -> ChargePaid:
    line = ChargeLine(department="dental", category="treatment", amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id,
        patient_id=person,
        occurred_at=clock.now(),
        charge_id=f"c-{fact_id}",
        lines=[line],
    )


def _family(engine: Engine, clock: ManualClock) -> None:
    _register(engine, clock, HEAD, SON, WIFE, born=date(2018, 5, 1))
    engine.execute(households.FormHousehold(key="hh-1", household_id=HH, head_id=HEAD))
    engine.execute(
        households.AddDependent(
            key="hh-2",
            household_id=HH,
            member_id=SON,
            relationship="child",
            birth_date=date(2018, 5, 1),
            guardian_id=HEAD,
        )
    )
    engine.execute(
        households.AddDependent(key="hh-3", household_id=HH, member_id=WIFE, relationship="spouse")
    )


def _family_plan(engine: Engine, clock: ManualClock) -> None:
    price = next(p.price_fen for p in engine.config.plans.plans if p.key == "family_steward")
    engine.subscribe(HEAD, "family_steward", key="fs-1", subscription_id="fam", dependents=[SON])
    engine.record_payment(
        HEAD, key="fs-2", subscription_id="fam", amount_fen=price, paid_at=clock.now()
    )


def _every_command(e: Engine, clock: ManualClock) -> list[object]:
    """One of every command, in an order that makes each of them meaningful."""
    now = clock.now()
    later = now + timedelta(days=30)
    made: list[object] = []

    def run(command: object) -> tuple[object, ...]:
        events = e.execute(command)
        made.extend(events)
        return events

    run(AdjustPoints(key="k-adj", member_id=HEAD, points=5_000, operator="s", reason="r"))
    bonus = run(AwardBonus(key="k-bonus", member_id=HEAD, rule_id="welcome", points=50))
    run(Redeem(key="k-redeem", member_id=HEAD, points=10))
    earned = next(event for event in bonus if isinstance(event, membercore.Posting))
    run(
        ReversePosting(
            key="k-rev", member_id=HEAD, posting_id=earned.posting_id, operator="s", reason="r"
        )
    )
    run(ExpireDue(member_id=HEAD))
    run(TransferPoints(key="k-tr", member_id=HEAD, target_id=WIFE, points=100))
    run(
        tiers.SetTierOverride(
            key="k-ov", member_id=HEAD, tier="L4", operator="s", reason="vip", expires_at=later
        )
    )
    run(tiers.ClearTierOverride(key="k-ov2", member_id=HEAD, operator="s", reason="end"))
    run(tiers.ReviewTier(member_id=HEAD))
    run(plans.Subscribe(key="k-sub", member_id=HEAD, subscription_id="s1", plan_key="annual_599"))
    run(
        plans.RecordPayment(
            key="k-pay", member_id=HEAD, subscription_id="s1", amount_fen=59_900, paid_at=now
        )
    )
    fam = {"member_id": HEAD, "subscription_id": "fam"}
    run(plans.AddCoveredDependent(key="k-cov", dependent_id=WIFE, **fam))
    run(plans.RemoveCoveredDependent(key="k-uncov", dependent_id=WIFE, **fam))
    run(plans.AdvanceSubscriptions(member_id=HEAD))
    run(plans.Renew(key="k-renew", member_id=HEAD, subscription_id="s1"))
    run(
        plans.ChangePlan(
            key="k-change",
            member_id=HEAD,
            subscription_id="s1",
            plan_key="annual_999",
            new_subscription_id="s2",
        )
    )
    run(plans.Cancel(key="k-cancel", member_id=HEAD, subscription_id="s2", reason="r"))
    child = {"benefit_key": "child_consults"}
    run(benefits.ReserveQuota(key="k-res", member_id=SON, appointment_id="a1", **child))
    run(benefits.ConsumeQuota(key="k-con", member_id=SON, appointment_id="a1"))
    run(benefits.ReserveQuota(key="k-res2", member_id=HEAD, appointment_id="a2", **child))
    run(benefits.ReleaseQuota(key="k-rel", member_id=HEAD, appointment_id="a2"))
    run(benefits.UseQuota(key="k-use", member_id=HEAD, benefit_key="family_expert_consults"))
    run(
        consent.GrantConsent(
            key="k-cg",
            member_id=HEAD,
            purpose="care",
            channels=("wecom",),
            given_by=HEAD,
            source="app",
        )
    )
    run(
        outreach.RequestMessage(
            key="k-msg", member_id=HEAD, template_key="annual_welcome", purpose="care", reason="r"
        )
    )
    run(consent.WithdrawConsent(key="k-cw", member_id=HEAD, purpose="care"))
    run(
        tasks.CreateTask(
            key="k-task", member_id=HEAD, kind="call", role="nurse", due_at=later, reason="r"
        )
    )
    task = next(iter(e.member(HEAD).work.tasks))
    run(tasks.AssignTask(key="k-assign", member_id=HEAD, task_key=task, staff_id="rn-01", by="s"))
    run(tasks.EscalateTask(key="k-esc", member_id=HEAD, task_key=task, due_at=later, reason="r"))
    run(tasks.CloseTask(key="k-close", member_id=HEAD, task_key=task, outcome="done", by="rn-01"))
    run(tasks.AssignHealthManager(key="k-hm", member_id=WIFE, reason="r"))
    run(
        offers.MakeOffer(
            key="k-offer", member_id=WIFE, plan_key="annual_299", valid_days=7, reason="r"
        )
    )
    run(plans.Subscribe(key="k-sub3", member_id=WIFE, subscription_id="w1", plan_key="annual_299"))
    code = next(iter(e.member(WIFE).offers.offers))
    run(offers.RedeemOffer(key="k-offer2", member_id=WIFE, code=code, subscription_id="w1"))
    run(programmes.Enrol(key="k-enrol", member_id=HEAD, programme="diabetes", reason="r"))
    run(programmes.Leave(key="k-leave", member_id=HEAD, programme="diabetes", reason="r"))
    run(segments.AddTag(key="k-tag", member_id=HEAD, tag="vip", reason="r"))
    run(segments.RemoveTag(key="k-untag", member_id=HEAD, tag="vip", reason="r"))
    run(segments.RefreshProfile(member_id=HEAD))
    run(rewards.RedeemReward(key="k-gift", member_id=HEAD, reward_key="flu_vaccine"))
    redemption = f"{HEAD}/reward/1"
    run(
        rewards.CancelRedemption(
            key="k-ungift", member_id=HEAD, redemption_id=redemption, reason="r"
        )
    )
    run(households.RemoveDependent(key="k-out", household_id=HH, member_id=WIFE, reason="r"))
    run(MergeMembers(key="k-merge", member_id=HEAD, duplicate_id=DUP, operator="s", reason="r"))
    return made


def _commands_exported() -> set[type[Any]]:
    facts_and_events = set(EVENT_TYPES) | {
        households.HouseholdFormed,
        households.DependentAdded,
        households.DependentRemoved,
        households.MemberReplaced,
    }
    return {
        kind
        for kind in _MESSAGE_TYPES.values()
        if not issubclass(kind, Fact)
        and kind not in facts_and_events
        and not kind.__name__.endswith(("Issued", "Requested"))
    }


def test_the_engine_has_a_handler_for_every_command_the_library_exports() -> None:
    missing = _commands_exported() - set(COMMAND_TYPES)
    assert not missing, sorted(kind.__name__ for kind in missing)


def test_every_exported_command_runs_through_execute_on_every_store(
    any_engine: Engine, clock: ManualClock
) -> None:
    _family(any_engine, clock)
    _register(any_engine, clock, DUP)
    _family_plan(any_engine, clock)
    ran = {type(event).__name__ for event in _every_command(any_engine, clock)}
    # Each command left its mark: the parts' own events, not only the spent keys.
    for made in (
        "Posting",
        "RewardRedeemed",
        "RedemptionCancelled",
        "QuotaReserved",
        "MergedInto",
        "TaskAssigned",
    ):
        assert made in ran
    head = any_engine.member(HEAD)
    assert any_engine.member(DUP).identity.merged_into == HEAD
    assert head.rewards.redemptions[0].cancelled_at is not None


def test_a_dependent_and_the_head_draw_on_the_family_plans_shared_quota(
    engine: Engine, clock: ManualClock
) -> None:
    _family(engine, clock)
    _family_plan(engine, clock)
    consult = BillItem(item_code="PED-1", category="pediatric_consult", list_price_fen=20_000)
    assert engine.quote(SON, [consult]).lines[0].free_units == 1
    for n in range(5):
        engine.reserve_quota(SON, "child_consults", key=f"r-{n}", appointment_id=f"a-{n}")
    engine.reserve_quota(HEAD, "child_consults", key="r-head", appointment_id="a-head")
    with pytest.raises(membercore.errors.QuotaExhaustedError):
        engine.reserve_quota(SON, "child_consults", key="r-7", appointment_id="a-7")
    household = engine.household(HH)
    assert household is not None
    assert sum(u.reserved for u in household.quotas.usage["child_consults"].values()) == 6
    assert engine.quote(HEAD, [consult]).lines[0].free_units == 0
    engine.release_quota(SON, key="rel-0", appointment_id="a-0")
    assert engine.quote(HEAD, [consult]).lines[0].free_units == 1


def test_a_term_quota_that_a_quote_prices_free_can_be_reserved(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD)
    price = next(p.price_fen for p in engine.config.plans.plans if p.key == "monthly_99")
    engine.subscribe(HEAD, "monthly_99", key="m-1", subscription_id="m")
    engine.record_payment(
        HEAD, key="m-2", subscription_id="m", amount_fen=price, paid_at=clock.now()
    )
    consult = BillItem(item_code="EXP-1", category="expert_consult", list_price_fen=30_000)
    assert engine.quote(HEAD, [consult]).lines[0].free_units == 1
    engine.reserve_quota(HEAD, "expert_consult_monthly", key="r-1", appointment_id="a-1")


def test_a_key_spent_by_a_command_that_posted_nothing_cannot_be_reused(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD)
    engine.execute(AdjustPoints(key="seed", member_id=HEAD, points=500, operator="s", reason="r"))
    engine.execute(AwardBonus(key="welcome-1", member_id=HEAD, rule_id="welcome", points=50))
    again = engine.execute(
        AwardBonus(key="welcome-2", member_id=HEAD, rule_id="welcome", points=50)
    )
    assert not any(type(event).__name__ == "Posting" for event in again)  # once per member
    with pytest.raises(IdempotencyConflictError):
        engine.execute(Redeem(key="welcome-2", member_id=HEAD, points=10))
    assert engine.points(HEAD).available == 550
    # The same command again is a replay: nothing new.
    assert (
        engine.execute(AwardBonus(key="welcome-2", member_id=HEAD, rule_id="welcome", points=50))
        == ()
    )


def test_a_transfer_moves_points_between_two_records_in_one_commit(
    any_engine: Engine, clock: ManualClock
) -> None:
    _family(any_engine, clock)
    any_engine.adjust_points(WIFE, 800, key="a", operator="s", reason="r")
    any_engine.execute(TransferPoints(key="pool", member_id=WIFE, target_id=HEAD, points=300))
    assert any_engine.points(WIFE).available == 500
    assert any_engine.points(HEAD).available == 300
    _register(any_engine, clock, "p-stranger")
    stranger = TransferPoints(key="x", member_id=WIFE, target_id="p-stranger", points=1)
    with pytest.raises(membercore.TransferNotAllowedError):
        any_engine.execute(stranger)
    assert any_engine.points(WIFE).available == 500


def test_a_merge_moves_everything_and_later_facts_follow_the_survivor(
    any_engine: Engine, clock: ManualClock
) -> None:
    _family(any_engine, clock)
    _register(any_engine, clock, DUP)
    first = _charge(DUP, 2_000, clock, "dup-1")
    any_engine.ingest([first])
    clock.advance(timedelta(days=8))
    any_engine.execute(
        MergeMembers(key="m", member_id=SON, duplicate_id=DUP, operator="s", reason="card")
    )
    assert any_engine.points(SON).available == 2_000
    assert any_engine.member(DUP).identity.merged_into == SON
    assert any_engine.points(DUP).available == 0
    report = any_engine.ingest([_charge(DUP, 100, clock, "dup-2"), first])
    assert (report.applied, report.duplicates) == (1, 1)
    assert any_engine.points(SON).pending == 120  # earned at the merged record's silver tier
    # A command naming the merged record acts on the survivor.
    any_engine.execute(Redeem(key="after", member_id=DUP, points=10))
    assert any_engine.points(SON).available == 1_990


def test_a_merge_moves_household_links_and_family_plan_cover_to_the_survivor(
    engine: Engine, clock: ManualClock
) -> None:
    _family(engine, clock)
    _family_plan(engine, clock)
    _register(engine, clock, "p-son-new")
    engine.execute(
        MergeMembers(key="m", member_id="p-son-new", duplicate_id=SON, operator="s", reason="card")
    )
    household = engine.household(HH)
    assert household is not None
    assert "p-son-new" in household.dependents
    assert SON not in household.dependents
    assert household.dependents["p-son-new"].guardian_id == HEAD
    assert engine.member("p-son-new").household_id == HH
    (held,) = [s for s in engine.subscriptions(HEAD) if s.subscription_id == "fam"]
    assert held.dependents == ("p-son-new",)
    assert "child_consults" in {e.key for e in engine.entitlements("p-son-new")}


def test_the_last_gifts_are_given_once_and_come_back_when_cancelled(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD, WIFE)
    for person in (HEAD, WIFE):
        engine.adjust_points(person, 100_000, key=f"seed-{person}", operator="s", reason="r")
    engine.execute(
        rewards.RedeemReward(key="g1", member_id=HEAD, reward_key="bp_monitor", quantity=1)
    )
    assert engine.store.load(["stock:bp_monitor"])  # the stock is a record of its own
    engine.execute(
        rewards.CancelRedemption(
            key="g2", member_id=HEAD, redemption_id=f"{HEAD}/reward/1", reason="r"
        )
    )
    stock = engine.member(HEAD)
    assert stock.rewards.redeemed("bp_monitor") == 0


def test_the_front_door_exports_the_engine_every_fact_and_hookimpl() -> None:
    assert membercore.Engine is Engine
    assert callable(membercore.hookimpl)
    for kind in (*FACT_TYPES, *CLINICAL_FACT_TYPES):
        assert getattr(membercore, kind.__name__) is kind


def test_a_check_in_is_still_taken_by_the_engine(engine: Engine, clock: ManualClock) -> None:
    _register(engine, clock, HEAD)
    report = engine.ingest([CheckedIn(fact_id="ci", patient_id=HEAD, occurred_at=clock.now())])
    assert report.applied == 1


def test_a_fact_dated_past_the_clock_skew_is_a_dead_letter_with_that_reason(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD)
    clock.advance(timedelta(minutes=4))
    ahead = CheckedIn(fact_id="ci-1", patient_id=HEAD, occurred_at=clock.now())
    clock.set(clock.now() - timedelta(minutes=4))
    assert engine.ingest([ahead]).applied == 1  # four minutes ahead: within the skew
    far = CheckedIn(fact_id="ci-2", patient_id=HEAD, occurred_at=clock.now() + timedelta(hours=2))
    report = engine.ingest([far])
    assert (report.applied, report.rejected) == (0, 1)
    (letter,) = engine.dead_letters()
    assert letter.fact_id == "ci-2"
    assert "is 2 hours after the decision instant" in letter.reason
    assert letter.reason.endswith("beyond the allowed clock skew of 5 minutes")


def test_a_merge_through_the_engine_carries_the_clocks_of_both_records(tmp_path: Path) -> None:
    from .test_merges import (  # noqa: PLC0415 - the checks the pure merge is held to
        DUP as DUPLICATE,
    )
    from .test_merges import (  # noqa: PLC0415
        INACTIVE,
        KEEP,
        LAST_WEEK,
        NOW,
        T0,
        check_points_run_from_the_later_activity,
        check_the_tier_counts_both_records,
    )

    clock = ManualClock(T0)
    with Engine.open(f"sqlite:///{tmp_path}/m.db", config=INACTIVE, clock=clock) as engine:
        engine.ingest(
            [
                PatientRegistered(fact_id="reg-k", patient_id=KEEP, occurred_at=T0),
                PatientRegistered(fact_id="reg-d", patient_id=DUPLICATE, occurred_at=T0),
                ChargePaid(
                    fact_id="k-1",
                    patient_id=KEEP,
                    occurred_at=T0,
                    charge_id="kc-1",
                    lines=[ChargeLine(department="internal", category="exam", amount_fen=60_000)],
                ),
            ]
        )
        lectures = [
            EventAttended(
                fact_id=f"d-ev-{n}",
                patient_id=DUPLICATE,
                occurred_at=LAST_WEEK - timedelta(days=n),
                event_id=f"d-e-{n}",
            )
            for n in range(25)
        ]
        engine.ingest(lectures, now=LAST_WEEK)
        clock.set(NOW)
        engine.execute(
            MergeMembers(
                key="m-1", member_id=KEEP, duplicate_id=DUPLICATE, operator="s", reason="r"
            )
        )
        merged = engine.member(KEEP)
    check_points_run_from_the_later_activity(merged, INACTIVE)
    check_the_tier_counts_both_records(merged, INACTIVE)


def test_a_merge_into_a_merged_record_or_of_one_merged_elsewhere_is_refused(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, "X", "Y", "Z")
    engine.adjust_points("X", 100, key="ax", operator="s", reason="r")
    engine.adjust_points("Y", 200, key="ay", operator="s", reason="r")
    engine.execute(
        MergeMembers(key="m1", member_id="Y", duplicate_id="X", operator="s", reason="r")
    )
    back = MergeMembers(key="m2", member_id="X", duplicate_id="Y", operator="s", reason="r")
    with pytest.raises(
        membercore.errors.EngineError, match="'X' was merged into 'Y': merge into 'Y'"
    ):
        engine.execute(back)
    elsewhere = MergeMembers(key="m3", member_id="Z", duplicate_id="X", operator="s", reason="r")
    with pytest.raises(membercore.errors.EngineError, match="'X' was already merged into 'Y'"):
        engine.execute(elsewhere)
    assert engine.points("Y").available == 300
    engine.execute(Redeem(key="r", member_id="X", points=10))  # acts on Y
    assert engine.points("Y").available == 290


def test_every_person_a_command_names_follows_a_merge(engine: Engine, clock: ManualClock) -> None:
    _family(engine, clock)
    _family_plan(engine, clock)
    _register(engine, clock, "p-son-new")
    engine.execute(
        MergeMembers(key="m", member_id="p-son-new", duplicate_id=SON, operator="s", reason="r")
    )
    # The old id as a relative to add, to cover, to give points to: the survivor each time.
    with pytest.raises(membercore.errors.HouseholdMembershipError, match="already in"):
        engine.execute(
            households.AddDependent(
                key="again", household_id=HH, member_id=SON, relationship="child"
            )
        )
    engine.execute(
        plans.AddCoveredDependent(
            key="cover", member_id=HEAD, subscription_id="fam", dependent_id=SON
        )
    )
    (held,) = [s for s in engine.subscriptions(HEAD) if s.subscription_id == "fam"]
    assert held.dependents == ("p-son-new",)
    engine.adjust_points(HEAD, 100, key="a", operator="s", reason="r")
    engine.execute(TransferPoints(key="t", member_id=HEAD, target_id=SON, points=40))
    assert engine.points("p-son-new").available == 40


def test_a_pair_decided_in_the_future_is_refused(engine: Engine, clock: ManualClock) -> None:
    _register(engine, clock, HEAD)
    engine.adjust_points(HEAD, 1_000, key="a", operator="s", reason="r")
    far = clock.now() + timedelta(days=3 * 365)
    report = engine.ingest([(far, CheckedIn(fact_id="typo", patient_id=HEAD, occurred_at=far))])
    assert (report.applied, report.rejected) == (0, 1)
    (letter,) = engine.dead_letters()
    assert "history is replayed, never the future" in letter.reason
    assert engine.points(HEAD).available == 1_000


def test_a_command_sent_again_in_a_feed_is_counted_a_duplicate(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD)
    engine.adjust_points(HEAD, 100, key="a", operator="s", reason="r")
    spend = Redeem(key="i1", member_id=HEAD, points=10)
    assert engine.ingest([spend]).applied == 1
    again = engine.ingest([spend])
    assert (again.applied, again.duplicates) == (0, 1)
    assert engine.points(HEAD).available == 90


def test_an_override_that_ended_without_a_tick_grants_nothing_any_more(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD)
    ends = clock.now() + timedelta(days=10)
    engine.execute(
        tiers.SetTierOverride(
            key="o", member_id=HEAD, tier="L4", operator="s", reason="vip", expires_at=ends
        )
    )
    engine.adjust_points(HEAD, 40_000, key="a", operator="s", reason="r")
    assert engine.tier(HEAD) == "L4"
    clock.set(ends + timedelta(days=1))  # no tick since
    assert engine.tier(HEAD) == "L1"
    assert engine.standing(HEAD).tier == "L1"
    with pytest.raises(membercore.errors.NotEntitledError):
        engine.execute(benefits.UseQuota(key="q", member_id=HEAD, benefit_key="expert_consults"))
    with pytest.raises(membercore.errors.TierTooLowError):
        engine.execute(rewards.RedeemReward(key="g", member_id=HEAD, reward_key="checkup_premium"))


def test_a_plan_floor_that_ended_without_a_tick_lifts_the_tier_no_more(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD)
    _family_plan_for(engine, clock, HEAD)
    assert engine.tier(HEAD) == "L3"  # the family steward's floor
    clock.set(clock.now() + timedelta(days=400))
    assert engine.standing(HEAD).plans == ()
    assert engine.tier(HEAD) == "L1"
    # The next message is decided on the tier the member has: the floor's end first.
    engine.ingest([CheckedIn(fact_id="ci", patient_id=HEAD, occurred_at=clock.now())])
    (*_, last) = engine.tier_history(HEAD)
    assert (last.to_tier, last.reason) == ("L1", "floor_ended")


def _family_plan_for(engine: Engine, clock: ManualClock, person: str) -> None:
    price = next(p.price_fen for p in engine.config.plans.plans if p.key == "family_steward")
    engine.subscribe(person, "family_steward", key="fs-1", subscription_id="fam")
    engine.record_payment(
        person, key="fs-2", subscription_id="fam", amount_fen=price, paid_at=clock.now()
    )


def test_a_calendar_year_review_judges_the_year_that_ended(tmp_path: Path) -> None:
    config = membercore.reference_config()
    calendar = attrs.evolve(
        config,
        tiers=attrs.evolve(
            config.tiers, grace_days=0, review="calendar_year", window="calendar_year"
        ),
    )
    start = datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = ManualClock(start)
    with Engine.open("memory://", config=calendar, clock=clock) as engine:
        _register(engine, clock, HEAD)
        engine.ingest([_charge(HEAD, 16_000, clock, "c-1")])
        held = engine.tier(HEAD)
        assert held != "L1"
        engine.tick(datetime(2027, 2, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
        # The review on 1 January judged 2026, the year the member qualified in.
        assert engine.tier(HEAD) == held
        assert [c.reason for c in engine.tier_history(HEAD)] == ["upgrade"]
        engine.tick(datetime(2028, 2, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
        assert engine.tier_history(HEAD)[-1].reason == "downgrade"  # 2027 was empty


def test_a_child_whose_birth_date_only_the_household_knows_needs_a_guardian_to_consent(
    engine: Engine, clock: ManualClock
) -> None:
    _register(engine, clock, HEAD, "p-k2", "p-k3")  # registered without a birth date
    engine.execute(households.FormHousehold(key="h", household_id=HH, head_id=HEAD))
    engine.execute(
        households.AddDependent(
            key="k2",
            household_id=HH,
            member_id="p-k2",
            relationship="child",
            birth_date=date(2019, 1, 1),
            guardian_id=HEAD,
        )
    )
    engine.execute(
        households.AddDependent(
            key="k3", household_id=HH, member_id="p-k3", relationship="child", guardian_id=HEAD
        )
    )
    for child in ("p-k2", "p-k3"):
        own = consent.GrantConsent(
            key=f"c-{child}",
            member_id=child,
            purpose="care",
            channels=("sms",),
            given_by=child,
            source="app",
        )
        with pytest.raises(membercore.errors.GuardianConsentRequiredError):
            engine.execute(own)
        engine.execute(attrs.evolve(own, key=f"g-{child}", given_by=HEAD))


def test_a_family_plan_covers_only_registered_members_of_the_household(
    engine: Engine, clock: ManualClock
) -> None:
    _family(engine, clock)
    _register(engine, clock, "p-outsider")
    for people in (("p-outsider",), ("p-nobody",)):
        with pytest.raises(membercore.errors.MembercoreError, match=r"p-outsider|p-nobody"):
            engine.subscribe(
                HEAD, "family_steward", key=f"s-{people[0]}", subscription_id="f", dependents=people
            )
    _family_plan(engine, clock)
    with pytest.raises(membercore.errors.HouseholdMembershipError, match="household"):
        engine.execute(
            plans.AddCoveredDependent(
                key="c", member_id=HEAD, subscription_id="fam", dependent_id="p-outsider"
            )
        )


def test_leaving_the_household_leaves_its_family_plans(engine: Engine, clock: ManualClock) -> None:
    _family(engine, clock)
    _family_plan(engine, clock)
    engine.execute(
        plans.AddCoveredDependent(key="c", member_id=HEAD, subscription_id="fam", dependent_id=WIFE)
    )
    engine.execute(
        households.RemoveDependent(key="out", household_id=HH, member_id=WIFE, reason="r")
    )
    (held,) = [s for s in engine.subscriptions(HEAD) if s.subscription_id == "fam"]
    assert held.dependents == (SON,)
    assert "child_consults" not in {e.key for e in engine.entitlements(WIFE)}


def test_what_names_nothing_real_is_refused(engine: Engine, clock: ManualClock) -> None:
    _register(engine, clock, HEAD)
    past = tiers.SetTierOverride(
        key="o",
        member_id=HEAD,
        tier="L3",
        operator="s",
        reason="r",
        expires_at=clock.now() - timedelta(days=1),
    )
    with pytest.raises(membercore.InvalidFactError, match="expires_at"):
        engine.execute(past)
    with pytest.raises(membercore.InvalidFactError, match="purposes are"):
        consent.GrantConsent(
            key="c",
            member_id=HEAD,
            purpose="spam",
            channels=("sms",),
            given_by=HEAD,
            source="app",  # type: ignore[arg-type]
        )
    with pytest.raises(membercore.InvalidFactError, match="no package, plan or journey"):
        engine.execute(programmes.Enrol(key="e", member_id=HEAD, programme="diabetis", reason="r"))
    engine.execute(
        offers.MakeOffer(key="o2", member_id=HEAD, plan_key="annual_299", valid_days=7, reason="r")
    )
    code = next(iter(engine.member(HEAD).offers.offers))
    with pytest.raises(membercore.errors.UnknownSubscriptionError):
        engine.execute(
            offers.RedeemOffer(key="o3", member_id=HEAD, code=code, subscription_id="never")
        )


def test_a_programme_a_journey_enrols_in_is_a_programme(engine: Engine, clock: ManualClock) -> None:
    assert "pelvic_floor" in engine.config.programme_keys  # named by the post-partum journey
    _register(engine, clock, HEAD)
    engine.execute(programmes.Enrol(key="e", member_id=HEAD, programme="pelvic_floor", reason="r"))
    assert "pelvic_floor" in engine.member(HEAD).programmes.programmes
