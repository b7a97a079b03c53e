"""The reference programme's patient journeys (患者旅程), built from the field's practice.

Each is data: its steps name the built-in condition functions and actions of
:func:`membercore.journeys.builtin_registry`, the templates of the reference outreach
policy, and the plans, bonuses and programmes of the reference programme.
"""

from __future__ import annotations

from membercore.config.journeys import (
    Call,
    Delay,
    JourneyDefinition,
    ParamValue,
    Transition,
    Trigger,
)

__all__ = ["reference_journeys"]


def _c(action: str, **params: ParamValue) -> Call:
    return Call(name=action, params=params)


def _fact(tag: str) -> Trigger:
    return Trigger(kind="fact", type=tag)


def _event(tag: str) -> Trigger:
    return Trigger(kind="event", type=tag)


def _after(*, months: int = 0, days: int = 0, hours: int = 0) -> Trigger:
    return Trigger(kind="after", delay=Delay(months=months, days=days, hours=hours))


def _before(anchor: str, *, days: int) -> Trigger:
    return Trigger(kind="before", anchor=anchor, delay=Delay(days=days))


def _send(template: str, purpose: str = "care") -> Call:
    return _c("send_message", template=template, purpose=purpose)


_DIED = ("patient_died",)


def loyalty_ladder() -> JourneyDefinition:
    """First visit (Discover) -> annual member (Engage) -> family steward (Expand)."""
    annual = _c("field_starts_with", field="plan_key", prefix="annual")
    return JourneyDefinition(
        key="loyalty_ladder",
        label="忠诚阶梯",
        purpose="marketing",
        states=("discover", "offered", "engaged", "expand_offered", "family", "lapsed"),
        initial="discover",
        final=("family", "lapsed"),
        entry=_fact("visit_completed"),
        entry_guards=(_c("field_equals", field="first_visit", value="True"),),
        transitions=(
            Transition(
                name="annual_offer",
                source="discover",
                target="offered",
                trigger=_after(hours=2),
                actions=(
                    _c("make_offer", plan="annual_599", valid_days=7),
                    _send("annual_plan_offer", "marketing"),
                ),
            ),
            Transition(
                name="joined",
                source="offered",
                target="engaged",
                trigger=_event("subscription_activated"),
                guards=(annual,),
            ),
            Transition(
                name="offer_lapsed", source="offered", target="lapsed", trigger=_after(days=30)
            ),
            Transition(
                name="family_offer",
                source="engaged",
                target="expand_offered",
                trigger=_after(months=1),
                guards=(
                    _c("flag", name="spend_stable"),
                    _c("flag", name="interaction_frequent"),
                    _c("flag", name="relatives_seen"),
                ),
                actions=(
                    _c("make_offer", plan="family_steward", valid_days=14),
                    _send("family_offer", "marketing"),
                ),
            ),
            Transition(
                name="monthly_look", source="engaged", target="engaged", trigger=_after(months=1)
            ),
            Transition(
                name="family_joined",
                source="expand_offered",
                target="family",
                trigger=_event("subscription_activated"),
                guards=(_c("field_equals", field="plan_key", value="family_steward"),),
            ),
            Transition(
                name="family_offer_lapsed",
                source="expand_offered",
                target="engaged",
                trigger=_after(days=30),
            ),
        ),
        exit_on=_DIED,
    )


def diabetes() -> JourneyDefinition:
    """Rules A and C: diabetes programme, HbA1c rechecks, a call after two misses.

    Rule A: type-2 diabetes diagnosed -> enrol and send the intro course. Rule C: two
    consecutive missed HbA1c rechecks (due every three months) -> a call task for the
    health manager.
    """
    hba1c = _c("field_equals", field="test", value="hba1c")
    return JourneyDefinition(
        key="diabetes",
        label="糖尿病管理",
        purpose="care",
        states=("monitoring", "escalated"),
        initial="monitoring",
        entry=_fact("diagnosis_recorded"),
        entry_guards=(_c("field_starts_with", field="icd10", prefix="E11"),),
        entry_actions=(_c("enrol", programme="diabetes"), _send("diabetes_intro")),
        transitions=(
            Transition(
                name="recheck_done",
                source="monitoring",
                target="monitoring",
                trigger=_fact("lab_result_recorded"),
                guards=(hba1c,),
                actions=(_c("reset", name="missed"),),
            ),
            Transition(
                name="second_miss",
                source="monitoring",
                target="escalated",
                trigger=_after(months=3),
                guards=(_c("counter_at_least", name="missed", value=1),),
                actions=(_c("create_task", kind="call", role="health_manager", due_hours=48),),
            ),
            Transition(
                name="first_miss",
                source="monitoring",
                target="monitoring",
                trigger=_after(months=3),
                actions=(_c("count", name="missed"), _send("hba1c_recheck")),
            ),
            Transition(
                name="back_on_track",
                source="escalated",
                target="monitoring",
                trigger=_fact("lab_result_recorded"),
                guards=(hba1c,),
                actions=(_c("reset", name="missed"),),
            ),
            Transition(
                name="rebooked_by_call",
                source="escalated",
                target="monitoring",
                trigger=_fact("task_completed"),
                guards=(_c("field_equals", field="outcome", value="rebooked"),),
                actions=(_c("reset", name="missed"),),
            ),
        ),
        exit_on=_DIED,
    )


def annual_onboarding() -> JourneyDefinition:
    """Rule B: three months in, a manager for those who never used one.

    A member three months into an annual plan who never used the dedicated health
    manager is assigned one and introduced.
    """
    return JourneyDefinition(
        key="annual_onboarding",
        label="年卡会员入门",
        purpose="care",
        states=("welcomed", "settled"),
        initial="welcomed",
        final=("settled",),
        entry=_event("subscription_activated"),
        entry_guards=(_c("field_starts_with", field="plan_key", prefix="annual"),),
        entry_actions=(_send("annual_welcome"),),
        transitions=(
            Transition(
                name="rule_b",
                source="welcomed",
                target="settled",
                trigger=_after(months=3),
                guards=(_c("flag", name="health_manager_used", **{"is": False}),),
                actions=(_c("assign_health_manager"), _send("manager_intro")),
            ),
            Transition(
                name="manager_in_use", source="welcomed", target="settled", trigger=_after(months=3)
            ),
        ),
        exit_on=_DIED,
    )


def referral_invitation() -> JourneyDefinition:
    """Rule D: high-value treatment, high satisfaction -> thanks and a referral invitation."""
    return JourneyDefinition(
        key="referral_invitation",
        label="高满意度转介绍",
        purpose="marketing",
        states=("invited",),
        initial="invited",
        final=("invited",),
        entry=_fact("survey_answered"),
        entry_guards=(
            _c("field_at_least", field="score", value=9),
            _c("has_tag", tag="high_value_treatment"),
        ),
        entry_actions=(_send("treatment_thank_you"), _send("referral_invitation", "marketing")),
        re_entry=True,
    )


def post_discharge() -> JourneyDefinition:
    """Discharge -> plan preview and annual offer at once, follow-up on day 1, 7 and 30."""
    return JourneyDefinition(
        key="post_discharge",
        label="出院随访",
        purpose="care",
        states=("discharged", "day_1", "day_7", "done"),
        initial="discharged",
        final=("done",),
        entry=_fact("discharged"),
        entry_actions=(
            _send("health_plan_preview"),
            _c("make_offer", plan="annual_599", valid_days=7),
        ),
        transitions=(
            Transition(
                name="day_1_call",
                source="discharged",
                target="day_1",
                trigger=_after(days=1),
                actions=(_c("create_task", kind="call", role="nurse", due_hours=24),),
            ),
            Transition(
                name="day_7_check",
                source="day_1",
                target="day_7",
                trigger=_after(days=6),
                actions=(_send("discharge_day_7"),),
            ),
            Transition(
                name="day_30_review",
                source="day_7",
                target="done",
                trigger=_after(days=23),
                actions=(
                    _send("discharge_day_30"),
                    _c("create_task", kind="review", role="doctor", due_hours=72),
                ),
            ),
        ),
        re_entry=True,
        exit_on=_DIED,
    )


def postpartum_rehab() -> JourneyDefinition:
    """Delivery -> the 42-day assessment offer -> the pelvic-floor programme."""
    return JourneyDefinition(
        key="postpartum_rehab",
        label="产后康复",
        purpose="care",
        states=("delivered", "offered", "enrolled", "declined"),
        initial="delivered",
        final=("enrolled", "declined"),
        entry=_fact("delivery_recorded"),
        transitions=(
            Transition(
                name="assessment_offer",
                source="delivered",
                target="offered",
                trigger=_after(days=42),
                actions=(_send("postpartum_assessment"),),
            ),
            Transition(
                name="pelvic_floor",
                source="offered",
                target="enrolled",
                trigger=_fact("assessment_completed"),
                guards=(_c("field_equals", field="assessment", value="pelvic_floor"),),
                actions=(
                    _c("enrol", programme="pelvic_floor"),
                    _c("add_tag", tag="programme:pelvic_floor"),
                ),
            ),
            Transition(
                name="no_answer", source="offered", target="declined", trigger=_after(days=30)
            ),
        ),
        exit_on=_DIED,
    )


def checkup_follow_up() -> JourneyDefinition:
    """An abnormal check-up -> the post-check-up clinic, chased by the health manager."""
    booked = _c("field_equals", field="department", value="checkup_clinic")
    return JourneyDefinition(
        key="checkup_follow_up",
        label="体检异常随访",
        purpose="care",
        states=("flagged", "chased", "booked", "closed"),
        initial="flagged",
        final=("booked", "closed"),
        entry=_fact("checkup_completed"),
        entry_guards=(_c("field_equals", field="abnormal", value="True"),),
        entry_actions=(_send("checkup_clinic_invite"),),
        transitions=(
            Transition(
                name="booked",
                source="flagged",
                target="booked",
                trigger=_fact("appointment_booked"),
                guards=(booked,),
            ),
            Transition(
                name="chase",
                source="flagged",
                target="chased",
                trigger=_after(days=3),
                actions=(_c("create_task", kind="call", role="health_manager", due_hours=24),),
            ),
            Transition(
                name="booked_after_call",
                source="chased",
                target="booked",
                trigger=_fact("appointment_booked"),
                guards=(booked,),
            ),
            Transition(name="gave_up", source="chased", target="closed", trigger=_after(days=30)),
        ),
        re_entry=True,
        exit_on=_DIED,
    )


def ortho_rehab() -> JourneyDefinition:
    """Orthopaedic surgery -> the post-operative rehabilitation membership offer."""
    return JourneyDefinition(
        key="ortho_rehab",
        label="骨科术后康复会员",
        purpose="marketing",
        states=("operated", "offered", "member", "closed"),
        initial="operated",
        final=("member", "closed"),
        entry=_fact("surgery_completed"),
        entry_guards=(_c("field_equals", field="department", value="ortho"),),
        transitions=(
            Transition(
                name="rehab_offer",
                source="operated",
                target="offered",
                trigger=_after(days=3),
                actions=(
                    _c("make_offer", plan="annual_599", valid_days=14),
                    _send("rehab_membership_offer", "marketing"),
                ),
            ),
            Transition(
                name="joined",
                source="offered",
                target="member",
                trigger=_event("subscription_activated"),
            ),
            Transition(
                name="offer_lapsed", source="offered", target="closed", trigger=_after(days=14)
            ),
        ),
        exit_on=_DIED,
    )


def renewal_reminders() -> JourneyDefinition:
    """Renewal reminders 30, 7 and 1 days before a plan's term ends."""
    return JourneyDefinition(
        key="renewal_reminders",
        label="续费提醒",
        purpose="care",
        states=("waiting", "ended"),
        initial="waiting",
        final=("ended",),
        entry=_event("subscription_activated"),
        also_on=(_event("subscription_renewed"),),
        anchors=("term_end",),
        transitions=(
            Transition(
                name="remind_30",
                source="waiting",
                target="waiting",
                trigger=_before("term_end", days=30),
                actions=(_send("renewal_30"),),
            ),
            Transition(
                name="remind_7",
                source="waiting",
                target="waiting",
                trigger=_before("term_end", days=7),
                actions=(_send("renewal_7"),),
            ),
            Transition(
                name="remind_1",
                source="waiting",
                target="waiting",
                trigger=_before("term_end", days=1),
                actions=(_send("renewal_1"),),
            ),
            Transition(
                name="expired",
                source="waiting",
                target="ended",
                trigger=_event("subscription_expired"),
            ),
        ),
        re_entry=True,
        exit_on=("subscription_renewed", "subscription_cancelled", *_DIED),
    )


def win_back() -> JourneyDefinition:
    """A lapsed member is offered the way back a week after their plan expires."""
    return JourneyDefinition(
        key="win_back",
        label="流失挽回",
        purpose="marketing",
        states=("lapsed", "offered", "won", "lost"),
        initial="lapsed",
        final=("won", "lost"),
        entry=_event("subscription_expired"),
        transitions=(
            Transition(
                name="come_back_offer",
                source="lapsed",
                target="offered",
                trigger=_after(days=7),
                actions=(
                    _send("win_back", "marketing"),
                    _c("make_offer", plan="annual_599", valid_days=30),
                ),
            ),
            Transition(
                name="won_back",
                source="offered",
                target="won",
                trigger=_event("subscription_activated"),
            ),
            Transition(name="lost", source="offered", target="lost", trigger=_after(days=30)),
        ),
        re_entry=True,
        exit_on=_DIED,
    )


def birthdays() -> JourneyDefinition:
    """Birthday greetings with the birthday bonus, every year at 09:00 on the day."""
    return JourneyDefinition(
        key="birthday",
        label="生日关怀",
        purpose="marketing",
        states=("member",),
        initial="member",
        entry=_fact("patient_registered"),
        anchors=("birth_date",),
        transitions=(
            Transition(
                name="greet",
                source="member",
                target="member",
                trigger=Trigger(kind="yearly", anchor="birth_date", at="09:00"),
                actions=(
                    _send("birthday", "marketing"),
                    _c("award_points", bonus="birthday", points=200),
                ),
            ),
        ),
        exit_on=_DIED,
    )


def member_days() -> JourneyDefinition:
    """Member day (会员日) invitations, three days before the 15th of every month.

    Only for members who agreed to marketing: the journey starts with that consent and
    ends when it is withdrawn.
    """
    return JourneyDefinition(
        key="member_day",
        label="会员日邀请",
        purpose="marketing",
        states=("member",),
        initial="member",
        entry=_event("consent_granted"),
        entry_guards=(_c("field_equals", field="purpose", value="marketing"),),
        transitions=(
            Transition(
                name="invite",
                source="member",
                target="member",
                trigger=Trigger(kind="monthly", day=12, at="10:00"),
                actions=(_send("member_day_invite", "marketing"),),
            ),
        ),
        exit_on=_DIED,
    )


def reference_journeys() -> tuple[JourneyDefinition, ...]:
    """Every reference journey."""
    return (
        loyalty_ladder(),
        diabetes(),
        annual_onboarding(),
        referral_invitation(),
        post_discharge(),
        postpartum_rehab(),
        checkup_follow_up(),
        ortho_rehab(),
        renewal_reminders(),
        win_back(),
        birthdays(),
        member_days(),
    )
