"""Staff work through the engine as a health manager expects it.

A task nobody on the roster can take waits, unassigned, in the open tasks with the
reason, until it is assigned; a ``task_completed`` fact closes the task it reports; no
offer is made of a plan the member holds; a care message that only a call can carry
becomes a call task. Engines are opened with the first-party stores only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import attrs
import pytest

from membercore import reference_config
from membercore.config import ProgrammeConfig, StaffMember, StaffRoster
from membercore.consent import GrantConsent, WithdrawConsent
from membercore.errors import UnknownStaffError
from membercore.facts import (
    DiagnosisRecorded,
    Discharged,
    PatientRegistered,
    TaskCompleted,
)
from membercore.hookspecs import hookimpl
from membercore.journeys import ActionSpec, Call, JourneyActionIssued, JourneyDefinition, Trigger
from membercore.outreach import MessageRefused, PhoneTaskRequested, RequestMessage
from membercore.plugins import collect, make_plugin_manager
from membercore.serialization import message_from_json
from membercore.service.engine import Engine
from membercore.service.recording import member_key
from membercore.staff import offers, tasks
from membercore.testing.clock import ManualClock
from membercore_adapters.stores import memory, sqlite

SH = ZoneInfo("Asia/Shanghai")
# A Monday morning in Shanghai, outside quiet hours.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
ME = "p-lin"
REFERENCE = reference_config()


def _refer(action: JourneyActionIssued) -> Sequence[object]:
    """A plugin's action: a social worker's visit, for a role the roster may lack."""
    return [
        tasks.CreateTask(
            key=action.key,
            member_id=action.member_id,
            kind="visit",
            role="social_worker",
            due_at=action.at + timedelta(days=2),
            reason=action.explanation,
        )
    ]


class SocialWork:
    """A plugin whose action asks for a social worker."""

    @hookimpl
    def membercore_register_actions(self, register: Callable[[ActionSpec], None]) -> None:
        register(ActionSpec(name="refer_social_work", params=(), doc="A visit.", commands=_refer))


def _referral_journey() -> JourneyDefinition:
    return JourneyDefinition(
        key="social_referral",
        label="社工转介",
        states=("referred",),
        initial="referred",
        final=("referred",),
        entry=Trigger(kind="fact", type="diagnosis_recorded"),
        entry_actions=(Call(name="refer_social_work"),),
    )


def _roster(*extra: StaffMember, managers: bool = True) -> StaffRoster:
    kept = [s for s in REFERENCE.staff.staff if managers or "health_manager" not in s.roles]
    return StaffRoster(staff=(*kept, *extra))


def _needs_manager(journey: JourneyDefinition) -> bool:
    calls = [*journey.entry_actions, *(a for t in journey.transitions for a in t.actions)]
    return any(
        c.name == "assign_health_manager" or c.params.get("role") == "health_manager" for c in calls
    )


def _config(*, managers: bool = True, extra: Sequence[StaffMember] = ()) -> ProgrammeConfig:
    """The reference programme with the referral journey, on a roster with or without managers."""
    journeys = [j for j in REFERENCE.journeys if managers or not _needs_manager(j)]
    return attrs.evolve(
        REFERENCE,
        journeys=(*journeys, _referral_journey()),
        staff=_roster(*extra, managers=managers),
    )


Open = Callable[[ProgrammeConfig], Engine]


@pytest.fixture(params=["memory", "sqlite"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    """Opens engines on one store (memory, or one SQLite file) under a config of the test's."""
    clock = ManualClock(T0)
    opened: list[Engine] = []
    store = memory.MemoryStore() if request.param == "memory" else None

    def open_(config: ProgrammeConfig) -> Engine:
        manager = make_plugin_manager(
            load_entrypoints=False, plugins=[memory, sqlite, SocialWork()]
        )
        if store is not None:
            engine = Engine(store, config, clock=clock, plugins=collect(manager, config))
        else:
            url = f"sqlite:///{tmp_path}/m.db"
            engine = Engine.open(url, config=config, clock=clock, plugin_manager=manager)
        opened.append(engine)
        return engine

    yield open_
    for engine in opened:
        if store is None:
            engine.close()


def _register(engine: Engine, *, channels: tuple[str, ...] = ()) -> None:
    engine.ingest([PatientRegistered(fact_id="reg", patient_id=ME, occurred_at=T0, name="林女士")])
    if channels:
        engine.execute(
            GrantConsent(
                key="consent-care",
                member_id=ME,
                purpose="care",
                channels=channels,  # type: ignore[arg-type]
                given_by=ME,
                source="app",
            )
        )


def _diagnosis(fact_id: str = "dx-1", icd10: str = "Z71.1") -> DiagnosisRecorded:
    return DiagnosisRecorded(
        fact_id=fact_id, patient_id=ME, occurred_at=T0, visit_id="v-1", icd10=icd10
    )


def _made(engine: Engine, kind: type[Any]) -> list[Any]:
    journal = [message_from_json(e.payload) for e in engine.store.events(member_key(ME))]
    return [event for event in journal if isinstance(event, kind)]


# -- a task nobody can take waits in the unassigned queue ---------------------------------


def test_a_task_for_a_role_nobody_has_waits_unassigned_with_its_reason(opener: Open) -> None:
    engine = opener(_config())
    _register(engine)
    report = engine.ingest([_diagnosis()])
    assert report.rejected == 0
    engine.tick(T0 + timedelta(days=40))
    assert engine.dead_letters() == []
    (row,) = [row for row in engine.open_tasks() if row.role == "social_worker"]
    assert row.assignee is None
    assert row.unassigned_reason is not None
    assert row.unassigned_reason.startswith("无可分配人员")
    assert "social_worker" in row.unassigned_reason
    task = engine.member(ME).work.tasks[row.task_key]
    assert (task.status, task.assignee, task.unassigned_reason) == (
        "open",
        None,
        row.unassigned_reason,
    )


def test_an_unassigned_task_is_assigned_later_to_someone_with_its_role(opener: Open) -> None:
    engine = opener(_config())
    _register(engine)
    engine.ingest([_diagnosis()])
    (row,) = [row for row in engine.open_tasks() if row.role == "social_worker"]
    with pytest.raises(UnknownStaffError, match="social_worker"):
        engine.execute(
            tasks.AssignTask(
                key="as-0", member_id=ME, task_key=row.task_key, staff_id="rn-01", by="sup-1"
            )
        )
    social = StaffMember(key="sw-01", name="孙社工", roles=("social_worker",))
    later = opener(_config(extra=(social,)))
    made = later.execute(
        tasks.AssignTask(
            key="as-1", member_id=ME, task_key=row.task_key, staff_id="sw-01", by="sup-1"
        )
    )
    work = [type(event) for event in made if isinstance(event, get_args(tasks.WorkEvent))]
    assert work == [tasks.TaskAssigned]  # a visit is no manager assignment
    (assigned,) = [r for r in later.open_tasks() if r.task_key == row.task_key]
    assert (assigned.assignee, assigned.unassigned_reason) == ("sw-01", None)
    assert later.member(ME).work.tasks[row.task_key].assignee == "sw-01"


def test_no_health_manager_on_the_roster_leaves_the_assignment_waiting_not_refused(
    opener: Open,
) -> None:
    engine = opener(_config(managers=False))
    _register(engine)
    report = engine.ingest([tasks.AssignHealthManager(key="hm-ask", member_id=ME, reason="规则B")])
    assert (report.applied, report.rejected) == (1, 0)
    assert engine.dead_letters() == []
    (row,) = [row for row in engine.open_tasks() if row.kind == "assign_health_manager"]
    assert (row.role, row.assignee) == ("health_manager", None)
    assert "health_manager" in (row.unassigned_reason or "")
    assert engine.member(ME).work.health_manager is None
    # The roster gains a manager; the supervisor gives them the member.
    later = opener(_config())
    later.execute(
        tasks.AssignTask(
            key="as-1", member_id=ME, task_key=row.task_key, staff_id="hm-02", by="sup-1"
        )
    )
    work = later.member(ME).work
    assert work.health_manager == "hm-02"
    assert work.tasks[row.task_key].status == "closed"
    assert [r for r in later.open_tasks() if r.task_key == row.task_key] == []


# -- a task_completed fact closes its task ------------------------------------------------


def test_a_task_completed_fact_closes_the_task_it_reports_with_its_outcome(opener: Open) -> None:
    engine = opener(_config())
    _register(engine)
    due = T0 + timedelta(days=1)
    engine.execute(
        tasks.CreateTask(key="t-1", member_id=ME, kind="call", role="nurse", due_at=due, reason="r")
    )
    done = TaskCompleted(
        fact_id="tc-1", patient_id=ME, occurred_at=T0, task_key="t-1", outcome="rebooked"
    )
    report = engine.ingest(
        [
            done,
            TaskCompleted(
                fact_id="tc-2", patient_id=ME, occurred_at=T0, task_key="t-1", outcome="again"
            ),
            TaskCompleted(
                fact_id="tc-3", patient_id=ME, occurred_at=T0, task_key="nope", outcome="x"
            ),
        ]
    )
    assert (report.applied, report.rejected) == (3, 0)
    task = engine.member(ME).work.tasks["t-1"]
    assert (task.status, task.outcome) == ("closed", "rebooked")
    assert [r.task_key for r in engine.open_tasks()] == []
    (closed,) = _made(engine, tasks.TaskClosed)
    assert closed.outcome == "rebooked"


# -- no offer of a plan the member holds --------------------------------------------------


def _discharge(fact_id: str) -> Discharged:
    return Discharged(
        fact_id=fact_id, patient_id=ME, occurred_at=T0, visit_id=f"v-{fact_id}", department="ortho"
    )


def test_no_offer_is_made_of_a_plan_the_member_holds_and_the_reason_is_kept(opener: Open) -> None:
    engine = opener(_config())
    _register(engine)
    engine.subscribe(ME, "annual_599", key="sub-1", subscription_id="s-1")  # pending payment
    report = engine.ingest([_discharge("dc-1")])
    assert (report.applied, report.rejected) == (1, 0)
    assert engine.member(ME).offers.offers == {}
    (withheld,) = _made(engine, offers.OfferWithheld)
    assert withheld.plan_key == "annual_599"
    assert "s-1" in withheld.explanation
    assert withheld.explanation.startswith("已持有")
    engine.record_payment(ME, key="pay-1", subscription_id="s-1", amount_fen=59_900, paid_at=T0)
    engine.ingest([_discharge("dc-2")])  # active now: still no offer
    assert engine.member(ME).offers.offers == {}
    assert len(_made(engine, offers.OfferWithheld)) == 2


def test_an_offer_of_a_plan_the_member_does_not_hold_is_made(opener: Open) -> None:
    engine = opener(_config())
    _register(engine)
    engine.subscribe(ME, "annual_299", key="sub-1", subscription_id="s-1")
    engine.ingest([_discharge("dc-1")])
    (offer,) = engine.member(ME).offers.offers.values()
    assert offer.plan_key == "annual_599"


# -- a care message only a call can carry ------------------------------------------------


def _ask(engine: Engine, key: str, template: str, purpose: str = "care") -> tuple[object, ...]:
    return engine.execute(
        RequestMessage(
            key=key,
            member_id=ME,
            template_key=template,
            purpose=purpose,  # type: ignore[arg-type]
            variables={"name": "林女士"},
            reason="staff",
        )
    )


def test_a_care_message_to_a_member_reached_only_by_phone_becomes_a_call_task(
    opener: Open,
) -> None:
    engine = opener(_config())
    _register(engine, channels=("phone",))
    made = _ask(engine, "ask-1", "annual_welcome")  # goes by WeCom, SMS or e-mail only
    assert not [event for event in made if isinstance(event, MessageRefused)]
    (call,) = [event for event in made if isinstance(event, PhoneTaskRequested)]
    assert "林女士" in call.text
    (row,) = [row for row in engine.open_tasks() if row.task_key == call.message_id]
    assert (row.kind, row.role, row.assignee) == ("call", "call_centre", None)
    assert "call_centre" in (row.unassigned_reason or "")


def test_a_members_call_task_goes_to_their_own_health_manager(opener: Open) -> None:
    engine = opener(_config())
    _register(engine, channels=("phone",))
    engine.execute(tasks.AssignHealthManager(key="hm-1", member_id=ME, reason="规则B"))
    manager = engine.member(ME).work.health_manager
    assert manager is not None
    made = _ask(engine, "ask-1", "annual_welcome")
    (call,) = [event for event in made if isinstance(event, PhoneTaskRequested)]
    (row,) = [row for row in engine.open_tasks() if row.task_key == call.message_id]
    assert (row.role, row.assignee, row.unassigned_reason) == ("health_manager", manager, None)
    # The call reported done closes it.
    engine.ingest(
        [
            TaskCompleted(
                fact_id="tc-1",
                patient_id=ME,
                occurred_at=T0,
                task_key=call.message_id,
                outcome="reached",
            )
        ]
    )
    assert [row for row in engine.open_tasks() if row.task_key == call.message_id] == []


def test_withdrawing_care_closes_the_call_task_in_the_members_record_too(opener: Open) -> None:
    engine = opener(_config())
    _register(engine, channels=("phone",))
    (call,) = [
        e for e in _ask(engine, "ask-1", "annual_welcome") if isinstance(e, PhoneTaskRequested)
    ]
    engine.execute(
        WithdrawConsent(key="w-1", member_id=ME, purpose="care"), now=T0 + timedelta(minutes=1)
    )
    assert engine.member(ME).work.tasks[call.message_id].status == "closed"
    assert [row for row in engine.open_tasks() if row.task_key == call.message_id] == []


def test_a_marketing_message_to_a_member_reached_only_by_phone_is_still_refused(
    opener: Open,
) -> None:
    engine = opener(_config())
    _register(engine)
    engine.execute(
        GrantConsent(
            key="consent-mkt",
            member_id=ME,
            purpose="marketing",
            channels=("phone",),
            given_by=ME,
            source="app",
        )
    )
    (refused,) = [
        e
        for e in _ask(engine, "ask-1", "family_offer", "marketing")
        if isinstance(e, MessageRefused)
    ]
    assert refused.reason == "no_consent"
