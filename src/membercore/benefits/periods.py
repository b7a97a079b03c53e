"""The periods over which a quota's uses are counted.

``year`` and ``month`` are calendar periods in the programme's timezone: an instant at
23:30 on 31 December in Shanghai (15:30 UTC) falls in that year; one at 00:30 on
1 January (16:30 UTC the day before) falls in the next. ``term`` is the current term of
a paid plan that grants the quota, from :attr:`Standing.plan_terms
<membercore.benefits.Standing.plan_terms>`.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from membercore.benefits.entitlements import Entitlement, Standing
from membercore.config import ProgrammeConfig
from membercore.dates import as_utc, aware, local_month_start

__all__ = ["Period", "quota_period"]


@attrs.frozen(kw_only=True)
class Period:
    """A span of time over which a quota's uses are counted.

    Attributes:
        key: stable and unique per quota: ``year:2026``, ``month:2026-01`` or
            ``term:<plan>:<start in ISO 8601 UTC>``.
        start: the first instant of the period (UTC).
        end: the first instant after it (UTC).
    """

    key: str
    start: datetime = attrs.field(converter=as_utc, validator=aware)
    end: datetime = attrs.field(converter=as_utc, validator=aware)

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` falls in the period (its start included, its end excluded)."""
        return self.start <= at < self.end


def quota_period(
    entitlement: Entitlement, standing: Standing, config: ProgrammeConfig, at: datetime
) -> Period | None:
    """The period of a quota in which ``at`` falls.

    For a ``term`` quota, the term is that of a plan among the entitlement's sources whose
    term (in ``standing.plan_terms``) contains ``at``; when several do, the one that
    started first (then the smallest plan key).

    Args:
        entitlement: an entitlement to a quota benefit.
        standing: the member's standing (for plan terms).
        config: the programme (for its timezone).
        at: an aware instant.

    Returns:
        The period, or ``None`` for a ``term`` quota when no term of a granting plan
        contains ``at`` (a term quota granted only by a tier or a programme has none).

    Raises:
        ValueError: the entitlement is not to a quota.
    """
    quota = entitlement.benefit.quota
    if quota is None:
        raise ValueError(f"benefit {entitlement.key!r} is not a quota")
    if quota.period == "term":
        return _term(entitlement, standing, at)
    local = at.astimezone(config.tz)
    if quota.period == "year":
        return Period(
            key=f"year:{local.year:04d}",
            start=local_month_start(local.year, 1, config.tz),
            end=local_month_start(local.year + 1, 1, config.tz),
        )
    return Period(
        key=f"month:{local.year:04d}-{local.month:02d}",
        start=local_month_start(local.year, local.month, config.tz),
        end=local_month_start(local.year, local.month + 1, config.tz),
    )


def _term(entitlement: Entitlement, standing: Standing, at: datetime) -> Period | None:
    covering = [
        (start, plan, end)
        for plan in entitlement.plans
        if plan in standing.plan_terms
        for start, end in [standing.plan_terms[plan]]
        if start <= at < end
    ]
    if not covering:
        return None
    start, plan, end = min(covering)
    return Period(key=f"term:{plan}:{start.isoformat()}", start=start, end=end)
