"""Staff work and offers, as journeys ask for them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import journeys, reference_config
from membercore.errors import (
    OfferNotValidError,
    UnknownPlanError,
    UnknownStaffError,
    UnknownTaskError,
)
from membercore.facts import TaskCompleted
from membercore.serialization import (
    message_from_dict,
    message_from_stored,
    message_to_dict,
    message_to_json,
)
from membercore.staff import offers, programmes, tasks

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 30, 10, 0, tzinfo=SH)
CONFIG = reference_config()
ME = "p-chen"


def _action(name: str, **params: object) -> journeys.JourneyActionIssued:
    return journeys.JourneyActionIssued(
        member_id=ME,
        instance_id=f"{ME}/diabetes/1",
        journey="diabetes",
        step="second_miss",
        action=journeys.Call(name=name, params=params),  # type: ignore[arg-type]
        key=f"diabetes:{ME}/diabetes/1:second_miss:timer:x:1:1",
        at=NOW,
        explanation="journey diabetes step second_miss: two rechecks missed",
    )


def _run(
    state: tasks.WorkState, command: tasks.WorkCommand, **loads: int
) -> tuple[tasks.WorkState, list[tasks.WorkEvent]]:
    events = tasks.decide(command, state, CONFIG, NOW, loads=loads)
    for event in events:
        state = tasks.evolve(state, event)
    return state, events


def test_a_journeys_call_task_goes_to_the_least_loaded_health_manager_under_capacity() -> None:
    command = tasks.task_from_action(
        _action("create_task", kind="call", role="health_manager", due_hours=48)
    )
    assert command.due_at == NOW + timedelta(hours=48)
    # hm-01 holds 150 of 150 (full), hm-02 holds 90, hm-03 holds 40 of 100
    state, (created,) = _run(
        tasks.WorkState(member_id=ME), command, **{"hm-01": 150, "hm-02": 90, "hm-03": 40}
    )
    assert isinstance(created, tasks.TaskCreated)
    assert created.assignee == "hm-03"
    assert created.reason.startswith("journey diabetes")
    again, none = _run(state, command)
    assert none == []  # the same action twice is one task
    assert list(again.tasks) == [command.key]


def test_a_members_own_health_manager_takes_their_tasks() -> None:
    state, (assigned,) = _run(
        tasks.WorkState(member_id=ME),
        tasks.AssignHealthManager(key="a-1", member_id=ME, reason="rule B"),
        **{"hm-01": 10, "hm-02": 3, "hm-03": 3},
    )
    assert isinstance(assigned, tasks.HealthManagerAssigned)
    assert assigned.staff_id == "hm-02"  # fewest cases; ties go to roster order
    assert _run(state, tasks.AssignHealthManager(key="a-2", member_id=ME, reason="again"))[1] == []
    command = tasks.task_from_action(
        _action("create_task", kind="call", role="health_manager", due_hours=24)
    )
    _, (created,) = _run(state, command, **{"hm-03": 0})
    assert isinstance(created, tasks.TaskCreated)
    assert created.assignee == "hm-02"


def test_a_manager_who_left_the_roster_gets_no_more_of_their_members_tasks() -> None:
    state = tasks.WorkState(member_id=ME, health_manager="hm-09")  # no longer on the roster
    command = tasks.task_from_action(
        _action("create_task", kind="call", role="health_manager", due_hours=24)
    )
    _, (created,) = _run(state, command, **{"hm-01": 5, "hm-02": 1, "hm-03": 5})
    assert isinstance(created, tasks.TaskCreated)
    assert created.assignee == "hm-02"


def test_escalation_updates_the_task_and_never_makes_a_second_one() -> None:
    command = tasks.task_from_action(
        _action("create_task", kind="call", role="nurse", due_hours=24)
    )
    state, _ = _run(tasks.WorkState(member_id=ME), command, **{"rn-01": 5, "rn-02": 2})
    assert state.tasks[command.key].assignee == "rn-02"
    assert tasks.overdue(state, NOW + timedelta(hours=24)) == (state.tasks[command.key],)
    escalate = tasks.EscalateTask(
        key="e-1",
        member_id=ME,
        task_key=command.key,
        due_at=NOW + timedelta(hours=30),
        reason="overdue",
        role="health_manager",
    )
    state, (escalated,) = _run(state, escalate, **{"hm-01": 1})
    assert isinstance(escalated, tasks.TaskEscalated)
    assert (escalated.level, escalated.assignee) == (1, "hm-02")
    assert list(state.tasks) == [command.key]
    state, _ = _run(
        state,
        tasks.CloseTask(
            key="c-1", member_id=ME, task_key=command.key, outcome="rebooked", by="hm-02"
        ),
    )
    assert state.tasks[command.key].outcome == "rebooked"
    with pytest.raises(UnknownTaskError):
        _run(
            state,
            tasks.CloseTask(key="c-2", member_id=ME, task_key=command.key, outcome="x", by="hm-02"),
        )


def test_no_health_manager_on_the_roster_leaves_the_assignment_waiting_as_a_task() -> None:
    # The programme is checked when it loads; a roster built by hand here lacks managers.
    config = attrs.evolve(CONFIG, journeys=(), staff=attrs.evolve(CONFIG.staff, staff=()))
    ask = tasks.AssignHealthManager(key="a", member_id=ME, reason="rule B")
    state = tasks.WorkState(member_id=ME)
    made = tasks.decide(ask, state, config, NOW)
    (waiting,) = made
    assert isinstance(waiting, tasks.TaskCreated)
    assert (waiting.kind, waiting.role, waiting.assignee) == (
        tasks.MANAGER_ASSIGNMENT,
        "health_manager",
        None,
    )
    assert waiting.unassigned_reason == tasks.unassigned("health_manager")
    for event in made:
        state = tasks.evolve(state, event)
    again = tasks.AssignHealthManager(key="b", member_id=ME, reason="again")
    assert tasks.decide(again, state, config, NOW) == []  # one waiting assignment
    # With a manager on the roster, the next assignment closes the waiting one.
    state, events = _run(state, again)
    assert [type(e) for e in events] == [tasks.HealthManagerAssigned, tasks.TaskClosed]
    assert state.health_manager == "hm-01"
    assert state.tasks["a"].status == "closed"


def test_assigning_a_waiting_task_needs_someone_with_its_role_on_the_roster() -> None:
    command = tasks.CreateTask(
        key="t", member_id=ME, kind="visit", role="social_worker", due_at=NOW, reason="r"
    )
    state, (created,) = _run(tasks.WorkState(member_id=ME), command)
    assert isinstance(created, tasks.TaskCreated)
    assert created.assignee is None
    assert state.tasks["t"].unassigned_reason == tasks.unassigned("social_worker")
    claim = tasks.AssignTask(key="as", member_id=ME, task_key="t", staff_id="rn-01", by="sup")
    with pytest.raises(UnknownStaffError, match="'rn-01' is not on the staff roster"):
        _run(state, claim)
    nurse = tasks.EscalateTask(
        key="e", member_id=ME, task_key="t", due_at=NOW, reason="nobody", role="nurse"
    )
    state, (escalated,) = _run(state, nurse, **{"rn-01": 3})
    assert isinstance(escalated, tasks.TaskEscalated)
    assert (escalated.assignee, escalated.unassigned_reason) == ("rn-02", None)
    state, (assigned,) = _run(state, claim)
    assert isinstance(assigned, tasks.TaskAssigned)
    assert (state.tasks["t"].assignee, state.tasks["t"].unassigned_reason) == ("rn-01", None)
    with pytest.raises(UnknownTaskError):
        _run(state, tasks.AssignTask(key="x", member_id=ME, task_key="nope", staff_id="a", by="b"))


def test_a_task_completed_fact_closes_only_an_open_task_it_names() -> None:
    command = tasks.CreateTask(
        key="t", member_id=ME, kind="call", role="nurse", due_at=NOW, reason="r"
    )
    state, _ = _run(tasks.WorkState(member_id=ME), command)
    done = TaskCompleted(fact_id="f", patient_id=ME, occurred_at=NOW, task_key="t", outcome="ok")
    close = tasks.completion(done, state)
    assert close is not None
    assert (close.task_key, close.outcome) == ("t", "ok")
    state, _ = _run(state, close)
    assert tasks.completion(done, state) is None  # closed already
    assert tasks.completion(attrs.evolve(done, task_key="other"), state) is None
    assert tasks.completion(command, state) is None  # not a completion


def test_staff_work_events_round_trip_and_replay() -> None:
    command = tasks.task_from_action(
        _action("create_task", kind="call", role="nurse", due_hours=24)
    )
    state = tasks.WorkState(member_id=ME)
    journal: list[tasks.WorkEvent] = []
    for step in (
        command,
        tasks.AssignTask(key="a", member_id=ME, task_key=command.key, staff_id="rn-02", by="x"),
        tasks.CloseTask(key="c", member_id=ME, task_key=command.key, outcome="done", by="rn-01"),
    ):
        assert message_from_dict(json.loads(json.dumps(message_to_dict(step)))) == step
        state, events = _run(state, step)
        journal += events
    for event in journal:
        assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
    assert tasks.replay(ME, journal) == state


def test_a_task_stored_before_unassigned_reasons_is_read_without_one() -> None:
    config = attrs.evolve(CONFIG, journeys=(), staff=attrs.evolve(CONFIG.staff, staff=()))
    ask = tasks.AssignHealthManager(key="a", member_id=ME, reason="rule B")
    (waiting,) = tasks.decide(ask, tasks.WorkState(member_id=ME), config, NOW)
    assert isinstance(waiting, tasks.TaskCreated)
    assert message_from_stored(message_to_json(waiting)) == waiting
    older = message_to_dict(attrs.evolve(waiting, unassigned_reason=None))
    assert "unassigned_reason" in older  # written as None, as a default is
    del older["unassigned_reason"]  # an event an earlier release stored
    assert message_from_stored(older) == attrs.evolve(waiting, unassigned_reason=None)


def test_an_offer_has_a_code_and_an_expiry_and_is_taken_up_once() -> None:
    make = offers.offer_from_action(_action("make_offer", plan="annual_599", valid_days=7))
    state = offers.OffersState(member_id=ME)
    (made,) = offers.decide(make, state, CONFIG, NOW)
    assert isinstance(made, offers.OfferMade)
    state = offers.evolve(state, made)
    assert offers.decide(make, state, CONFIG, NOW) == []  # one offer per action
    assert len(made.code) == 10
    assert made.expires_at == NOW + timedelta(days=7)
    assert [o.code for o in offers.open_offers(state, NOW)] == [made.code]
    assert offers.open_offers(state, made.expires_at) == ()
    redeem = offers.RedeemOffer(key="r-1", member_id=ME, code=made.code, subscription_id="sub-1")
    (taken,) = offers.decide(redeem, state, CONFIG, NOW + timedelta(days=1))
    state = offers.evolve(state, taken)
    with pytest.raises(OfferNotValidError, match="already used"):
        offers.decide(attrs.evolve(redeem, key="r-2"), state, CONFIG, NOW + timedelta(days=2))


def test_an_offer_cannot_be_taken_up_once_expired_nor_name_an_unknown_plan() -> None:
    state = offers.OffersState(member_id=ME)
    make = offers.MakeOffer(key="m", member_id=ME, plan_key="annual_599", valid_days=7, reason="r")
    for event in offers.decide(make, state, CONFIG, NOW):
        state = offers.evolve(state, event)
    (offer,) = state.offers.values()
    late = offers.RedeemOffer(key="r", member_id=ME, code=offer.code, subscription_id="s")
    with pytest.raises(OfferNotValidError, match="expired"):
        offers.decide(late, state, CONFIG, NOW + timedelta(days=7))
    with pytest.raises(UnknownPlanError):
        offers.decide(
            offers.MakeOffer(
                key="m2", member_id=ME, plan_key="gold_card", valid_days=7, reason="r"
            ),
            state,
            CONFIG,
            NOW,
        )


def test_a_journey_enrols_a_member_in_a_programme_once() -> None:
    enrol = programmes.enrolment_from_action(_action("enrol", programme="diabetes"))
    state = programmes.ProgrammesState(member_id=ME)
    for event in programmes.decide(enrol, state, NOW):
        state = programmes.evolve(state, event)
        assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
    assert state.programmes == {"diabetes"}
    again = programmes.Enrol(key="other", member_id=ME, programme="diabetes", reason="again")
    assert programmes.decide(again, state, NOW) == []
    leave = programmes.Leave(key="l", member_id=ME, programme="diabetes", reason="cured")
    (left,) = programmes.decide(leave, state, NOW)
    assert programmes.evolve(state, left).programmes == frozenset()


def test_no_offer_is_made_of_a_plan_the_member_holds_in_force_or_awaiting_payment() -> None:
    from membercore import plans  # noqa: PLC0415

    held = plans.PlansState(member_id=ME)
    subscribe = plans.Subscribe(key="s", member_id=ME, subscription_id="s-1", plan_key="annual_599")
    for event in plans.decide(subscribe, held, CONFIG, NOW):
        held = plans.evolve(held, event)
    make = offers.MakeOffer(key="m", member_id=ME, plan_key="annual_599", valid_days=7, reason="r")
    state = offers.OffersState(member_id=ME)
    (withheld,) = offers.decide(make, state, CONFIG, NOW, plans=held)
    assert isinstance(withheld, offers.OfferWithheld)
    assert "s-1, pending_payment" in withheld.explanation
    assert message_from_dict(json.loads(json.dumps(message_to_dict(withheld)))) == withheld
    state = offers.evolve(state, withheld)
    assert state.offers == {}
    assert offers.decide(make, state, CONFIG, NOW, plans=held) == []  # decided once
    # Once the unpaid subscription has lapsed, the plan is offered.
    later = NOW + timedelta(days=30)
    (made,) = offers.decide(attrs.evolve(make, key="m2"), state, CONFIG, later, plans=held)
    assert isinstance(made, offers.OfferMade)


def test_an_offer_withdrawn_with_the_journey_that_made_it_no_longer_redeems() -> None:
    action = _action("make_offer", plan="annual_599", valid_days=7)
    state = offers.OffersState(member_id=ME)
    for event in offers.decide(offers.offer_from_action(action), state, CONFIG, NOW):
        state = offers.evolve(state, event)
    (offer,) = state.offers.values()
    assert offers.withdraw_made_by(state, "someone/else/1", NOW, "why", "k", "d") == []
    (withdrawn,) = offers.withdraw_made_by(state, action.instance_id, NOW, "why", "k", "d")
    state = offers.evolve(state, withdrawn)
    assert offers.open_offers(state, NOW) == ()
    redeem = offers.RedeemOffer(key="r", member_id=ME, code=offer.code, subscription_id="s")
    with pytest.raises(OfferNotValidError, match="withdrawn: why"):
        offers.decide(redeem, state, CONFIG, NOW)
    assert offers.withdraw_made_by(state, action.instance_id, NOW, "why", "k", "d") == []
