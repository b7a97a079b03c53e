"""Each reference journey walked end to end with a fake clock, on real facts and events."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given
from hypothesis import strategies as st

from membercore import SurveyAnswered, consent, journeys, plans, reference_config
from membercore.dates import age_on
from membercore.facts import (
    CLINICAL_FACT_TYPES,
    AdmissionCancelled,
    Admitted,
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    AssessmentCompleted,
    CheckupCompleted,
    Coding,
    DeliveryRecorded,
    DiagnosisRecorded,
    DischargeCancelled,
    Discharged,
    Identifier,
    LabResultRecorded,
    PatientDied,
    PatientRegistered,
    SurgeryCompleted,
    TaskCompleted,
    Transferred,
    VisitCompleted,
)
from membercore.serialization import message_from_dict, message_to_dict
from membercore.staff import offers

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ME = "p-lin"
CONFIG = reference_config()
REGISTRY = journeys.builtin_registry()
ids = itertools.count(1)


class Patient:
    """One member's journeys, driven as the application would, with a fake clock."""

    def __init__(self, *keys: str) -> None:
        self.journeys = tuple(d for d in CONFIG.journeys if not keys or d.key in keys)
        self.state = journeys.JourneysState(member_id=ME)
        self.flags: dict[str, bool] = {}
        self.tags: frozenset[str] = frozenset()
        self.plans = plans.PlansState(member_id=ME)
        self.events: list[journeys.JourneyEvent] = []

    def situation(self, now: datetime) -> journeys.Situation:
        return journeys.Situation(
            member_id=ME,
            now=now,
            config=CONFIG,
            tags=self.tags,
            plans=plans.active_plans(self.plans, now),
            flags=self.flags,
            consented=frozenset({"care", "marketing"}),
        )

    def _take(self, events: list[journeys.JourneyEvent]) -> list[journeys.JourneyEvent]:
        for event in events:
            self.state = journeys.evolve(self.state, event)
        self.events += events
        return events

    def tell(self, message: Any, now: datetime) -> list[journeys.JourneyEvent]:
        return self._take(
            journeys.decide(message, self.state, self.journeys, REGISTRY, self.situation(now))
        )

    def tick(self, now: datetime) -> list[journeys.JourneyEvent]:
        return self._take(journeys.tick(self.state, self.journeys, REGISTRY, self.situation(now)))

    def subscribe(self, plan_key: str, now: datetime) -> list[journeys.JourneyEvent]:
        """Buy a plan and tell the journeys about each subscription event."""
        price = next(p.price_fen for p in CONFIG.plans.plans if p.key == plan_key)
        sub = f"sub-{next(ids)}"
        self.subscription = sub
        told: list[journeys.JourneyEvent] = []
        for command in (
            plans.Subscribe(key=f"{sub}-s", member_id=ME, subscription_id=sub, plan_key=plan_key),
            plans.RecordPayment(
                key=f"{sub}-p", member_id=ME, subscription_id=sub, amount_fen=price, paid_at=now
            ),
        ):
            for event in plans.decide(command, self.plans, CONFIG, now):
                self.plans = plans.evolve(self.plans, event)
                told += self.tell(event, now)
        return told

    def where(self, key: str) -> str | None:
        running = journeys.active(self.state, key)
        return running[-1].state if running else None


def _actions(events: list[journeys.JourneyEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.action.name, dict(event.action.params))
        for event in events
        if isinstance(event, journeys.JourneyActionIssued)
    ]


def _fact(cls: type, **fields: Any) -> Any:
    fields.setdefault("occurred_at", T0)
    return cls(fact_id=f"f-{next(ids)}", patient_id=ME, **fields)


def test_loyalty_ladder_from_first_visit_to_family_steward() -> None:
    patient = Patient("loyalty_ladder", "family_steward_offer")
    patient.tell(_fact(VisitCompleted, visit_id="v-1", first_visit=True), T0)
    assert patient.where("loyalty_ladder") == "discover"
    offer = patient.tick(T0 + timedelta(hours=2))  # within 24 h of leaving
    assert _actions(offer) == [
        ("make_offer", {"plan": "annual_599", "valid_days": 7}),
        ("send_message", {"template": "annual_plan_offer", "purpose": "marketing"}),
    ]
    patient.subscribe("annual_599", T0 + timedelta(days=2))
    assert patient.where("loyalty_ladder") == "engaged"
    assert patient.where("family_steward_offer") == "member"
    # a month on, spend is not yet stable: the offer's journey only looks again
    looked = _actions(patient.tick(datetime(2026, 4, 4, 10, 0, tzinfo=SH)))
    assert looked == [("start_journey", {"journey": "family_steward_offer"})]  # running
    assert len(journeys.active(patient.state, "family_steward_offer")) == 1
    patient.flags = {"spend_stable": True, "interaction_frequent": True, "relatives_seen": True}
    expand = patient.tick(datetime(2026, 5, 4, 10, 0, tzinfo=SH))
    # Made once, by the offer's journey; the ladder records it as the offer is made.
    assert [a for a in _actions(expand) if a[0] != "start_journey"] == [
        ("make_offer", {"plan": "family_steward", "valid_days": 14}),
        ("send_message", {"template": "family_offer", "purpose": "marketing"}),
    ]
    made = offers.OfferMade(
        member_id=ME,
        code="FS-1",
        plan_key="family_steward",
        at=datetime(2026, 5, 4, 10, 0, tzinfo=SH),
        expires_at=datetime(2026, 5, 18, 10, 0, tzinfo=SH),
        reason="family offer",
        key="offer-1",
        fingerprint="w1:x",
    )
    patient.tell(made, datetime(2026, 5, 4, 10, 0, tzinfo=SH))
    assert patient.where("loyalty_ladder") == "expand_offered"
    patient.subscribe("family_steward", datetime(2026, 5, 5, tzinfo=SH))
    assert journeys.active(patient.state, "loyalty_ladder") == []
    assert patient.state.instances[f"{ME}/loyalty_ladder/1"].ended == "completed"
    assert patient.state.instances[f"{ME}/family_steward_offer/1"].state == "family"


def test_a_ladder_an_earlier_version_left_engaged_starts_the_family_steward_offer() -> None:
    patient = Patient("loyalty_ladder")  # as before the offer had a journey of its own
    patient.tell(_fact(VisitCompleted, visit_id="v-1", first_visit=True), T0)
    patient.tick(T0 + timedelta(hours=2))
    patient.subscribe("annual_599", T0 + timedelta(days=2))
    assert patient.where("loyalty_ladder") == "engaged"
    patient.journeys = tuple(
        d for d in CONFIG.journeys if d.key in ("loyalty_ladder", "family_steward_offer")
    )
    patient.tick(datetime(2026, 4, 4, 10, 0, tzinfo=SH))
    assert patient.where("family_steward_offer") == "member"
    patient.flags = {"spend_stable": True, "interaction_frequent": True, "relatives_seen": True}
    offered = _actions(patient.tick(datetime(2026, 5, 4, 10, 0, tzinfo=SH)))
    assert ("make_offer", {"plan": "family_steward", "valid_days": 14}) in offered


def test_the_family_steward_offer_is_made_only_while_an_annual_plan_is_held() -> None:
    patient = Patient("family_steward_offer")
    patient.subscribe("annual_299", T0)
    patient.flags = {"spend_stable": True, "interaction_frequent": True, "relatives_seen": True}
    patient.plans = plans.PlansState(member_id=ME)  # its end not told to the journeys
    assert _actions(patient.tick(T0 + timedelta(days=40))) == []
    assert patient.where("family_steward_offer") == "member"


def test_the_family_steward_offer_ends_with_the_annual_plan() -> None:
    patient = Patient("family_steward_offer")
    patient.subscribe("annual_299", T0)
    sub = patient.subscription
    cancel = plans.Cancel(key="cancel", member_id=ME, subscription_id=sub, reason="moved away")
    for event in plans.decide(cancel, patient.plans, CONFIG, T0 + timedelta(days=9)):
        patient.plans = plans.evolve(patient.plans, event)
        patient.tell(event, T0 + timedelta(days=9))
    assert patient.state.instances[f"{ME}/family_steward_offer/1"].state == "plan_ended"
    patient.flags = {"spend_stable": True, "interaction_frequent": True, "relatives_seen": True}
    assert patient.tick(T0 + timedelta(days=400)) == []


def test_a_returning_patient_does_not_start_the_ladder() -> None:
    patient = Patient("loyalty_ladder")
    assert patient.tell(_fact(VisitCompleted, visit_id="v-9", first_visit=False), T0) == []


def test_diabetes_rules_a_and_c() -> None:
    patient = Patient("diabetes")
    started = patient.tell(_fact(DiagnosisRecorded, icd10="E11.9", visit_id="v-1"), T0)
    assert _actions(started) == [
        ("enrol", {"programme": "diabetes"}),
        ("send_message", {"template": "diabetes_intro", "purpose": "care"}),
    ]
    june = datetime(2026, 6, 2, 10, 0, tzinfo=SH)  # first recheck due, missed
    assert ("send_message", {"template": "hba1c_recheck", "purpose": "care"}) in _actions(
        patient.tick(june)
    )
    september = datetime(2026, 9, 2, 10, 0, tzinfo=SH)  # second one missed
    task = _actions(patient.tick(september))
    assert task == [("create_task", {"kind": "call", "role": "health_manager", "due_hours": 48})]
    assert patient.where("diabetes") == "escalated"
    (issued,) = [
        e
        for e in patient.events
        if isinstance(e, journeys.JourneyActionIssued) and e.action.name == "create_task"
    ]
    patient.tell(
        _fact(TaskCompleted, task_key=issued.key, outcome="rebooked"), september + timedelta(days=1)
    )
    assert patient.where("diabetes") == "monitoring"
    patient.tell(
        _fact(LabResultRecorded, test="hba1c", value="7.1"), september + timedelta(days=10)
    )
    assert patient.state.instances[f"{ME}/diabetes/1"].counters["missed"] == 0


def test_diabetes_ends_when_the_patient_dies() -> None:
    patient = Patient("diabetes")
    patient.tell(_fact(DiagnosisRecorded, icd10="E11", visit_id="v-1"), T0)
    (ended,) = patient.tell(_fact(PatientDied), T0 + timedelta(days=5))
    assert isinstance(ended, journeys.JourneyEnded)
    assert ended.reason == "exit:patient_died"
    assert patient.tick(T0 + timedelta(days=400)) == []


def test_annual_onboarding_rule_b() -> None:
    unused = Patient("annual_onboarding")
    welcome = unused.subscribe("annual_299", T0)
    assert _actions(welcome) == [
        ("send_message", {"template": "annual_welcome", "purpose": "care"})
    ]
    unused.flags = {"health_manager_used": False}
    three_months = datetime(2026, 6, 2, 10, 0, tzinfo=SH)
    assert _actions(unused.tick(three_months)) == [
        ("assign_health_manager", {}),
        ("send_message", {"template": "manager_intro", "purpose": "care"}),
    ]
    used = Patient("annual_onboarding")
    used.subscribe("annual_299", T0)
    used.flags = {"health_manager_used": True}
    assert _actions(used.tick(three_months)) == []
    assert used.state.instances[f"{ME}/annual_onboarding/1"].state == "settled"


def test_referral_invitation_rule_d() -> None:
    patient = Patient("referral_invitation")
    patient.tags = frozenset({"care:high_value_treatment"})
    invited = patient.tell(_fact(SurveyAnswered, visit_id="v-implant", score=10), T0)
    assert [params["template"] for _, params in _actions(invited)] == [
        "treatment_thank_you",
        "referral_invitation",
    ]
    assert patient.tell(_fact(SurveyAnswered, visit_id="v-2", score=7), T0) == []
    patient.tags = frozenset()
    assert patient.tell(_fact(SurveyAnswered, visit_id="v-3", score=10), T0) == []


def test_post_discharge_follow_up_day_1_7_30() -> None:
    patient = Patient("post_discharge")
    entry = patient.tell(_fact(Discharged, visit_id="ip-1", department="surgery"), T0)
    assert _actions(entry) == [
        ("make_offer", {"plan": "annual_599", "valid_days": 7}),
        ("send_message", {"template": "health_plan_preview", "purpose": "care"}),
    ]
    assert _actions(patient.tick(T0 + timedelta(days=1)))[0][0] == "create_task"
    assert _actions(patient.tick(T0 + timedelta(days=7))) == [
        ("send_message", {"template": "discharge_day_7", "purpose": "care"})
    ]
    day_30 = _actions(patient.tick(T0 + timedelta(days=30)))
    assert ("create_task", {"kind": "review", "role": "doctor", "due_hours": 72}) in day_30
    assert journeys.active(patient.state, "post_discharge") == []


def test_post_partum_rehab() -> None:
    patient = Patient("postpartum_rehab")
    patient.tell(_fact(DeliveryRecorded, visit_id="ip-2"), T0)
    assert patient.tick(T0 + timedelta(days=41)) == []
    assert _actions(patient.tick(T0 + timedelta(days=42))) == [
        ("send_message", {"template": "postpartum_assessment", "purpose": "care"})
    ]
    enrolled = patient.tell(
        _fact(AssessmentCompleted, visit_id="v-5", assessment="pelvic_floor"),
        T0 + timedelta(days=45),
    )
    assert ("enrol", {"programme": "pelvic_floor"}) in _actions(enrolled)


def test_abnormal_check_up_to_the_clinic() -> None:
    patient = Patient("checkup_follow_up")
    assert patient.tell(_fact(CheckupCompleted, visit_id="c-0", abnormal=False), T0) == []
    invite = patient.tell(_fact(CheckupCompleted, visit_id="c-1", abnormal=True), T0)
    assert _actions(invite) == [
        ("send_message", {"template": "checkup_clinic_invite", "purpose": "care"})
    ]
    chase = patient.tick(T0 + timedelta(days=3))
    assert _actions(chase)[0] == (
        "create_task",
        {"kind": "call", "role": "health_manager", "due_hours": 24},
    )
    booked = _fact(
        AppointmentBooked,
        appointment_id="a-1",
        department="checkup_clinic",
        scheduled_at=T0 + timedelta(days=9),
    )
    patient.tell(booked, T0 + timedelta(days=4))
    assert patient.state.instances[f"{ME}/checkup_follow_up/1"].ended == "completed"


def test_orthopaedic_surgery_then_the_rehab_membership_offer() -> None:
    patient = Patient("ortho_rehab")
    patient.tell(_fact(SurgeryCompleted, visit_id="ip-3", department="ortho", procedure="TKA"), T0)
    offer = patient.tick(T0 + timedelta(days=3))
    assert (
        "send_message",
        {"template": "rehab_membership_offer", "purpose": "marketing"},
    ) in _actions(offer)
    patient.tick(T0 + timedelta(days=17))
    assert patient.state.instances[f"{ME}/ortho_rehab/1"].ended == "completed"


def test_renewal_reminders_30_7_1_days_before_the_term_ends_and_again_after_renewal() -> None:
    patient = Patient("renewal_reminders")
    patient.subscribe("annual_599", T0)  # the term ends 2027-03-02 10:00
    end = datetime(2027, 3, 2, 10, 0, tzinfo=SH)
    sent = []
    for days in (30, 7, 1):
        sent += [p["template"] for _, p in _actions(patient.tick(end - timedelta(days=days)))]
    assert sent == ["renewal_30", "renewal_7", "renewal_1"]
    # renewing (early, with the 1-day reminder sent) ends these reminders and starts the
    # next term's, counted from the new term's end
    renew_at = end - timedelta(hours=12)
    sub = patient.subscription
    price = 59_900
    for command in (
        plans.Renew(key="r-1", member_id=ME, subscription_id=sub),
        plans.RecordPayment(
            key="r-2", member_id=ME, subscription_id=sub, amount_fen=price, paid_at=renew_at
        ),
    ):
        for event in plans.decide(command, patient.plans, CONFIG, renew_at):
            patient.plans = plans.evolve(patient.plans, event)
            patient.tell(event, renew_at)
    (now_running,) = journeys.active(patient.state, "renewal_reminders")
    assert now_running.instance_id.endswith("/2")
    assert now_running.anchors["term_end"].startswith("2028-03-02")
    monthly = Patient("renewal_reminders")
    monthly.subscribe("monthly_99", datetime(2026, 2, 2, 10, 0, tzinfo=SH))
    (instance,) = journeys.active(monthly.state, "renewal_reminders")
    assert len(instance.timers) == 2  # a 28-day term: no 30-day reminder


def test_win_back_of_a_lapsed_member() -> None:
    patient = Patient("win_back")
    patient.subscribe("annual_299", T0)
    expired = patient.tick(T0)  # nothing yet
    assert expired == []
    for event in plans.decide(
        plans.AdvanceSubscriptions(member_id=ME),
        patient.plans,
        CONFIG,
        datetime(2027, 4, 1, tzinfo=SH),
    ):
        patient.plans = plans.evolve(patient.plans, event)
        patient.tell(event, datetime(2027, 4, 1, tzinfo=SH))
    assert patient.where("win_back") == "lapsed"
    offer = patient.tick(datetime(2027, 4, 20, tzinfo=SH))
    assert ("send_message", {"template": "win_back", "purpose": "marketing"}) in _actions(offer)
    patient.subscribe("annual_599", datetime(2027, 4, 25, tzinfo=SH))
    assert journeys.active(patient.state, "win_back") == []


def test_a_leap_day_birthday_is_greeted_on_1_march_in_common_years() -> None:
    """One calendar rule (membercore.dates): the anniversary of 29 February is 1 March.

    The greeting comes on the day the member's age goes up (``age_on``), no longer on
    28 February, when they are still a year younger.
    """
    born = date(2000, 2, 29)
    assert (age_on(born, date(2027, 2, 28)), age_on(born, date(2027, 3, 1))) == (26, 27)
    patient = Patient("birthday")
    patient.tell(_fact(PatientRegistered, birth_date=born), T0)
    assert patient.tick(datetime(2027, 2, 28, 23, 59, tzinfo=SH)) == []
    greet = patient.tick(datetime(2027, 3, 1, 9, 0, tzinfo=SH))
    assert _actions(greet) == [
        ("send_message", {"template": "birthday", "purpose": "marketing"}),
        ("award_points", {"bonus": "birthday", "points": 200}),
    ]
    assert _actions(patient.tick(datetime(2028, 2, 29, 9, 0, tzinfo=SH)))[0][0] == "send_message"


def _consent_granted(purpose: str) -> consent.ConsentGranted:
    return consent.ConsentGranted(
        member_id=ME,
        purpose=purpose,  # type: ignore[arg-type]
        channels=("wecom",),
        given_by=ME,
        by_guardian=False,
        source="app",
        at=T0,
        key=f"c-{next(ids)}",
        fingerprint="f",
    )


def test_member_day_invitations_start_with_marketing_consent_not_registration() -> None:
    patient = Patient("member_day")
    patient.tell(_fact(PatientRegistered, birth_date=None), T0)
    patient.tell(_consent_granted("care"), T0)
    assert patient.where("member_day") is None
    patient.tell(_consent_granted("marketing"), T0)
    assert patient.where("member_day") == "member"


def test_member_day_invitations_each_month() -> None:
    patient = Patient("member_day")
    patient.tell(_consent_granted("marketing"), T0)
    invites = patient.tick(datetime(2026, 6, 12, 10, 0, tzinfo=SH))
    dates = [e.at.astimezone(SH).date() for e in invites if isinstance(e, journeys.JourneyMoved)]
    assert dates == [date(2026, 3, 12), date(2026, 4, 12), date(2026, 5, 12), date(2026, 6, 12)]


def test_every_clinical_fact_round_trips() -> None:
    examples = [
        _fact(LabResultRecorded, test="hba1c", value="6.9", abnormal=False),
        _fact(Discharged, visit_id="ip", department="surgery"),
        _fact(CheckupCompleted, visit_id="c", abnormal=True),
        _fact(SurgeryCompleted, visit_id="s", department="ortho", procedure="THA"),
        _fact(AssessmentCompleted, visit_id="a", assessment="pelvic_floor"),
        _fact(AppointmentBooked, appointment_id="ap", department="checkup_clinic", scheduled_at=T0),
        _fact(PatientDied),
        _fact(TaskCompleted, task_key="k", outcome="rebooked"),
        _fact(PatientRegistered, birth_date=date(1980, 1, 1)),
        _fact(DiagnosisRecorded, icd10="O80", visit_id="v"),
        _fact(DeliveryRecorded, visit_id="v"),
    ]
    examples.append(_fact(AppointmentMissed, appointment_id="ap", department="checkup_clinic"))
    examples += [
        _fact(AppointmentRescheduled, appointment_id="ap", department="endo", scheduled_at=T0),
        _fact(AppointmentCancelled, appointment_id="ap", department="endo"),
        _fact(AppointmentCompleted, appointment_id="ap", department="endo"),
        _fact(Admitted, visit_id="ip", department="surgery", encounter_class="emergency"),
        _fact(Transferred, visit_id="ip", department="icu", from_department="surgery"),
        _fact(AdmissionCancelled, visit_id="ip"),
        _fact(DischargeCancelled, visit_id="ip"),
        _fact(
            LabResultRecorded,
            test="glucose",
            value="182",
            coding=Coding(system="LN", code="1554-5", display="GLUCOSE"),
            unit="mg/dl",
            reference_range="70_105",
            status="corrected",
            order_id="1045813",
        ),
        _fact(
            DiagnosisRecorded,
            visit_id="v",
            coding=Coding(system="I9", code="71596"),
            status="resolved",
        ),
        _fact(
            PatientRegistered,
            identifiers=[Identifier(system="MR", value="1"), Identifier(system="SS", value="2")],
        ),
    ]
    assert {type(e) for e in examples} == set(CLINICAL_FACT_TYPES)
    for fact in examples:
        assert message_from_dict(json.loads(json.dumps(message_to_dict(fact)))) == fact


def _day_facts() -> list[Any]:
    day = T0
    return [
        _fact(DiagnosisRecorded, icd10="E11.9", visit_id="v-1", occurred_at=day),
        _fact(Discharged, visit_id="ip-1", department="surgery", occurred_at=day),
        _fact(CheckupCompleted, visit_id="c-1", abnormal=True, occurred_at=day),
        _fact(DeliveryRecorded, visit_id="ip-2", occurred_at=day),
        _fact(LabResultRecorded, test="hba1c", occurred_at=day),
    ]


DAY_FACTS = _day_facts()


@given(st.permutations(DAY_FACTS), st.lists(st.sampled_from(DAY_FACTS), max_size=4))
def test_the_same_facts_twice_or_in_any_order_within_a_day_leave_the_same_journeys(
    order: list[Any], again: list[Any]
) -> None:
    reference = Patient()
    for fact in DAY_FACTS:
        reference.tell(fact, T0 + timedelta(hours=1))
    shuffled = Patient()
    for fact in [*order, *again]:
        shuffled.tell(fact, T0 + timedelta(hours=1))

    def states(patient: Patient) -> dict[str, tuple[str, str | None, tuple[Any, ...]]]:
        return {
            i.instance_id: (i.state, i.ended, tuple((t.transition, t.due_at) for t in i.timers))
            for i in patient.state.instances.values()
        }

    assert states(shuffled) == states(reference)


def test_a_leap_day_birthday_set_for_28_february_by_an_earlier_release_is_greeted_once() -> None:
    """Release 0.1 set 29 February's birthday timer on 28 February: it fires, once.

    The greeting comes back to its own state and sets the timer again: for the next
    year's anniversary, not for 1 March of the year that was just greeted.
    """
    patient = Patient("birthday")
    patient.tell(_fact(PatientRegistered, birth_date=date(2000, 2, 29)), T0)
    (instance,) = patient.state.instances.values()
    (timer,) = instance.timers
    stored = attrs.evolve(timer, due_at=datetime(2027, 2, 28, 9, 0, tzinfo=SH))  # 0.1's rule
    patient.state = attrs.evolve(
        patient.state,
        instances={instance.instance_id: attrs.evolve(instance, timers=(stored,))},
    )
    greeted = [
        action
        for day in range(27, 32)
        for action in _actions(
            patient.tick(datetime(2027, 2, 27, 23, 0, tzinfo=SH) + timedelta(days=day - 27))
        )
        if action[0] == "send_message"
    ]
    assert len(greeted) == 1
    (instance,) = patient.state.instances.values()
    assert [t.due_at for t in instance.timers] == [datetime(2028, 2, 29, 9, 0, tzinfo=SH)]
