"""Properties of paid plans: pro-rated money, replay and message round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given
from hypothesis import strategies as st

from membercore import ProgrammeConfig, reference_config
from membercore.config import Plan
from membercore.errors import InvalidFactError, PlanError
from membercore.facts import FACT_TYPES
from membercore.ledger.commands import COMMAND_TYPES
from membercore.plans import (
    PLAN_COMMAND_TYPES,
    PLAN_EVENT_TYPES,
    AddCoveredDependent,
    AdvanceSubscriptions,
    Cancel,
    ChangePlan,
    PlansState,
    RecordPayment,
    RemoveCoveredDependent,
    Renew,
    Subscribe,
    SubscriptionCancelled,
    SubscriptionEvent,
    SubscriptionMovedIn,
    SubscriptionMovedOut,
    SubscriptionRequested,
    decide,
    evolve,
    prorate,
    replay,
)
from membercore.serialization import converter

SH = ZoneInfo("Asia/Shanghai")
MEMBER = "p-1"
CONFIG = reference_config()
PLANS = CONFIG.plans.plans
START = datetime(2024, 1, 1, tzinfo=SH)


def instants(days: int = 4_000) -> st.SearchStrategy[datetime]:
    """Instants from 2024 on, to the microsecond: every day of the month, leap days too."""
    micros = st.integers(0, days * 86_400 * 10**6)
    return micros.map(lambda us: (START + timedelta(microseconds=us)).astimezone(UTC))


def configured(plan: Plan, refund: str) -> ProgrammeConfig:
    plans = tuple(
        attrs.evolve(held, refund=refund) if held.key == plan.key else held for held in PLANS
    )
    return attrs.evolve(CONFIG, plans=attrs.evolve(CONFIG.plans, plans=plans))


def run(
    state: PlansState, config: ProgrammeConfig, command: Any, now: datetime
) -> tuple[PlansState, list[SubscriptionEvent]]:
    events = decide(command, state, config, now)
    for event in events:
        state = evolve(state, event)
    return state, events


def bought(plan: Plan, config: ProgrammeConfig, at: datetime) -> PlansState:
    state = PlansState(member_id=MEMBER)
    subscribe = Subscribe(key="sub", member_id=MEMBER, subscription_id="s", plan_key=plan.key)
    state, _ = run(state, config, subscribe, at)
    pay = RecordPayment(
        key="pay", member_id=MEMBER, subscription_id="s", amount_fen=plan.price_fen, paid_at=at
    )
    state, _ = run(state, config, pay, at)
    return state


@given(
    plan=st.sampled_from(PLANS),
    refund=st.sampled_from(["pro_rata", "none"]),
    paid_at=instants(),
    data=st.data(),
)
def test_a_pro_rated_refund_plus_the_used_value_is_exactly_the_price_paid(
    plan: Plan, refund: str, paid_at: datetime, data: st.DataObject
) -> None:
    config = configured(plan, refund)
    state = bought(plan, config, paid_at)
    held = state.subscriptions["s"]
    end = held.term_end
    assert end is not None
    span = (end - paid_at) // timedelta(microseconds=1)
    # strictly inside the term: at its end the subscription is in grace with nothing left
    at = paid_at + timedelta(microseconds=data.draw(st.integers(0, span - 1)))
    command = Cancel(key="cancel", member_id=MEMBER, subscription_id="s", reason="r")
    _, events = run(state, config, command, at)
    (cancelled,) = events
    assert isinstance(cancelled, SubscriptionCancelled)
    assert cancelled.paid_fen == plan.price_fen
    assert cancelled.refund_fen + cancelled.used_fen == plan.price_fen
    assert 0 <= cancelled.refund_fen <= plan.price_fen
    assert cancelled.unused_days <= (end - paid_at).days
    if refund == "none":
        assert cancelled.refund_fen == 0
    else:
        # floor of (price x unused days / term days): never more than the days are worth
        assert cancelled.refund_fen * (end - paid_at).days <= plan.price_fen * cancelled.unused_days
    if at == paid_at and refund == "pro_rata":
        assert cancelled.refund_fen == plan.price_fen


@given(plan=st.sampled_from(PLANS), paid_at=instants(), later=st.lists(instants(800), max_size=5))
def test_the_unused_value_only_shrinks_as_time_passes(
    plan: Plan, paid_at: datetime, later: list[datetime]
) -> None:
    held = bought(plan, CONFIG, paid_at).subscriptions["s"]
    offsets = sorted(instant - START.astimezone(UTC) for instant in later)
    values = [prorate(held, paid_at + offset) for offset in offsets]
    unused = [value.unused_fen for value in values]
    assert unused == sorted(unused, reverse=True)
    assert all(0 <= value.unused_fen <= value.paid_fen == plan.price_fen for value in values)


# --- replay ------------------------------------------------------------------------------

SUBS = ("s-1", "s-2", "s-3")
PEOPLE = ("spouse", "child", "mother", "father")

operations = st.one_of(
    st.tuples(st.just("subscribe"), st.sampled_from(SUBS), st.sampled_from(PLANS)),
    st.tuples(st.just("pay"), st.sampled_from(SUBS), st.booleans()),
    st.tuples(st.just("renew"), st.sampled_from(SUBS)),
    st.tuples(st.just("cancel"), st.sampled_from(SUBS)),
    st.tuples(
        st.just("change"), st.sampled_from(SUBS), st.sampled_from(SUBS), st.sampled_from(PLANS)
    ),
    st.tuples(st.just("cover"), st.sampled_from(SUBS), st.sampled_from(PEOPLE)),
    st.tuples(st.just("uncover"), st.sampled_from(SUBS), st.sampled_from(PEOPLE)),
    st.tuples(st.just("advance")),
)


_BUILDERS: dict[str, Any] = {
    "subscribe": lambda key, sid, plan: Subscribe(
        key=key, member_id=MEMBER, subscription_id=sid, plan_key=plan.key
    ),
    "renew": lambda key, sid: Renew(key=key, member_id=MEMBER, subscription_id=sid),
    "cancel": lambda key, sid: Cancel(key=key, member_id=MEMBER, subscription_id=sid, reason="r"),
    "change": lambda key, sid, new, plan: ChangePlan(
        key=key, member_id=MEMBER, subscription_id=sid, new_subscription_id=new, plan_key=plan.key
    ),
    "cover": lambda key, sid, person: AddCoveredDependent(
        key=key, member_id=MEMBER, subscription_id=sid, dependent_id=person
    ),
    "uncover": lambda key, sid, person: RemoveCoveredDependent(
        key=key, member_id=MEMBER, subscription_id=sid, dependent_id=person
    ),
    "advance": lambda _key: AdvanceSubscriptions(member_id=MEMBER),
}


def _command(operation: tuple[Any, ...], state: PlansState, key: str, now: datetime) -> Any:
    kind, *args = operation
    if kind != "pay":
        return _BUILDERS[kind](key, *args)
    sid, correct = args
    held = state.subscriptions.get(sid)
    due = held.due_fen if held is not None and held.due_fen else 100
    return RecordPayment(
        key=key,
        member_id=MEMBER,
        subscription_id=sid,
        amount_fen=due if correct else due + 1,
        paid_at=now,
    )


@given(
    steps=st.lists(
        st.tuples(operations, st.integers(0, 24 * 200), st.integers(0, 3_599)), max_size=30
    )
)
def test_replaying_the_events_rebuilds_the_identical_state(
    steps: list[tuple[tuple[Any, ...], int, int]],
) -> None:
    state = PlansState(member_id=MEMBER)
    journal: list[SubscriptionEvent] = []
    now = START.astimezone(UTC)
    for number, (operation, hours, seconds) in enumerate(steps):
        now += timedelta(hours=hours, seconds=seconds)
        command = _command(operation, state, f"k-{number}", now)
        try:
            state, events = run(state, CONFIG, command, now)
        except (PlanError, InvalidFactError):
            continue
        journal += events
    assert replay(MEMBER, journal) == state
    assert replay(MEMBER, []) == PlansState(member_id=MEMBER)


# --- messages ----------------------------------------------------------------------------


def _scenario() -> list[SubscriptionEvent]:
    """A member's year that makes every kind of event at least once."""
    state = PlansState(member_id=MEMBER)
    journal: list[SubscriptionEvent] = []
    day = datetime(2026, 1, 31, 10, tzinfo=SH)
    counter = iter(range(1_000))

    def go(command: Any, now: datetime) -> list[SubscriptionEvent]:
        nonlocal state
        state, events = run(state, CONFIG, command, now)
        journal.extend(events)
        return events

    def key() -> str:
        return f"k-{next(counter)}"

    def pay(sid: str, at: datetime) -> None:
        due = state.subscriptions[sid].due_fen
        assert due is not None
        go(
            RecordPayment(
                key=key(), member_id=MEMBER, subscription_id=sid, amount_fen=due, paid_at=at
            ),
            at,
        )

    go(Subscribe(key=key(), member_id=MEMBER, subscription_id="m", plan_key="monthly_99"), day)
    pay("m", day)
    go(AdvanceSubscriptions(member_id=MEMBER), day + timedelta(days=29))
    pay("m", day + timedelta(days=29))
    go(Subscribe(key=key(), member_id=MEMBER, subscription_id="a", plan_key="annual_599"), day)
    pay("a", day)
    change = ChangePlan(
        key=key(),
        member_id=MEMBER,
        subscription_id="a",
        plan_key="family_steward",
        new_subscription_id="f",
    )
    go(change, day + timedelta(days=40))
    pay("f", day + timedelta(days=40))
    cover = AddCoveredDependent(key=key(), member_id=MEMBER, subscription_id="f", dependent_id="x")
    go(cover, day + timedelta(days=41))
    uncover = RemoveCoveredDependent(
        key=key(), member_id=MEMBER, subscription_id="f", dependent_id="x"
    )
    go(uncover, day + timedelta(days=41))
    go(
        Cancel(key=key(), member_id=MEMBER, subscription_id="f", reason="r"),
        day + timedelta(days=42),
    )
    go(
        Subscribe(key=key(), member_id=MEMBER, subscription_id="d", plan_key="diabetes_steward"),
        day,
    )
    go(AdvanceSubscriptions(member_id=MEMBER), day + timedelta(days=400))
    return journal


def test_every_plan_event_survives_a_round_trip_through_the_converter() -> None:
    journal = _scenario()
    merges = {SubscriptionMovedIn, SubscriptionMovedOut}  # round-tripped in test_plans_merge
    assert {type(event) for event in journal} == set(PLAN_EVENT_TYPES) - merges
    conv = converter()
    for event in journal:
        assert conv.structure(conv.unstructure(event), type(event)) == event


@given(
    command=st.one_of(
        st.builds(
            Subscribe,
            key=st.just("k"),
            member_id=st.just(MEMBER),
            subscription_id=st.just("s"),
            plan_key=st.sampled_from([plan.key for plan in PLANS]),
            dependents=st.lists(st.sampled_from(PEOPLE), unique=True, max_size=3).map(tuple),
            attributed_to=st.none() | st.just("nurse-7"),
        ),
        st.builds(
            RecordPayment,
            key=st.just("k"),
            member_id=st.just(MEMBER),
            subscription_id=st.just("s"),
            amount_fen=st.integers(1, 10**7),
            paid_at=instants(),
        ),
        st.builds(
            ChangePlan,
            key=st.just("k"),
            member_id=st.just(MEMBER),
            subscription_id=st.just("s"),
            plan_key=st.just("family_steward"),
            new_subscription_id=st.just("t"),
        ),
        st.sampled_from(
            [
                Renew(key="k", member_id=MEMBER, subscription_id="s"),
                Cancel(key="k", member_id=MEMBER, subscription_id="s", reason="moving"),
                AddCoveredDependent(
                    key="k", member_id=MEMBER, subscription_id="s", dependent_id="x"
                ),
                RemoveCoveredDependent(
                    key="k", member_id=MEMBER, subscription_id="s", dependent_id="x"
                ),
                AdvanceSubscriptions(member_id=MEMBER),
            ]
        ),
    )
)
def test_every_plan_command_survives_a_round_trip_through_the_converter(command: Any) -> None:
    conv = converter()
    assert conv.structure(conv.unstructure(command), type(command)) == command


def test_plan_message_tags_are_unique_and_clash_with_no_other_message() -> None:
    tags = [cls.TYPE for cls in (*PLAN_COMMAND_TYPES, *PLAN_EVENT_TYPES)]
    assert len(set(tags)) == len(tags)
    others = {cls.TYPE for cls in (*FACT_TYPES, *COMMAND_TYPES)}
    assert others.isdisjoint(tags)


def test_a_requested_event_keeps_its_dependents_as_a_tuple() -> None:
    event = SubscriptionRequested(
        subscription_id="s",
        member_id=MEMBER,
        at=START,
        plan_key="family_steward",
        plan_version=1,
        due_fen=1,
        pay_by=START,
        dependents=["spouse"],  # type: ignore[arg-type]  # as JSON would give it
    )
    assert event.dependents == ("spouse",)
