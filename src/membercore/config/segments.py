"""Segments and tags: how patients are grouped, and how much human service they get."""

from __future__ import annotations

import attrs

__all__ = ["SegmentRules"]


@attrs.frozen(kw_only=True)
class SegmentRules:
    """How tags and value segments are derived.

    Attributes:
        version: recorded on every segment decision.
    """

    version: int = 1
