"""Experiments (A/B 测试): variants of the programme shown to members split at random.

An experiment names its variants, each a weight and overrides of configuration keys
written as dotted paths (``plans.plans.annual_999.price_fen``: a list of keyed items is
entered by an item's ``key``, a table by its key). The first variant is the control
unless ``control`` names another. Overrides reach the parts a member's own decisions
read: ``plans``, ``outreach`` and ``earning``. Each variant's programme must pass every
check the programme itself passes; :func:`apply_overrides` builds it.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args, get_origin

import attrs

from membercore.config.common import MAX_DAYS, non_blank, optional_positive, within
from membercore.errors import ConfigError
from membercore.messages import ParamValue

__all__ = [
    "OVERRIDABLE",
    "Conversion",
    "Experiment",
    "Exposure",
    "Variant",
    "apply_overrides",
    "check_experiment_tags",
]

#: The sections of the programme a variant may override: what the member's own decisions
#: read (the plan they are sold and charged, the messages they are sent, the points
#: they earn).
OVERRIDABLE = ("plans", "outreach", "earning")

#: The most variants an experiment may have, and the largest weight of one.
_MAX_VARIANTS = 26
_MAX_WEIGHT = 10_000


def _at_least_two(_instance: Any, attribute: Any, value: tuple[Variant, ...]) -> None:
    if not 2 <= len(value) <= _MAX_VARIANTS:
        raise ConfigError(
            attribute.name, f"an experiment has 2 to {_MAX_VARIANTS} variants, got {len(value)}"
        )
    seen: set[str] = set()
    for index, variant in enumerate(value):
        if variant.key in seen:
            raise ConfigError(f"{attribute.name}[{index}].key", f"duplicate key {variant.key!r}")
        seen.add(variant.key)


def _instant(_instance: Any, attribute: Any, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ConfigError(attribute.name, f"must be an instant with its offset, got {value}")


def _tags(_instance: Any, attribute: Any, value: tuple[str, ...]) -> None:
    if not value:
        raise ConfigError(attribute.name, "name at least one message type")
    for index, tag in enumerate(value):
        if not tag.strip():
            raise ConfigError(f"{attribute.name}[{index}]", "must not be empty")


@attrs.frozen(kw_only=True)
class Variant:
    """One arm of an experiment.

    Attributes:
        key: stable key, recorded on every assignment (``annual``, ``monthly``).
        label: shown to people (年付999元).
        weight: the variant's share of the allocation, relative to the others' (``50``
            and ``50``: an even split).
        overrides: configuration keys as dotted paths, and the value each takes for the
            members assigned to the variant.
    """

    key: str = attrs.field(validator=non_blank)
    label: str
    weight: int = attrs.field(default=1, validator=within(1, _MAX_WEIGHT))
    overrides: Mapping[str, ParamValue] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Exposure:
    """When a member first meets the experiment.

    Attributes:
        on: the ``type`` of a fact, command or event of the member's record
            (``visit_completed``, ``offer_made``, ``subscribe``). A fact or command
            exposes the member before it is decided (so its own decision already uses
            the variant); an event, once it is made.
        plan: only messages about this plan (their ``plan_key``).
    """

    on: str = attrs.field(validator=non_blank)
    plan: str | None = None


@attrs.frozen(kw_only=True)
class Conversion:
    """What counts as a member converting.

    Attributes:
        on: the ``type`` tags of the events that count (``subscription_activated``).
        plan: only events about this plan (their ``plan_key``).
        within_days: only events within so many days of the exposure; none: any time.
    """

    on: tuple[str, ...] = attrs.field(validator=_tags)
    plan: str | None = None
    within_days: int | None = attrs.field(default=None, validator=optional_positive)

    @within_days.validator
    def _short_enough(self, attribute: Any, value: int | None) -> None:
        if value is not None and value > MAX_DAYS:
            raise ConfigError(attribute.name, f"must be at most {MAX_DAYS}, got {value}")


@attrs.frozen(kw_only=True)
class Experiment:
    """An experiment: variants split by weight, an exposure and a conversion.

    Attributes:
        key: stable key, recorded on every assignment (``price_annual_vs_monthly``).
        label: shown to people (会员费定价测试).
        start: members exposed before it are not assigned; none: from the start.
        end: members exposed at or after it are not assigned; those assigned keep their
            variant while the experiment stays in the programme.
        variants: the arms, the control among them.
        control: the key of the variant the others are compared with (the first one by
            default).
        exposure: when a member meets the experiment.
        conversion: what counts as converting.
    """

    key: str = attrs.field(validator=non_blank)
    label: str
    start: datetime | None = attrs.field(default=None, validator=_instant)
    end: datetime | None = attrs.field(default=None, validator=_instant)
    variants: tuple[Variant, ...] = attrs.field(validator=_at_least_two)
    control: str | None = None
    exposure: Exposure
    conversion: Conversion

    def __attrs_post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ConfigError("end", f"must be after start ({self.start.isoformat()})")
        if self.control is not None and self.control not in {v.key for v in self.variants}:
            known = [v.key for v in self.variants]
            raise ConfigError("control", f"no variant {self.control!r} (variants: {known})")

    @property
    def control_key(self) -> str:
        """The key of the control variant."""
        return self.control if self.control is not None else self.variants[0].key

    def variant(self, key: str) -> Variant | None:
        """The variant called ``key``, if the experiment has it."""
        return next((v for v in self.variants if v.key == key), None)

    def running(self, at: datetime) -> bool:
        """Whether a member exposed at ``at`` is assigned."""
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


def apply_overrides(config: Any, overrides: Mapping[str, ParamValue]) -> Any:
    """``config`` with each dotted key set to its value, every check run again.

    Args:
        config: a frozen attrs configuration (the programme).
        overrides: dotted paths and their values.

    Returns:
        A new configuration; ``config`` itself when there is nothing to override.

    Raises:
        ConfigError: a path names no key, a key no variant may change, or a value of the
            wrong kind; or the changed configuration fails a check. ``key`` is the path.
    """
    for path, value in overrides.items():
        parts = path.split(".")
        if parts[0] not in OVERRIDABLE:
            raise ConfigError(
                path, f"a variant may override keys under {list(OVERRIDABLE)}, not {parts[0]!r}"
            )
        try:
            config = _set(config, parts, value, path)
        except ConfigError as error:
            if error.key == path:
                raise
            raise ConfigError(path, f"{error.key}: {error.problem}") from error
    return config


def _set(node: Any, parts: list[str], value: object, path: str) -> Any:
    head, rest = parts[0], parts[1:]
    if attrs.has(type(node)):
        fields = {f.name: f for f in attrs.fields(type(node)) if f.init}
        if head not in fields:
            raise ConfigError(path, f"no key {head!r} there (known: {sorted(fields)})")
        if head == "key":
            raise ConfigError(path, "a key names an item; no variant may change it")
        current = getattr(node, head)
        if rest:
            new = _set(current, rest, value, path)
        else:
            new = _checked(value, _hint(type(node), head), current, path)
        return attrs.evolve(node, **{head: new})
    if isinstance(node, tuple) and all(hasattr(item, "key") for item in node):
        keys = [item.key for item in node]
        if head not in keys:
            raise ConfigError(path, f"no item with key {head!r} there (known: {keys})")
        if not rest:
            raise ConfigError(path, "name a key of the item, not the item itself")
        return tuple(_set(item, rest, value, path) if item.key == head else item for item in node)
    if isinstance(node, Mapping):
        if head not in node:
            raise ConfigError(path, f"no key {head!r} there (known: {sorted(node)})")
        current = node[head]
        if rest:
            new = _set(current, rest, value, path)
        else:
            new = _checked(value, type(current), current, path)
        return {**node, head: new}
    raise ConfigError(path, f"cannot enter {head!r}: not a table or a list of keyed items")


def _hint(kind: type[Any], name: str) -> Any:
    hints = typing.get_type_hints(kind)
    return hints.get(name, Any)


_SCALARS = (bool, int, str)


def _checked(value: object, hint: Any, current: object, path: str) -> object:
    """``value`` if it is of the kind the key holds; only text, whole numbers and booleans."""
    allowed = _allowed(hint)
    if allowed is None:
        raise ConfigError(path, f"holds {current!r}: only text, numbers and booleans are set")
    kinds, words = allowed
    if words and value in words:
        return value
    if type(value) in kinds:
        return value
    wanted = ", ".join([k.__name__ for k in kinds] + [repr(w) for w in words])
    raise ConfigError(path, f"expected {wanted}, got {value!r}")


def _allowed(hint: Any) -> tuple[tuple[type[Any], ...], tuple[object, ...]] | None:
    origin = get_origin(hint)
    if origin is Literal:
        return (), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds: list[type[Any]] = []
        words: list[object] = []
        for arg in get_args(hint):
            if arg is type(None):
                continue
            inner = _allowed(arg)
            if inner is None:
                return None
            kinds += inner[0]
            words += inner[1]
        return tuple(kinds), tuple(words)
    if hint in _SCALARS:
        return (hint,), ()
    return None


def check_experiment_tags(experiments: Sequence[Experiment], known: Collection[str]) -> None:
    """Every message type an exposure or a conversion names is one membercore knows.

    Raises:
        ConfigError: naming the key (``experiments[0].conversion.on[1]``) and the nearest
            known type.
    """
    for at, experiment in enumerate(experiments):
        named = [("exposure.on", experiment.exposure.on)]
        named += [(f"conversion.on[{i}]", tag) for i, tag in enumerate(experiment.conversion.on)]
        for where, tag in named:
            if tag not in known:
                near = difflib.get_close_matches(tag, sorted(known), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError(
                    f"experiments[{at}].{where}", f"no fact, command or event {tag!r}{hint}"
                )
