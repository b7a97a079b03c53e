"""What a journey's action asks of the rest of the programme, as that part's command.

A journey step issues intents (:class:`~membercore.journeys.JourneyActionIssued`);
:func:`commands_for` turns each into the command of the part that carries it out — a
message request for the outreach policy, a task or an assignment for staff work, a
bonus for the points ledger, an offer, an enrolment, a tag — keyed by the action's
deterministic key, so that carrying an action out twice changes nothing. ``count``,
``reset`` and ``start_journey`` are the journey runtime's own and need no command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from membercore.consent import Purpose
from membercore.journeys import JourneyActionIssued, Registry
from membercore.ledger.commands import AwardBonus
from membercore.outreach import RequestMessage
from membercore.segments import AddTag, RemoveTag
from membercore.staff.offers import offer_from_action
from membercore.staff.programmes import enrolment_from_action
from membercore.staff.tasks import AssignHealthManager, task_from_action

__all__ = ["JOURNEY_ONLY", "commands_for"]

#: Actions the journey runtime carries out itself.
JOURNEY_ONLY = frozenset({"count", "reset", "start_journey"})


def commands_for(
    action: JourneyActionIssued,
    variables: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> list[Any]:
    """The commands that carry out a journey action (none for the runtime's own).

    Args:
        action: the action a journey step issued.
        variables: values for a message template's variables (the member's name...).
        registry: the registry the journeys ran with; a plugin's action is carried out
            by the ``commands`` of its :class:`~membercore.journeys.ActionSpec`.

    Raises:
        ValueError: an action the programme does not know (a plugin's action is carried
            out by the plugin).
    """
    name, params = action.action.name, action.action.params
    if name in JOURNEY_ONLY:
        return []
    if name == "send_message":
        return [
            RequestMessage(
                key=action.key,
                member_id=action.member_id,
                template_key=str(params["template"]),
                # checked: the programme only loads journeys that send their templates' purpose
                purpose=cast("Purpose", str(params["purpose"])),
                variables=dict(variables or {}),
                reason=action.explanation,
                journey=action.instance_id,
            )
        ]
    simple: dict[str, Callable[[], object]] = {
        "create_task": lambda: task_from_action(action),
        "make_offer": lambda: offer_from_action(action),
        "enrol": lambda: enrolment_from_action(action),
        "assign_health_manager": lambda: AssignHealthManager(
            key=action.key, member_id=action.member_id, reason=action.explanation
        ),
        "award_points": lambda: AwardBonus(
            key=action.key,
            member_id=action.member_id,
            rule_id=str(params["bonus"]),
            points=int(params["points"]),
            reason=action.explanation,
        ),
        "add_tag": lambda: AddTag(
            key=action.key,
            member_id=action.member_id,
            tag=str(params["tag"]),
            reason=action.explanation,
        ),
        "remove_tag": lambda: RemoveTag(
            key=action.key,
            member_id=action.member_id,
            tag=str(params["tag"]),
            reason=action.explanation,
        ),
    }
    build = simple.get(name)
    spec = registry.actions.get(name) if registry is not None else None
    if build is None and spec is not None and spec.commands is not None:
        return list(spec.commands(action))
    if build is None:
        raise ValueError(
            f"journey {action.journey} step {action.step}: no part carries out {name!r}"
        )
    return [build()]
