"""The outreach policy: how, when and how often the programme may reach a member."""

from __future__ import annotations

import attrs

__all__ = ["OutreachPolicy"]


@attrs.frozen(kw_only=True)
class OutreachPolicy:
    """How messages leave the programme.

    Attributes:
        version: recorded on every decision the policy makes.
    """

    version: int = 1
