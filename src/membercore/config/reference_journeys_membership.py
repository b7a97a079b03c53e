"""The reference programme's membership journeys: from a first visit to renewal and back.

The loyalty ladder, the onboarding of annual members, referral invitations, renewal
reminders and the win-back of lapsed members.
"""

from __future__ import annotations

from membercore.config.journey_builders import DIED, after, before, call, on_event, on_fact, send
from membercore.config.journeys import Delay, JourneyDefinition, Transition
from membercore.config.segments import HIGH_VALUE_TAG

__all__ = [
    "PLAN_ENDED",
    "annual_onboarding",
    "family_steward_offer",
    "loyalty_ladder",
    "referral_invitation",
    "renewal_reminders",
    "win_back",
]


def loyalty_ladder() -> JourneyDefinition:
    """First visit (Discover) -> annual member (Engage) -> family steward (Expand).

    Its steps keep their places: running instances' timers name the timed ones by it.
    """
    annual = call("field_starts_with", field="plan_key", prefix="annual")
    family = call("field_equals", field="plan_key", value="family_steward")
    return JourneyDefinition(
        key="loyalty_ladder",
        label="忠诚阶梯",
        purpose="marketing",
        version=2,
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
                stale_after=Delay(days=3),
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
            # The family-steward offer is family_steward_offer's, made to every annual
            # member who meets its conditions; the ladder records that it was made.
            Transition(
                name="family_offer",
                source="engaged",
                target="expand_offered",
                trigger=on_event("offer_made"),
                guards=(family,),
            ),
            # An instance an earlier version left here has no family_steward_offer beside
            # it (that journey starts with the plan): its monthly look starts one.
            Transition(
                name="monthly_look",
                source="engaged",
                target="engaged",
                trigger=after(months=1),
                actions=(call("start_journey", journey="family_steward_offer"),),
            ),
            Transition(
                name="family_joined",
                source="expand_offered",
                target="family",
                trigger=on_event("subscription_activated"),
                guards=(family,),
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


#: The plan events that end a subscription: cancelled (refunded or not) or expired.
PLAN_ENDED = ("subscription_cancelled", "subscription_expired")


def family_steward_offer() -> JourneyDefinition:
    """The family-steward upgrade offer, for every annual member who meets its conditions.

    From the first month of an annual plan on, once a month, while the member holds it:
    spend stable (charges in three of the last six months), interaction frequent (six
    check-ins or shares in 90 days) and relatives seen in the HIS (a household with
    others in it, or relatives the HIS links to the member) -> the offer and its message.
    Not taken up in 30 days, the monthly look goes on; it ends when the member holds the
    family plan, or when the annual plan ends.
    """
    annual = call("field_starts_with", field="plan_key", prefix="annual")
    family = call("field_equals", field="plan_key", value="family_steward")
    watching = ("member", "offered")
    return JourneyDefinition(
        key="family_steward_offer",
        label="家庭健康管家升级邀约",
        purpose="marketing",
        states=("member", "offered", "family", "plan_ended"),
        initial="member",
        final=("family", "plan_ended"),
        entry=on_event("subscription_activated"),
        entry_guards=(annual,),
        transitions=(
            Transition(
                name="family_offer",
                source="member",
                target="offered",
                trigger=after(months=1),
                guards=(
                    call("has_plan_prefix", prefix="annual"),
                    call("flag", name="spend_stable"),
                    call("flag", name="interaction_frequent"),
                    call("flag", name="relatives_seen"),
                ),
                actions=(
                    call("make_offer", plan="family_steward", valid_days=14),
                    send("family_offer", "marketing"),
                ),
                stale_after=Delay(days=7),
            ),
            Transition(
                name="monthly_look", source="member", target="member", trigger=after(months=1)
            ),
            Transition(
                name="offer_lapsed", source="offered", target="member", trigger=after(days=30)
            ),
            *(
                Transition(
                    name=f"family_joined_{state}",
                    source=state,
                    target="family",
                    trigger=on_event("subscription_activated"),
                    guards=(family,),
                )
                for state in watching
            ),
            *(
                Transition(
                    name=f"plan_ended_{tag.removeprefix('subscription_')}_{state}",
                    source=state,
                    target="plan_ended",
                    trigger=on_event(tag),
                    guards=(annual,),
                )
                for tag in PLAN_ENDED
                for state in watching
            ),
        ),
        exit_on=DIED,
    )


def annual_onboarding() -> JourneyDefinition:
    """Rule B: three months in, a manager for those who never used one.

    A member three months into an annual plan who never used the dedicated health
    manager is assigned one and introduced. It ends with the annual plan: a member who
    cancelled (and was refunded) or let the plan expire before is assigned nobody. The
    steps that end it come after the timed ones, whose places running instances' timers
    name.
    """
    annual = call("field_starts_with", field="plan_key", prefix="annual")
    return JourneyDefinition(
        key="annual_onboarding",
        label="年卡会员入门",
        purpose="care",
        version=2,
        states=("welcomed", "settled", "plan_ended"),
        initial="welcomed",
        final=("settled", "plan_ended"),
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
            *(
                Transition(
                    name=f"plan_ended_{tag.removeprefix('subscription_')}",
                    source="welcomed",
                    target="plan_ended",
                    trigger=on_event(tag),
                    guards=(annual,),
                )
                for tag in PLAN_ENDED
            ),
        ),
        exit_on=DIED,
    )


def referral_invitation() -> JourneyDefinition:
    """Rule D: high-value treatment, high satisfaction -> thanks and a referral invitation.

    The treatment is the derived tag ``care:high_value_treatment``: a charge of the
    high-value categories above the amount ``segments.high_value_treatment`` sets.
    """
    return JourneyDefinition(
        key="referral_invitation",
        label="高满意度转介绍",
        purpose="marketing",
        version=2,
        states=("invited",),
        initial="invited",
        final=("invited",),
        entry=on_fact("survey_answered"),
        entry_guards=(
            call("field_at_least", field="score", value=9),
            call("has_tag", tag=HIGH_VALUE_TAG),
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
        version=2,
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
                    call("make_offer", plan="annual_599", valid_days=30),
                    send("win_back", "marketing"),
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
