from __future__ import annotations

from datetime import UTC, datetime, timedelta

from membercore.journeys import Call, JourneyActionIssued, builtin_registry
from membercore.service.actions import commands_for
from membercore.staff.tasks import CreateTask
from membercore_clinic_example import NOTIFY_CLINIC

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _issued(**params: str | int) -> JourneyActionIssued:
    return JourneyActionIssued(
        member_id="p-1",
        instance_id="p-1/weight_management/1",
        journey="weight_management",
        step="entry",
        action=Call(name="notify_clinic", params=params),
        key="weight_management:p-1/weight_management/1:entry:lab-1:1:1",
        at=AT,
        explanation="journey weight_management v1 started on lab_result_recorded lab-1",
    )


def test_notify_clinic_is_carried_out_as_a_referral_task_under_the_action_key() -> None:
    registry = builtin_registry().with_action(NOTIFY_CLINIC)
    action = _issued(clinic="nutrition", due_hours=48)
    (task,) = commands_for(action, registry=registry)
    assert task == CreateTask(
        key=action.key,
        member_id="p-1",
        kind="clinic_referral",
        role="nurse",
        due_at=AT + timedelta(hours=48),
        reason=f"refer to the nutrition clinic: {action.explanation}",
    )


def test_notify_clinic_goes_to_the_role_the_journey_names() -> None:
    registry = builtin_registry().with_action(NOTIFY_CLINIC)
    (task,) = commands_for(
        _issued(clinic="nutrition", due_hours=2, role="doctor"), registry=registry
    )
    assert task.role == "doctor"
    assert task.due_at == AT + timedelta(hours=2)


def test_the_same_action_carried_out_twice_asks_for_the_same_task() -> None:
    registry = builtin_registry().with_action(NOTIFY_CLINIC)
    action = _issued(clinic="nutrition", due_hours=48)
    assert commands_for(action, registry=registry) == commands_for(action, registry=registry)
