"""Paid plans, transition by transition, with figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import (
    IdempotencyConflictError,
    InvalidFactError,
    MemberMismatchError,
    NaiveInstantError,
    ProgrammeConfig,
    reference_config,
)
from membercore.config import PlanRules
from membercore.errors import (
    DependentNotCoveredError,
    PlanChangeNotAllowedError,
    PlanError,
    SubscriptionExistsError,
    SubscriptionTransitionError,
    TooManyDependentsError,
    UnknownPlanError,
    UnknownSubscriptionError,
    WrongPaymentAmountError,
)
from membercore.plans import (
    AddCoveredDependent,
    AdvanceSubscriptions,
    Cancel,
    ChangePlan,
    DependentCovered,
    DependentUncovered,
    PlansState,
    RecordPayment,
    RemoveCoveredDependent,
    Renew,
    RenewalDue,
    Subscribe,
    SubscriptionActivated,
    SubscriptionCancelled,
    SubscriptionChanged,
    SubscriptionEnteredGrace,
    SubscriptionEvent,
    SubscriptionExpired,
    SubscriptionLapsed,
    SubscriptionRenewed,
    SubscriptionRequested,
    SubscriptionState,
    SubscriptionStatus,
    active_plans,
    covered_dependents,
    decide,
    evolve,
    programmes,
    replay,
    status_at,
    tier_floor,
)

SH = ZoneInfo("Asia/Shanghai")
US = timedelta(microseconds=1)
MEMBER = "p-1"
S = SubscriptionStatus


def sh(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def with_plan(config: ProgrammeConfig, key: str, **changes: Any) -> ProgrammeConfig:
    plans = tuple(
        attrs.evolve(plan, **changes) if plan.key == key else plan for plan in config.plans.plans
    )
    return attrs.evolve(config, plans=attrs.evolve(config.plans, plans=plans))


class Desk:
    """The membership desk: commands in, events applied to one member's plans."""

    def __init__(self, config: ProgrammeConfig | None = None) -> None:
        self.config = config or reference_config()
        self.state = PlansState(member_id=MEMBER)
        self.journal: list[SubscriptionEvent] = []
        self.keys = 0

    def key(self) -> str:
        self.keys += 1
        return f"k-{self.keys}"

    def run(self, command: Any, now: datetime) -> list[SubscriptionEvent]:
        events = decide(command, self.state, self.config, now)
        for event in events:
            self.state = evolve(self.state, event)
        self.journal += events
        return events

    def sub(self, subscription_id: str = "s-1") -> SubscriptionState:
        return self.state.subscriptions[subscription_id]

    def subscribe(
        self, plan: str, at: datetime, sid: str = "s-1", **fields: Any
    ) -> list[SubscriptionEvent]:
        command = Subscribe(
            key=self.key(), member_id=MEMBER, subscription_id=sid, plan_key=plan, **fields
        )
        return self.run(command, at)

    def pay(
        self, amount: int, paid_at: datetime, sid: str = "s-1", now: datetime | None = None
    ) -> list[SubscriptionEvent]:
        command = RecordPayment(
            key=self.key(),
            member_id=MEMBER,
            subscription_id=sid,
            amount_fen=amount,
            paid_at=paid_at,
        )
        return self.run(command, now or paid_at)

    def buy(self, plan: str, at: datetime, sid: str = "s-1", **fields: Any) -> None:
        due = self.subscribe(plan, at, sid, **fields)[-1]
        assert isinstance(due, SubscriptionRequested)
        self.pay(due.due_fen, at, sid)

    def renew(self, at: datetime, sid: str = "s-1") -> list[SubscriptionEvent]:
        return self.run(Renew(key=self.key(), member_id=MEMBER, subscription_id=sid), at)

    def cancel(self, at: datetime, sid: str = "s-1") -> list[SubscriptionEvent]:
        command = Cancel(key=self.key(), member_id=MEMBER, subscription_id=sid, reason="moving")
        return self.run(command, at)

    def change(
        self, plan: str, at: datetime, sid: str = "s-1", new: str = "s-2"
    ) -> list[SubscriptionEvent]:
        command = ChangePlan(
            key=self.key(),
            member_id=MEMBER,
            subscription_id=sid,
            plan_key=plan,
            new_subscription_id=new,
        )
        return self.run(command, at)

    def cover(self, person: str, at: datetime, sid: str = "s-1") -> list[SubscriptionEvent]:
        command = AddCoveredDependent(
            key=self.key(), member_id=MEMBER, subscription_id=sid, dependent_id=person
        )
        return self.run(command, at)

    def uncover(self, person: str, at: datetime, sid: str = "s-1") -> list[SubscriptionEvent]:
        command = RemoveCoveredDependent(
            key=self.key(), member_id=MEMBER, subscription_id=sid, dependent_id=person
        )
        return self.run(command, at)

    def advance(self, now: datetime) -> list[SubscriptionEvent]:
        return self.run(AdvanceSubscriptions(member_id=MEMBER), now)


def kinds(events: list[SubscriptionEvent]) -> list[type[SubscriptionEvent]]:
    return [type(event) for event in events]


@pytest.fixture
def desk() -> Desk:
    return Desk()


# --- the reference plans -----------------------------------------------------------------


def test_the_reference_plans_load_with_their_prices_and_rules() -> None:
    plans = reference_config().plans
    prices = {plan.key: plan.price_fen for plan in plans.plans}
    assert prices == {
        "annual_299": 29_900,
        "annual_599": 59_900,
        "annual_999": 99_900,
        "monthly_99": 9_900,
        "family_steward": 199_900,
        "diabetes_steward": 159_900,
    }
    family, monthly, diabetes = (
        plans.plan("family_steward"),
        plans.plan("monthly_99"),
        plans.plan("diabetes_steward"),
    )
    assert family is not None
    assert family.max_dependents == 3
    assert monthly is not None
    assert monthly.auto_renew
    assert monthly.term_months == 1
    assert diabetes is not None
    assert diabetes.programme == "diabetes"
    assert plans.payment_window_hours == 48


def test_monthly_billing_at_99_yuan_costs_1188_yuan_a_year() -> None:
    plans = reference_config().plans
    monthly, annual = plans.plan("monthly_99"), plans.plan("annual_599")
    assert monthly is not None
    assert annual is not None
    # 9,900 fen x 12 months / 1 month per term = 118,800 fen = 1,188 元
    assert monthly.annual_equivalent_fen == 118_800
    # an annual term is its own annual equivalent: 59,900 x 12 / 12
    assert annual.annual_equivalent_fen == 59_900


# --- requesting and paying ---------------------------------------------------------------


def test_subscribing_asks_for_the_price_within_the_payment_window(desk: Desk) -> None:
    (requested,) = desk.subscribe("annual_599", sh(2026, 3, 1), attributed_to="nurse-7")
    assert isinstance(requested, SubscriptionRequested)
    assert requested.due_fen == 59_900
    # 48 hours after 1 March 10:00
    assert requested.pay_by == sh(2026, 3, 3)
    assert requested.attributed_to == "nurse-7"
    assert desk.sub().status is S.PENDING_PAYMENT
    assert desk.sub().attributed_to == "nurse-7"
    assert active_plans(desk.state, sh(2026, 3, 1)) == ()


def test_paying_starts_a_term_of_twelve_calendar_months_and_fifteen_days_of_grace(
    desk: Desk,
) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    (activated,) = desk.pay(59_900, sh(2026, 3, 1, 15))
    assert isinstance(activated, SubscriptionActivated)
    assert activated.term_start == sh(2026, 3, 1, 15)
    assert activated.term_end == sh(2027, 3, 1, 15)
    assert activated.grace_ends_at == sh(2027, 3, 16, 15)
    assert activated.paid_fen == 59_900
    assert desk.sub().status is S.ACTIVE
    assert active_plans(desk.state, sh(2026, 3, 2)) == ("annual_599",)


def test_a_payment_one_microsecond_before_the_window_ends_activates(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    events = desk.pay(59_900, sh(2026, 3, 3) - US)
    assert kinds(events) == [SubscriptionActivated]


def test_a_payment_at_the_instant_the_window_ends_finds_the_subscription_lapsed(
    desk: Desk,
) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    with pytest.raises(SubscriptionTransitionError) as refused:
        desk.pay(59_900, sh(2026, 3, 3))
    assert refused.value.status == "lapsed"
    assert refused.value.action == "record_payment"
    assert refused.value.subscription_id == "s-1"


def test_the_clock_lapses_an_unpaid_subscription_at_the_end_of_its_window(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    assert desk.advance(sh(2026, 3, 3) - US) == []
    assert status_at(desk.sub(), sh(2026, 3, 3) - US) is S.PENDING_PAYMENT
    assert status_at(desk.sub(), sh(2026, 3, 3)) is S.LAPSED
    (lapsed,) = desk.advance(sh(2026, 3, 9))
    assert isinstance(lapsed, SubscriptionLapsed)
    assert lapsed.at == sh(2026, 3, 3)
    assert desk.sub().status is S.LAPSED


def test_a_payment_recorded_late_takes_effect_when_it_was_made(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    # paid an hour before the window closed, recorded a day after it closed
    events = desk.pay(59_900, sh(2026, 3, 3, 9), now=sh(2026, 3, 4))
    assert kinds(events) == [SubscriptionActivated]
    assert desk.sub().terms[0].start == sh(2026, 3, 3, 9)


def test_a_wrong_amount_is_refused_naming_what_was_expected_and_given(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    with pytest.raises(WrongPaymentAmountError) as refused:
        desk.pay(59_000, sh(2026, 3, 1))
    assert (refused.value.expected_fen, refused.value.given_fen) == (59_900, 59_000)
    assert "59900 fen" in str(refused.value)
    assert "59000 fen" in str(refused.value)
    assert "s-1" in str(refused.value)
    assert MEMBER in str(refused.value)
    assert desk.sub().status is S.PENDING_PAYMENT


def test_a_payment_from_the_future_or_from_before_the_request_is_refused(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    with pytest.raises(InvalidFactError, match="paid_at"):
        desk.pay(59_900, sh(2026, 3, 2), now=sh(2026, 3, 1, 12))
    with pytest.raises(InvalidFactError, match="before the amount became due"):
        desk.pay(59_900, sh(2026, 2, 28), now=sh(2026, 3, 1, 12))


def test_a_plan_the_programme_does_not_offer_is_refused(desk: Desk) -> None:
    with pytest.raises(UnknownPlanError) as refused:
        desk.subscribe("platinum_forever", sh(2026, 3, 1))
    assert refused.value.plan_key == "platinum_forever"
    assert isinstance(refused.value, PlanError)


def test_a_subscription_the_member_does_not_hold_is_refused(desk: Desk) -> None:
    with pytest.raises(UnknownSubscriptionError, match="s-9"):
        desk.renew(sh(2026, 3, 1), sid="s-9")


def test_a_second_subscription_to_a_plan_already_held_is_refused(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    with pytest.raises(SubscriptionExistsError) as refused:
        desk.subscribe("annual_599", sh(2026, 4, 1), sid="s-2")
    assert refused.value.existing_id == "s-1"
    assert "renew" in str(refused.value)
    with pytest.raises(SubscriptionExistsError, match="already used"):
        desk.subscribe("annual_999", sh(2026, 4, 1), sid="s-1")


def test_a_plan_can_be_bought_again_once_the_old_subscription_has_ended(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    desk.advance(sh(2026, 3, 5))
    desk.buy("annual_599", sh(2026, 3, 5), sid="s-2")
    assert active_plans(desk.state, sh(2026, 3, 6)) == ("annual_599",)


def test_a_free_plan_is_active_as_soon_as_it_is_asked_for() -> None:
    desk = Desk(with_plan(reference_config(), "annual_299", price_fen=0))
    events = desk.subscribe("annual_299", sh(2026, 3, 1))
    assert kinds(events) == [SubscriptionRequested, SubscriptionActivated]
    assert desk.sub().status is S.ACTIVE


# --- terms -------------------------------------------------------------------------------


def test_a_month_bought_on_31_january_ends_on_the_last_day_of_february(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 1, 31))
    assert desk.sub().term_end == sh(2026, 2, 28)
    leap = Desk()
    leap.buy("monthly_99", sh(2028, 1, 31))
    assert leap.sub().term_end == sh(2028, 2, 29)


def test_renewals_of_a_month_bought_on_31_january_return_to_the_month_end(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 1, 31))
    ends = []
    for _ in range(3):
        desk.renew(sh(2026, 2, 1))
        desk.pay(9_900, sh(2026, 2, 1))
        ends.append(desk.sub().term_end)
    # counted from 31 January: +2 months, +3, +4; never stuck on the 28th
    assert ends == [sh(2026, 3, 31), sh(2026, 4, 30), sh(2026, 5, 31)]


def test_a_year_bought_on_a_leap_day_ends_on_28_february_and_finds_29_february_again(
    desk: Desk,
) -> None:
    desk.buy("annual_599", sh(2028, 2, 29))
    ends = [desk.sub().term_end]
    for _ in range(4):
        desk.renew(sh(2028, 3, 1))
        desk.pay(59_900, sh(2028, 3, 1))
        ends.append(desk.sub().term_end)
    assert ends == [
        sh(2029, 2, 28),
        sh(2030, 2, 28),
        sh(2031, 2, 28),
        sh(2032, 2, 29),
        sh(2033, 2, 28),
    ]


def test_a_term_covers_up_to_one_microsecond_before_its_end(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    end = sh(2027, 3, 1)
    assert desk.advance(end - US) == []
    assert status_at(desk.sub(), end - US) is S.ACTIVE
    (grace,) = desk.advance(end)
    assert isinstance(grace, SubscriptionEnteredGrace)
    assert grace.at == end
    assert grace.grace_ends_at == sh(2027, 3, 16)
    assert desk.sub().status is S.GRACE


def test_grace_keeps_the_plan_in_force_until_its_exact_end(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    grace_end = sh(2027, 3, 16)
    assert kinds(desk.advance(grace_end - US)) == [SubscriptionEnteredGrace]
    assert tier_floor(desk.state, desk.config, grace_end - US) == "L2"
    assert active_plans(desk.state, grace_end - US) == ("annual_599",)
    # the queries see the expiry even before the clock records it
    assert tier_floor(desk.state, desk.config, grace_end) is None
    (expired,) = desk.advance(grace_end)
    assert isinstance(expired, SubscriptionExpired)
    assert expired.at == grace_end
    assert active_plans(desk.state, grace_end) == ()


def test_a_plan_without_grace_expires_at_the_end_of_its_term() -> None:
    desk = Desk(with_plan(reference_config(), "annual_599", grace_days=0))
    desk.buy("annual_599", sh(2026, 3, 1))
    events = desk.advance(sh(2027, 3, 1))
    assert kinds(events) == [SubscriptionEnteredGrace, SubscriptionExpired]
    assert all(event.at == sh(2027, 3, 1) for event in events)


def test_advancing_the_clock_across_several_transitions_dates_each_at_its_instant(
    desk: Desk,
) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.subscribe("annual_999", sh(2026, 3, 1), sid="s-2")
    events = desk.advance(sh(2028, 1, 1))
    assert [(type(event), event.subscription_id, event.at) for event in events] == [
        (SubscriptionLapsed, "s-2", sh(2026, 3, 3)),
        (SubscriptionEnteredGrace, "s-1", sh(2027, 3, 1)),
        (SubscriptionExpired, "s-1", sh(2027, 3, 16)),
    ]


# --- renewal -----------------------------------------------------------------------------


def test_renewing_early_keeps_every_day_of_the_current_term(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    (due,) = desk.renew(sh(2026, 9, 1))
    assert isinstance(due, RenewalDue)
    assert due.due_fen == 59_900
    (renewed,) = desk.pay(59_900, sh(2026, 9, 1))
    assert isinstance(renewed, SubscriptionRenewed)
    # the new term starts where the old one ends, not on the day of renewal
    assert renewed.term_start == sh(2027, 3, 1)
    assert renewed.term_end == sh(2028, 3, 1)
    assert renewed.grace_ends_at == sh(2028, 3, 16)
    assert desk.sub().status is S.ACTIVE


def test_renewing_during_grace_continues_the_old_term_without_a_gap(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.advance(sh(2027, 3, 10))
    assert desk.sub().status is S.GRACE
    desk.renew(sh(2027, 3, 10))
    (renewed,) = desk.pay(59_900, sh(2027, 3, 10))
    assert isinstance(renewed, SubscriptionRenewed)
    assert renewed.term_start == sh(2027, 3, 1)
    assert renewed.term_end == sh(2028, 3, 1)
    assert desk.sub().status is S.ACTIVE
    first, second = desk.sub().terms
    assert first.end == second.start


def test_a_renewal_paid_one_microsecond_before_grace_ends_is_in_time(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.renew(sh(2027, 3, 2))
    events = desk.pay(59_900, sh(2027, 3, 16) - US)
    assert kinds(events) == [SubscriptionRenewed]


def test_a_renewal_paid_at_the_end_of_grace_is_too_late(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.renew(sh(2027, 3, 2))
    with pytest.raises(SubscriptionTransitionError) as refused:
        desk.pay(59_900, sh(2027, 3, 16))
    assert (refused.value.status, refused.value.action) == ("expired", "record_payment")


def test_paying_in_grace_without_renewing_first_is_refused(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    with pytest.raises(SubscriptionTransitionError, match="renew it first"):
        desk.pay(59_900, sh(2027, 3, 5))


def test_renewing_an_expired_subscription_is_refused_naming_status_and_action(
    desk: Desk,
) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    with pytest.raises(SubscriptionTransitionError) as refused:
        desk.renew(sh(2027, 4, 1))
    assert str(refused.value) == "member p-1: subscription 's-1' is expired; cannot renew"


def test_a_second_renewal_while_one_awaits_payment_is_refused(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.renew(sh(2026, 9, 1))
    with pytest.raises(SubscriptionTransitionError, match="59900 fen is already due"):
        desk.renew(sh(2026, 9, 2))


def test_a_renewal_is_priced_at_the_plan_price_and_version_of_the_day(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.config = with_plan(desk.config, "annual_599", price_fen=64_900, version=2)
    (due,) = desk.renew(sh(2027, 2, 1))
    assert isinstance(due, RenewalDue)
    assert (due.due_fen, due.plan_version) == (64_900, 2)
    (renewed,) = desk.pay(64_900, sh(2027, 2, 1))
    assert renewed.plan_version == 2
    assert desk.sub().plan_version == 2


# --- auto-renewal ------------------------------------------------------------------------


def test_a_monthly_plan_asks_for_its_next_payment_at_the_end_of_each_term(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 3, 10))
    assert desk.advance(sh(2026, 4, 10) - US) == []
    grace, due = desk.advance(sh(2026, 4, 10))
    assert isinstance(grace, SubscriptionEnteredGrace)
    assert isinstance(due, RenewalDue)
    assert due.at == sh(2026, 4, 10)
    assert due.due_fen == 9_900
    # the monthly plan has 3 days of grace
    assert due.pay_by == sh(2026, 4, 13)


def test_an_auto_renewal_paid_in_grace_continues_seamlessly(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 3, 10))
    (renewed,) = desk.pay(9_900, sh(2026, 4, 12), now=sh(2026, 4, 12))[2:]
    assert isinstance(renewed, SubscriptionRenewed)
    assert (renewed.term_start, renewed.term_end) == (sh(2026, 4, 10), sh(2026, 5, 10))
    checks = [sh(2026, 4, 10) - US, sh(2026, 4, 10), sh(2026, 4, 11), sh(2026, 5, 10) - US]
    assert all(active_plans(desk.state, at) == ("monthly_99",) for at in checks)


def test_an_unpaid_auto_renewal_expires_when_grace_ends(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 3, 10))
    events = desk.advance(sh(2026, 4, 13))
    assert kinds(events) == [SubscriptionEnteredGrace, RenewalDue, SubscriptionExpired]
    assert events[-1].at == sh(2026, 4, 13)
    with pytest.raises(SubscriptionTransitionError, match="expired"):
        desk.pay(9_900, sh(2026, 4, 13))


def test_an_auto_renewal_paid_before_the_term_ends_does_not_ask_again(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 3, 10))
    desk.renew(sh(2026, 4, 1))
    desk.pay(9_900, sh(2026, 4, 1))
    # the paid period now runs to 10 May: nothing happens on 10 April
    assert desk.advance(sh(2026, 4, 10)) == []
    assert kinds(desk.advance(sh(2026, 5, 10))) == [SubscriptionEnteredGrace, RenewalDue]


# --- cancellation ------------------------------------------------------------------------


def test_cancelling_refunds_the_unused_days_pro_rata(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    (cancelled,) = desk.cancel(sh(2026, 6, 1))
    assert isinstance(cancelled, SubscriptionCancelled)
    # 1 March 2026 -> 1 March 2027 is 365 days; March, April and May used: 31 + 30 + 31 = 92
    assert cancelled.unused_days == 365 - 92
    # 59,900 x 273 / 365 = 16,352,700 / 365 = 44,801.9 -> 44,801 fen
    assert cancelled.refund_fen == 44_801
    assert cancelled.used_fen == 59_900 - 44_801
    assert desk.sub().status is S.REFUNDED
    assert desk.sub().refund_fen == 44_801
    assert active_plans(desk.state, sh(2026, 6, 1)) == ()


def test_a_day_that_has_begun_counts_as_used(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    (cancelled,) = desk.cancel(sh(2026, 6, 1, 11))
    # 272 days 23 hours remain: 272 whole days; 59,900 x 272 / 365 = 44,637.8 -> 44,637
    assert (cancelled.unused_days, cancelled.refund_fen) == (272, 44_637)


def test_cancelling_at_the_instant_of_payment_refunds_everything(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    (cancelled,) = desk.cancel(sh(2026, 3, 1))
    assert (cancelled.unused_days, cancelled.refund_fen, cancelled.used_fen) == (365, 59_900, 0)


def test_cancelling_under_the_none_policy_refunds_nothing() -> None:
    desk = Desk(with_plan(reference_config(), "annual_599", refund="none"))
    desk.buy("annual_599", sh(2026, 3, 1))
    (cancelled,) = desk.cancel(sh(2026, 6, 1))
    assert isinstance(cancelled, SubscriptionCancelled)
    assert (cancelled.unused_days, cancelled.refund_fen, cancelled.used_fen) == (273, 0, 59_900)
    assert desk.sub().status is S.CANCELLED


def test_cancelling_in_grace_refunds_nothing_and_ends_the_subscription(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    events = desk.cancel(sh(2027, 3, 5))
    assert kinds(events) == [SubscriptionEnteredGrace, SubscriptionCancelled]
    cancelled = events[-1]
    assert isinstance(cancelled, SubscriptionCancelled)
    assert (cancelled.unused_days, cancelled.refund_fen) == (0, 0)
    assert desk.sub().status is S.CANCELLED


def test_cancelling_before_payment_withdraws_the_request(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 3, 1))
    (cancelled,) = desk.cancel(sh(2026, 3, 2))
    assert isinstance(cancelled, SubscriptionCancelled)
    assert (cancelled.paid_fen, cancelled.refund_fen) == (0, 0)
    assert desk.sub().status is S.CANCELLED
    assert desk.advance(sh(2026, 3, 9)) == []


def test_cancelling_refunds_a_term_renewed_ahead_in_full(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.renew(sh(2026, 6, 1))
    desk.pay(59_900, sh(2026, 6, 1))
    (cancelled,) = desk.cancel(sh(2026, 6, 1))
    assert isinstance(cancelled, SubscriptionCancelled)
    # first term: 273 of 365 days, 44,801 fen as above; the second, 1 March 2027 to
    # 1 March 2028 (366 days: 29 February 2028), has not begun and is refunded whole
    assert cancelled.unused_days == 273 + 366
    assert cancelled.refund_fen == 44_801 + 59_900
    assert cancelled.paid_fen == 2 * 59_900


def test_an_ended_subscription_cannot_be_cancelled(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    desk.cancel(sh(2026, 6, 1))
    with pytest.raises(SubscriptionTransitionError) as refused:
        desk.cancel(sh(2026, 6, 2))
    assert (refused.value.status, refused.value.action) == ("refunded", "cancel")


# --- plan change -------------------------------------------------------------------------


def test_upgrading_to_the_family_plan_credits_the_unused_days(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 1, 1))
    (requested,) = desk.change("family_steward", sh(2026, 7, 2))
    assert isinstance(requested, SubscriptionRequested)
    # 1 January 2026 -> 1 January 2027 is 365 days; used Jan..Jun + 1 July:
    # 31 + 28 + 31 + 30 + 31 + 30 + 1 = 182, unused 183;
    # 59,900 x 183 / 365 = 10,961,700 / 365 = 30,032.05 -> 30,032 fen of credit
    assert requested.credit_fen == 30_032
    assert requested.due_fen == 199_900 - 30_032
    assert requested.replaces == "s-1"
    changed, activated = desk.pay(169_868, sh(2026, 7, 2), sid="s-2")
    assert isinstance(changed, SubscriptionChanged)
    assert (changed.subscription_id, changed.to_subscription_id) == ("s-1", "s-2")
    assert (changed.to_plan_key, changed.unused_days, changed.credit_fen) == (
        "family_steward",
        183,
        30_032,
    )
    assert isinstance(activated, SubscriptionActivated)
    assert (activated.paid_fen, activated.credit_fen) == (169_868, 30_032)
    assert activated.term_end == sh(2027, 7, 2)
    assert desk.sub("s-1").status is S.CHANGED
    assert active_plans(desk.state, sh(2026, 7, 3)) == ("family_steward",)
    assert tier_floor(desk.state, desk.config, sh(2026, 7, 3)) == "L3"


def test_the_old_plan_keeps_running_until_the_upgrade_is_paid(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 1, 1))
    desk.change("family_steward", sh(2026, 7, 2))
    assert active_plans(desk.state, sh(2026, 7, 3)) == ("annual_599",)
    with pytest.raises(SubscriptionTransitionError, match="awaits payment"):
        desk.cancel(sh(2026, 7, 3))
    with pytest.raises(SubscriptionTransitionError, match="awaits payment"):
        desk.renew(sh(2026, 7, 3))
    # never paid: the upgrade lapses and the old plan simply goes on
    assert kinds(desk.advance(sh(2026, 7, 4))) == [SubscriptionLapsed]
    assert desk.sub("s-1").status is S.ACTIVE
    assert kinds(desk.cancel(sh(2026, 7, 5))) == [SubscriptionCancelled]


def test_cancelling_an_upgrade_at_once_refunds_its_whole_value(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 1, 1))
    desk.change("family_steward", sh(2026, 7, 2))
    desk.pay(169_868, sh(2026, 7, 2), sid="s-2")
    (cancelled,) = desk.cancel(sh(2026, 7, 2), sid="s-2")
    assert isinstance(cancelled, SubscriptionCancelled)
    # the new term is worth the money paid plus the credit: 169,868 + 30,032
    assert cancelled.paid_fen == cancelled.refund_fen == 199_900


def test_a_change_whose_credit_exceeds_the_new_price_is_refused(desk: Desk) -> None:
    desk.buy("annual_999", sh(2026, 1, 1))
    with pytest.raises(PlanChangeNotAllowedError) as refused:
        desk.change("annual_299", sh(2026, 1, 1))
    # the whole year is unused: 99,900 fen of credit against 29,900
    assert "99900 fen" in refused.value.reason
    assert "29900 fen" in refused.value.reason
    assert (refused.value.from_plan, refused.value.to_plan) == ("annual_999", "annual_299")


def test_changing_to_the_same_plan_is_refused(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 1, 1))
    with pytest.raises(PlanChangeNotAllowedError, match="renew it instead"):
        desk.change("annual_599", sh(2026, 2, 1))


def test_only_an_active_subscription_can_change_plan(desk: Desk) -> None:
    desk.subscribe("annual_599", sh(2026, 1, 1))
    with pytest.raises(SubscriptionTransitionError) as refused:
        desk.change("family_steward", sh(2026, 1, 1))
    assert refused.value.status == "pending_payment"
    assert "family_steward" in refused.value.action


# --- dependents --------------------------------------------------------------------------


def test_a_family_plan_covers_up_to_three_relatives(desk: Desk) -> None:
    desk.buy("family_steward", sh(2026, 3, 1), dependents=("spouse", "child"))
    (covered,) = desk.cover("mother", sh(2026, 3, 2))
    assert isinstance(covered, DependentCovered)
    assert covered_dependents(desk.state, sh(2026, 3, 2)) == ("child", "mother", "spouse")
    with pytest.raises(TooManyDependentsError) as refused:
        desk.cover("father", sh(2026, 3, 3))
    assert (refused.value.limit, refused.value.requested) == (3, 4)
    assert "family_steward" in str(refused.value)


def test_subscribing_with_four_relatives_is_refused(desk: Desk) -> None:
    with pytest.raises(TooManyDependentsError):
        desk.subscribe("family_steward", sh(2026, 3, 1), dependents=("a", "b", "c", "d"))


def test_an_individual_plan_covers_no_relatives(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 3, 1))
    with pytest.raises(TooManyDependentsError) as refused:
        desk.cover("spouse", sh(2026, 3, 2))
    assert refused.value.limit == 0


def test_removing_a_relative_frees_a_place(desk: Desk) -> None:
    desk.buy("family_steward", sh(2026, 3, 1), dependents=("spouse", "child", "mother"))
    (uncovered,) = desk.uncover("mother", sh(2026, 3, 2))
    assert isinstance(uncovered, DependentUncovered)
    assert kinds(desk.cover("father", sh(2026, 3, 3))) == [DependentCovered]
    assert covered_dependents(desk.state, sh(2026, 3, 3)) == ("child", "father", "spouse")
    with pytest.raises(DependentNotCoveredError, match="mother"):
        desk.uncover("mother", sh(2026, 3, 4))


def test_covering_a_relative_already_covered_changes_nothing(desk: Desk) -> None:
    desk.buy("family_steward", sh(2026, 3, 1), dependents=("spouse",))
    assert desk.cover("spouse", sh(2026, 3, 2)) == []


def test_relatives_lose_cover_when_the_family_plan_expires(desk: Desk) -> None:
    desk.buy("family_steward", sh(2026, 3, 1), dependents=("spouse",))
    assert covered_dependents(desk.state, sh(2027, 3, 16) - US) == ("spouse",)
    assert covered_dependents(desk.state, sh(2027, 3, 16)) == ()


def test_a_member_is_not_their_own_dependent(desk: Desk) -> None:
    with pytest.raises(InvalidFactError, match="own dependent"):
        desk.subscribe("family_steward", sh(2026, 3, 1), dependents=(MEMBER,))
    desk.buy("family_steward", sh(2026, 3, 1))
    with pytest.raises(InvalidFactError, match="own dependent"):
        desk.cover(MEMBER, sh(2026, 3, 2))


def test_an_upgrade_carries_the_relatives_over(desk: Desk) -> None:
    config = with_plan(reference_config(), "annual_999", max_dependents=1)
    desk = Desk(config)
    desk.buy("annual_999", sh(2026, 1, 1), dependents=("spouse",))
    (requested,) = desk.change("family_steward", sh(2026, 7, 2))
    assert isinstance(requested, SubscriptionRequested)
    assert requested.dependents == ("spouse",)


# --- idempotency and guards --------------------------------------------------------------


def test_the_same_command_twice_decides_nothing_the_second_time(desk: Desk) -> None:
    command = Subscribe(
        key="k-once", member_id=MEMBER, subscription_id="s-1", plan_key="monthly_99"
    )
    assert len(desk.run(command, sh(2026, 3, 1))) == 1
    assert desk.run(command, sh(2026, 3, 1, 11)) == []
    payment = RecordPayment(
        key="pay-1",
        member_id=MEMBER,
        subscription_id="s-1",
        amount_fen=9_900,
        paid_at=sh(2026, 3, 1),
    )
    assert len(desk.run(payment, sh(2026, 3, 1))) == 1
    # even once the clock has moved on, a replayed command changes nothing
    assert desk.run(payment, sh(2026, 5, 1)) == []


def test_a_reused_key_on_a_different_command_is_refused(desk: Desk) -> None:
    desk.run(
        Subscribe(key="k-x", member_id=MEMBER, subscription_id="s-1", plan_key="monthly_99"),
        sh(2026, 3, 1),
    )
    other = Subscribe(key="k-x", member_id=MEMBER, subscription_id="s-2", plan_key="annual_599")
    with pytest.raises(IdempotencyConflictError) as refused:
        desk.run(other, sh(2026, 3, 1))
    assert refused.value.key == "k-x"


def test_advancing_twice_changes_nothing_the_second_time(desk: Desk) -> None:
    desk.buy("monthly_99", sh(2026, 3, 10))
    assert len(desk.advance(sh(2026, 4, 10))) == 2
    assert desk.advance(sh(2026, 4, 10)) == []


def test_a_command_for_another_member_is_refused(desk: Desk) -> None:
    command = Subscribe(key="k", member_id="p-2", subscription_id="s-1", plan_key="monthly_99")
    with pytest.raises(MemberMismatchError):
        desk.run(command, sh(2026, 3, 1))


def test_a_naive_now_is_refused(desk: Desk) -> None:
    with pytest.raises(NaiveInstantError):
        desk.advance(datetime(2026, 3, 1))  # noqa: DTZ001 - the naive instant under test


def test_commands_check_their_fields() -> None:
    with pytest.raises(InvalidFactError, match="amount_fen"):
        RecordPayment(
            key="k", member_id=MEMBER, subscription_id="s", amount_fen=0, paid_at=sh(2026, 3, 1)
        )
    with pytest.raises(InvalidFactError, match="appears twice"):
        Subscribe(
            key="k", member_id=MEMBER, subscription_id="s", plan_key="x", dependents=("a", "a")
        )
    with pytest.raises(InvalidFactError, match="subscription_id"):
        Renew(key="k", member_id=MEMBER, subscription_id=" ")


# --- queries -----------------------------------------------------------------------------


def test_the_tier_floor_is_the_highest_among_plans_in_force(desk: Desk) -> None:
    assert tier_floor(desk.state, desk.config, sh(2026, 3, 1)) is None
    desk.buy("annual_299", sh(2026, 3, 1))
    desk.buy("diabetes_steward", sh(2026, 3, 1), sid="s-2")
    assert tier_floor(desk.state, desk.config, sh(2026, 3, 2)) == "L2"
    desk.buy("family_steward", sh(2026, 3, 2), sid="s-3")
    assert tier_floor(desk.state, desk.config, sh(2026, 3, 3)) == "L3"
    desk.cancel(sh(2026, 3, 4), sid="s-3")
    assert tier_floor(desk.state, desk.config, sh(2026, 3, 4)) == "L2"


def test_a_disease_plan_enrols_the_member_in_its_programme_while_in_force(desk: Desk) -> None:
    desk.subscribe("diabetes_steward", sh(2026, 3, 1))
    assert programmes(desk.state, desk.config, sh(2026, 3, 1)) == ()
    desk.pay(159_900, sh(2026, 3, 1))
    assert programmes(desk.state, desk.config, sh(2026, 3, 2)) == ("diabetes",)
    assert tier_floor(desk.state, desk.config, sh(2026, 3, 2)) is None
    assert programmes(desk.state, desk.config, sh(2027, 3, 16)) == ()


def test_events_carry_the_plan_key_and_version() -> None:
    desk = Desk(with_plan(reference_config(), "annual_599", version=3))
    desk.buy("annual_599", sh(2026, 3, 1))
    assert {(event.plan_key, event.plan_version) for event in desk.journal} == {("annual_599", 3)}
    assert all(event.at.tzinfo is UTC for event in desk.journal)


def test_replaying_the_journal_rebuilds_the_state(desk: Desk) -> None:
    desk.buy("annual_599", sh(2026, 1, 1))
    desk.change("family_steward", sh(2026, 7, 2))
    desk.pay(169_868, sh(2026, 7, 2), sid="s-2")
    desk.cover("spouse", sh(2026, 7, 3), sid="s-2")
    desk.advance(sh(2027, 8, 1))
    assert replay(MEMBER, desk.journal) == desk.state


def test_evolve_refuses_an_event_that_does_not_fit_the_status(desk: Desk) -> None:
    (requested,) = desk.subscribe("annual_599", sh(2026, 3, 1))
    expired = SubscriptionExpired(
        subscription_id="s-1",
        member_id=MEMBER,
        at=sh(2026, 3, 2),
        plan_key="annual_599",
        plan_version=1,
    )
    with pytest.raises(SubscriptionTransitionError, match="pending_payment"):
        evolve(desk.state, expired)
    with pytest.raises(SubscriptionExistsError):
        evolve(desk.state, requested)


def test_an_empty_programme_offers_no_plans() -> None:
    bare = attrs.evolve(reference_config(), plans=PlanRules(), packages=(), journeys=())
    desk = Desk(bare)
    with pytest.raises(UnknownPlanError):
        desk.subscribe("annual_599", sh(2026, 3, 1))
