"""Benefits (权益): entitlements, quotes and free-use quotas.

- :func:`entitlements` says what a member may use now and which packages grant it, from
  their :class:`Standing` (tier, plans, programmes, household).
- :func:`quote` prices a bill of services: quotas cover units free, then the best
  discount (and any stackable ones) applies to the rest.
- Quota uses are held per *holder* (the member, or the household for a shared quota) in a
  :class:`QuotaState`, changed by a decider pair::

      events = decide(command, state, config, now, standing=standing)
      for event in events:
          state = evolve(state, event)
"""

from __future__ import annotations

from membercore.benefits.entitlements import (
    Entitlement,
    Source,
    Standing,
    entitlements,
    find_entitlement,
    holder_of,
)
from membercore.benefits.merge import decide_merge
from membercore.benefits.messages import (
    QUOTA_COMMAND_TYPES,
    QUOTA_EVENT_TYPES,
    ConsumeQuota,
    QuotaCommand,
    QuotaConsumed,
    QuotaEvent,
    QuotaReleased,
    QuotaReserved,
    QuotaUsageMerged,
    QuotaUsageMergedAway,
    ReleaseQuota,
    Reservation,
    ReserveQuota,
    Usage,
    UseQuota,
)
from membercore.benefits.periods import Period, quota_period
from membercore.benefits.quotas import (
    Allowance,
    QuotaState,
    allowance,
    decide,
    evolve,
    replay,
)
from membercore.benefits.quotes import AppliedDiscount, BillItem, QuotaUse, Quote, QuoteLine, quote

__all__ = [
    "QUOTA_COMMAND_TYPES",
    "QUOTA_EVENT_TYPES",
    "Allowance",
    "AppliedDiscount",
    "BillItem",
    "ConsumeQuota",
    "Entitlement",
    "Period",
    "QuotaCommand",
    "QuotaConsumed",
    "QuotaEvent",
    "QuotaReleased",
    "QuotaReserved",
    "QuotaState",
    "QuotaUsageMerged",
    "QuotaUsageMergedAway",
    "QuotaUse",
    "Quote",
    "QuoteLine",
    "ReleaseQuota",
    "Reservation",
    "ReserveQuota",
    "Source",
    "Standing",
    "Usage",
    "UseQuota",
    "allowance",
    "decide",
    "decide_merge",
    "entitlements",
    "evolve",
    "find_entitlement",
    "holder_of",
    "quota_period",
    "quote",
    "replay",
]
