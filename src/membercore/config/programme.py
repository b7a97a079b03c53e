"""The whole programme: every part, checked against the others."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast
from zoneinfo import ZoneInfo

import attrs

from membercore.config.benefits import BenefitPackage
from membercore.config.channels import ChannelSettings, check_channels
from membercore.config.common import known_timezone, positive, unique_keys
from membercore.config.experiments import Experiment, apply_overrides
from membercore.config.journeys import Call, JourneyDefinition, shape_problems
from membercore.config.ledger import EarningRules, LedgerConfig
from membercore.config.outreach import EXTERNAL_CHANNELS, OutreachPolicy
from membercore.config.plans import PlanRules
from membercore.config.plausibility import Plausibility
from membercore.config.retention import Retention
from membercore.config.rewards import RewardCatalogue
from membercore.config.segments import SegmentRules, is_derived
from membercore.config.staff import StaffRoster
from membercore.config.tiers import TierLevel, TierRules
from membercore.converters import OMIT_AT_DEFAULT
from membercore.errors import ConfigError
from membercore.facts.icd10 import CODE_TABLE, COMMON_NAMES, is_code

__all__ = ["ProgrammeConfig", "five_levels"]


def five_levels() -> TierRules:
    """The five-level ladder (五级会员) with the reference thresholds."""
    return TierRules(
        levels=(
            TierLevel(key="L1", label="普通", threshold=0),
            TierLevel(key="L2", label="银卡", threshold=1_000),
            TierLevel(key="L3", label="金卡", threshold=5_000, min_visits=6),
            TierLevel(key="L4", label="铂金", threshold=15_000),
            TierLevel(key="L5", label="钻石", threshold=40_000, min_spend_fen=5_000_000),
        ),
        grace_days=30,
    )


def _channels(_instance: Any, _attribute: Any, value: Mapping[str, ChannelSettings]) -> None:
    check_channels(value)


@attrs.frozen(kw_only=True)
class ProgrammeConfig:
    """The whole membership programme.

    Attributes:
        name: the programme's name, shown to people.
        version: the version of this configuration.
        timezone: the business calendar's timezone (daily caps, month ends, reviews).
        ledger: the points ledger's rules.
        earning: the earning rules.
        tiers: the tier ladder.
        packages: the benefit packages, each attached to a tier, a plan or a programme.
        plans: the paid plans.
        rewards: the rewards catalogue.
        outreach: how, when and how often members may be reached.
        segments: how tags and value segments are derived.
        journeys: the patient journeys (their shape is checked here; the functions
            they name are checked against the registry when they are run).
        staff: who may be assigned tasks and members.
        channels: the channels in use (``wecom``, ``sms``, ``email``), each carried by
            a plugin's factory with its options (:class:`ChannelSettings`); none: the
            dispatcher is given its channels in code, or writes to the console.
        plausibility: bounds on amounts, points and instants; what lies outside them is
            refused.
        experiments: the experiments (A/B tests) running on the programme: each variant's
            overrides are checked here, by building the programme its members decide
            under (:meth:`variant_config`).
        retention: how long the details of messages sent and inputs refused are kept
            (:class:`~membercore.config.retention.Retention`).
    """

    name: str = "会员计划"
    version: int = attrs.field(default=1, validator=positive)
    timezone: str = attrs.field(default="Asia/Shanghai", validator=known_timezone)
    ledger: LedgerConfig = attrs.field(factory=LedgerConfig)
    earning: EarningRules = attrs.field(factory=EarningRules)
    tiers: TierRules = attrs.field(factory=five_levels)
    packages: tuple[BenefitPackage, ...] = attrs.field(default=(), validator=unique_keys)
    plans: PlanRules = attrs.field(factory=PlanRules)
    rewards: RewardCatalogue = attrs.field(factory=RewardCatalogue)
    outreach: OutreachPolicy = attrs.field(factory=OutreachPolicy)
    segments: SegmentRules = attrs.field(factory=SegmentRules)
    journeys: tuple[JourneyDefinition, ...] = attrs.field(default=(), validator=unique_keys)
    staff: StaffRoster = attrs.field(factory=StaffRoster)
    plausibility: Plausibility = attrs.field(factory=Plausibility)
    channels: Mapping[str, ChannelSettings] = attrs.field(factory=dict, validator=_channels)
    experiments: tuple[Experiment, ...] = attrs.field(
        default=(), validator=unique_keys, metadata={OMIT_AT_DEFAULT: True}
    )
    retention: Retention = attrs.field(factory=Retention, metadata={OMIT_AT_DEFAULT: True})
    # The programmes of the variants that override something, by the (experiment,
    # variant) pairs a member holds; built when the programme is checked, and for a
    # member in several experiments when first asked for.
    _variants: dict[tuple[tuple[str, str], ...], ProgrammeConfig] = attrs.field(
        init=False, factory=dict, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        tiers = set(self.tiers.keys)
        plans = {plan.key for plan in self.plans.plans}
        _known(
            tiers,
            self.earning.spending.tier_multipliers_pct,
            "earning.spending.tier_multipliers_pct",
        )
        for index, package in enumerate(self.packages):
            _known(tiers, [package.tier] if package.tier else [], f"packages[{index}].tier")
            _known(plans, [package.plan] if package.plan else [], f"packages[{index}].plan")
        for index, plan in enumerate(self.plans.plans):
            floor = [plan.tier_floor] if plan.tier_floor else []
            _known(tiers, floor, f"plans.plans[{index}].tier_floor")
        wrong = [
            (index, journey, problems)
            for index, journey in enumerate(self.journeys)
            if (problems := shape_problems(journey) + self._reference_problems(journey))
        ]
        if wrong:
            # Every journey's problems at once: a roster short of a role names them all.
            index = wrong[0][0]
            problem = " | ".join(
                f"journey {journey.key!r} (journeys[{at}]): " + "; ".join(problems)
                for at, journey, problems in wrong
            )
            raise ConfigError(f"journeys[{index}]", problem)
        for index, reward in enumerate(self.rewards.rewards):
            minimum = [reward.min_tier] if reward.min_tier else []
            _known(tiers, minimum, f"rewards.rewards[{index}].min_tier")
        self._check_disclosures()
        self._check_experiments(plans)

    def _check_experiments(self, plans: set[str]) -> None:
        """Each variant's programme is built, and must pass every check itself.

        Two experiments may not override the same key: a member in both could not
        have both values.
        """
        claimed: dict[str, str] = {}
        bare: ProgrammeConfig | None = None
        for at, experiment in enumerate(self.experiments):
            for name, plan in (
                ("exposure.plan", experiment.exposure.plan),
                ("conversion.plan", experiment.conversion.plan),
            ):
                _known(plans, [plan] if plan else [], f"experiments[{at}].{name}")
            for index, variant in enumerate(experiment.variants):
                where = f"experiments[{at}].variants[{index}].overrides"
                for path in variant.overrides:
                    other = claimed.setdefault(path, experiment.key)
                    if other != experiment.key:
                        raise ConfigError(
                            f"{where}[{path!r}]",
                            f"experiment {other!r} overrides it too; a member in both "
                            "could not have both values",
                        )
                if not variant.overrides:
                    continue
                if bare is None:
                    bare = attrs.evolve(self, experiments=())
                try:
                    built = apply_overrides(bare, variant.overrides)
                except ConfigError as error:
                    raise ConfigError(f"{where}[{error.key!r}]", error.problem) from error
                self._variants[((experiment.key, variant.key),)] = built

    def variant_config(self, chosen: Iterable[tuple[str, str]]) -> ProgrammeConfig:
        """The programme a member assigned to ``chosen`` variants decides under.

        Args:
            chosen: (experiment, variant) pairs; those the programme no longer has (an
                experiment removed, a variant renamed) are passed over.

        Returns:
            This programme when none of the variants overrides anything; else the
            programme with their overrides (and without experiments of its own).
        """
        known = {(e.key, v.key) for e in self.experiments for v in e.variants if v.overrides}
        pairs = tuple(sorted(pair for pair in chosen if pair in known))
        if not pairs:
            return self
        built = self._variants.get(pairs)
        if built is None:
            overrides: dict[str, Any] = {}
            for experiment_key, variant_key in pairs:
                experiment = next(e for e in self.experiments if e.key == experiment_key)
                variant = experiment.variant(variant_key)
                overrides.update(variant.overrides if variant is not None else {})
            built = cast(
                "ProgrammeConfig", apply_overrides(attrs.evolve(self, experiments=()), overrides)
            )
            self._variants[pairs] = built
        return built

    def experiment(self, key: str) -> Experiment | None:
        """The experiment called ``key``, if the programme runs it."""
        return next((e for e in self.experiments if e.key == key), None)

    def _check_disclosures(self) -> None:
        """No template that leaves by WeCom, SMS or e-mail names a health condition.

        Variables are checked by the outreach policy; this checks the literal text for
        what the code tables know: condition names (中文 labels, English keys) and codes.
        """
        rules = (*CODE_TABLE, *self.segments.extra_codes)
        labels = {rule.label for rule in rules if len(rule.label) >= 2} | set(COMMON_NAMES)
        keys = {key for rule in rules for key in rule.conditions}
        for index, template in enumerate(self.outreach.templates):
            if not EXTERNAL_CHANNELS.intersection(template.channels):
                continue
            for language, text in template.texts.items():
                # Full-width letters and digits (Ｅ１１．９) read as their plain forms.
                literal = unicodedata.normalize("NFKC", _PLACEHOLDER.sub(" ", text))
                found = sorted(label for label in labels if label in literal)
                words = set(_WORD.findall(literal.casefold()))
                found += sorted(keys & words)
                found += sorted(c for c in _CODE.findall(literal.upper()) if is_code(c))
                if found:
                    raise ConfigError(
                        f"outreach.templates[{index}].texts.{language}",
                        f"template {template.key!r} names {found} in its text and may go out "
                        f"by {sorted(EXTERNAL_CHANNELS.intersection(template.channels))}; "
                        "health conditions may only be carried by a phone task",
                    )

    def _reference_problems(self, journey: JourneyDefinition) -> list[str]:
        """What the journey's guards and actions name that the programme does not have.

        Plans, templates, bonuses, journeys, tiers, the staff roster's roles and the tags
        facts make; each problem names its step (``entry`` for the entry's guards and
        actions).
        """
        problems: list[str] = []
        for step, call in _named_calls(journey):
            problems += [f"step {step!r}: {p}" for p in self._call_problems(call.name, call.params)]
        return problems

    def _call_problems(self, name: str, params: Mapping[str, object]) -> list[str]:
        check = _CHECKS.get(name)
        return check(self, name, params) if check is not None else []

    @property
    def programme_keys(self) -> frozenset[str]:
        """Every disease programme a package, a plan or a journey's enrolment names."""
        calls = [call for journey in self.journeys for call in _calls(journey)]
        return frozenset(
            {p.programme for p in self.packages if p.programme}
            | {plan.programme for plan in self.plans.plans if plan.programme}
            | {str(c.params.get("programme")) for c in calls if c.name == "enrol"}
        )

    @property
    def tz(self) -> ZoneInfo:
        """The programme's timezone."""
        return ZoneInfo(self.timezone)


#: The most points a journey's bonus may award at once, and days an offer or task may run.
_MAX_ACTION_POINTS = 100_000
_MAX_DAYS = 3_660


def _calls(journey: JourneyDefinition) -> list[Call]:
    """Every action a journey names, on entry and on its transitions."""
    return [*journey.entry_actions, *(a for t in journey.transitions for a in t.actions)]


def _named_calls(journey: JourneyDefinition) -> list[tuple[str, Call]]:
    """Every guard and action a journey names, with the step that names it."""
    entry = [("entry", call) for call in (*journey.entry_guards, *journey.entry_actions)]
    steps = [(t.step, call) for t in journey.transitions for call in (*t.guards, *t.actions)]
    return entry + steps


def _within(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _send_message(config: ProgrammeConfig, _name: str, params: Mapping[str, object]) -> list[str]:
    template = config.outreach.template(str(params.get("template")))
    if template is None:
        return [f"send_message: no template {params.get('template')!r}"]
    if template.purpose != params.get("purpose"):
        return [
            f"send_message: template {template.key!r} is for {template.purpose}, "
            f"not {params.get('purpose')}"
        ]
    return []


def _award_points(config: ProgrammeConfig, _name: str, params: Mapping[str, object]) -> list[str]:
    problems = []
    if params.get("bonus") not in config.earning.bonuses:
        known = sorted(config.earning.bonuses)
        problems.append(
            f"award_points: no bonus {params.get('bonus')!r} in earning.bonuses (known: {known})"
        )
    if not _within(params.get("points"), 1, _MAX_ACTION_POINTS):
        problems.append(f"award_points: points must be 1 to {_MAX_ACTION_POINTS}")
    return problems


def _plan(config: ProgrammeConfig, name: str, params: Mapping[str, object]) -> list[str]:
    plans = {plan.key for plan in config.plans.plans}
    if params.get("plan") not in plans:
        return [f"{name}: no plan {params.get('plan')!r} (known: {sorted(plans)})"]
    return []


def _make_offer(config: ProgrammeConfig, name: str, params: Mapping[str, object]) -> list[str]:
    problems = _plan(config, name, params)
    if not _within(params.get("valid_days"), 1, _MAX_DAYS):
        problems.append(f"make_offer: valid_days must be 1 to {_MAX_DAYS}")
    return problems


def _role(config: ProgrammeConfig, name: str, role: object) -> list[str]:
    """Whoever a journey asks work of must be on the roster, or every such step would wait."""
    roles = config.staff.roles
    if role not in roles:
        return [
            f"{name}: nobody on the staff roster has the role {role!r} "
            f"(roles on the roster: {sorted(roles)})"
        ]
    return []


def _create_task(config: ProgrammeConfig, name: str, params: Mapping[str, object]) -> list[str]:
    problems = _role(config, name, params.get("role"))
    if not _within(params.get("due_hours"), 0, _MAX_DAYS * 24):
        problems.append(f"create_task: due_hours must be 0 to {_MAX_DAYS * 24}")
    return problems


def _assign_health_manager(
    config: ProgrammeConfig, name: str, _params: Mapping[str, object]
) -> list[str]:
    return _role(config, name, "health_manager")


def _start_journey(config: ProgrammeConfig, _name: str, params: Mapping[str, object]) -> list[str]:
    if params.get("journey") not in {journey.key for journey in config.journeys}:
        return [f"start_journey: no journey {params.get('journey')!r}"]
    return []


def _set_tag(_config: ProgrammeConfig, name: str, params: Mapping[str, object]) -> list[str]:
    tag = str(params.get("tag"))
    if is_derived(tag):
        return [f"{name}: the tag {tag!r} is derived from facts; no journey sets or removes it"]
    return []


def _test_tag(config: ProgrammeConfig, name: str, params: Mapping[str, object]) -> list[str]:
    # Tags outside the derived namespaces are open: journeys and staff make their own.
    tag = str(params.get("tag"))
    if is_derived(tag) and tag not in config.segments.derived_tags:
        return [f"{name}: {tag!r} is no tag facts make (a misspelling?)"]
    return []


def _tier(config: ProgrammeConfig, name: str, params: Mapping[str, object]) -> list[str]:
    if params.get("tier") not in config.tiers.keys:
        return [f"{name}: no tier {params.get('tier')!r} (known: {list(config.tiers.keys)})"]
    return []


_Check = Callable[[ProgrammeConfig, str, Mapping[str, object]], list[str]]

#: What each built-in action and condition names, checked against the programme.
_CHECKS: Mapping[str, _Check] = {
    "send_message": _send_message,
    "award_points": _award_points,
    "make_offer": _make_offer,
    "create_task": _create_task,
    "assign_health_manager": _assign_health_manager,
    "start_journey": _start_journey,
    "add_tag": _set_tag,
    "remove_tag": _set_tag,
    "has_tag": _test_tag,
    "lacks_tag": _test_tag,
    "has_plan": _plan,
    "tier_at_least": _tier,
}


_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[a-z][a-z0-9_]*")
_CODE = re.compile(r"(?<![A-Z0-9])[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,8})?(?![A-Z0-9])")


def _known(known: set[str], named: Iterable[str], key: str) -> None:
    for name in named:
        if name not in known:
            raise ConfigError(key, f"{name!r} is not defined in the programme")
