"""The reference programme's care journeys: chronic disease, discharge, maternity, surgery.

Each starts on a clinical fact: a type-2 diabetes diagnosis, a discharge, a delivery,
an abnormal check-up, an orthopaedic operation.
"""

from __future__ import annotations

from membercore.config.journey_builders import DIED, after, call, on_event, on_fact, send
from membercore.config.journeys import Delay, JourneyDefinition, Transition

__all__ = [
    "ESCALATION_FOLLOW_UP_DAYS",
    "HBA1C_TARGET",
    "HBA1C_TESTS",
    "RECHECK_MONTHS_ABOVE_TARGET",
    "RECHECK_MONTHS_AT_TARGET",
    "checkup_follow_up",
    "diabetes",
    "ortho_rehab",
    "post_discharge",
    "postpartum_rehab",
]


#: How an HbA1c result is known: its LOINC codes (4548-4 by HPLC, 17856-6 and 4549-2
#: by other methods, all in NGSP %) and its names, in any case.
HBA1C_TESTS = "4548-4,17856-6,4549-2,hba1c,hb a1c,a1c,糖化血红蛋白"
#: The HbA1c target of type-2 diabetes care, in % (中国2型糖尿病防治指南: below 7.0 %).
HBA1C_TARGET = "7.0"
#: Months to the next recheck after a value above the target (or none yet) and at it.
RECHECK_MONTHS_ABOVE_TARGET = 3
RECHECK_MONTHS_AT_TARGET = 6
#: Days from the call rule C asks for to the follow-up: a reminder and a second call.
ESCALATION_FOLLOW_UP_DAYS = 14


def diabetes() -> JourneyDefinition:
    """Rules A and C: diabetes programme, HbA1c rechecks, a call after two misses.

    Rule A: type-2 diabetes diagnosed -> enrol and send the intro course. Rule C: two
    consecutive missed HbA1c rechecks -> a call task for the health manager.

    An HbA1c result is known by its LOINC code or its name in any case
    (:data:`HBA1C_TESTS`, the guard ``field_in`` on ``test``). The next recheck follows
    the last value, as the Chinese guidance for type-2 diabetes has it: due in three
    months while it is above the target (and before the first result), in six once it
    is below 7.0 % (the guard ``field_below`` on ``value``). A recheck not done when due
    is reminded; the second in a row makes the call (``escalated``). Fourteen days after
    the call, a reminder and a second call (``followed_up``); a result, or a call that
    rebooked the patient, puts them back on their cadence, and three months on without
    either the cycle starts over.

    The timed steps of ``monitoring`` keep the places they had in version 1: running
    instances' timers name their step by its place.
    """
    hba1c = call("field_in", field="test", values=HBA1C_TESTS)
    at_target = call("field_below", field="value", value=HBA1C_TARGET)
    rebooked = call("field_equals", field="outcome", value="rebooked")
    reset = call("reset", name="missed")
    missed = call("counter_at_least", name="missed", value=1)
    reminder = send("hba1c_recheck")
    manager_call = call("create_task", kind="call", role="health_manager", due_hours=48)
    above = after(months=RECHECK_MONTHS_ABOVE_TARGET)
    below = after(months=RECHECK_MONTHS_AT_TARGET)

    def results(source: str) -> tuple[Transition, ...]:
        """A recheck done, in ``source``: at target, or not (the first that holds)."""
        return (
            Transition(
                name=f"at_target_from_{source}",
                source=source,
                target="at_target",
                trigger=on_fact("lab_result_recorded"),
                guards=(hba1c, at_target),
                actions=(reset,),
            ),
            Transition(
                name="recheck_done" if source == "monitoring" else f"above_target_from_{source}",
                source=source,
                target="monitoring",
                trigger=on_fact("lab_result_recorded"),
                guards=(hba1c,),
                actions=(reset,),
            ),
        )

    return JourneyDefinition(
        key="diabetes",
        label="糖尿病管理",
        purpose="care",
        version=2,
        states=("monitoring", "escalated", "at_target", "followed_up"),
        initial="monitoring",
        entry=on_fact("diagnosis_recorded"),
        entry_guards=(call("field_starts_with", field="icd10", prefix="E11"),),
        entry_actions=(call("enrol", programme="diabetes"), send("diabetes_intro")),
        entry_stale_after=Delay(days=30),
        transitions=(
            results("monitoring")[0],
            Transition(
                name="second_miss",
                source="monitoring",
                target="escalated",
                trigger=above,
                guards=(missed,),
                actions=(manager_call,),
                stale_after=Delay(days=14),
            ),
            Transition(
                name="first_miss",
                source="monitoring",
                target="monitoring",
                trigger=above,
                actions=(call("count", name="missed"), reminder),
                stale_after=Delay(days=14),
            ),
            results("monitoring")[1],
            Transition(
                name="rebooked_by_call",
                source="escalated",
                target="monitoring",
                trigger=on_fact("task_completed"),
                guards=(rebooked,),
                actions=(reset,),
            ),
            *results("at_target"),
            Transition(
                name="second_miss_at_target",
                source="at_target",
                target="escalated",
                trigger=below,
                guards=(missed,),
                actions=(manager_call,),
                stale_after=Delay(days=14),
            ),
            Transition(
                name="first_miss_at_target",
                source="at_target",
                target="at_target",
                trigger=below,
                actions=(call("count", name="missed"), reminder),
                stale_after=Delay(days=14),
            ),
            *results("escalated"),
            Transition(
                name="follow_up",
                source="escalated",
                target="followed_up",
                trigger=after(days=ESCALATION_FOLLOW_UP_DAYS),
                actions=(reminder, manager_call),
                stale_after=Delay(days=7),
            ),
            *results("followed_up"),
            Transition(
                name="rebooked_after_follow_up",
                source="followed_up",
                target="monitoring",
                trigger=on_fact("task_completed"),
                guards=(rebooked,),
                actions=(reset,),
            ),
            Transition(
                name="still_missing",
                source="followed_up",
                target="monitoring",
                trigger=above,
                actions=(reset,),
            ),
        ),
        exit_on=DIED,
    )


def post_discharge() -> JourneyDefinition:
    """Discharge -> plan preview and annual offer at once, follow-up on day 1, 7 and 30."""
    return JourneyDefinition(
        key="post_discharge",
        label="出院随访",
        purpose="care",
        version=2,
        states=("discharged", "day_1", "day_7", "done"),
        initial="discharged",
        final=("done",),
        entry=on_fact("discharged"),
        entry_actions=(
            call("make_offer", plan="annual_599", valid_days=7),
            send("health_plan_preview"),
        ),
        entry_stale_after=Delay(days=3),
        transitions=(
            Transition(
                name="day_1_call",
                source="discharged",
                target="day_1",
                trigger=after(days=1),
                actions=(call("create_task", kind="call", role="nurse", due_hours=24),),
                stale_after=Delay(days=2),
            ),
            Transition(
                name="day_7_check",
                source="day_1",
                target="day_7",
                trigger=after(days=6),
                actions=(send("discharge_day_7"),),
                stale_after=Delay(days=3),
            ),
            Transition(
                name="day_30_review",
                source="day_7",
                target="done",
                trigger=after(days=23),
                actions=(
                    send("discharge_day_30"),
                    call("create_task", kind="review", role="doctor", due_hours=72),
                ),
                stale_after=Delay(days=7),
            ),
        ),
        re_entry=True,
        exit_on=DIED,
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
        entry=on_fact("delivery_recorded"),
        transitions=(
            Transition(
                name="assessment_offer",
                source="delivered",
                target="offered",
                trigger=after(days=42),
                actions=(send("postpartum_assessment"),),
                stale_after=Delay(days=14),
            ),
            Transition(
                name="pelvic_floor",
                source="offered",
                target="enrolled",
                trigger=on_fact("assessment_completed"),
                guards=(call("field_equals", field="assessment", value="pelvic_floor"),),
                actions=(
                    call("enrol", programme="pelvic_floor"),
                    call("add_tag", tag="programme:pelvic_floor"),
                ),
            ),
            Transition(
                name="no_answer", source="offered", target="declined", trigger=after(days=30)
            ),
        ),
        exit_on=DIED,
    )


def checkup_follow_up() -> JourneyDefinition:
    """An abnormal check-up -> the post-check-up clinic, chased by the health manager."""
    booked = call("field_equals", field="department", value="checkup_clinic")
    return JourneyDefinition(
        key="checkup_follow_up",
        label="体检异常随访",
        purpose="care",
        states=("flagged", "chased", "booked", "closed"),
        initial="flagged",
        final=("booked", "closed"),
        entry=on_fact("checkup_completed"),
        entry_guards=(call("field_equals", field="abnormal", value="True"),),
        entry_actions=(send("checkup_clinic_invite"),),
        entry_stale_after=Delay(days=7),
        transitions=(
            Transition(
                name="booked",
                source="flagged",
                target="booked",
                trigger=on_fact("appointment_booked"),
                guards=(booked,),
            ),
            Transition(
                name="chase",
                source="flagged",
                target="chased",
                trigger=after(days=3),
                actions=(call("create_task", kind="call", role="health_manager", due_hours=24),),
                stale_after=Delay(days=3),
            ),
            Transition(
                name="booked_after_call",
                source="chased",
                target="booked",
                trigger=on_fact("appointment_booked"),
                guards=(booked,),
            ),
            Transition(name="gave_up", source="chased", target="closed", trigger=after(days=30)),
        ),
        re_entry=True,
        exit_on=DIED,
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
        entry=on_fact("surgery_completed"),
        entry_guards=(call("field_equals", field="department", value="ortho"),),
        transitions=(
            Transition(
                name="rehab_offer",
                source="operated",
                target="offered",
                trigger=after(days=3),
                actions=(
                    call("make_offer", plan="annual_599", valid_days=14),
                    send("rehab_membership_offer", "marketing"),
                ),
                stale_after=Delay(days=7),
            ),
            Transition(
                name="joined",
                source="offered",
                target="member",
                trigger=on_event("subscription_activated"),
            ),
            Transition(
                name="offer_lapsed", source="offered", target="closed", trigger=after(days=14)
            ),
        ),
        exit_on=DIED,
    )
