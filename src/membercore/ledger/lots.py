"""The mechanics of lots: vesting, expiry, spending order, and building postings.

A credit opens lots; a debit draws from them.

Every decider builds its postings with :func:`credit` and :func:`debit`, so that every
posting is made the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from membercore.config import ProgrammeConfig
from membercore.dates import add_months, end_of_month_after
from membercore.ledger.events import Draw, Lot, Posting, PostingKind, Provenance
from membercore.ledger.state import LedgerState, LotState

__all__ = [
    "LotSpec",
    "Origin",
    "available_points",
    "credit",
    "debit",
    "expiry_of",
    "fixed_expiry",
    "is_expired",
    "lot_order",
    "lot_spec",
    "plan_draws",
    "spending_order",
]


def expiry_of(held: LotState, state: LedgerState, config: ProgrammeConfig) -> datetime | None:
    """The instant at which what is left of a lot expires (``None``: never)."""
    if held.lot.expires_at is not None:
        return held.lot.expires_at
    policy = config.ledger.expiry
    if policy.mode != "inactivity":
        return None
    last = state.last_activity_at
    since = held.lot.earned_at if last is None else max(last, held.lot.earned_at)
    return add_months(since, policy.months, config.tz)


def fixed_expiry(earned_at: datetime, config: ProgrammeConfig) -> datetime | None:
    """The expiry instant fixed when a lot is opened, under the programme's policy."""
    policy = config.ledger.expiry
    if policy.mode == "month_end":
        return end_of_month_after(earned_at, policy.months, config.tz)
    return None


def is_expired(held: LotState, state: LedgerState, config: ProgrammeConfig, now: datetime) -> bool:
    """Whether the lot's expiry instant has come (at that very instant it has)."""
    expiry = expiry_of(held, state, config)
    return expiry is not None and expiry <= now


def spending_order(
    state: LedgerState, config: ProgrammeConfig, now: datetime, *, vested: bool
) -> list[LotState]:
    """Unexpired lots with points left, in the order they are spent.

    Earliest-expiring first; lots that expire at the same instant (or never) oldest
    earned first, then by lot id in the order the ledger numbered them, so that the
    order never depends on the order the lots were opened in.

    Args:
        state: the member's ledger.
        config: the programme.
        now: the instant of the debit.
        vested: ``True`` for available lots, ``False`` for pending ones.
    """
    live = [
        held
        for held in state.lots.values()
        if held.remaining > 0
        and not is_expired(held, state, config, now)
        and (held.lot.vests_at <= now) is vested
    ]
    return sorted(live, key=lambda held: _expiry_key(held, state, config))


def _expiry_key(
    held: LotState, state: LedgerState, config: ProgrammeConfig
) -> tuple[bool, datetime, datetime, tuple[str, tuple[int, ...], str]]:
    expiry = expiry_of(held, state, config)
    earned_at = held.lot.earned_at
    return (expiry is None, expiry or earned_at, earned_at, lot_order(held.lot.lot_id))


def lot_order(lot_id: str) -> tuple[str, tuple[int, ...], str]:
    """A sort key that puts a ledger's lot ids in the order they were numbered.

    Lot ids are ``<member>/<seq>`` or ``<member>/<seq>.<index>``: ``p-1/9`` comes
    before ``p-1/10``. An id of another shape sorts by its text after those of its
    member.
    """
    owner, _, number = lot_id.rpartition("/")
    parts = number.split(".")
    if all(part.isdigit() for part in parts):
        return (owner, tuple(int(part) for part in parts), "")
    return (owner, (), lot_id)


def available_points(state: LedgerState, config: ProgrammeConfig, now: datetime) -> int:
    """Points the member can spend at ``now`` (negative while a debt is outstanding)."""
    lots = spending_order(state, config, now, vested=True)
    return sum(held.remaining for held in lots) - state.debt


def plan_draws(lots: Sequence[LotState], points: int) -> tuple[tuple[Draw, ...], int]:
    """Draw up to ``points`` from ``lots`` in order; return the draws and what is left over."""
    draws: list[Draw] = []
    left = points
    for held in lots:
        if left == 0:
            break
        take = min(left, held.remaining)
        if take > 0:
            draws.append(Draw(held.lot.lot_id, take))
            left -= take
    return tuple(draws), left


@attrs.frozen(kw_only=True)
class Origin:
    """Where a posting comes from: the message, its key and the rule applied."""

    key: str
    fingerprint: str
    provenance: Provenance
    recorded_at: datetime


@attrs.frozen(kw_only=True)
class LotSpec:
    """A lot to open, before it has an id."""

    points: int
    earned_at: datetime
    vests_at: datetime
    expires_at: datetime | None
    qualifying: bool
    rule_id: str
    reference: str | None = None
    basis_fen: int | None = None


def lot_spec(
    config: ProgrammeConfig,
    *,
    points: int,
    earned_at: datetime,
    vesting_days: int,
    qualifying: bool,
    rule_id: str,
    reference: str | None = None,
    basis_fen: int | None = None,
) -> LotSpec:
    """A lot earned at ``earned_at`` under the programme's vesting and expiry rules."""
    return LotSpec(
        points=points,
        earned_at=earned_at,
        vests_at=earned_at + timedelta(days=vesting_days),
        expires_at=fixed_expiry(earned_at, config),
        qualifying=qualifying,
        rule_id=rule_id,
        reference=reference,
        basis_fen=basis_fen,
    )


def credit(
    state: LedgerState,
    origin: Origin,
    *,
    kind: PostingKind,
    specs: Sequence[LotSpec],
    at: datetime,
    counterparty: str | None = None,
    operator: str | None = None,
    reason: str | None = None,
) -> Posting:
    """A posting that opens lots; an outstanding debt is repaid from them first."""
    posting_id = state.next_posting_id()
    lots = tuple(
        Lot(
            lot_id=posting_id if len(specs) == 1 else f"{posting_id}.{index}",
            points=spec.points,
            earned_at=spec.earned_at,
            vests_at=spec.vests_at,
            expires_at=spec.expires_at,
            qualifying=spec.qualifying,
            rule_id=spec.rule_id,
            reference=spec.reference,
            basis_fen=spec.basis_fen,
        )
        for index, spec in enumerate(specs, start=1)
    )
    repaid = min(state.debt, sum(lot.points for lot in lots))
    draws = []
    left = repaid
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.points)
        draws.append(Draw(lot.lot_id, take))
        left -= take
    return Posting(
        posting_id=posting_id,
        member_id=state.member_id,
        kind=kind,
        points=sum(lot.points for lot in lots),
        at=at,
        recorded_at=origin.recorded_at,
        idempotency_key=origin.key,
        fingerprint=origin.fingerprint,
        provenance=origin.provenance,
        lots=lots,
        draws=tuple(draws),
        debt_change=-repaid,
        counterparty=counterparty,
        operator=operator,
        reason=reason,
    )


def debit(
    state: LedgerState,
    origin: Origin,
    *,
    kind: PostingKind,
    draws: tuple[Draw, ...],
    at: datetime,
    debt_change: int = 0,
    counterparty: str | None = None,
    operator: str | None = None,
    reason: str | None = None,
) -> Posting:
    """A posting that takes points from lots (and, for a clawback, may add debt)."""
    return Posting(
        posting_id=state.next_posting_id(),
        member_id=state.member_id,
        kind=kind,
        points=-sum(draw.points for draw in draws) - debt_change,
        at=at,
        recorded_at=origin.recorded_at,
        idempotency_key=origin.key,
        fingerprint=origin.fingerprint,
        provenance=origin.provenance,
        draws=draws,
        debt_change=debt_change,
        counterparty=counterparty,
        operator=operator,
        reason=reason,
    )
