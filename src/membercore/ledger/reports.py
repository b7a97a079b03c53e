"""What a member's points are, and why.

Balances at an instant, and the line-by-line statement that explains them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import add_months, local_date, local_month_start, require_aware
from membercore.ledger.events import Posting
from membercore.ledger.lots import is_expired
from membercore.ledger.qualifying import qualifying_points
from membercore.ledger.state import LedgerState

__all__ = [
    "Balances",
    "StatementLine",
    "balances",
    "qualification_window_start",
    "qualifying_points",
    "statement",
]

# Points earned at the very instant of the query count: the window is closed at ``now``.
_INSTANT = timedelta(microseconds=1)


@attrs.frozen(kw_only=True)
class Balances:
    """A member's points at an instant.

    Attributes:
        available: can be spent now (negative while a clawback debt is outstanding).
        pending: earned but still inside the refund window.
        qualifying: qualifying points earned in the tier qualification window ending at
            the instant, less what was reversed: what the tier ladder counts.
        lifetime_earned: every point ever earned (before reversals).
        redeemed: points spent.
        expired: points expired.
        reversed: points clawed back.
        written_off: clawbacks that could not be recovered (``cap`` policy).
        adjusted: net manual adjustments.
        transferred_in: points received from the household.
        transferred_out: points given to the household.
        merged: points moved in (or out) by merging two records of one person.
        debt: points owed (``debt`` policy).
        balance: the sum of all postings.
    """

    available: int
    pending: int
    qualifying: int
    lifetime_earned: int
    redeemed: int
    expired: int
    reversed: int
    written_off: int
    adjusted: int
    transferred_in: int
    transferred_out: int
    merged: int
    debt: int
    balance: int


def qualification_window_start(config: ProgrammeConfig, now: datetime) -> datetime:
    """The start of the tier qualification window that ends at ``now``.

    The window is the tier ladder's (``tiers.window``): the last ``tiers.window_months``
    months, or the current calendar year in the programme's timezone.
    """
    rules = config.tiers
    if rules.window == "calendar_year":
        return local_month_start(local_date(now, config.tz).year, 1, config.tz)
    return add_months(now, -rules.window_months, config.tz)


def balances(
    state: LedgerState,
    config: ProgrammeConfig,
    now: datetime,
    *,
    qualifying_since: datetime | None = None,
) -> Balances:
    """A member's balances at ``now``.

    Args:
        state: the member's ledger.
        config: the programme.
        now: the instant (timezone-aware).
        qualifying_since: start of the window ``qualifying`` counts from; by default the
            tier ladder's qualification window ending at ``now``, so that ``qualifying``
            is what the ladder counts.
    """
    now = require_aware("now", now)
    if qualifying_since is None:
        since = qualification_window_start(config, now)
    else:
        since = require_aware("qualifying_since", qualifying_since)
    available = pending = 0
    for held in state.lots.values():
        if held.remaining == 0 or is_expired(held, state, config, now):
            continue
        if held.lot.vests_at <= now:
            available += held.remaining
        else:
            pending += held.remaining
    totals = state.totals
    return Balances(
        available=available - state.debt,
        pending=pending,
        qualifying=qualifying_points(state, since, now + _INSTANT),
        lifetime_earned=totals.earned,
        redeemed=totals.redeemed,
        expired=totals.expired,
        reversed=totals.reversed,
        written_off=totals.written_off,
        adjusted=totals.adjusted,
        transferred_in=totals.transferred_in,
        transferred_out=totals.transferred_out,
        merged=totals.merged,
        debt=state.debt,
        balance=state.balance,
    )


@attrs.frozen(kw_only=True)
class StatementLine:
    """One line of a member's statement.

    Attributes:
        posting_id: the posting.
        at: when it took effect.
        kind: earn, redeem, expire, reverse, adjust or transfer.
        points: the signed change.
        balance: the balance after this line.
        rule: ``<rule id> v<version>``.
        trigger: ``<fact or command type> <id>``.
        note: reason, operator, counterparty or reversed posting, when there are any.
    """

    posting_id: str
    at: datetime
    kind: str
    points: int
    balance: int
    rule: str
    trigger: str
    note: str


def statement(postings: Iterable[Posting]) -> tuple[StatementLine, ...]:
    """Explain a member's balance line by line, in the order the postings were made."""
    lines = []
    balance = 0
    for posting in postings:
        balance += posting.points
        origin = posting.provenance
        lines.append(
            StatementLine(
                posting_id=posting.posting_id,
                at=posting.at,
                kind=posting.kind.value,
                points=posting.points,
                balance=balance,
                rule=f"{origin.rule_id} v{origin.rule_version}",
                trigger=f"{origin.trigger_type} {origin.trigger_id}",
                note=_note(posting),
            )
        )
    return tuple(lines)


def _note(posting: Posting) -> str:
    parts = [
        f"{label} {value}"
        for label, value in (
            ("reverses", posting.reverses),
            ("with", posting.counterparty),
            ("by", posting.operator),
        )
        if value
    ]
    if posting.reason:
        parts.append(posting.reason)
    if posting.debt_change > 0:
        parts.append(f"debt +{posting.debt_change}")
    elif posting.debt_change < 0:
        parts.append(f"repays debt {-posting.debt_change}")
    if posting.written_off:
        parts.append(f"written off {posting.written_off}")
    if posting.offset_by_expiry:
        parts.append(f"already expired {posting.offset_by_expiry}")
    return "; ".join(parts)
