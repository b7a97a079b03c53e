"""The tier ladder's configuration (五级会员)."""

from __future__ import annotations

import functools
from typing import Any, Literal

import attrs

from membercore.config.common import (
    MAX_DAYS,
    MAX_MONTHS,
    non_negative,
    optional_positive,
    positive,
    unique_keys,
    within,
)
from membercore.errors import ConfigError

__all__ = ["QualifierMode", "ReviewRule", "TierLevel", "TierRules", "WindowKind"]

QualifierMode = Literal["any", "all"]
WindowKind = Literal["rolling", "calendar_year"]
ReviewRule = Literal["anniversary", "calendar_year"]


@attrs.frozen(kw_only=True)
class TierLevel:
    """One level of the ladder.

    Attributes:
        key: the stable key (``L1``..``L5``).
        label: the name shown to people (普通, 银卡, 金卡, 铂金, 钻石).
        threshold: qualifying points earned in the qualification window.
        min_visits: optional extra qualifier: completed visits in the window.
        min_spend_fen: optional extra qualifier: money spent in the window, in fen.
        qualify_on: ``any``: any one of the criteria set reaches the level; ``all``: every
            criterion set must be met.
    """

    key: str
    label: str
    threshold: int = attrs.field(validator=non_negative)
    min_visits: int | None = attrs.field(default=None, validator=optional_positive)
    min_spend_fen: int | None = attrs.field(default=None, validator=optional_positive)
    qualify_on: QualifierMode = "any"


def _a_ladder(_instance: Any, attribute: Any, value: tuple[TierLevel, ...]) -> None:
    if not value:
        raise ConfigError(attribute.name, "a ladder needs at least one level")
    if value[0].threshold != 0:
        raise ConfigError(f"{attribute.name}[0].threshold", "the lowest level starts at 0")
    for index in range(1, len(value)):
        if value[index].threshold <= value[index - 1].threshold:
            raise ConfigError(
                f"{attribute.name}[{index}].threshold",
                f"must be higher than the level below ({value[index - 1].threshold})",
            )


@attrs.frozen(kw_only=True)
class TierRules:
    """The ladder and how members move on it.

    Attributes:
        version: recorded on every tier change.
        levels: lowest first; thresholds strictly increase and the first is 0.
        window: ``rolling``: the last ``window_months`` months; ``calendar_year``: the
            current calendar year in the programme's timezone.
        window_months: the length of a rolling window.
        review: when a member may be moved down: ``anniversary`` of their last tier
            change, or the start of each ``calendar_year``.
        grace_days: days after the review date before a downgrade takes effect.
    """

    version: int = attrs.field(default=1, validator=positive)
    levels: tuple[TierLevel, ...] = attrs.field(validator=[_a_ladder, unique_keys])
    window: WindowKind = "rolling"
    window_months: int = attrs.field(default=12, validator=within(1, MAX_MONTHS))
    review: ReviewRule = "anniversary"
    grace_days: int = attrs.field(default=0, validator=within(0, MAX_DAYS))

    @functools.cached_property
    def keys(self) -> tuple[str, ...]:
        """The level keys, lowest first."""
        return tuple(level.key for level in self.levels)

    def rank(self, key: str) -> int:
        """The position of a level on the ladder (0 for the lowest).

        Raises:
            ConfigError: ``key`` is not a level of the ladder.
        """
        try:
            return self.keys.index(key)
        except ValueError:
            raise ConfigError("tiers.levels", f"no tier {key!r} on the ladder") from None
