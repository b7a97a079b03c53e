"""The registry of what journeys may name: condition functions and actions.

Guards name condition functions; actions name the intents a step may issue. Each has
typed parameters, checked when a journey is validated, so a misspelt name or a wrong
parameter is found when the programme is loaded, not when a patient reaches the step.
Plugins extend a registry with :meth:`Registry.with_condition` and
:meth:`Registry.with_action`; the built-in ones come from :func:`builtin_registry`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from membercore.config.journeys import Call, ParamValue
from membercore.config.programme import ProgrammeConfig

__all__ = [
    "ActionSpec",
    "ConditionFn",
    "ConditionSpec",
    "Parameter",
    "Registry",
    "Situation",
    "builtin_registry",
    "problems_with",
]


@attrs.frozen(kw_only=True)
class Situation:
    """What a guard may look at when a step is decided.

    Attributes:
        member_id: the member.
        now: the instant of the step (a timer's due instant for timed steps).
        config: the programme.
        message: the fact or event that triggered the step (``None`` for timers).
        tier: the member's tier key.
        tags: the member's tags.
        plans: the member's active paid plans.
        programmes: the disease programmes the member is enrolled in.
        flags: named yes/no facts the application computes for guards (e.g.
            ``health_manager_used``, ``spend_stable``, ``relatives_seen``).
        counters: the journey instance's counters (e.g. missed rechecks).
        consented: the purposes the member may still be reached for on some channel
            (a consent withdrawal ends the journeys whose purpose is not among them).
    """

    member_id: str
    now: datetime
    config: ProgrammeConfig
    message: object | None = None
    tier: str | None = None
    tags: frozenset[str] = frozenset()
    plans: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    flags: Mapping[str, bool] = attrs.field(factory=dict)
    counters: Mapping[str, int] = attrs.field(factory=dict)
    consented: frozenset[str] = frozenset()


ConditionFn = Callable[[Situation, Mapping[str, ParamValue]], bool]


@attrs.frozen(kw_only=True)
class Parameter:
    """A typed parameter of a condition or an action."""

    name: str
    kind: type[str] | type[int] | type[bool]
    required: bool = True


@attrs.frozen(kw_only=True)
class ConditionSpec:
    """A condition function guards may name."""

    name: str
    params: tuple[Parameter, ...]
    fn: ConditionFn
    doc: str


@attrs.frozen(kw_only=True)
class ActionSpec:
    """An action steps may issue (an intent the application carries out).

    Attributes:
        name: the name steps use.
        params: its typed parameters.
        doc: what it does.
        commands: for a plugin's action, what carries it out: the issued action
            (:class:`~membercore.journeys.JourneyActionIssued`) to the commands of the
            parts that do it (a message request, a task, a bonus...). The programme's
            own actions are carried out by :func:`membercore.service.actions.commands_for`.
    """

    name: str
    params: tuple[Parameter, ...]
    doc: str
    commands: Callable[[Any], Sequence[object]] | None = None


@attrs.frozen(kw_only=True)
class Registry:
    """Condition functions and actions by name. Immutable: ``with_*`` return a new one."""

    conditions: Mapping[str, ConditionSpec] = attrs.field(factory=dict)
    actions: Mapping[str, ActionSpec] = attrs.field(factory=dict)

    def with_condition(self, spec: ConditionSpec) -> Registry:
        """This registry and one more condition (replacing one of the same name)."""
        return attrs.evolve(self, conditions={**self.conditions, spec.name: spec})

    def with_action(self, spec: ActionSpec) -> Registry:
        """This registry and one more action (replacing one of the same name)."""
        return attrs.evolve(self, actions={**self.actions, spec.name: spec})

    def holds(self, call: Call, situation: Situation) -> bool:
        """Whether the condition ``call`` names holds in ``situation``."""
        return self.conditions[call.name].fn(situation, call.params)


def problems_with(
    call: Call, specs: Mapping[str, ConditionSpec] | Mapping[str, ActionSpec]
) -> list[str]:
    """What is wrong with a guard or action: unknown name, missing, unknown or mistyped params."""
    spec = specs.get(call.name)
    if spec is None:
        return [f"unknown {call.name!r} (known: {', '.join(sorted(specs))})"]
    problems = []
    declared = {param.name: param for param in spec.params}
    for param in spec.params:
        if param.required and param.name not in call.params:
            problems.append(f"{call.name}: missing parameter {param.name!r}")
    for name, value in call.params.items():
        expected = declared.get(name)
        if expected is None:
            problems.append(f"{call.name}: unknown parameter {name!r}")
        elif type(value) is not expected.kind:
            problems.append(
                f"{call.name}: parameter {name!r} must be {expected.kind.__name__}, got {value!r}"
            )
    return problems


# --- built-in conditions ----------------------------------------------------------------


def _field(situation: Situation, name: Any) -> Any:
    return getattr(situation.message, str(name), None)


def _field_equals(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    return str(_field(situation, params["field"])) == str(params["value"])


def _field_at_least(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    value = _field(situation, params["field"])
    return isinstance(value, int) and value >= int(params["value"])


def _field_starts_with(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    value = _field(situation, params["field"])
    return isinstance(value, str) and value.upper().startswith(str(params["prefix"]).upper())


def _field_in(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    value = _field(situation, params["field"])
    if not isinstance(value, str):
        return False
    wanted = {item.strip().casefold() for item in str(params["values"]).split(",")}
    return value.strip().casefold() in wanted - {""}


#: A decimal number as a laboratory reports it: ``6.5``, ``6.5 %``, ``<4.0``, ``7,2``.
_NUMBER = re.compile(r"\s*[<>≤≥=]?\s*(\d+(?:[.,]\d+)?)\s*%?\s*")


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    found = _NUMBER.fullmatch(value) if isinstance(value, str) else None
    return Decimal(found.group(1).replace(",", ".")) if found else None


def _field_below(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    value = _decimal(_field(situation, params["field"]))
    limit = _decimal(str(params["value"]))
    return value is not None and limit is not None and value < limit


def _tier_at_least(situation: Situation, params: Mapping[str, ParamValue]) -> bool:
    ladder = situation.config.tiers
    tier = situation.tier or ladder.levels[0].key
    return ladder.rank(tier) >= ladder.rank(str(params["tier"]))


def _s(name: str, kind: type[str] | type[int] | type[bool] = str) -> Parameter:
    return Parameter(name=name, kind=kind)


_BUILTIN_CONDITIONS = (
    ConditionSpec(
        name="field_equals",
        params=(_s("field"), _s("value")),
        fn=_field_equals,
        doc="The triggering fact's ``field`` equals ``value`` (compared as text).",
    ),
    ConditionSpec(
        name="field_at_least",
        params=(_s("field"), _s("value", int)),
        fn=_field_at_least,
        doc="The triggering fact's integer ``field`` is at least ``value``.",
    ),
    ConditionSpec(
        name="field_starts_with",
        params=(_s("field"), _s("prefix")),
        fn=_field_starts_with,
        doc="The triggering fact's ``field`` starts with ``prefix`` (e.g. an ICD-10 ``E11``).",
    ),
    ConditionSpec(
        name="field_in",
        params=(_s("field"), _s("values")),
        fn=_field_in,
        doc=(
            "The triggering fact's text ``field`` is one of the comma-separated ``values``, "
            "ignoring case and surrounding spaces (``hba1c,4548-4``)."
        ),
    ),
    ConditionSpec(
        name="field_below",
        params=(_s("field"), _s("value")),
        fn=_field_below,
        doc=(
            "The triggering fact's ``field``, read as a decimal number (``6.5``, ``6.5 %``), "
            "is below the decimal ``value`` (``7.0``); never when it is no number."
        ),
    ),
    ConditionSpec(
        name="has_tag",
        params=(_s("tag"),),
        fn=lambda situation, params: str(params["tag"]) in situation.tags,
        doc="The member carries ``tag``.",
    ),
    ConditionSpec(
        name="lacks_tag",
        params=(_s("tag"),),
        fn=lambda situation, params: str(params["tag"]) not in situation.tags,
        doc="The member does not carry ``tag``.",
    ),
    ConditionSpec(
        name="tier_at_least",
        params=(_s("tier"),),
        fn=_tier_at_least,
        doc="The member's tier is ``tier`` or higher.",
    ),
    ConditionSpec(
        name="has_plan",
        params=(_s("plan"),),
        fn=lambda situation, params: str(params["plan"]) in situation.plans,
        doc="The member holds the paid plan ``plan``.",
    ),
    ConditionSpec(
        name="has_plan_prefix",
        params=(_s("prefix"),),
        fn=lambda situation, params: any(
            plan.startswith(str(params["prefix"])) for plan in situation.plans
        ),
        doc="The member holds a paid plan whose key starts with ``prefix`` (``annual``).",
    ),
    ConditionSpec(
        name="in_programme",
        params=(_s("programme"),),
        fn=lambda situation, params: str(params["programme"]) in situation.programmes,
        doc="The member is enrolled in the disease programme ``programme``.",
    ),
    ConditionSpec(
        name="flag",
        params=(_s("name"), Parameter(name="is", kind=bool, required=False)),
        fn=lambda situation, params: (
            situation.flags.get(str(params["name"]), False) == params.get("is", True)
        ),
        doc="The application's yes/no fact ``name`` is ``is`` (default yes).",
    ),
    ConditionSpec(
        name="counter_at_least",
        params=(_s("name"), _s("value", int)),
        fn=lambda situation, params: (
            situation.counters.get(str(params["name"]), 0) >= int(params["value"])
        ),
        doc="The journey's counter ``name`` is at least ``value``.",
    ),
)

_BUILTIN_ACTIONS = (
    ActionSpec(
        name="send_message",
        params=(_s("template"), _s("purpose")),
        doc="Request a message (template + purpose); the outreach policy decides if and how.",
    ),
    ActionSpec(
        name="create_task",
        params=(_s("kind"), _s("role"), _s("due_hours", int)),
        doc="Create a staff task (call, visit, review) for a role, due in ``due_hours``.",
    ),
    ActionSpec(
        name="assign_health_manager",
        params=(),
        doc="Assign a health manager, balanced by case load.",
    ),
    ActionSpec(
        name="award_points",
        params=(_s("bonus"), _s("points", int)),
        doc="Award a bonus of ``earning.bonuses``.",
    ),
    ActionSpec(
        name="make_offer",
        params=(_s("plan"), _s("valid_days", int)),
        doc="Offer a paid plan (an upgrade), with a code and an expiry.",
    ),
    ActionSpec(name="enrol", params=(_s("programme"),), doc="Enrol in a disease programme."),
    ActionSpec(name="add_tag", params=(_s("tag"),), doc="Add a tag to the member."),
    ActionSpec(name="remove_tag", params=(_s("tag"),), doc="Remove a tag from the member."),
    ActionSpec(name="start_journey", params=(_s("journey"),), doc="Start another journey."),
    ActionSpec(name="count", params=(_s("name"),), doc="Add one to the journey's counter."),
    ActionSpec(name="reset", params=(_s("name"),), doc="Set the journey's counter to zero."),
)


def builtin_registry() -> Registry:
    """The condition functions and actions membercore ships."""
    return Registry(
        conditions={spec.name: spec for spec in _BUILTIN_CONDITIONS},
        actions={spec.name: spec for spec in _BUILTIN_ACTIONS},
    )
