"""Every part through the engine: points, tiers, journeys, outbox, tasks, plans, households.

Engines are opened with a plugin manager holding the first-party stores only, so that
what a test sees is the reference programme's doing and not that of whichever plugin
distribution happens to be installed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import journeys, ledger, plans, reference_config, tiers
from membercore.consent import ConsentGranted, GrantConsent, Purpose, WithdrawConsent
from membercore.errors import (
    EngineError,
    GuardianConsentRequiredError,
    GuardianRequiredError,
    MembercoreError,
    UnknownMemberError,
    WrongPaymentAmountError,
)
from membercore.facts import (
    ChargeLine,
    ChargePaid,
    DiagnosisRecorded,
    LabResultRecorded,
    PatientDied,
    PatientRegistered,
    RefundIssued,
    VisitCompleted,
)
from membercore.households import (
    AddDependent,
    DependentAdded,
    FormHousehold,
    HouseholdFormed,
    RemoveDependent,
)
from membercore.households import members as household_members
from membercore.ledger.commands import AdjustPoints, Redeem
from membercore.outreach import MessageCancelled, MessageQueued, RequestMessage
from membercore.ports import Store
from membercore.serialization import message_from_json
from membercore.service.engine import Engine, TickReport
from membercore.service.member import next_due, profile_due
from membercore.service.recording import member_key
from membercore.staff.tasks import AssignHealthManager, AssignTask, CloseTask, CreateTask
from membercore.testing.clock import ManualClock

SH = ZoneInfo("Asia/Shanghai")
# A Monday morning in Shanghai, outside quiet hours.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
FAR = datetime(2100, 1, 1, tzinfo=UTC)
CONFIG = reference_config()
ME = "p-lin"


def _registration(patient: str = ME, *, birth_date: date | None = None) -> PatientRegistered:
    return PatientRegistered(
        fact_id=f"reg-{patient}", patient_id=patient, occurred_at=T0, birth_date=birth_date
    )


def _charge(yuan: int, *, fact_id: str, category: str = "exam") -> ChargePaid:
    """One line paid out of pocket; the charge id is ``ch-<fact id>``."""
    line = ChargeLine(department="internal", category=category, amount_fen=yuan * 100)
    return ChargePaid(
        fact_id=fact_id, patient_id=ME, occurred_at=T0, charge_id=f"ch-{fact_id}", lines=(line,)
    )


def _diabetes(fact_id: str = "f-dx") -> DiagnosisRecorded:
    """A type-2 diabetes diagnosis (ICD-10 E11) at T0."""
    return DiagnosisRecorded(
        fact_id=fact_id, patient_id=ME, occurred_at=T0, icd10="E11.9", visit_id="v-1"
    )


def _consent(
    purpose: Purpose = "care", *, member: str = ME, given_by: str | None = None
) -> GrantConsent:
    return GrantConsent(
        key=f"consent-{member}-{purpose}",
        member_id=member,
        purpose=purpose,
        channels=("wecom", "sms"),
        given_by=given_by or member,
        source="app",
    )


def _stored(store: Store, *members: str) -> dict[str, Any]:
    """Everything the store holds about ``members``, and its shared listings."""
    keys = [member_key(member) for member in members]
    return {
        "records": {key: (r.version, r.snapshot) for key, r in store.load(keys).items()},
        "events": {key: store.events(key) for key in keys},
        "outbox": list(store.outbox()),
        "dead_letters": list(store.dead_letters()),
        "tasks": list(store.tasks(None)),
        "due": store.due(FAR, 1000),
    }


def _points(engine: Engine, at: datetime = T0) -> ledger.Balances:
    return ledger.balances(engine.member(ME).ledger, CONFIG, at)


def _journal(engine: Engine) -> list[Any]:
    return [message_from_json(event.payload) for event in engine.store.events(member_key(ME))]


def _queued(store: Store) -> dict[str, MessageQueued]:
    """The journal's decisions of the outbox's messages, by message id.

    The outbox holds what a channel is handed (the text and the template's variables);
    which template a message came from stays in the member's journal.
    """
    keys = {message.key for message in store.outbox()}
    events = [message_from_json(event.payload) for key in keys for event in store.events(key)]
    return {event.message_id: event for event in events if isinstance(event, MessageQueued)}


def _templates(store: Store) -> list[str]:
    queued = _queued(store)
    return [queued[m.message_id].template_key for m in store.outbox()]


# -- the pipeline through the engine ------------------------------------------------------


def test_a_charge_earns_points_that_vest_after_the_refund_window(engine: Engine) -> None:
    engine.ingest([_registration(), _charge(250, fact_id="f-1")])
    assert (_points(engine).pending, _points(engine).available) == (250, 0)
    week = T0 + timedelta(days=7)
    assert (_points(engine, at=week).pending, _points(engine, at=week).available) == (0, 250)


def test_reaching_the_threshold_raises_the_tier_and_later_charges_earn_at_its_rate(
    engine: Engine,
) -> None:
    engine.ingest([_registration(), _charge(999, fact_id="f-1")])
    assert tiers.tier_of(engine.member(ME).tier, CONFIG) == "L1"
    engine.ingest([_charge(1, fact_id="f-2")])  # 1,000 qualifying points: 银卡
    member = engine.member(ME)
    assert member.tier.tier == "L2"
    (changed,) = [e for e in _journal(engine) if isinstance(e, tiers.TierChanged)]
    assert (changed.from_tier, changed.to_tier, changed.reason) == ("L1", "L2", "upgrade")
    engine.ingest([_charge(100, fact_id="f-3")])
    assert _points(engine).lifetime_earned == 1_000 + 120  # L2 earns 120 %


def test_a_refund_claws_back_its_share_of_the_points_without_a_downgrade(
    engine: Engine,
) -> None:
    engine.ingest([_registration(), _charge(1_000, fact_id="f-1")])
    refund = RefundIssued(
        fact_id="f-2", patient_id=ME, occurred_at=T0, charge_id="ch-f-1", amount_fen=40_000
    )
    engine.ingest([refund])
    assert (_points(engine).reversed, _points(engine).qualifying) == (400, 600)
    assert engine.member(ME).tier.tier == "L2"  # downgrades wait for the review


def test_a_type_2_diabetes_diagnosis_enrols_the_patient_and_queues_the_intro_message(
    engine: Engine,
) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent("care"))
    engine.ingest([_diabetes()])
    member = engine.member(ME)
    assert "diabetes" in member.programmes.programmes
    assert [i.state for i in journeys.active(member.journeys, "diabetes")] == ["monitoring"]
    (message,) = engine.store.outbox()
    assert _queued(engine.store)[message.message_id].template_key == "diabetes_intro"
    assert (message.key, message.channel, message.send_at) == (member_key(ME), "wecom", T0)


def test_without_consent_a_diagnosis_queues_no_message(engine: Engine) -> None:
    engine.ingest([_registration()])
    engine.ingest([_diabetes()])
    assert "diabetes" in engine.member(ME).programmes.programmes
    assert list(engine.store.outbox()) == []
    assert "message_refused" in [event.type for event in engine.store.events(member_key(ME))]


def test_tick_fires_the_due_journey_timers_and_moves_the_due_instant_on(engine: Engine) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent("care"))
    engine.ingest([_diabetes()])
    (due_before,) = engine.store.due(FAR, 10)
    june = datetime(2026, 6, 2, 10, 0, tzinfo=SH)  # the first HbA1c recheck is due, missed
    engine.tick(june - timedelta(days=1))
    (diabetes,) = journeys.active(engine.member(ME).journeys, "diabetes")
    assert diabetes.counters.get("missed", 0) == 0
    assert "hba1c_recheck" not in _templates(engine.store)
    report = engine.tick(june)
    assert report.records == 1
    assert report.events > 0
    member = engine.member(ME)
    (diabetes,) = journeys.active(member.journeys, "diabetes")
    assert diabetes.counters["missed"] == 1
    assert all(timer.due_at > june for timer in diabetes.timers)
    assert _templates(engine.store)[-1] == "hba1c_recheck"
    # The record is next due when its own state says, and no longer by June.
    assert engine.store.due(june, 10) == []
    (due_after,) = engine.store.due(FAR, 10)
    assert due_after == (member_key(ME), next_due(member, CONFIG, after=june))
    assert due_after[1] > june >= due_before[1]


def test_two_missed_rechecks_put_a_call_task_for_the_health_manager_in_the_store(
    engine: Engine,
) -> None:
    engine.ingest([_registration()])
    engine.ingest([_diabetes()])
    september = datetime(2026, 9, 2, 10, 0, tzinfo=SH)
    engine.tick(datetime(2026, 6, 2, 10, 0, tzinfo=SH))
    assert list(engine.store.tasks()) == []
    engine.tick(september)
    (task,) = engine.store.tasks()
    assert (task.key, task.kind, task.role, task.status) == (
        member_key(ME),
        "call",
        "health_manager",
        "open",
    )
    assert task.due_at == september + timedelta(hours=48)
    # An HbA1c result puts the patient back on track.
    lab = LabResultRecorded(fact_id="f-lab", patient_id=ME, occurred_at=september, test="hba1c")
    engine.ingest([lab], now=september)
    (diabetes,) = journeys.active(engine.member(ME).journeys, "diabetes")
    assert (diabetes.state, diabetes.counters["missed"]) == ("monitoring", 0)


def test_a_tick_with_nothing_due_changes_nothing(engine: Engine) -> None:
    engine.ingest([_registration(birth_date=date(1980, 5, 1))])  # a birthday to greet
    before = _stored(engine.store, ME)
    (_, due_at) = engine.store.due(FAR, 10)[0]
    assert engine.tick(due_at - timedelta(seconds=1)) == TickReport()
    assert _stored(engine.store, ME) == before


def test_a_record_due_with_nothing_to_do_is_ticked_and_is_due_no_more(engine: Engine) -> None:
    # Without marketing consent the member-day and birthday journeys end; points given by
    # staff and all spent leave due only the expiry of a lot already empty (a lower bound
    # the ledger keeps). No fact the profile reads leaves a window.
    engine.ingest([_registration()])
    engine.execute(WithdrawConsent(key="withdraw", member_id=ME, purpose="marketing"))
    gift = AdjustPoints(key="gift", member_id=ME, points=100, operator="s-1", reason="goodwill")
    engine.execute(gift)
    engine.execute(Redeem(key="redeem", member_id=ME, points=100), now=T0 + timedelta(days=8))
    ((_, due_at),) = engine.store.due(FAR, 10)
    assert profile_due(engine.member(ME), engine.config, T0) is None
    assert engine.tick(due_at) == TickReport(records=1, events=0)
    assert next_due(engine.member(ME), engine.config, after=due_at) is None
    assert engine.store.due(FAR, 10) == []


def test_a_charge_leaving_the_window_changes_the_spend_tags_evidence_on_its_day(
    engine: Engine,
) -> None:
    # A drug is no high-value treatment: its first day due is the one it leaves the
    # 12-month window, when the spend tag no longer rests on it.
    engine.ingest([_registration(), _charge(200, fact_id="f-1", category="drug")])
    engine.execute(WithdrawConsent(key="withdraw", member_id=ME, purpose="marketing"))
    ((_, due_at),) = engine.store.due(FAR, 10)
    assert due_at.astimezone(SH) == datetime(2027, 3, 3, tzinfo=SH)
    assert engine.member(ME).profile.tags["spend:basic"].fact_ids == ("f-1",)
    assert engine.tick(due_at) == TickReport(records=1, events=1)
    assert engine.member(ME).profile.tags["spend:basic"].fact_ids == ()


def test_a_member_another_engine_has_claimed_is_left_to_it_until_the_lease_ends(
    tmp_path: Path, clock: ManualClock, open_engine: Callable[..., Engine]
) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    lease = timedelta(minutes=5)
    with (
        open_engine(url, clock, worker="first", tick_lease=lease) as first,
        open_engine(url, clock, worker="second", tick_lease=lease) as second,
    ):
        first.ingest([_registration(birth_date=date(1980, 5, 1))])  # a birthday to greet
        ((key, due_at),) = first.store.due(FAR, 10)
        # The first engine claims the earliest member due (as its tick would) and stalls.
        assert first.store.claim_due(due_at, 1, worker=first.worker, lease=lease) == [(key, due_at)]
        before = second.store.load([key])[key].version
        assert second.tick(due_at) == TickReport()
        assert second.store.load([key])[key].version == before  # left to its claimer
        assert (key, due_at) in second.store.due(due_at, 10)
        # Once the lease has ended, the member is anyone's to tick again.
        assert second.tick(due_at + lease).records == 1
        assert second.store.load([key])[key].version == before + 1


def test_an_engine_refuses_an_empty_worker_name_or_a_lease_that_is_not_positive(
    clock: ManualClock, open_engine: Callable[..., Engine]
) -> None:
    with pytest.raises(EngineError, match="worker"):
        open_engine("memory://", clock, worker="")
    with pytest.raises(EngineError, match="tick_lease"):
        open_engine("memory://", clock, tick_lease=timedelta(0))
    with open_engine("memory://", clock) as one, open_engine("memory://", clock) as other:
        assert one.worker != other.worker


def test_subscribing_and_paying_through_execute_activates_the_plan(engine: Engine) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent("care"))
    subscribe = plans.Subscribe(
        key="sub-1-s", member_id=ME, subscription_id="sub-1", plan_key="annual_599"
    )
    engine.execute(subscribe)
    waiting = engine.member(ME).plans.subscriptions["sub-1"]
    assert waiting.status is plans.SubscriptionStatus.PENDING_PAYMENT
    with pytest.raises(WrongPaymentAmountError):
        engine.execute(
            plans.RecordPayment(
                key="sub-1-p0", member_id=ME, subscription_id="sub-1", amount_fen=100, paid_at=T0
            )
        )
    events = engine.execute(
        plans.RecordPayment(
            key="sub-1-p", member_id=ME, subscription_id="sub-1", amount_fen=59_900, paid_at=T0
        )
    )
    assert any(isinstance(event, plans.SubscriptionActivated) for event in events)
    member = engine.member(ME)
    assert member.plans.subscriptions["sub-1"].status is plans.SubscriptionStatus.ACTIVE
    assert plans.active_plans(member.plans, T0) == ("annual_599",)
    assert member.tier.tier == "L2"  # the plan's tier floor
    assert _templates(engine.store) == ["annual_welcome"]


def test_withdrawing_marketing_consent_cancels_pending_marketing_messages_only(
    engine: Engine,
) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent("care"))
    engine.execute(_consent("marketing"))
    late = T0.replace(hour=22)  # quiet hours: both messages wait for 08:00
    asks: list[tuple[str, str, Purpose]] = [
        ("ask-1", "referral_invitation", "marketing"),
        ("ask-2", "annual_welcome", "care"),
    ]
    for key, template, purpose in asks:
        request = RequestMessage(
            key=key,
            member_id=ME,
            template_key=template,
            purpose=purpose,
            variables={"name": "林女士"},
            reason="staff",
        )
        engine.execute(request, now=late)
    morning = T0.replace(hour=8) + timedelta(days=1)
    assert [m.send_at for m in engine.store.outbox()] == [morning, morning]
    withdrawal = WithdrawConsent(key="withdraw-1", member_id=ME, purpose="marketing")
    events = engine.execute(withdrawal, now=late + timedelta(minutes=30))
    (cancelled,) = [event for event in events if isinstance(event, MessageCancelled)]
    assert (cancelled.message_id, cancelled.purpose) == (f"{ME}/msg/1", "marketing")
    statuses = {m.message_id: m.status for m in engine.store.outbox()}
    assert statuses == {f"{ME}/msg/1": "cancelled", f"{ME}/msg/2": "pending"}
    assert [m.purpose for m in engine.member(ME).outreach.pending(late)] == ["care"]
    # What the dispatcher will send in the morning: the care message, not the withdrawn one.
    due = engine.store.pending_outbox(morning, 10)
    assert [_queued(engine.store)[m.message_id].template_key for m in due] == ["annual_welcome"]


def test_a_first_visit_leads_to_the_annual_plan_offer_message(engine: Engine) -> None:
    engine.ingest([_registration()])
    engine.execute(_consent("marketing"))
    visit = VisitCompleted(
        fact_id="f-v", patient_id=ME, occurred_at=T0, visit_id="v", first_visit=True
    )
    engine.ingest([visit])
    engine.tick(T0 + timedelta(hours=2))
    (offer,) = engine.member(ME).offers.offers.values()
    assert offer.plan_key == "annual_599"
    # The message that announces the offer quotes the price of the plan offered.
    (message,) = engine.store.outbox()
    sent = json.loads(message.payload)
    assert _queued(engine.store)[message.message_id].template_key == "annual_plan_offer"
    plan = CONFIG.plans.plan("annual_599")
    assert plan is not None
    assert f"限时{plan.price_fen // 100}元" in sent["text"]


# -- households ---------------------------------------------------------------------------


def _form(household: str = "hh-lin", head: str = ME) -> FormHousehold:
    return FormHousehold(key=f"form-{household}", household_id=household, head_id=head)


def _add(member: str, household: str = "hh-lin", **extra: Any) -> AddDependent:
    extra.setdefault("relationship", "spouse")
    return AddDependent(
        key=f"add-{household}-{member}", household_id=household, member_id=member, **extra
    )


def _remove(member: str, reason: str = "搬离", household: str = "hh-lin") -> RemoveDependent:
    return RemoveDependent(key="rm", household_id=household, member_id=member, reason=reason)


def test_forming_a_household_and_adding_a_dependent_through_ingest_links_both_records(
    engine: Engine,
) -> None:
    engine.ingest([_registration(), _registration("p-wife")])
    report = engine.ingest([_form(), _add("p-wife")])
    assert (report.applied, report.rejected) == (2, 0)
    assert engine.member(ME).household_id == "hh-lin"
    assert engine.member("p-wife").household_id == "hh-lin"
    household = engine.household("hh-lin")
    assert household is not None
    assert household.head_id == ME
    assert household_members(household) == {ME, "p-wife"}
    assert "dependent_added" in [event.type for event in engine.store.events(member_key("p-wife"))]


def test_forming_a_household_through_execute_returns_its_events(engine: Engine) -> None:
    engine.ingest([_registration(), _registration("p-mother")])
    (formed,) = engine.execute(_form())
    assert isinstance(formed, HouseholdFormed)
    assert formed.head_id == ME
    (added,) = engine.execute(_add("p-mother", relationship="parent", birth_date=date(1950, 1, 1)))
    assert isinstance(added, DependentAdded)
    assert added.dependent.member_id == "p-mother"
    assert engine.member("p-mother").household_id == "hh-lin"
    engine.execute(_remove("p-mother"))
    assert engine.member("p-mother").household_id is None
    household = engine.household("hh-lin")
    assert household is not None
    assert household.dependents == {}


def test_a_household_command_brings_its_members_family_tags_up_to_date_at_once(
    engine: Engine,
) -> None:
    # Not on the profile's next decision (a fact, or a day one of its windows closes):
    # the head and the dependent see their family tags as the command is carried out.
    engine.ingest([_registration(), _registration("p-wife")])
    engine.execute(_form())
    engine.execute(_add("p-wife"))
    assert "family:has_dependents" in engine.member(ME).profile.tags
    assert "family:dependent" in engine.member("p-wife").profile.tags
    engine.execute(_remove("p-wife"))
    assert "family:has_dependents" not in engine.member(ME).profile.tags
    assert "family:dependent" not in engine.member("p-wife").profile.tags


def test_a_household_command_decides_nothing_more_on_the_record_of_a_member_who_died(
    engine: Engine,
) -> None:
    engine.ingest([_registration(), _registration("p-wife")])
    engine.execute(_form())
    engine.execute(_add("p-wife"))
    died = T0 + timedelta(days=30)
    engine.ingest([PatientDied(fact_id="d-1", patient_id="p-wife", occurred_at=died)], now=died)
    before = [event.version for event in engine.store.events(member_key("p-wife"))]
    engine.execute(
        _remove("p-wife", "身故"),
        now=died + timedelta(days=1),
    )
    after = engine.store.events(member_key("p-wife"))
    assert [e.type for e in after if e.version > max(before)] == ["dependent_removed"]
    assert "family:has_dependents" not in engine.member(ME).profile.tags


def test_a_minor_joins_a_household_only_with_an_adult_guardian(engine: Engine) -> None:
    child = _registration("p-son", birth_date=date(2018, 5, 1))
    engine.ingest([_registration(), child])
    engine.execute(_form())
    before = _stored(engine.store, ME, "p-son")
    with pytest.raises(GuardianRequiredError):
        engine.execute(_add("p-son", relationship="child", birth_date=date(2018, 5, 1)))
    assert _stored(engine.store, ME, "p-son") == before
    assert engine.member("p-son").household_id is None
    engine.execute(_add("p-son", relationship="child", birth_date=date(2018, 5, 1), guardian_id=ME))
    assert engine.member("p-son").household_id == "hh-lin"


def test_a_minor_without_a_guardian_sent_through_ingest_is_a_dead_letter(engine: Engine) -> None:
    engine.ingest([_registration(), _registration("p-son")])
    report = engine.ingest([_form(), _add("p-son", relationship="child")])
    assert (report.applied, report.rejected) == (1, 1)
    (letter,) = engine.store.dead_letters()
    assert letter.fact_type == "add_dependent"
    assert "p-son" in letter.reason


def test_a_guardian_in_the_household_consents_for_a_child_under_14(engine: Engine) -> None:
    born = date(2018, 5, 1)
    engine.ingest([_registration(), _registration("p-son", birth_date=born)])
    with pytest.raises(GuardianConsentRequiredError):
        engine.execute(_consent(member="p-son"))
    with pytest.raises(GuardianConsentRequiredError):  # not yet his guardian here
        engine.execute(_consent(member="p-son", given_by=ME))
    engine.execute(_form())
    engine.execute(_add("p-son", relationship="child", birth_date=born, guardian_id=ME))
    granted, _taken = engine.execute(_consent(member="p-son", given_by=ME))
    assert isinstance(granted, ConsentGranted)
    assert (granted.given_by, granted.by_guardian) == (ME, True)


def test_a_household_of_someone_never_registered_is_refused(engine: Engine) -> None:
    engine.ingest([_registration()])
    with pytest.raises(UnknownMemberError):
        engine.execute(_form(head="p-nobody"))
    assert engine.household("hh-lin") is None
    engine.execute(_form())
    with pytest.raises(UnknownMemberError):
        engine.execute(_add("p-nobody"))
    household = engine.household("hh-lin")
    assert household is not None
    assert household_members(household) == {ME}


def test_registering_and_forming_a_household_in_one_batch_is_as_in_two(
    engine: Engine,
) -> None:
    # The order of a feed decides, not how it is cut into batches.
    report = engine.ingest([_registration(), _registration("p-wife"), _form(), _add("p-wife")])
    assert (report.applied, report.rejected) == (4, 0)
    assert engine.member("p-wife").household_id == "hh-lin"


def test_a_member_belongs_to_at_most_one_household(engine: Engine) -> None:
    engine.ingest([_registration(p) for p in (ME, "p-wang", "p-wife")])
    engine.execute(_form("hh-lin", ME))
    engine.execute(_form("hh-wang", "p-wang"))
    engine.execute(_add("p-wife", "hh-lin"))

    def listing() -> set[str]:
        return {h.household_id for h in engine.households() if "p-wife" in household_members(h)}

    # Refusing her a second household is one way to keep what is asserted below.
    with contextlib.suppress(MembercoreError):
        engine.execute(_add("p-wife", "hh-wang"))
    assert len(listing()) == 1
    assert engine.member("p-wife").household_id in listing()
    engine.execute(_remove("p-wife", "x"))
    assert engine.member("p-wife").household_id == next(iter(listing()), None)


def test_health_managers_are_balanced_across_the_members_of_one_batch(engine: Engine) -> None:
    patients = ["p-1", "p-2", "p-3"]
    engine.ingest([_registration(patient) for patient in patients])
    assign = [
        AssignHealthManager(key=f"hm-{patient}", member_id=patient, reason="annual member")
        for patient in patients
    ]
    assert engine.ingest(assign).applied == 3
    managers = [engine.member(patient).work.health_manager for patient in patients]
    roster = [staff.key for staff in CONFIG.staff.with_role("health_manager")]
    assert sorted(managers) == sorted(roster[:3])  # one each, none twice


def _recheck_call(member_id: str) -> CreateTask:
    """A call for a health manager: a recheck the member missed."""
    return CreateTask(
        key="t-1",
        member_id=member_id,
        kind="call",
        role="health_manager",
        due_at=T0 + timedelta(days=2),
        reason="missed recheck",
    )


def test_a_task_goes_to_the_health_manager_with_the_fewest_open_tasks(engine: Engine) -> None:
    engine.ingest([_registration("p-1"), _registration("p-2")])
    first = _recheck_call("p-1")
    engine.execute(first)
    (held,) = engine.store.tasks()
    second = attrs.evolve(first, key="t-2", member_id="p-2")
    engine.execute(second)
    assignees = {task.assignee for task in engine.store.tasks()}
    assert held.assignee in assignees
    assert len(assignees) == 2  # the second went to someone with no open task


def test_only_a_decision_that_assigns_work_counts_the_open_tasks(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting the open tasks per member of staff reads every open task (a query of a SQL
    store): a unit of work that assigns nobody, as most facts do, leaves them uncounted,
    and one that assigns a task counts them once."""
    engine.ingest([_registration()])
    first = _recheck_call(ME)
    engine.execute(first)
    counted: list[dict[str, int]] = []
    counting = engine.store.task_loads

    def task_loads() -> dict[str, int]:
        counted.append(counting())
        return counted[-1]

    monkeypatch.setattr(engine.store, "task_loads", task_loads)
    assert engine.ingest([_charge(300, fact_id="c-1"), _charge(200, fact_id="c-2")]).applied == 2
    assert counted == []
    engine.execute(attrs.evolve(first, key="t-2"))
    assert len(counted) == 1
    (held,) = counted[0]
    assert {task.assignee for task in engine.store.tasks()} - {held} != set()


def test_work_closed_or_handed_on_earlier_in_a_batch_counts_for_the_next_task(
    engine: Engine,
) -> None:
    """Who takes a task does not depend on how the inputs were batched: a task closed, or
    given to someone else, earlier in the same batch no longer counts as the open work
    of whoever held it."""
    patients = [f"p-{n}" for n in range(5)]
    engine.ingest([_registration(patient) for patient in patients])
    calls = {
        f"t-{patient}": attrs.evolve(_recheck_call(patient), key=f"t-{patient}")
        for patient in patients
    }
    engine.ingest(list(calls.values()))
    roster = [staff.key for staff in CONFIG.staff.with_role("health_manager")]
    held = {task.task_key: task.assignee for task in engine.store.tasks()}
    first, second = roster[0], roster[1]
    assert sorted(held.values()) == sorted([first, first, second, second, roster[2]])

    def done(key: str) -> CloseTask:
        member = calls[key].member_id
        return CloseTask(
            key=f"close-{key}", member_id=member, task_key=key, outcome="called", by="hm"
        )

    def handed(key: str, to: str) -> AssignTask:
        member = calls[key].member_id
        return AssignTask(key=f"to-{key}", member_id=member, task_key=key, staff_id=to, by="lead")

    mine = [key for key, assignee in held.items() if assignee == first]
    engine.ingest([*map(done, mine), _recheck_call("p-0")])
    assert _assignees(engine)["t-1"] == first  # none open now: the fewest
    theirs = next(key for key, assignee in held.items() if assignee == second)
    engine.ingest([handed(theirs, first), attrs.evolve(_recheck_call("p-1"), key="t-2")])
    assert _assignees(engine)["t-2"] == second  # one open now: the first holds two


def _assignees(engine: Engine) -> dict[str, str | None]:
    return {task.task_key: task.assignee for task in engine.store.tasks()}
