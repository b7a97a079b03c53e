"""The reference programme's membership journeys: from a first visit to renewal and back.

The loyalty ladder, the onboarding of annual members, referral invitations, renewal
reminders and the win-back of lapsed members.
"""

from __future__ import annotations

from membercore.config.journey_builders import DIED, after, before, call, on_event, on_fact, send
from membercore.config.journeys import Delay, JourneyDefinition, Transition

__all__ = [
    "annual_onboarding",
    "loyalty_ladder",
    "referral_invitation",
    "renewal_reminders",
    "win_back",
]


def loyalty_ladder() -> JourneyDefinition:
    """First visit (Discover) -> annual member (Engage) -> family steward (Expand)."""
    annual = call("field_starts_with", field="plan_key", prefix="annual")
    return JourneyDefinition(
        key="loyalty_ladder",
        label="忠诚阶梯",
        purpose="marketing",
        states=("discover", "offered", "engaged", "expand_offered", "family", "lapsed"),
        initial="discover",
        final=("family", "lapsed"),
        entry=on_fact("visit_completed"),
        entry_guards=(call("field_equals", field="first_visit", value="True"),),
        transitions=(
            Transition(
                name="annual_offer",
                source="discover",
                target="offered",
                trigger=after(hours=2),
                actions=(
                    call("make_offer", plan="annual_599", valid_days=7),
                    send("annual_plan_offer", "marketing"),
                ),
            ),
            Transition(
                name="joined",
                source="offered",
                target="engaged",
                trigger=on_event("subscription_activated"),
                guards=(annual,),
            ),
            Transition(
                name="offer_lapsed", source="offered", target="lapsed", trigger=after(days=30)
            ),
            Transition(
                name="family_offer",
                source="engaged",
                target="expand_offered",
                trigger=after(months=1),
                guards=(
                    call("flag", name="spend_stable"),
                    call("flag", name="interaction_frequent"),
                    call("flag", name="relatives_seen"),
                ),
                actions=(
                    call("make_offer", plan="family_steward", valid_days=14),
                    send("family_offer", "marketing"),
                ),
            ),
            Transition(
                name="monthly_look", source="engaged", target="engaged", trigger=after(months=1)
            ),
            Transition(
                name="family_joined",
                source="expand_offered",
                target="family",
                trigger=on_event("subscription_activated"),
                guards=(call("field_equals", field="plan_key", value="family_steward"),),
            ),
            Transition(
                name="family_offer_lapsed",
                source="expand_offered",
                target="engaged",
                trigger=after(days=30),
            ),
        ),
        exit_on=DIED,
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
        entry=on_event("subscription_activated"),
        entry_guards=(call("field_starts_with", field="plan_key", prefix="annual"),),
        entry_actions=(send("annual_welcome"),),
        transitions=(
            Transition(
                name="rule_b",
                source="welcomed",
                target="settled",
                trigger=after(months=3),
                guards=(call("flag", name="health_manager_used", **{"is": False}),),
                actions=(call("assign_health_manager"), send("manager_intro")),
            ),
            Transition(
                name="manager_in_use", source="welcomed", target="settled", trigger=after(months=3)
            ),
        ),
        exit_on=DIED,
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
        entry=on_fact("survey_answered"),
        entry_guards=(
            call("field_at_least", field="score", value=9),
            call("has_tag", tag="high_value_treatment"),
        ),
        entry_actions=(send("treatment_thank_you"), send("referral_invitation", "marketing")),
        re_entry=True,
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
        entry=on_event("subscription_activated"),
        also_on=(on_event("subscription_renewed"),),
        anchors=("term_end",),
        transitions=(
            Transition(
                name="remind_30",
                source="waiting",
                target="waiting",
                trigger=before("term_end", days=30),
                actions=(send("renewal_30"),),
                stale_after=Delay(days=7),
            ),
            Transition(
                name="remind_7",
                source="waiting",
                target="waiting",
                trigger=before("term_end", days=7),
                actions=(send("renewal_7"),),
                stale_after=Delay(days=3),
            ),
            Transition(
                name="remind_1",
                source="waiting",
                target="waiting",
                trigger=before("term_end", days=1),
                actions=(send("renewal_1"),),
                stale_after=Delay(days=1),
            ),
            Transition(
                name="expired",
                source="waiting",
                target="ended",
                trigger=on_event("subscription_expired"),
            ),
        ),
        re_entry=True,
        exit_on=("subscription_renewed", "subscription_cancelled", *DIED),
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
        entry=on_event("subscription_expired"),
        transitions=(
            Transition(
                name="come_back_offer",
                source="lapsed",
                target="offered",
                trigger=after(days=7),
                actions=(
                    send("win_back", "marketing"),
                    call("make_offer", plan="annual_599", valid_days=30),
                ),
                stale_after=Delay(days=14),
            ),
            Transition(
                name="won_back",
                source="offered",
                target="won",
                trigger=on_event("subscription_activated"),
            ),
            Transition(name="lost", source="offered", target="lost", trigger=after(days=30)),
        ),
        re_entry=True,
        exit_on=DIED,
    )
