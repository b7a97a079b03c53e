"""Errors of what the programme is made of: its configuration, its journeys, its plugins."""

from __future__ import annotations

import attrs

from membercore.errors.base import MembercoreError

__all__ = ["ConfigError", "JourneyDefinitionError", "JourneyError", "PluginError"]


@attrs.define(auto_exc=True, frozen=True, repr=False)
class ConfigError(MembercoreError, ValueError):
    """The programme configuration is invalid.

    Attributes:
        key: the dotted path of the offending key (e.g. ``earning.spending.rate.points``).
        problem: what is wrong with it.
    """

    key: str
    problem: str

    def __str__(self) -> str:
        return f"config key {self.key!r}: {self.problem}"


class JourneyError(MembercoreError):
    """Root of the journeys' errors."""


@attrs.define(auto_exc=True, frozen=True, repr=False)
class JourneyDefinitionError(JourneyError, ValueError):
    """A journey definition does not hold together.

    Attributes:
        journey: the journey's key.
        problems: every problem found.
    """

    journey: str
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"journey {self.journey!r}: " + "; ".join(self.problems)


@attrs.define(auto_exc=True, frozen=True, repr=False)
class PluginError(MembercoreError):
    """A plugin failed or contributed something invalid.

    Attributes:
        plugin: the plugin's name (its entry-point name or registered name).
        problem: what went wrong.
    """

    plugin: str
    problem: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: {self.problem}"
