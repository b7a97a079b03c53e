"""Earning: facts in, earning postings out, under the programme's earning rules.

Each action earns once per business object (a check-in once per local day, a survey once
per visit, a referral once per referred patient...), within its daily and monthly caps
reckoned in the programme's timezone. A cap awards what is left under it; an action with
nothing left to award posts nothing. A refund reverses the points its charge earned.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from membercore.config import ActionRule, ProgrammeConfig, RuleBase, SpendingRule
from membercore.dates import local_date, local_day_start, local_month_start
from membercore.facts import (
    ChargePaid,
    CheckedIn,
    ContentLiked,
    ContentShared,
    EventAttended,
    Fact,
    ReferralQualified,
    RefundIssued,
    RehabPlanJoined,
    SurveyAnswered,
)
from membercore.ledger.events import Posting, PostingKind, Provenance
from membercore.ledger.forget import horizon
from membercore.ledger.lots import Origin, credit, lot_spec
from membercore.ledger.reversal import refund_points, reverse_earning, reversible_since
from membercore.ledger.state import LedgerState

__all__ = ["RULE_IDS", "cap_room", "charge_reference", "earn", "spending_points"]

#: The rule id recorded on postings for each earning action.
RULE_IDS = {
    CheckedIn: "earning.check_in",
    ChargePaid: "earning.spending",
    EventAttended: "earning.event_attendance",
    ContentShared: "earning.sharing",
    ContentLiked: "earning.liking",
    ReferralQualified: "earning.referral",
    SurveyAnswered: "earning.survey",
    RehabPlanJoined: "earning.rehab_plan",
}


def earn(
    fact: Fact,
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    digest: str,
    *,
    tier: str | None,
) -> list[Posting]:
    """The postings a fact earns (or, for a refund, reverses).

    Args:
        fact: the fact, already checked to be new and for this member.
        state: the member's ledger.
        config: the programme.
        now: the instant of the decision.
        digest: the fact's fingerprint.
        tier: the member's tier key, for the spending multiplier.
    """
    if isinstance(fact, RefundIssued):
        return _refund(fact, state, config, now, digest)
    rules = config.earning
    action: tuple[RuleBase, int, str] | None = None
    if isinstance(fact, ChargePaid):
        action = (rules.spending, spending_points(fact, rules.spending, tier), fact.charge_id)
    elif isinstance(fact, CheckedIn):
        day = local_date(fact.occurred_at, config.tz).isoformat()
        action = (rules.check_in, rules.check_in.points, day)
    elif isinstance(fact, EventAttended):
        event = rules.event_attendance
        action = (event, event.points_by_kind.get(fact.event_kind, event.points), fact.event_id)
    elif isinstance(fact, ContentShared):
        action = _flat(rules.sharing, fact.content_id)
    elif isinstance(fact, ContentLiked):
        action = _flat(rules.liking, fact.content_id)
    elif isinstance(fact, ReferralQualified):
        action = _flat(rules.referral, fact.referred_patient_id)
    elif isinstance(fact, SurveyAnswered):
        action = _flat(rules.survey, fact.visit_id)
    elif isinstance(fact, RehabPlanJoined):
        action = _flat(rules.rehab_plan, fact.plan_id)
    if action is None:
        return []
    rule, points, reference = action
    rule_id = RULE_IDS[type(fact)]
    if not rule.enabled or f"{rule_id}:{reference}" in state.references:
        return []
    points = min(points, cap_room(state, config, rule_id, rule, fact.occurred_at, now=now))
    if points <= 0:
        return []
    spec = lot_spec(
        config,
        points=points,
        earned_at=fact.occurred_at,
        vesting_days=rule.vesting_days,
        qualifying=rule.qualifying,
        rule_id=rule_id,
        reference=reference,
        basis_fen=fact.amount_fen if isinstance(fact, ChargePaid) else None,
    )
    origin = _origin(fact, digest, rule_id, rule.version, now)
    return [credit(state, origin, kind=PostingKind.EARN, specs=[spec], at=fact.occurred_at)]


def _flat(rule: ActionRule, reference: str) -> tuple[RuleBase, int, str]:
    return (rule, rule.points, reference)


def _origin(fact: Fact, digest: str, rule_id: str, version: int, now: datetime) -> Origin:
    provenance = Provenance(
        rule_id=rule_id, rule_version=version, trigger_type=fact.TYPE, trigger_id=fact.fact_id
    )
    return Origin(key=fact.fact_id, fingerprint=digest, provenance=provenance, recorded_at=now)


def spending_points(charge: ChargePaid, rule: SpendingRule, tier: str | None) -> int:
    """Points a charge earns: self-paid fen at each line's rate, times the tier multiplier.

    Fractions of a point are dropped once, on the whole charge, never per line.
    """
    # Exact rational arithmetic in integers: each line's points over a common denominator.
    parts = []
    for line in charge.lines:
        rate = rule.rate_for(line.department, line.category)
        parts.append((line.self_paid_fen * rate.points, rate.per_yuan * 100))
    denominator = math.lcm(*(below for _, below in parts)) if parts else 1
    numerator = sum(above * (denominator // below) for above, below in parts)
    return _truncated(numerator * rule.multiplier_pct(tier), denominator * 100)


def _truncated(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` with the fraction dropped (towards zero), exactly."""
    whole = abs(numerator) // denominator
    return whole if numerator >= 0 else -whole


def cap_room(
    state: LedgerState,
    config: ProgrammeConfig,
    rule_id: str,
    rule: RuleBase,
    at: datetime,
    *,
    now: datetime,
) -> int:
    """How many more points ``rule`` may award on the local day and month of ``at``.

    Decided at ``now``: a day (or, for a rule with a monthly cap, a month) that begins
    before the ledger's horizon (:func:`membercore.ledger.forget.horizon`) has no room,
    its lots may be let go.
    """
    if rule.daily_cap is None and rule.monthly_cap is None:
        return 2**62
    tz = config.tz
    day = local_date(at, tz)
    day_start, day_end = local_day_start(day, tz), local_day_start(day + timedelta(days=1), tz)
    month_start = local_month_start(day.year, day.month, tz)
    reckoned = month_start if rule.monthly_cap is not None else day_start
    if reckoned < horizon(config, now):
        return 0  # a day or month whose lots may be let go: not reckoned, nothing earned
    month_end = local_month_start(day.year, day.month + 1, tz)
    today = month = 0
    for held in state.lots.values():
        lot = held.lot
        if lot.rule_id == rule_id and month_start <= lot.earned_at < month_end:
            month += lot.points
            if day_start <= lot.earned_at < day_end:
                today += lot.points
    room = 2**62
    if rule.daily_cap is not None:
        room = min(room, rule.daily_cap - today)
    if rule.monthly_cap is not None:
        room = min(room, rule.monthly_cap - month)
    return max(room, 0)


def charge_reference(charge_id: str) -> str:
    """The key a charge's earning is found under in the ledger's ``references``."""
    return f"{RULE_IDS[ChargePaid]}:{charge_id}"


def _refund(
    fact: RefundIssued, state: LedgerState, config: ProgrammeConfig, now: datetime, digest: str
) -> list[Posting]:
    lot_id = state.references.get(charge_reference(fact.charge_id))
    held = None if lot_id is None else state.lots.get(lot_id)
    if lot_id is None or held is None or held.lot.earned_at < reversible_since(config, now):
        # The charge earned nothing (all paid by insurance, or before the programme), or
        # earned longer ago than its earnings are reversed.
        return []
    points = refund_points(held, fact.amount_fen)
    if points == 0 and held.reversed >= held.lot.points:
        return []
    origin = _origin(fact, digest, "ledger.reverse", config.ledger.version, now)
    return [
        reverse_earning(
            state,
            config,
            now,
            origin,
            lot_id=lot_id,
            points=points,
            refunded_fen=fact.amount_fen,
            reason=f"refund of charge {fact.charge_id}",
        )
    ]
