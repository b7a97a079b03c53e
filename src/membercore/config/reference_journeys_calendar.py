"""The reference programme's calendar journeys: birthdays and member days.

A birthday on 29 February is greeted on 1 March in common years, the day the member
turns a year older (:func:`membercore.dates.anniversary`).
"""

from __future__ import annotations

from membercore.config.journey_builders import DIED, call, on_event, on_fact, send
from membercore.config.journeys import Delay, JourneyDefinition, Transition, Trigger

__all__ = ["birthdays", "member_days"]


def birthdays() -> JourneyDefinition:
    """Birthday greetings with the birthday bonus, every year at 09:00 on the day."""
    return JourneyDefinition(
        key="birthday",
        label="生日关怀",
        purpose="marketing",
        states=("member",),
        initial="member",
        entry=on_fact("patient_registered"),
        anchors=("birth_date",),
        transitions=(
            Transition(
                name="greet",
                source="member",
                target="member",
                trigger=Trigger(kind="yearly", anchor="birth_date", at="09:00"),
                actions=(
                    send("birthday", "marketing"),
                    call("award_points", bonus="birthday", points=200),
                ),
                stale_after=Delay(days=1),
            ),
        ),
        exit_on=DIED,
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
        entry=on_event("consent_granted"),
        entry_guards=(call("field_equals", field="purpose", value="marketing"),),
        transitions=(
            Transition(
                name="invite",
                source="member",
                target="member",
                trigger=Trigger(kind="monthly", day=12, at="10:00"),
                actions=(send("member_day_invite", "marketing"),),
                stale_after=Delay(days=2),
            ),
        ),
        exit_on=DIED,
    )
