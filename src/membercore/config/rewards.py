"""The rewards catalogue: gifts members redeem with points."""

from __future__ import annotations

import attrs

from membercore.config.common import non_negative, optional_positive, positive, unique_keys

__all__ = ["Reward", "RewardCatalogue"]


@attrs.frozen(kw_only=True)
class Reward:
    """A gift in the catalogue.

    Attributes:
        key: stable key.
        label: shown to people.
        points: what it costs in points.
        value_fen: its market value, counted against the yearly inducement cap.
        stock: how many there are; ``None`` is unlimited.
        per_member_limit: how many one member may redeem in all; ``None`` is no limit.
        min_tier: the lowest tier that may redeem it.
    """

    key: str
    label: str
    points: int = attrs.field(validator=positive)
    value_fen: int = attrs.field(default=0, validator=non_negative)
    stock: int | None = attrs.field(default=None, validator=optional_positive)
    per_member_limit: int | None = attrs.field(default=None, validator=optional_positive)
    min_tier: str | None = None


@attrs.frozen(kw_only=True)
class RewardCatalogue:
    """The gifts on offer.

    Attributes:
        version: recorded on every redemption.
        rewards: the gifts, by unique key.
        yearly_value_cap_fen: the most gift value one member may receive in a calendar
            year (an inducement guard); ``None`` is no cap.
    """

    version: int = attrs.field(default=1, validator=positive)
    rewards: tuple[Reward, ...] = attrs.field(default=(), validator=unique_keys)
    yearly_value_cap_fen: int | None = attrs.field(default=None, validator=optional_positive)

    def reward(self, key: str) -> Reward | None:
        """The reward called ``key``, if there is one."""
        return next((reward for reward in self.rewards if reward.key == key), None)
