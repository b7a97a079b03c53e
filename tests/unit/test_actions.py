"""Every journey action becomes the command of the part that carries it out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from membercore import AwardBonus, journeys, reference_config, segments
from membercore.ledger import LedgerState
from membercore.ledger import decide as ledger_decide
from membercore.outreach import RequestMessage
from membercore.service.actions import JOURNEY_ONLY, commands_for
from membercore.staff import offers, programmes, tasks

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 30, 10, 0, tzinfo=SH)
ME = "p-chen"


def _issued(action: str, **params: object) -> journeys.JourneyActionIssued:
    return journeys.JourneyActionIssued(
        member_id=ME,
        instance_id=f"{ME}/birthday/1",
        journey="birthday",
        step="greet",
        action=journeys.Call(name=action, params=params),  # type: ignore[arg-type]
        key=f"birthday:{ME}/birthday/1:greet:timer:1:1",
        at=NOW,
        explanation="journey birthday step greet",
    )


EXPECTED = {
    "send_message": ({"template": "birthday", "purpose": "marketing"}, RequestMessage),
    "create_task": ({"kind": "call", "role": "nurse", "due_hours": 24}, tasks.CreateTask),
    "assign_health_manager": ({}, tasks.AssignHealthManager),
    "award_points": ({"bonus": "birthday", "points": 200}, AwardBonus),
    "make_offer": ({"plan": "annual_599", "valid_days": 7}, offers.MakeOffer),
    "enrol": ({"programme": "diabetes"}, programmes.Enrol),
    "add_tag": ({"tag": "vip"}, segments.AddTag),
    "remove_tag": ({"tag": "vip"}, segments.RemoveTag),
}


def test_every_built_in_action_is_carried_out_by_some_part() -> None:
    built_in = set(journeys.builtin_registry().actions)
    assert built_in == set(EXPECTED) | JOURNEY_ONLY


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_action_becomes_its_parts_command_under_the_actions_key(name: str) -> None:
    params, kind = EXPECTED[name]
    (command,) = commands_for(_issued(name, **params), {"name": "陈先生"})
    assert isinstance(command, kind)
    assert command.key == _issued(name).key
    assert command.member_id == ME


def test_the_runtimes_own_actions_need_no_command() -> None:
    assert commands_for(_issued("count", name="missed")) == []
    assert commands_for(_issued("start_journey", journey="member_day")) == []


def test_the_birthday_bonus_reaches_the_ledger_once() -> None:
    (bonus,) = commands_for(_issued("award_points", bonus="birthday", points=200))
    ledger = LedgerState(member_id=ME)
    (posting,) = ledger_decide(bonus, ledger, reference_config(), NOW)
    assert posting.points == 200
    assert posting.provenance.rule_id == "earning.bonuses.birthday"


def test_an_unknown_action_is_refused_naming_the_journey_and_step() -> None:
    with pytest.raises(ValueError, match="birthday step greet"):
        commands_for(_issued("launch_rocket"))
