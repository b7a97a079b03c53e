"""A weight-management clinic's additions to the membership programme: an example plugin.

The template to copy when you write a membercore plugin. It contributes, through the
``membercore`` entry-point group (see this distribution's ``pyproject.toml``):

- a condition function, ``bmi_at_least``: the triggering fact is a BMI lab result of at
  least ``value``;
- an action, ``notify_clinic``: a referral task for the clinic's staff, keyed by the
  action's key, so that carrying the action out twice is one task;
- a journey, ``weight_management`` (体重管理随访): a BMI of 28 or more refers the member
  to the nutrition clinic and invites them to book; two weeks without a booking, a
  nurse calls; a month after the call without a booking, the journey lapses.

The journey sends the reference programme's ``checkup_clinic_invite`` template (a care
message); a programme without that template refuses the journey, and the error names
this plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from membercore.config.journeys import ParamValue
from membercore.facts import LabResultRecorded
from membercore.hookspecs import hookimpl
from membercore.journeys import (
    ActionSpec,
    Call,
    ConditionSpec,
    Delay,
    JourneyActionIssued,
    JourneyDefinition,
    Parameter,
    Situation,
    Transition,
    Trigger,
)
from membercore.staff.tasks import CreateTask

__all__ = [
    "BMI_AT_LEAST",
    "BMI_TEST",
    "CLINIC",
    "INVITE_TEMPLATE",
    "NOTIFY_CLINIC",
    "OBESITY_BMI",
    "bmi_at_least",
    "bmi_of",
    "clinic_referral",
    "membercore_register_actions",
    "membercore_register_conditions",
    "membercore_register_journeys",
    "weight_management",
]

#: The test code the HIS sends for a body-mass index (compared without case or spaces).
BMI_TEST = "bmi"
#: The adult obesity threshold in China (BMI of 28 or more, WS/T 428-2013).
OBESITY_BMI = 28
#: The clinic members are referred to: the HIS department its appointments are booked in.
CLINIC = "nutrition"
#: The reference programme's care template inviting a member to book a follow-up visit.
INVITE_TEMPLATE = "checkup_clinic_invite"
#: The role that takes a referral when the journey names none.
DEFAULT_ROLE = "nurse"


def bmi_of(message: object) -> Decimal | None:
    """The BMI a lab result carries.

    Args:
        message: the fact or event that triggered a journey step (``None`` for timers).

    Returns:
        The value of a ``bmi`` lab result as a decimal number, or ``None`` when the
        message is not a BMI result or its value is not a finite number ("n/a", "31.2
        kg/m2" and "NaN" are not read).
    """
    if not isinstance(message, LabResultRecorded) or message.value is None:
        return None
    if message.test.strip().casefold() != BMI_TEST:
        return None
    try:
        bmi = Decimal(message.value.strip())
    except InvalidOperation:
        return None
    return bmi if bmi.is_finite() else None


def bmi_at_least(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    """Whether the triggering fact is a BMI result of at least ``params["value"]``.

    Args:
        situation: what the guard may look at; only its ``message`` is read.
        params: ``value``, the threshold (an integer, e.g. 28).

    Returns:
        ``True`` for a readable BMI result at or above the threshold, else ``False``.
    """
    bmi = bmi_of(situation.message)
    return bmi is not None and bmi >= int(params["value"])


def clinic_referral(action: JourneyActionIssued) -> list[CreateTask]:
    """The referral task a ``notify_clinic`` action asks for.

    Args:
        action: the issued action; its parameters are ``clinic``, ``due_hours`` and,
            optionally, ``role`` (``nurse`` by default).

    Returns:
        One :class:`~membercore.staff.tasks.CreateTask` keyed by the action's key (so the
        same step carried out twice is one task), due ``due_hours`` after the step.
    """
    params = action.action.params
    return [
        CreateTask(
            key=action.key,
            member_id=action.member_id,
            kind="clinic_referral",
            role=str(params.get("role", DEFAULT_ROLE)),
            due_at=action.at + timedelta(hours=int(params["due_hours"])),
            reason=f"refer to the {params['clinic']} clinic: {action.explanation}",
        )
    ]


#: The condition journeys name as ``bmi_at_least`` with ``value`` (an integer).
BMI_AT_LEAST = ConditionSpec(
    name="bmi_at_least",
    params=(Parameter(name="value", kind=int),),
    fn=bmi_at_least,
    doc="The triggering fact is a BMI lab result of at least ``value``.",
)

#: The action journeys name as ``notify_clinic`` with ``clinic``, ``due_hours``, ``role``.
NOTIFY_CLINIC = ActionSpec(
    name="notify_clinic",
    params=(
        Parameter(name="clinic", kind=str),
        Parameter(name="due_hours", kind=int),
        Parameter(name="role", kind=str, required=False),
    ),
    doc="A referral task for ``clinic`` (to ``role``, nurse by default), due in ``due_hours``.",
    commands=clinic_referral,
)


def weight_management() -> JourneyDefinition:
    """The weight-management follow-up journey (体重管理随访).

    Started by a BMI result of at least :data:`OBESITY_BMI`: a referral task for the
    nutrition clinic and an invitation to book. A booking at the clinic ends it; two
    weeks without one, a nurse is asked to call; thirty days after that, it lapses.
    """
    at_clinic = (Call(name="field_equals", params={"field": "department", "value": CLINIC}),)
    booked = Trigger(kind="fact", type="appointment_booked")
    return JourneyDefinition(
        key="weight_management",
        label="体重管理随访",
        purpose="care",
        states=("referred", "reminded", "booked", "lapsed"),
        initial="referred",
        final=("booked", "lapsed"),
        entry=Trigger(kind="fact", type="lab_result_recorded"),
        entry_guards=(Call(name="bmi_at_least", params={"value": OBESITY_BMI}),),
        entry_actions=(
            Call(name="notify_clinic", params={"clinic": CLINIC, "due_hours": 48}),
            Call(name="send_message", params={"template": INVITE_TEMPLATE, "purpose": "care"}),
        ),
        transitions=(
            Transition(
                name="booked", source="referred", target="booked", trigger=booked, guards=at_clinic
            ),
            Transition(
                name="reminder_call",
                source="referred",
                target="reminded",
                trigger=Trigger(kind="after", delay=Delay(days=14)),
                actions=(
                    Call(
                        name="create_task",
                        params={"kind": "call", "role": "nurse", "due_hours": 24},
                    ),
                ),
            ),
            Transition(
                name="booked_after_call",
                source="reminded",
                target="booked",
                trigger=booked,
                guards=at_clinic,
            ),
            Transition(
                name="lapsed",
                source="reminded",
                target="lapsed",
                trigger=Trigger(kind="after", delay=Delay(days=30)),
            ),
        ),
        exit_on=("patient_died",),
    )


@hookimpl
def membercore_register_conditions(register: Callable[[ConditionSpec], None]) -> None:
    """Contribute ``bmi_at_least``."""
    register(BMI_AT_LEAST)


@hookimpl
def membercore_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """Contribute ``notify_clinic``."""
    register(NOTIFY_CLINIC)


# A hook implementation may take fewer parameters than the hook offers: this journey
# needs nothing of the programme's configuration (which still checks its template).
@hookimpl
def membercore_register_journeys(register: Callable[[JourneyDefinition], None]) -> None:
    """Contribute the ``weight_management`` journey."""
    register(weight_management())
