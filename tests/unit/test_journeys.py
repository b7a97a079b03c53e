from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import journeys as j
from membercore import reference_config
from membercore.consent import ConsentWithdrawn
from membercore.errors import JourneyDefinitionError
from membercore.facts import Fact
from membercore.serialization import converter, message_from_dict, message_to_dict

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 31, 10, 0, tzinfo=SH)
ME = "p-chen"
CONFIG = reference_config()
REGISTRY = j.builtin_registry()


@attrs.frozen(kw_only=True)
class Diagnosis(Fact):
    TYPE: ClassVar[str] = "diagnosis_recorded"
    icd10: str


@attrs.frozen(kw_only=True)
class LabResult(Fact):
    TYPE: ClassVar[str] = "lab_result"
    test: str


@attrs.frozen(kw_only=True)
class Died(Fact):
    TYPE: ClassVar[str] = "patient_died"


def _call(action: str, **params: Any) -> j.Call:
    return j.Call(name=action, params=params)


def _on(kind: str) -> j.Trigger:
    return j.Trigger(kind="fact", type=kind)


def _after(months: int = 0, days: int = 0) -> j.Trigger:
    return j.Trigger(kind="after", delay=j.Delay(months=months, days=days))


DIABETES = j.JourneyDefinition(
    key="diabetes",
    label="糖尿病管理",
    purpose="care",
    states=("monitoring", "escalated", "closed"),
    initial="monitoring",
    final=("closed",),
    entry=_on("diagnosis_recorded"),
    entry_guards=(_call("field_starts_with", field="icd10", prefix="E11"),),
    entry_actions=(
        _call("enrol", programme="diabetes"),
        _call("send_message", template="diabetes_intro", purpose="care"),
    ),
    transitions=(
        j.Transition(
            source="monitoring",
            target="monitoring",
            trigger=_on("lab_result"),
            guards=(_call("field_equals", field="test", value="hba1c"),),
            actions=(_call("reset", name="missed"),),
            name="recheck_done",
        ),
        j.Transition(
            source="monitoring",
            target="escalated",
            trigger=_after(months=3),
            guards=(_call("counter_at_least", name="missed", value=1),),
            actions=(_call("create_task", kind="call", role="health_manager", due_hours=48),),
            name="second_miss",
        ),
        j.Transition(
            source="monitoring",
            target="monitoring",
            trigger=_after(months=3),
            actions=(_call("count", name="missed"),),
            name="first_miss",
        ),
        j.Transition(
            source="escalated",
            target="monitoring",
            trigger=_on("lab_result"),
            actions=(_call("reset", name="missed"),),
            name="back_on_track",
        ),
        j.Transition(source="escalated", target="closed", trigger=_after(months=12), name="lost"),
    ),
    exit_on=("patient_died",),
)


class Member:
    def __init__(self, *definitions: j.JourneyDefinition) -> None:
        self.definitions = definitions or (DIABETES,)
        for definition in self.definitions:
            j.validate(definition, REGISTRY)
        self.state = j.JourneysState(member_id=ME)
        self.events: list[j.JourneyEvent] = []
        self.consented = frozenset({"care", "marketing"})

    def situation(self, now: datetime) -> j.Situation:
        return j.Situation(member_id=ME, now=now, config=CONFIG, consented=self.consented)

    def _take(self, events: list[j.JourneyEvent]) -> list[j.JourneyEvent]:
        for event in events:
            self.state = j.evolve(self.state, event)
        self.events += events
        return events

    def decide(self, message: object, now: datetime) -> list[j.JourneyEvent]:
        return self._take(
            j.decide(message, self.state, self.definitions, REGISTRY, self.situation(now))
        )

    def tick(self, now: datetime) -> list[j.JourneyEvent]:
        return self._take(j.tick(self.state, self.definitions, REGISTRY, self.situation(now)))


def _diagnosis(icd10: str = "E11.9", fact_id: str = "d-1") -> Diagnosis:
    return Diagnosis(fact_id=fact_id, patient_id=ME, occurred_at=T0, icd10=icd10)


def _lab(fact_id: str, at: datetime, test: str = "hba1c") -> LabResult:
    return LabResult(fact_id=fact_id, patient_id=ME, occurred_at=at, test=test)


def _of(events: list[j.JourneyEvent], kind: type) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def test_a_type_2_diagnosis_starts_the_journey_with_its_entry_actions() -> None:
    member = Member()
    events = member.decide(_diagnosis(), T0)
    (started,) = _of(events, j.JourneyStarted)
    assert (started.instance_id, started.state) == (f"{ME}/diabetes/1", "monitoring")
    actions = [(a.action.name, dict(a.action.params)) for a in _of(events, j.JourneyActionIssued)]
    assert actions == [
        ("enrol", {"programme": "diabetes"}),
        ("send_message", {"template": "diabetes_intro", "purpose": "care"}),
    ]
    # the recheck timers: three calendar months on, 31 January -> 30 April
    assert {timer.due_at for timer in started.timers} == {datetime(2026, 4, 30, 10, 0, tzinfo=SH)}


def test_other_diagnoses_do_not_start_it_and_nobody_enters_twice() -> None:
    member = Member()
    assert member.decide(_diagnosis("I10"), T0) == []
    member.decide(_diagnosis(), T0)
    assert member.decide(_diagnosis(fact_id="d-2"), T0) == []
    assert member.decide(_diagnosis(), T0) == []  # the same fact again


def test_a_journey_that_allows_re_entry_starts_again() -> None:
    member = Member(attrs.evolve(DIABETES, re_entry=True))
    member.decide(_diagnosis(), T0)
    member.decide(_diagnosis(fact_id="d-2"), T0)
    assert len(j.active(member.state, "diabetes")) == 2


def test_journeys_added_to_a_list_already_used_start_too() -> None:
    # The definitions are indexed by the message types that start them; a list changed
    # in place after a decision is indexed again, not read from the earlier index.
    other = attrs.evolve(DIABETES, key="other", entry=_on("lab_result"), entry_guards=())
    definitions = [other]
    member = Member(DIABETES)
    member.definitions = definitions  # type: ignore[assignment]
    assert member.decide(_diagnosis(), T0) == []
    definitions.append(DIABETES)
    (started,) = _of(member.decide(_diagnosis(fact_id="d-2"), T0), j.JourneyStarted)
    assert started.journey == "diabetes"
    (lab_started,) = _of(member.decide(_lab("lab-1", T0), T0), j.JourneyStarted)
    assert lab_started.journey == "other"


def test_two_missed_rechecks_make_a_call_task_for_the_health_manager() -> None:
    member = Member()
    member.decide(_diagnosis(), T0)
    first = member.tick(datetime(2026, 4, 30, 10, 0, tzinfo=SH))
    assert [type(e).__name__ for e in first] == ["JourneyMoved", "JourneyActionIssued"]
    assert member.state.instances[f"{ME}/diabetes/1"].counters == {"missed": 1}
    # the self-loop restarts the clock: three months after 30 April is 30 July
    assert member.tick(datetime(2026, 7, 30, 9, 59, tzinfo=SH)) == []
    second = member.tick(datetime(2026, 7, 30, 10, 0, tzinfo=SH))
    (moved,) = _of(second, j.JourneyMoved)
    (task,) = _of(second, j.JourneyActionIssued)
    assert (moved.step, moved.target) == ("second_miss", "escalated")
    assert task.action.name == "create_task"
    assert task.key.startswith(f"diabetes:{ME}/diabetes/1:second_miss:timer:")
    assert "counter_at_least" in moved.explanation


def test_a_recheck_in_time_resets_the_count() -> None:
    member = Member()
    member.decide(_diagnosis(), T0)
    member.tick(datetime(2026, 4, 30, 10, 0, tzinfo=SH))  # one miss
    member.decide(_lab("l-1", datetime(2026, 5, 5, tzinfo=SH)), datetime(2026, 5, 5, tzinfo=SH))
    assert member.state.instances[f"{ME}/diabetes/1"].counters == {"missed": 0}
    member.decide(
        _lab("l-2", datetime(2026, 5, 6, tzinfo=SH), test="lipids"), datetime(2026, 5, 6, tzinfo=SH)
    )
    later = member.tick(datetime(2026, 8, 5, tzinfo=SH))
    assert [m.step for m in _of(later, j.JourneyMoved)] == ["first_miss"]  # not escalated


def test_an_exit_fact_ends_the_journey_and_its_timers() -> None:
    member = Member()
    member.decide(_diagnosis(), T0)
    (ended,) = member.decide(Died(fact_id="x-1", patient_id=ME, occurred_at=T0), T0)
    assert isinstance(ended, j.JourneyEnded)
    assert ended.reason == "exit:patient_died"
    assert member.tick(datetime(2027, 1, 1, tzinfo=SH)) == []


def test_withdrawing_consent_for_its_purpose_ends_a_journey_at_once() -> None:
    offers = attrs.evolve(
        DIABETES, key="offers", purpose="marketing", entry_guards=(), entry_actions=()
    )
    member = Member(DIABETES, offers)
    member.decide(_diagnosis(), T0)
    assert len(j.active(member.state)) == 2
    member.consented = frozenset({"care"})
    withdrawn = ConsentWithdrawn(
        member_id=ME,
        purpose="marketing",
        channels=("wecom", "sms"),
        reason=None,
        at=T0,
        key="w",
        fingerprint="f",
    )
    (ended,) = member.decide(withdrawn, T0)
    assert (ended.journey, ended.reason) == ("offers", "consent_withdrawn")
    assert [i.journey for i in j.active(member.state)] == ["diabetes"]


def test_a_daily_timer_fires_at_the_local_time() -> None:
    reminder = j.JourneyDefinition(
        key="checkup_follow_up",
        label="体检后随访",
        states=("booked", "reminded"),
        initial="booked",
        final=("reminded",),
        entry=_on("lab_result"),
        transitions=(
            j.Transition(
                source="booked",
                target="reminded",
                trigger=j.Trigger(kind="at", at="09:00", days=1),
                actions=(_call("send_message", template="result_ready", purpose="care"),),
            ),
        ),
    )
    member = Member(reminder)
    (started,) = _of(member.decide(_lab("l-1", T0), T0), j.JourneyStarted)
    assert started.timers[0].due_at == datetime(2026, 2, 1, 9, 0, tzinfo=SH)  # the next day 09:00


def test_a_broken_definition_is_refused_with_every_problem() -> None:
    broken = j.JourneyDefinition(
        key="broken",
        label="x",
        states=("a", "b", "c", "z"),
        initial="a",
        final=("z",),
        entry=_after(days=1),
        transitions=(
            j.Transition(source="a", target="z", trigger=_on("x"), guards=(_call("no_such"),)),
            j.Transition(source="z", target="a", trigger=_on("y")),
            j.Transition(source="a", target="a", trigger=_after(), name="spin"),
            j.Transition(
                source="a",
                target="b",
                trigger=_on("y"),
                actions=(_call("create_task", kind="call", role="nurse", due_hours="48"),),
            ),
        ),
    )
    with pytest.raises(JourneyDefinitionError) as refusal:
        j.validate(broken, REGISTRY)
    problems = " | ".join(refusal.value.problems)
    assert "starts on a fact or an event" in problems
    assert "unknown 'no_such'" in problems
    assert "leaves the final state 'z'" in problems
    assert "'c' cannot be reached" in problems
    assert "due_hours' must be int" in problems
    assert "step spin: a timer needs a delay longer than zero" in problems
    assert refusal.value.journey == "broken"


def test_the_journal_replays_to_the_same_state() -> None:
    member = Member()
    member.decide(_diagnosis(), T0)
    member.tick(datetime(2026, 12, 31, tzinfo=SH))
    assert j.replay(ME, member.events) == member.state


@given(st.lists(st.integers(min_value=0, max_value=500), max_size=8))
def test_timers_fire_in_order_and_exactly_once_across_any_split_of_ticks(days: list[int]) -> None:
    end = T0 + timedelta(days=800)
    whole = Member()
    whole.decide(_diagnosis(), T0)
    expected = whole.tick(end)
    split = Member()
    split.decide(_diagnosis(), T0)
    fired: list[j.JourneyEvent] = []
    for offset in sorted(days):
        fired += split.tick(T0 + timedelta(days=offset))
    fired += split.tick(end)
    assert fired == expected
    ats = [event.at for event in fired]
    assert ats == sorted(ats)


def test_journey_events_and_state_round_trip_through_json() -> None:
    member = Member()
    member.decide(_diagnosis(), T0)
    member.tick(datetime(2027, 12, 31, tzinfo=SH))
    assert {type(event) for event in member.events} >= {
        j.JourneyStarted,
        j.JourneyMoved,
        j.JourneyEnded,
    }
    for event in member.events:
        assert message_from_dict(json.loads(json.dumps(message_to_dict(event)))) == event
    snapshot = json.loads(json.dumps(converter().unstructure(member.state)))
    assert converter().structure(snapshot, j.JourneysState) == member.state


def test_a_step_may_start_another_journey() -> None:
    follow_up = j.JourneyDefinition(
        key="diet_course",
        label="饮食课程",
        states=("enrolled",),
        initial="enrolled",
        entry=_on("never_sent"),
        entry_actions=(_call("send_message", template="diet_course", purpose="care"),),
    )
    starter = attrs.evolve(DIABETES, entry_actions=(_call("start_journey", journey="diet_course"),))
    member = Member(starter, follow_up)
    events = member.decide(_diagnosis(), T0)
    started = [e.journey for e in events if isinstance(e, j.JourneyStarted)]
    assert started == ["diabetes", "diet_course"]
    (course,) = j.active(member.state, "diet_course")
    assert course.started_at == T0
    assert j.replay(ME, member.events) == member.state


def test_the_old_runtime_module_path_still_gives_the_same_names_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "membercore.journeys.runtime", raising=False)
    with pytest.warns(DeprecationWarning, match=r"journeys.runtime moved to membercore.journeys"):
        runtime = importlib.import_module("membercore.journeys.runtime")
    names = ["JourneyIndex", "JourneyInstance", "JourneysState", "active", "decide", "evolve"]
    for name in [*names, "replay", "tick"]:
        assert getattr(runtime, name) is getattr(j, name)


# -- the conditions that read a lab result ----------------------------------------------


def _holds(name: str, message: object, **params: j.ParamValue) -> bool:
    situation = j.Situation(member_id=ME, now=T0, config=CONFIG, message=message)
    return j.builtin_registry().holds(j.Call(name=name, params=params), situation)


@attrs.frozen
class _Lab:
    test: str = "4548-4"
    value: str | int | None = None


@pytest.mark.parametrize(
    ("test", "holds"),
    [("hba1c", True), ("HbA1c", True), (" HBA1C ", True), ("4548-4", True), ("2345-7", False)],
)
def test_field_in_matches_any_listed_value_ignoring_case_and_spaces(test: str, holds: bool) -> None:
    assert _holds("field_in", _Lab(test=test), field="test", values="hba1c, 4548-4") is holds


def test_field_in_holds_for_no_empty_value_and_no_text() -> None:
    assert not _holds("field_in", _Lab(test=""), field="test", values="hba1c,")
    assert not _holds("field_in", _Lab(value=7), field="value", values="7")


@pytest.mark.parametrize(
    ("value", "holds"),
    [
        ("6.9", True),
        ("6.9 %", True),
        ("6,5", True),
        ("<4.0", True),
        (6, True),
        ("7.0", False),
        ("7", False),
        ("8.1%", False),
        ("high", False),
        ("", False),
        (None, False),
    ],
)
def test_field_below_reads_the_value_as_a_laboratory_writes_it(
    value: str | int | None, holds: bool
) -> None:
    assert _holds("field_below", _Lab(value=value), field="value", value="7.0") is holds
