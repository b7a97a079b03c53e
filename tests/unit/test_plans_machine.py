"""Paid plans driven by random subscriptions, payments, renewals, cancellations, plan
changes, relatives and clock moves, checking every transition against the allowed ones.

Each rule states when the command must be accepted, from the member's plans as the clock
has left them, and checks that ``decide`` agrees. The invariants hold after every step:
statuses agree with the clock, paid terms follow each other without a gap, money adds
up, replay rebuilds the state, and the tier floor is set exactly while a subscription
with a floor is active or in grace.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from membercore import reference_config
from membercore.config import Plan
from membercore.dates import add_months
from membercore.errors import (
    InvalidFactError,
    PlanError,
    WrongPaymentAmountError,
)
from membercore.plans import (
    AddCoveredDependent,
    AdvanceSubscriptions,
    Cancel,
    ChangePlan,
    PlansState,
    RecordPayment,
    RemoveCoveredDependent,
    Renew,
    Subscribe,
    SubscriptionEvent,
    SubscriptionState,
    SubscriptionStatus,
    decide,
    evolve,
    prorate,
    replay,
    status_at,
    tier_floor,
)

SH = ZoneInfo("Asia/Shanghai")
MEMBER = "p-1"
US = timedelta(microseconds=1)
START = datetime(2026, 1, 31, 10, tzinfo=SH).astimezone(UTC)
S = SubscriptionStatus


def _config() -> Any:
    # annual_299 without grace and without refunds: the edge cases of both rules.
    base = reference_config()
    plans = tuple(
        attrs.evolve(plan, grace_days=0, refund="none") if plan.key == "annual_299" else plan
        for plan in base.plans.plans
    )
    return attrs.evolve(base, plans=attrs.evolve(base.plans, plans=plans))


CONFIG = _config()
PLANS = CONFIG.plans.plans
PEOPLE = ("spouse", "child", "mother", "father")
OPEN = {S.PENDING_PAYMENT, S.ACTIVE, S.GRACE}
IN_FORCE = {S.ACTIVE, S.GRACE}

# (status before, event) -> the statuses allowed after it; written out, not imported.
ALLOWED: dict[tuple[SubscriptionStatus | None, str], set[SubscriptionStatus]] = {
    (None, "subscription_requested"): {S.PENDING_PAYMENT},
    (S.PENDING_PAYMENT, "subscription_activated"): {S.ACTIVE},
    (S.PENDING_PAYMENT, "subscription_lapsed"): {S.LAPSED},
    (S.PENDING_PAYMENT, "subscription_cancelled"): {S.CANCELLED},
    (S.ACTIVE, "renewal_due"): {S.ACTIVE},
    (S.GRACE, "renewal_due"): {S.GRACE},
    (S.ACTIVE, "subscription_renewed"): {S.ACTIVE},
    (S.GRACE, "subscription_renewed"): {S.ACTIVE},
    (S.ACTIVE, "subscription_entered_grace"): {S.GRACE},
    (S.GRACE, "subscription_expired"): {S.EXPIRED},
    (S.ACTIVE, "subscription_cancelled"): {S.CANCELLED, S.REFUNDED},
    (S.GRACE, "subscription_cancelled"): {S.CANCELLED},
    (S.ACTIVE, "subscription_changed"): {S.CHANGED},
    (S.GRACE, "subscription_changed"): {S.CHANGED},
    **{(status, "dependent_covered"): {status} for status in OPEN},
    **{(status, "dependent_uncovered"): {status} for status in OPEN},
}

durations = st.one_of(
    st.sampled_from([US, timedelta(hours=1), timedelta(days=1), timedelta(days=3)]),
    st.timedeltas(min_value=US, max_value=timedelta(days=20)),
    st.sampled_from([timedelta(days=16), timedelta(days=31), timedelta(days=200)]),
)


def _plan(key: str) -> Plan:
    plan = CONFIG.plans.plan(key)
    assert plan is not None
    return plan


class PlansMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = PlansState(member_id=MEMBER)
        self.journal: list[SubscriptionEvent] = []
        self.now = START
        self.keys = 0

    # --- helpers -------------------------------------------------------------------------

    def key(self) -> str:
        self.keys += 1
        return f"k-{self.keys}"

    def advanced(self) -> PlansState:
        """The member's plans as the clock has left them at ``now``."""
        state = self.state
        for event in decide(AdvanceSubscriptions(member_id=MEMBER), state, CONFIG, self.now):
            state = evolve(state, event)
        return state

    def held(self, sid: str) -> SubscriptionState | None:
        return self.advanced().subscriptions.get(sid)

    def changing(self, sid: str) -> bool:
        return any(
            other.replaces == sid and other.status is S.PENDING_PAYMENT
            for other in self.advanced().subscriptions.values()
        )

    def run(self, command: Any, *, accepted: bool) -> Exception | None:
        refused: Exception | None = None
        try:
            events = decide(command, self.state, CONFIG, self.now)
        except (PlanError, InvalidFactError) as error:
            refused = error
        if refused is not None:
            assert not accepted, f"{command!r} refused: {refused}"
            return refused
        assert accepted, f"{command!r} accepted: {events!r}"
        # pure: the same decision on the same state gives the same events
        assert decide(command, self.state, CONFIG, self.now) == events
        for event in events:
            before = self.state.subscriptions.get(event.subscription_id)
            self.state = evolve(self.state, event)
            after = self.state.subscriptions[event.subscription_id].status
            allowed = ALLOWED.get((before.status if before else None, event.TYPE), set())
            assert after in allowed, f"{before and before.status} --{event.TYPE}--> {after}"
        self.journal += events
        return None

    # --- rules ---------------------------------------------------------------------------

    def pick(self, data: st.DataObject, fits: Callable[[SubscriptionState], bool]) -> str:
        """A subscription id: mostly one that fits, sometimes any, rarely a stranger."""
        current = self.advanced().subscriptions
        fitting = sorted(sid for sid, held in current.items() if fits(held))
        choices = [
            st.sampled_from(fitting) if fitting else st.sampled_from(sorted(current)),
            st.sampled_from(sorted(current)),
            st.just("s-unknown"),
        ]
        index = data.draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 1, 2]))
        return data.draw(choices[index])

    def fresh(self, data: st.DataObject) -> str:
        """A new subscription id, or now and then one already used."""
        current = sorted(self.state.subscriptions)
        if current and data.draw(st.integers(0, 9)) == 0:
            return data.draw(st.sampled_from(current))
        return f"s-{len(current) + 1}"

    @rule(data=st.data(), plan=st.sampled_from(PLANS))
    def subscribe(self, data: st.DataObject, plan: Plan) -> None:
        sid = self.fresh(data)
        most = plan.max_dependents + 1 if data.draw(st.integers(0, 9)) == 0 else plan.max_dependents
        count = data.draw(st.integers(0, most))
        current = self.advanced().subscriptions
        taken = sid in current or any(
            held.plan_key == plan.key and held.status in OPEN for held in current.values()
        )
        command = Subscribe(
            key=self.key(),
            member_id=MEMBER,
            subscription_id=sid,
            plan_key=plan.key,
            dependents=PEOPLE[:count],
        )
        accepted = not taken and count <= plan.max_dependents
        self.run(command, accepted=accepted)
        if accepted and data.draw(st.booleans()):
            self.pay_at_once(sid)

    def pay_at_once(self, sid: str) -> None:
        """Most sales are paid at the desk, there and then."""
        held = self.state.subscriptions[sid]
        if held.status is S.PENDING_PAYMENT and held.due_fen:
            command = RecordPayment(
                key=self.key(),
                member_id=MEMBER,
                subscription_id=sid,
                amount_fen=held.due_fen,
                paid_at=self.now,
            )
            self.run(command, accepted=True)

    @rule(data=st.data(), correct=st.sampled_from([True, True, True, False]))
    @precondition(lambda self: bool(self.state.subscriptions))
    def pay(self, data: st.DataObject, correct: bool) -> None:
        sid = self.pick(data, lambda held: held.due_fen is not None)
        held = self.held(sid)
        due = held.due_fen if held is not None else None
        amount = due if correct and due else (due or 0) + 1
        command = RecordPayment(
            key=self.key(),
            member_id=MEMBER,
            subscription_id=sid,
            amount_fen=amount,
            paid_at=self.now,
        )
        payable = held is not None and due is not None and held.status in OPEN
        renewal_frozen = (
            held is not None and held.status is not S.PENDING_PAYMENT and self.changing(sid)
        )
        refused = self.run(command, accepted=payable and correct and not renewal_frozen)
        if payable and not correct and not renewal_frozen:
            # a wrong amount is refused for what it is
            assert isinstance(refused, WrongPaymentAmountError)

    @rule(data=st.data())
    @precondition(lambda self: bool(self.state.subscriptions))
    def renew(self, data: st.DataObject) -> None:
        sid = self.pick(data, lambda held: held.status in IN_FORCE and held.due_fen is None)
        held = self.held(sid)
        accepted = (
            held is not None
            and held.status in IN_FORCE
            and held.due_fen is None
            and not self.changing(sid)
        )
        self.run(Renew(key=self.key(), member_id=MEMBER, subscription_id=sid), accepted=accepted)

    @rule(data=st.data())
    @precondition(lambda self: bool(self.state.subscriptions))
    def cancel(self, data: st.DataObject) -> None:
        sid = self.pick(data, lambda held: held.status in OPEN)
        held = self.held(sid)
        accepted = held is not None and held.status in OPEN and not self.changing(sid)
        command = Cancel(key=self.key(), member_id=MEMBER, subscription_id=sid, reason="r")
        self.run(command, accepted=accepted)

    @rule(data=st.data(), plan=st.sampled_from(PLANS))
    @precondition(lambda self: bool(self.state.subscriptions))
    def change_plan(self, data: st.DataObject, plan: Plan) -> None:
        sid = self.pick(data, lambda held: held.status is S.ACTIVE)
        new = self.fresh(data)
        current = self.advanced().subscriptions
        held = current.get(sid)
        accepted = (
            held is not None
            and held.status is S.ACTIVE
            and not self.changing(sid)
            and plan.key != held.plan_key
            and new not in current
            and not any(o.plan_key == plan.key and o.status in OPEN for o in current.values())
            and prorate(held, self.now).unused_fen <= plan.price_fen
            and len(held.dependents) <= plan.max_dependents
        )
        command = ChangePlan(
            key=self.key(),
            member_id=MEMBER,
            subscription_id=sid,
            plan_key=plan.key,
            new_subscription_id=new,
        )
        self.run(command, accepted=accepted)
        if accepted and data.draw(st.booleans()):
            self.pay_at_once(new)

    @rule(data=st.data(), person=st.sampled_from(PEOPLE))
    @precondition(lambda self: bool(self.state.subscriptions))
    def cover(self, data: st.DataObject, person: str) -> None:
        sid = self.pick(data, lambda held: held.status in OPEN)
        held = self.held(sid)
        accepted = (
            held is not None
            and held.status in OPEN
            and (
                person in held.dependents
                or len(held.dependents) < _plan(held.plan_key).max_dependents
            )
        )
        command = AddCoveredDependent(
            key=self.key(), member_id=MEMBER, subscription_id=sid, dependent_id=person
        )
        self.run(command, accepted=accepted)

    @rule(data=st.data(), person=st.sampled_from(PEOPLE))
    @precondition(lambda self: bool(self.state.subscriptions))
    def uncover(self, data: st.DataObject, person: str) -> None:
        sid = self.pick(data, lambda held: held.status in OPEN)
        held = self.held(sid)
        accepted = held is not None and held.status in OPEN and person in held.dependents
        command = RemoveCoveredDependent(
            key=self.key(), member_id=MEMBER, subscription_id=sid, dependent_id=person
        )
        self.run(command, accepted=accepted)

    @rule(by=durations, record=st.booleans())
    def wait(self, by: timedelta, record: bool) -> None:
        self.now += by
        if record:
            self.run(AdvanceSubscriptions(member_id=MEMBER), accepted=True)

    @rule(nudge=st.sampled_from([-US, timedelta(0), US]))
    def wait_for_a_boundary(self, nudge: timedelta) -> None:
        """Move to one microsecond before, at, or after the next instant anything happens."""
        boundaries = [
            instant + nudge
            for held in self.state.subscriptions.values()
            for instant in (held.pay_by, held.term_end, held.grace_ends_at)
            if instant is not None and instant + nudge > self.now
        ]
        if boundaries:
            self.now = min(boundaries)

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def replay_rebuilds_the_state(self) -> None:
        assert replay(MEMBER, self.journal) == self.state

    @invariant()
    def statuses_agree_with_the_clock(self) -> None:
        advanced = self.advanced()
        for sid, held in advanced.subscriptions.items():
            assert status_at(self.state.subscriptions[sid], self.now) is held.status
            if held.status is S.PENDING_PAYMENT:
                assert held.pay_by is not None
                assert self.now < held.pay_by
            if held.status is S.ACTIVE:
                assert held.term_end is not None
                assert self.now < held.term_end
            if held.status is S.GRACE:
                assert held.term_end is not None
                assert held.grace_ends_at is not None
                assert held.term_end <= self.now < held.grace_ends_at

    @invariant()
    def paid_terms_follow_each_other_without_a_gap(self) -> None:
        for held in self.state.subscriptions.values():
            for before, after in zip(held.terms, held.terms[1:], strict=False):
                assert before.end == after.start
            if held.terms:
                assert held.anchor is not None
                assert held.term_end == add_months(held.anchor, held.months_paid, SH)

    @invariant()
    def refunds_never_exceed_what_was_paid(self) -> None:
        for held in self.state.subscriptions.values():
            assert 0 <= held.refund_fen <= held.paid_fen
            if held.refund_fen:
                assert held.status is S.REFUNDED

    @invariant()
    def the_tier_floor_is_set_exactly_while_a_plan_with_a_floor_is_in_force(self) -> None:
        advanced = self.advanced()
        floors = [
            _plan(held.plan_key).tier_floor
            for held in advanced.subscriptions.values()
            if held.status in IN_FORCE
        ]
        ranked = sorted((f for f in floors if f), key=CONFIG.tiers.rank)
        expected = ranked[-1] if ranked else None
        assert tier_floor(self.state, CONFIG, self.now) == expected
        assert tier_floor(advanced, CONFIG, self.now) == expected


TestPlansMachine = PlansMachine.TestCase
